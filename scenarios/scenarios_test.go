package scenarios_test

import (
	"context"
	"testing"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/harness"
	"github.com/easyautoml/dbharness/scenarios"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// TestScenarios runs every scenario file on every backend.
func TestScenarios(t *testing.T) {
	all, err := harness.ParseFS(scenarios.FS)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 3 {
		t.Fatalf("%d scenarios, want the three reference workflows at least", len(all))
	}
	for _, sc := range all {
		t.Run(sc.Name, func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
				res := harness.Run(context.Background(), db, sc, func(_ *harness.Scenario, _ dbtest.Backend, s harness.StepResult) {
					t.Logf("step %2d %-15s %v %s", s.Index, s.Kind, s.Passed, s.Detail)
				})
				if !res.Passed {
					t.Errorf("%s failed: %s", sc.Name, res.Error)
					for _, s := range res.Steps {
						if !s.Passed {
							t.Errorf("step %d (%s, %s:%d): %s", s.Index, s.Kind, sc.File, s.Line, s.Error)
						}
					}
				}
			})
		})
	}
}
