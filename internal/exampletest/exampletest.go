// Package exampletest runs a test function from an Example, so that the
// examples of the test helpers (dbtest.Open, dbtest.Each,
// fixtures.AssertRows, ...) show them as a test uses them, with a real
// *testing.T, and still check their output.
package exampletest

import (
	"flag"
	"regexp"
	"testing"
)

// Run runs test as a top-level test named name, with testing.RunTests, and
// reports whether it passed. Name it after the Example that calls it: the
// -run pattern that selected the Example then selects the test too.
//
// For the duration, -test.v and -test.count are set to false and 1: the
// test's progress lines would otherwise land in the Example's output, and
// a count above one would run it again. A failed test prints its log to
// standard output, where the Example's check shows it.
func Run(name string, test func(t *testing.T)) bool {
	for flagName, value := range map[string]string{"test.v": "false", "test.count": "1"} {
		if f := flag.Lookup(flagName); f != nil {
			old := f.Value.String()
			if err := f.Value.Set(value); err == nil {
				defer f.Value.Set(old)
			}
		}
	}
	return testing.RunTests(func(pat, str string) (bool, error) { return regexp.MatchString(pat, str) },
		[]testing.InternalTest{{Name: name, F: test}})
}
