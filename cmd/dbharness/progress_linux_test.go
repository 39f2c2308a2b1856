package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal: the terminal side for the command, the
// other side to read what it shows.
func openPTY(t *testing.T) (term, screen *os.File) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	fd := int(ptmx.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlocking the pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Skipf("naming the pseudo-terminal: %v", err)
	}
	pts, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("opening the pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { pts.Close(); ptmx.Close() })
	return pts, ptmx
}

// TestProgressDetectsATerminal: live on a terminal, in colour unless
// NO_COLOR; plain with --no-progress, with TERM=dumb, and on a pipe.
func TestProgressDetectsATerminal(t *testing.T) {
	tty, _ := openPTY(t)
	t.Setenv("TERM", "xterm")
	t.Setenv("NO_COLOR", "")
	os.Unsetenv("NO_COLOR")
	if p := newProgress(tty, false, false); !p.live || !p.color {
		t.Errorf("on a terminal: live %v, colour %v; want both", p.live, p.color)
	}
	if p := newProgress(tty, false, true); p.live {
		t.Error("--no-progress: still live")
	}
	t.Setenv("NO_COLOR", "1")
	if p := newProgress(tty, false, false); !p.live || p.color {
		t.Errorf("NO_COLOR: live %v, colour %v; want live without colour", p.live, p.color)
	}
	t.Setenv("TERM", "dumb")
	if p := newProgress(tty, false, false); p.live {
		t.Error("TERM=dumb: live")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	t.Setenv("TERM", "xterm")
	if p := newProgress(w, false, false); p.live {
		t.Error("a pipe is taken for a terminal")
	}
}

// TestRunOnATerminal runs "dbharness run" with its output on a
// pseudo-terminal and reads the screen: live lines, then one line per
// scenario, then the summary.
func TestRunOnATerminal(t *testing.T) {
	tty, screen := openPTY(t)
	t.Setenv("TERM", "xterm")
	t.Setenv("NO_COLOR", "1")
	var shown bytes.Buffer
	done := make(chan struct{})
	go func() {
		io.Copy(&shown, screen) // ends when the terminal side is closed
		close(done)
	}()
	code := run([]string{"run"}, tty, tty)
	tty.Close()
	<-done
	out := shown.String()
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, name := range builtIn(t) {
		if !strings.Contains(out, "▸ "+name+" on sqlite  step 1/") {
			t.Errorf("no live line for %s:\n%q", name, out)
		}
		if !strings.Contains(out, "\r\033[K✓ "+name+" on sqlite  ") {
			t.Errorf("no final line for %s:\n%q", name, out)
		}
	}
	if strings.Contains(out, "── machine_1 on sqlite") || strings.Contains(out, "ok   step  1") {
		t.Errorf("plain step lines on a terminal:\n%s", out)
	}
	if !strings.Contains(out, "SCENARIO") || !strings.Contains(out, fmt.Sprintf("%d passed, 0 failed", len(builtIn(t)))) {
		t.Errorf("no summary:\n%s", out)
	}
}
