package dbtest

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
)

// callerOutside returns file:line of the first caller outside dbtest,
// database/sql and the runtime: the code under test that issued a statement
// or opened a connection.
func callerOutside() string {
	pcs := make([]uintptr, 32)
	n := runtime.Callers(2, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	for {
		f, more := frames.Next()
		if !internalFrame(f.Function) {
			return fmt.Sprintf("%s:%d", filepath.Base(f.File), f.Line)
		}
		if !more {
			return "unknown location"
		}
	}
}

func internalFrame(fn string) bool {
	for _, p := range []string{
		"github.com/easyautoml/dbharness/dbtest.",
		"database/sql.",
		"runtime.",
		"testing.",
	} {
		if strings.HasPrefix(fn, p) {
			return true
		}
	}
	return false
}
