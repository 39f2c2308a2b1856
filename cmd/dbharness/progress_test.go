package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/harness"
	"github.com/easyautoml/dbharness/scenarios"
)

func machine1(t *testing.T) *harness.Scenario {
	t.Helper()
	sc, err := harness.ParseFile(scenarios.FS, "machine_1.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// TestProgressLive: on a terminal a scenario has one line, rewritten in
// place (carriage return, erase line) with the step that runs now, then
// replaced by its outcome; nothing else ends a line.
func TestProgressLive(t *testing.T) {
	sc := machine1(t)
	var b bytes.Buffer
	p := &progress{w: &b, live: true, width: 200}
	p.start(sc, dbtest.SQLite)
	res := harness.RunOn(t.Context(), dbtest.SQLite, sc, p.step)
	p.end(res)
	if !res.Passed {
		t.Fatal(res.Failure())
	}
	out := b.String()
	n := len(sc.Steps)
	for i, st := range sc.Steps {
		want := fmt.Sprintf("\r\033[K▸ machine_1 on sqlite  step %d/%d %s", i+1, n, st.Kind)
		if !strings.Contains(out, want) {
			t.Errorf("no live line %q in:\n%q", want, out)
		}
	}
	final := fmt.Sprintf("\r\033[K✓ machine_1 on sqlite  %d steps  ", n)
	if i := strings.LastIndex(out, final); i < 0 || strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
		t.Errorf("the scenario does not end with one line %q:\n%q", final, out)
	}
	if strings.Contains(out, "\033[3") {
		t.Errorf("colours without colour mode: %q", out)
	}
}

// TestProgressLiveFailure: a failure stays on the screen in full: the
// step, its error and the diff of the rows.
func TestProgressLiveFailure(t *testing.T) {
	sc, err := harness.Parse("stock.yaml", []byte(`
name: stock
fixtures: [base]
steps:
  - create_machine: {as: m, owner: users.alice, name: m, table: machine_stock}
  - append: {machine: m, table: {columns: [sku, qty], rows: [[B-1, 15], [N-1, 39]]}}
  - expect_rows: {machine: m, columns: [sku, qty], rows: [[B-1, 15], [N-1, 40]], all: true}
`))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	p := &progress{w: &b, live: true, color: true, width: 200}
	p.start(sc, dbtest.SQLite)
	p.end(harness.RunOn(t.Context(), dbtest.SQLite, sc, p.step))
	out := b.String()
	for _, want := range []string{
		"\r\033[K\033[31m✗\033[0m stock on sqlite  \033[1;31mFAIL\033[0m\n",
		"FAIL step  3 expect_rows",
		"machine_stock row 2, column qty: got 39, want 40; the rows (-want +got):",
		`-  2    "N-1"  40`,
		`+  2    "N-1"  39`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestProgressLiveFitsTheTerminal: a live line longer than the terminal
// is cut, or it would wrap and could not be rewritten.
func TestProgressLiveFitsTheTerminal(t *testing.T) {
	var b bytes.Buffer
	p := &progress{w: &b, live: true, width: 30}
	p.rewrite("▸ salaries_prediction_diagnostic_row_count on postgres  step 7/17 expect_rows")
	line := strings.TrimPrefix(b.String(), "\r\033[K")
	if n := len([]rune(line)); n != 29 || !strings.HasSuffix(line, "…") {
		t.Errorf("live line %q has %d characters, want 29 ending in …", line, n)
	}
}

// TestProgressPlain: not on a terminal (CI logs, pipes, files), every step
// is a plain line, with no carriage returns or escape sequences.
func TestProgressPlain(t *testing.T) {
	for _, args := range [][]string{{"run", "machine_1.yaml"}, {"run", "--no-progress", "machine_1.yaml"}} {
		dir := t.TempDir()
		data, _ := scenarios.FS.ReadFile("machine_1.yaml")
		os.WriteFile(filepath.Join(dir, "machine_1.yaml"), data, 0o644)
		args[len(args)-1] = filepath.Join(dir, "machine_1.yaml")
		code, out, errs := runArgs(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out, errs)
		}
		if strings.ContainsAny(out, "\r\033") {
			t.Errorf("%v: terminal control in plain output:\n%q", args, out)
		}
		for _, want := range []string{"── machine_1 on sqlite\n", "   ok   step  1 create_machine", "   ok   step 16 expect_table"} {
			if !strings.Contains(out, want) {
				t.Errorf("%v: output lacks %q:\n%s", args, want, out)
			}
		}
	}
}

// TestProgressKeepsNotes: what dbtest noted during a passing scenario is
// printed in live mode as in plain mode, not lost with the live line.
func TestProgressKeepsNotes(t *testing.T) {
	res := harness.Result{Scenario: "ddl", Backend: dbtest.MySQL, Passed: true,
		Steps: []harness.StepResult{{Index: 1, Kind: "sql", Passed: true}},
		Notes: []string{"dbtest: mysql: CREATE TABLE t at ddl.yaml:4 committed the test's transaction implicitly"}}
	for _, live := range []bool{true, false} {
		var b bytes.Buffer
		p := &progress{w: &b, live: live, width: 200}
		p.end(res)
		if want := "   note " + res.Notes[0] + "\n"; !strings.Contains(b.String(), want) {
			t.Errorf("live=%v: the note is missing from:\n%q", live, b.String())
		}
	}
}
