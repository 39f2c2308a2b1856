// Package scenarios holds the scenario files that reproduce the AutoML
// platform's workflows and lock bugs, embedded so that the dbharness
// command runs them wherever it is installed. scenarios_test.go runs every
// one of them on every backend.
package scenarios

import "embed"

// FS holds the scenario files (*.yaml) and the files they name.
//
//go:embed *.yaml
var FS embed.FS
