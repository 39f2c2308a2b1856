package dbtest

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// originKey is the context key of [WithOrigin].
type originKey struct{}

// WithOrigin returns a copy of ctx that names origin as the source of the
// statements run and the connections opened with it, in place of the Go
// code that ran them. dbtest's reports (lock reports, the statements
// cleanup lists, refused transaction control, implicit commits) show
// origin where they would show the caller's file:line.
//
// It is for code that runs statements on behalf of something else: a
// scenario engine passes the scenario file's "steps.yml:12" so that a
// report points into the scenario rather than at the engine. An empty
// origin leaves ctx as it is.
func WithOrigin(ctx context.Context, origin string) context.Context {
	if origin == "" {
		return ctx
	}
	return context.WithValue(ctx, originKey{}, origin)
}

// originOf returns the origin [WithOrigin] put in ctx, or else the caller
// outside dbharness's library packages.
func originOf(ctx context.Context) string {
	if o := givenOrigin(ctx); o != "" {
		return o
	}
	return callerOutside()
}

// givenOrigin returns the origin [WithOrigin] put in ctx, or "".
func givenOrigin(ctx context.Context) string {
	if ctx != nil {
		if o, ok := ctx.Value(originKey{}).(string); ok {
			return o
		}
	}
	return ""
}

// callerOutside returns file:line of the first caller outside dbharness's
// own library packages (dbtest, dynamic, fixtures, harness, registry,
// migrations and internal/...), database/sql and the runtime: the code
// under test that issued a statement or opened a connection. A test file
// (_test.go) is never skipped, even inside those packages.
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
		if f.Function != "" && !internalFrame(f.Function, f.File) {
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

// modulePath is the import path of dbharness's module.
const modulePath = "github.com/easyautoml/dbharness/"

// libraryPackages are the packages of the module, relative to modulePath,
// whose frames are never the code under test; a folder ending in "/"
// covers every package beneath it.
var libraryPackages = [...]string{"dbtest", "dynamic", "fixtures", "harness", "registry", "migrations", "internal/"}

// internalFrame reports whether the frame of function fn, in file, is to
// be skipped when naming the code under test.
func internalFrame(fn, file string) bool {
	for _, p := range []string{"database/sql.", "runtime.", "testing."} {
		if strings.HasPrefix(fn, p) {
			return true
		}
	}
	if !strings.HasPrefix(fn, modulePath) || strings.HasSuffix(file, "_test.go") {
		return false
	}
	pkg := funcPackage(fn)[len(modulePath):]
	for _, lib := range libraryPackages {
		if pkg == lib || strings.HasSuffix(lib, "/") && strings.HasPrefix(pkg, lib) {
			return true
		}
	}
	return false
}

// funcPackage returns the import path of the package of the function
// named fn as runtime.Frame names it ("example.com/a/b.(*T).M").
func funcPackage(fn string) string {
	slash := strings.LastIndexByte(fn, '/')
	if dot := strings.IndexByte(fn[slash+1:], '.'); dot >= 0 {
		return fn[:slash+1+dot]
	}
	return fn
}
