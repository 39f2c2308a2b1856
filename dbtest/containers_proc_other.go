//go:build !linux && !darwin

package dbtest

// isGoCommand reports whether process pid is the go command. Here it cannot
// tell: a binary's reference to its container ends with the binary.
func isGoCommand(pid int) bool { return false }

// watchProcess returns a function that waits until process pid is gone.
func watchProcess(pid int) func() { return pollProcess(pid) }
