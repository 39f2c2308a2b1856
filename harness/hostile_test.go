package harness_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/harness"
)

// TestParseHostile: hostile scenario files, each refused with a
// *harness.Error of its kind that names the file, line and column, the
// step and its kind, and the field; a misspelt step or field gets the
// nearest known name as a suggestion.
func TestParseHostile(t *testing.T) {
	bomb := "name: x\nsteps:\n  - sql: {query: SELECT 1}\nlaughs:\n  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
	for i, c := range "bcdefghijklmnopqrstuvwxyz" {
		bomb += fmt.Sprintf("  %c: &%c [%s]\n", c, c, strings.TrimSuffix(strings.Repeat("*"+string("abcdefghijklmnopqrstuvwxyz"[i])+", ", 9), ", "))
	}
	cases := []struct {
		reason, yaml string
		kind         error
		line, column int
		step         int
		stepKind     string
		field        string
		suggests     string // the name suggested, when one must be
	}{
		{"a billion laughs (10^25 nodes) is refused at its first anchor, before the unknown key that holds it",
			bomb, harness.ErrAlias, 5, 6, 0, "", "", ""},
		{"an anchor on a step's fields",
			"name: x\nsteps:\n  - sql: &q {query: SELECT 1}\n", harness.ErrAlias, 3, 10, 0, "", "", ""},
		{"an anchor on a single value",
			"name: x\nsteps:\n  - create_user: {as: u, username: &n ann}\n", harness.ErrAlias, 3, 36, 0, "", "", ""},
		{"an alias of an anchor that is nowhere: located by the alias",
			"name: x\nsteps:\n  - create_user: {as: u, username: *nowhere}\n", harness.ErrSyntax, 3, 36, 0, "", "", ""},
		{"nesting past the YAML parser's depth",
			"name: x\nsteps:\n  - sql: {query: " + strings.Repeat("[", 20_000) + strings.Repeat("]", 20_000) + "}\n", harness.ErrSyntax, 3, 0, 0, "", "", ""},
		{"a misspelt step",
			"name: x\nsteps:\n  - sql: {query: SELECT 1}\n  - apend: {machine: m}\n", harness.ErrUnknownStep, 4, 5, 2, "apend", "", "append"},
		{"a step in the wrong case",
			"name: x\nsteps:\n  - Create_User: {as: u, username: u}\n", harness.ErrUnknownStep, 3, 5, 1, "Create_User", "", "create_user"},
		{"a step with a letter too many",
			"name: x\nsteps:\n  - create_machines: {as: m}\n", harness.ErrUnknownStep, 3, 5, 1, "create_machines", "", "create_machine"},
		{"a step far from every known one gets no suggestion",
			"name: x\nsteps:\n  - launch_rockets: {}\n", harness.ErrUnknownStep, 3, 5, 1, "launch_rockets", "", ""},
		{"a step that is SQL",
			"name: x\nsteps:\n  - \"sql; DROP TABLE users; --\": {query: SELECT 1}\n", harness.ErrUnknownStep, 3, 5, 1, "sql; DROP TABLE users; --", "", ""},
		{"an empty step name",
			"name: x\nsteps:\n  - \"\": {query: SELECT 1}\n", harness.ErrUnknownStep, 3, 5, 1, "", "", ""},
		{"a misspelt field",
			"name: x\nsteps:\n  - create_user: {as: u, usernme: u}\n", harness.ErrUnknownField, 3, 26, 1, "create_user", "usernme", "username"},
		{"a field of another step",
			"name: x\nsteps:\n  - create_user: {as: u, username: u, query: SELECT 1}\n", harness.ErrUnknownField, 3, 39, 1, "create_user", "query", ""},
		{"a field named like SQL",
			"name: x\nsteps:\n  - sql: {query: SELECT 1, \"x'); DROP TABLE users; --\": 1}\n", harness.ErrUnknownField, 3, 28, 1, "sql", "x'); DROP TABLE users; --", ""},
		{"an unknown key at the top",
			"name: x\nfixture: [base]\nsteps:\n  - sql: {query: SELECT 1}\n", harness.ErrUnknownField, 2, 1, 0, "", "fixture", "fixtures"},
		{"a reference to a machine created by a later step",
			"name: x\nsteps:\n  - append: {machine: m, dataset: salaries}\n  - create_user: {as: u, username: u}\n  - create_machine: {as: m, owner: u, name: m, table: t}\n",
			harness.ErrInvalid, 3, 23, 1, "append", "", ""},
	}
	for _, c := range cases {
		t.Run(c.reason, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := harness.Parse("hostile.yaml", []byte(c.yaml))
			runtime.ReadMemStats(&after)
			if !errors.Is(err, c.kind) {
				t.Fatalf("err = %v; want errors.Is(err, %v)", err, c.kind)
			}
			var he *harness.Error
			if !errors.As(err, &he) {
				t.Fatalf("err = %v (%T); want a *harness.Error", err, err)
			}
			got := [6]any{he.File, he.Line, he.Column, he.Step, he.Kind, he.Field}
			if want := [6]any{"hostile.yaml", c.line, c.column, c.step, c.stepKind, c.field}; got != want {
				t.Errorf("err = %v\nat %v; want %v", err, got, want)
			}
			hint := " (did you mean " + c.suggests + "?)"
			if c.suggests != "" && !strings.Contains(err.Error(), hint) {
				t.Errorf("err = %v; want the suggestion %q", err, hint)
			}
			if c.suggests == "" && strings.Contains(err.Error(), "did you mean") {
				t.Errorf("err = %v; want no suggestion", err)
			}
			// The alias bomb would take terabytes expanded; the
			// largest input here is 40 KB of brackets.
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
				t.Errorf("parsing %d bytes allocated %d bytes", len(c.yaml), alloc)
			}
		})
	}
}

// TestParseFileHostilePaths: a scenario names files within its own file
// system only: a path that climbs out of it, or an absolute one, is an
// error at the field that names it.
func TestParseFileHostilePaths(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(filepath.Dir(dir), "outside.csv")
	if err := os.WriteFile(outside, []byte("x\n1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(outside) })
	head := "name: x\nsteps:\n  - create_user: {as: u, username: u}\n  - create_machine: {as: m, owner: u, name: m, table: t}\n"
	cases := []struct {
		reason, step string
		line, column int
		kind         error
	}{
		{"a CSV file above the scenario's directory", "  - append: {machine: m, csv: ../outside.csv}\n", 5, 31, fs.ErrInvalid},
		{"an absolute CSV path is looked for under the scenario's directory", "  - append: {machine: m, csv: " + outside + "}\n", 5, 31, fs.ErrNotExist},
	}
	for _, c := range cases {
		t.Run(c.reason, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(dir, "sc.yaml"), []byte(head+c.step), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := harness.ParseFile(os.DirFS(dir), "sc.yaml")
			var he *harness.Error
			if !errors.As(err, &he) || he.Line != c.line || he.Column != c.column || he.Step != 3 {
				t.Fatalf("err = %v; want a *harness.Error at sc.yaml:%d:%d, step 3", err, c.line, c.column)
			}
			if !errors.Is(err, c.kind) {
				t.Errorf("err = %v; want errors.Is(err, %v)", err, c.kind)
			}
		})
	}
	if err := os.WriteFile(filepath.Join(dir, "sc.yaml"), []byte("name: x\nfixtures: [base, ../outside.yml]\nsteps:\n  - sql: {query: SELECT 1}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := harness.ParseFile(os.DirFS(dir), "sc.yaml")
	var he *harness.Error
	if !errors.As(err, &he) || he.Line != 2 || he.Column != 18 {
		t.Errorf("a fixture set above the scenario's directory: err = %v; want it at sc.yaml:2:18", err)
	}
}

// TestRunHostileCSV: a scenario that appends a hostile CSV file fails at
// that step, with an error naming the scenario's line, the CSV file, and
// the line and column in it; nothing is written.
func TestRunHostileCSV(t *testing.T) {
	cases := []struct {
		reason, csv, want string
	}{
		{"a ragged row", "a,b\n1,2\n3\n", `CSV file data.csv: dynamic: CSV line 3: 1 fields, but the header has 2`},
		{"invalid UTF-8", "a,b\n1,\xff\n", `CSV file data.csv: dynamic: CSV line 2, column "b" (character 3): invalid UTF-8`},
		{"a byte order mark inside the header", "a,\ufeffb\n1,2\n", `CSV file data.csv: dynamic: CSV line 1, field 2: name "\ufeffb" holds a byte order mark`},
		{"a UTF-16 file", "\xff\xfea\x00\n\x00", `CSV file data.csv: dynamic: CSV line 1: the input starts with a UTF-16 byte order mark`},
		{"a malformed quote", "a,b\n1,x\"y\n", `CSV file data.csv: dynamic: CSV line 2, column "b" (character 4): bare " in non-quoted-field`},
	}
	db := dbtest.Open(t, dbtest.SQLite)
	for _, c := range cases {
		t.Run(c.reason, func(t *testing.T) {
			dir := t.TempDir()
			sc := "name: hostile_csv\nsteps:\n  - create_user: {as: u, username: u}\n  - create_machine: {as: m, owner: u, name: m, table: hostile_csv}\n" +
				"  - append: {machine: m, csv: data.csv}\n"
			if err := os.WriteFile(filepath.Join(dir, "sc.yaml"), []byte(sc), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "data.csv"), []byte(c.csv), 0o600); err != nil {
				t.Fatal(err)
			}
			parsed, err := harness.ParseFile(os.DirFS(dir), "sc.yaml")
			if err != nil {
				t.Fatal(err)
			}
			tx, err := db.BeginTx(t.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			res := harness.Run(context.WithoutCancel(t.Context()), db, parsed, nil)
			if res.Passed || len(res.Steps) != 3 || res.Steps[2].Passed {
				t.Fatalf("the scenario did not fail at its append: %+v", res)
			}
			wantStep := "harness: sc.yaml:5:31: step 3 (append): " + c.want
			if got := res.Steps[2].Error; !strings.HasPrefix(got, wantStep) {
				t.Errorf("step error:\n got %s\nwant %s...", got, wantStep)
			}
			var n int
			if err := db.QueryRow("SELECT COUNT(*) FROM data_lines_operations").Scan(&n); err != nil || n != 0 {
				t.Errorf("%d data lines operations recorded (%v); want none", n, err)
			}
		})
	}
}
