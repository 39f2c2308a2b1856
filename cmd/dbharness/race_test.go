//go:build race

package main

// raceEnabled tells whether the race detector is on, for the test
// binaries TestNoPasswordInOutput builds in turn.
const raceEnabled = true
