package harness_test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/harness"
)

// TestLockPatterns: every known lock-bug pattern behaves as documented on
// every backend: the reproduction itself is tested.
func TestLockPatterns(t *testing.T) {
	for _, b := range dbtest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			dbtest.Open(t, b) // skip or fail like any test when the backend is unavailable
			for _, r := range harness.ReproLock(context.Background(), b, harness.LockPatterns()) {
				var out strings.Builder
				harness.WriteRepro(&out, []harness.PatternResult{r})
				if !r.OK {
					t.Errorf("pattern %d did not behave as documented:\n%s", r.Pattern.N, out.String())
				} else {
					t.Logf("\n%s", out.String())
				}
				// The patterns play the code under test: their reports
				// name the pattern's own lines, not this test's.
				if r.Pattern.N == 1 && b != dbtest.Postgres && !regexp.MustCompile(`connection #\d+ \(opened at repro\.go:\d+, separate connection\)`).MatchString(r.Report) {
					t.Errorf("pattern 1's report does not place the separate connection in repro.go:\n%s", r.Report)
				}
			}
		})
	}
}
