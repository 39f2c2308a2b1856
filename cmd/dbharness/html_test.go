package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/easyautoml/dbharness/dbtest"
)

// wellFormed reads page with a strict XML parser and counts its elements
// by name and class ("svg.lock-timeline").
func wellFormed(t *testing.T, page []byte) map[string]int {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(page))
	d.Strict = true
	counts := map[string]int{}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return counts
		}
		if err != nil {
			t.Fatalf("the report is not well-formed: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			counts[se.Name.Local]++
			for _, a := range se.Attr {
				if a.Name.Local == "class" {
					for _, c := range strings.Fields(a.Value) {
						counts[se.Name.Local+"."+c]++
					}
				}
			}
		}
	}
}

// TestRunHTML: --html writes the report; the lock-bug scenario's expected
// lock error on SQLite is drawn with a lane for the test's connection and
// one for the separate connection that was refused.
func TestRunHTML(t *testing.T) {
	out := filepath.Join(t.TempDir(), "report.html")
	code, stdout, errs := runArgs(t, "run", "-q", "--html", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, errs)
	}
	page, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	c := wellFormed(t, page)
	if c["svg.lock-timeline"] < 1 || c["g.lane"] < 2 || c["g.denied-mark"] < 1 || c["rect.held"] < 2 {
		t.Errorf("the report draws no lock timeline with two lanes, held locks and a refusal: %v", c)
	}
	if c["article.scenario"] != len(builtIn(t)) {
		t.Errorf("%d scenarios in the report, want %d", c["article.scenario"], len(builtIn(t)))
	}
	s := string(page)
	if !regexp.MustCompile(`conn #\d+ · test transaction`).MatchString(s) {
		t.Error("the report has no lane for the test's transaction")
	}
	for _, want := range []string{"denied RESERVED", "lock_bug_second_connection on sqlite, step"} {
		if !strings.Contains(s, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
}

// TestReproHTML: repro lock --html draws the first pattern's report.
func TestReproHTML(t *testing.T) {
	out := filepath.Join(t.TempDir(), "locks.html")
	code, stdout, errs := runArgs(t, "repro", "lock", "--pattern", "1", "--html", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, errs)
	}
	page, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	c := wellFormed(t, page)
	if c["article.pattern"] != 1 || c["svg.lock-timeline"] != 1 || c["g.lane"] < 2 {
		t.Errorf("the reproduction is not drawn: %v", c)
	}
}

// TestRunMigrationsFlag: --migrations runs scenarios on a schema of one's
// own: here a dialect subdirectory for SQLite, and a scenario with a
// fixture file of that schema.
func TestRunMigrationsFlag(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "migrations", "sqlite"), 0o755)
	os.WriteFile(filepath.Join(dir, "migrations", "sqlite", "00001_parts.sql"), []byte(
		"-- +goose Up\nCREATE TABLE parts (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER NOT NULL);\n-- +goose Down\nDROP TABLE parts;\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "parts.yml"), []byte("parts:\n  bolt: {name: bolt, qty: 3}\n  nut: {name: nut, qty: 5}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "parts.yaml"), []byte(`
name: parts
fixtures: [parts.yml]
steps:
  - expect_count: {table: parts, rows: 2}
  - sql: {query: "SELECT name, qty FROM parts ORDER BY name", rows: [[bolt, 3], [nut, 5]]}
`), 0o644)
	code, out, errs := runArgs(t, "run", "--migrations", filepath.Join(dir, "migrations"), filepath.Join(dir, "parts.yaml"))
	if code != 0 || !strings.Contains(out, "1 passed, 0 failed") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	// Without it, the registry schema has no table parts.
	if code, out, _ := runArgs(t, "run", filepath.Join(dir, "parts.yaml")); code != 1 {
		t.Errorf("without --migrations: exit %d, want 1\n%s", code, out)
	}
	if code, _, errs := runArgs(t, "run", "--migrations", filepath.Join(dir, "nope"), filepath.Join(dir, "parts.yaml")); code != 2 || !strings.Contains(errs, "--migrations") {
		t.Errorf("a missing directory: exit %d: %s", code, errs)
	}
	// A directory without SQL files for the backend is named at once,
	// with where the files were looked for.
	for _, c := range []struct {
		reason, dir, db, want string
	}{
		{"the parent of the migrations", dir, "sqlite", "no goose migrations (*.sql) for sqlite in " + dir},
		{"a backend without a subdirectory", filepath.Join(dir, "migrations"), "postgres", "no goose migrations (*.sql) for postgres in " + filepath.Join(dir, "migrations")},
	} {
		code, _, errs := runArgs(t, "run", "--db", c.db, "--migrations", c.dir, filepath.Join(dir, "parts.yaml"))
		if code != 2 || !strings.Contains(errs, c.want) {
			t.Errorf("%s: exit %d, want 2 and %q: %s", c.reason, code, c.want, errs)
		}
	}
	// A backend not checked at once (a server that --db all finds) is
	// told the same when it is opened.
	o, err := migrationsOption(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if db, err := dbtest.Connect(t.Context(), dbtest.SQLite, o); err == nil {
		db.Release(t.Context())
		t.Error("a directory without migrations opened a database")
	} else if want := "no goose migrations (*.sql) for sqlite in " + dir; !strings.Contains(err.Error(), want) {
		t.Errorf("Connect: %v, want %q", err, want)
	}
}
