package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	for _, c := range []struct {
		reason string
		bi     *debug.BuildInfo
		want   string
	}{
		{"installed with go install ...@v0.3.1: the module's version",
			&debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "github.com/easyautoml/dbharness", Version: "v0.3.1"}},
			"v0.3.1 (go1.26.0)"},
		{"built in a checkout with changes: the pseudo-version, commit, time and modified",
			&debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v0.0.0-20261127122100-2ca2ae9abcde+dirty"},
				Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "2ca2ae9abcdef0123456789abcdef0123456789a"},
					{Key: "vcs.time", Value: "2026-11-27T12:21:00Z"}, {Key: "vcs.modified", Value: "true"}}},
			"v0.0.0-20261127122100-2ca2ae9abcde+dirty (commit 2ca2ae9abcde, 2026-11-27T12:21:00Z, modified; go1.26.0)"},
		{"a clean checkout: no modified",
			&debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"},
				Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "2ca2ae9abcde"}, {Key: "vcs.modified", Value: "false"}}},
			"(devel) (commit 2ca2ae9abcde; go1.26.0)"},
		{"built with -buildvcs=false", &debug.BuildInfo{GoVersion: "go1.26.0"}, "(devel) (go1.26.0)"},
		{"no build information at all", nil, "(unknown: the binary has no build information)"},
	} {
		if got := version(c.bi); got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.reason, got, c.want)
		}
	}
}

// TestVersionOfABuiltBinary builds the command and runs "dbharness
// version". In a git checkout (a .git directory: the go command does not
// read the .git file of a linked worktree) it must name the commit of
// HEAD.
func TestVersionOfABuiltBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	bin := filepath.Join(t.TempDir(), "dbharness")
	build := exec.Command(gobin, "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "GOFLAGS=-buildvcs=auto")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.TrimSpace(string(out))
	if !strings.HasPrefix(got, "dbharness ") || !strings.Contains(got, "go1.") {
		t.Fatalf("dbharness version printed %q", got)
	}
	root, _ := filepath.Abs("../..")
	if fi, err := os.Stat(filepath.Join(root, ".git")); err != nil || !fi.IsDir() {
		t.Logf("not a plain git checkout: %s (no commit to compare)", got)
		return
	}
	head, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("git rev-parse HEAD: %v", err)
	}
	if rev := strings.TrimSpace(string(head))[:12]; !strings.Contains(got, "commit "+rev) {
		t.Errorf("dbharness version printed %q, want the commit %s", got, rev)
	}
}
