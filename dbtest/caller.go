package dbtest

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// callerOutside returns file:line of the first caller outside dbtest,
// database/sql and the runtime: the code under test that issued a statement
// or opened a connection.
//
// Every handle a test opens asks for it, so it is cheap on the second call
// from the same place: what a program counter resolves to (its frames,
// inlined ones included, and whether they are all internal) is computed
// once and remembered.
func callerOutside() string {
	// Most callers are a few frames away: unwind a few first.
	var pcs [32]uintptr
	for _, depth := range []int{8, len(pcs)} {
		n := runtime.Callers(2, pcs[:depth])
		for _, pc := range pcs[:n] {
			if loc := resolvePC(pc); loc != "" {
				return loc
			}
		}
		if n < depth {
			break
		}
	}
	return "unknown location"
}

// pcLocations maps a return address to the location of its first frame
// outside dbtest, or "" when every frame it stands for is internal.
var pcLocations sync.Map // uintptr → string

func resolvePC(pc uintptr) string {
	if v, ok := pcLocations.Load(pc); ok {
		return v.(string)
	}
	loc := ""
	frames := runtime.CallersFrames([]uintptr{pc})
	for {
		f, more := frames.Next()
		if f.Function != "" && !internalFrame(f.Function) {
			loc = fmt.Sprintf("%s:%d", filepath.Base(f.File), f.Line)
			break
		}
		if !more {
			break
		}
	}
	pcLocations.Store(pc, loc)
	return loc
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
