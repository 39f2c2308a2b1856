package harness

import (
	"os"
	"regexp"
	"testing"
)

// TestDocCoversEverything: the package manual names every step, every
// field of every step, and every kind of error a step may expect.
func TestDocCoversEverything(t *testing.T) {
	b, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	mentions := func(word string) bool {
		return regexp.MustCompile(`\b` + regexp.QuoteMeta(word) + `\b`).MatchString(doc)
	}
	for kind, spec := range steps {
		if !regexp.MustCompile(`(?m)^//\t` + kind + ` `).MatchString(doc) {
			t.Errorf("the manual does not list step %s", kind)
		}
		for _, f := range spec.fields {
			if !mentions(f.name) {
				t.Errorf("the manual does not mention field %s of step %s", f.name, kind)
			}
		}
	}
	for kind := range errorKinds {
		if !regexp.MustCompile(`(?m)^//\t` + kind + ` `).MatchString(doc) {
			t.Errorf("the manual does not list error kind %s", kind)
		}
	}
}
