// Package repocheck holds tests of the repository as a whole, run by
// go test ./... with the rest: every exported name of the module has a doc
// comment and no exported signature shows an unexported type; the CI
// workflow parses and runs only commands that exist. It has no API.
package repocheck
