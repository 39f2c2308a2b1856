package main

import (
	"fmt"
	"io"
	"os"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/harness"
)

// progress prints a run as it goes. On a terminal (live) each scenario has
// one line, rewritten in place as its steps run and replaced by its
// outcome when it ends; a failure is printed in full below it. Elsewhere,
// as in CI logs, every step gets a plain line of its own. quiet prints
// nothing that stays but failures (the summary follows anyway).
type progress struct {
	w     io.Writer
	live  bool
	color bool
	quiet bool
	width int // of the terminal, to keep the live line on one row

	sc     *harness.Scenario
	b      dbtest.Backend
	shown  bool // a live line is on the screen
	failed []harness.StepResult
}

// newProgress decides how to print to w: live on a terminal, unless
// noProgress or TERM=dumb; in colour unless NO_COLOR is set.
func newProgress(w io.Writer, quiet, noProgress bool) *progress {
	p := &progress{w: w, quiet: quiet, width: 80}
	if f, ok := w.(*os.File); ok && !noProgress && os.Getenv("TERM") != "dumb" && term.IsTerminal(int(f.Fd())) {
		p.live = true
		p.color = os.Getenv("NO_COLOR") == ""
		if wd, _, err := term.GetSize(int(f.Fd())); err == nil && wd > 20 {
			p.width = wd
		}
	}
	return p
}

// start is called before scenario sc runs on backend b.
func (p *progress) start(sc *harness.Scenario, b dbtest.Backend) {
	p.sc, p.b, p.failed = sc, b, nil
	switch {
	case p.live:
		p.liveLine(0)
	case !p.quiet:
		fmt.Fprintf(p.w, "── %s on %s\n", sc.Name, b)
	}
}

// step is the Observer of the run: called as each step ends.
func (p *progress) step(_ *harness.Scenario, _ dbtest.Backend, s harness.StepResult) {
	if !s.Passed {
		p.failed = append(p.failed, s)
	}
	switch {
	case p.live:
		p.liveLine(s.Index)
	case !p.quiet:
		printStep(p.w, s)
	}
}

// liveLine shows which step runs now: the one after done.
func (p *progress) liveLine(done int) {
	n := len(p.sc.Steps)
	line := fmt.Sprintf("▸ %s on %s  step %d/%d", p.sc.Name, p.b, min(done+1, n), n)
	if done < n {
		line += " " + p.sc.Steps[done].Kind
	}
	p.rewrite(line)
}

// rewrite replaces the live line with line, cut to the terminal's width
// so that it never wraps (a wrapped line cannot be rewritten).
func (p *progress) rewrite(line string) {
	if utf8.RuneCountInString(line) > p.width-1 {
		line = string([]rune(line)[:p.width-2]) + "…"
	}
	fmt.Fprintf(p.w, "\r\033[K%s", line)
	p.shown = true
}

// clear removes the live line.
func (p *progress) clear() {
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
	}
}

// end is called with the scenario's result.
func (p *progress) end(res harness.Result) {
	if !p.live {
		if p.quiet {
			return
		}
		for _, n := range res.Notes {
			fmt.Fprintf(p.w, "   note %s\n", indentLines(n, "        "))
		}
		if res.Error != "" {
			fmt.Fprintf(p.w, "   FAIL %s\n", indentLines(res.Error, "        "))
		}
		return
	}
	p.clear()
	ran := 0
	for _, s := range res.Steps {
		if !s.Skipped {
			ran++
		}
	}
	if res.Passed {
		if !p.quiet {
			fmt.Fprintf(p.w, "%s %s on %s  %d steps  %s\n", p.paint("✓", "32"), res.Scenario, res.Backend, ran, harness.FormatDuration(res.Duration))
			// What dbtest noted (an implicit commit, what cleanup found as
			// expected) stays on the screen, as in plain output.
			for _, n := range res.Notes {
				fmt.Fprintf(p.w, "   note %s\n", indentLines(n, "        "))
			}
		}
		return
	}
	fmt.Fprintf(p.w, "%s %s on %s  %s\n", p.paint("✗", "31"), res.Scenario, res.Backend, p.paint("FAIL", "1;31"))
	for _, s := range p.failed {
		printStep(p.w, s)
	}
	if res.Error != "" {
		fmt.Fprintf(p.w, "   FAIL %s\n", indentLines(res.Error, "        "))
	}
	for _, n := range res.Notes {
		fmt.Fprintf(p.w, "   note %s\n", indentLines(n, "        "))
	}
}

// note prints a line of its own, below the live line.
func (p *progress) note(format string, args ...any) {
	p.clear()
	fmt.Fprintf(p.w, format, args...)
}

// paint colours s with an ANSI SGR code, in colour mode.
func (p *progress) paint(s, sgr string) string {
	if !p.color {
		return s
	}
	return "\033[" + sgr + "m" + s + "\033[0m"
}
