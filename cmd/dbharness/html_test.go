package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	for _, want := range []string{"conn #1 · test transaction", "denied RESERVED", "lock_bug_second_connection on sqlite, step"} {
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
