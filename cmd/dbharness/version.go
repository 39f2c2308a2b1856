package main

import (
	"runtime/debug"
	"strings"
)

// version says which dbharness this is, from the build information the
// go command records:
//
//   - installed with go install ...@v1.2.0: "v1.2.0 (go1.26.0)";
//   - built in a git checkout: the version the go command derives (a tag,
//     or a pseudo-version such as v0.0.0-20261127122100-2ca2ae9abcde),
//     then the commit, its time and whether the tree had changes:
//     "v0.0.0-... (commit 2ca2ae9abcde, 2026-11-27T12:21:00Z, modified; go1.26.0)";
//   - built without version control information (-buildvcs=false, or
//     outside a checkout): "(devel) (go1.26.0)".
func version(bi *debug.BuildInfo) string {
	if bi == nil {
		return "(unknown: the binary has no build information)"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, at string
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	var details []string
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		d := "commit " + rev
		if at != "" {
			d += ", " + at
		}
		if modified {
			d += ", modified"
		}
		details = append(details, d)
	}
	if bi.GoVersion != "" {
		details = append(details, bi.GoVersion)
	}
	if len(details) > 0 {
		v += " (" + strings.Join(details, "; ") + ")"
	}
	return v
}
