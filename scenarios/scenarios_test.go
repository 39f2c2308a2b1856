package scenarios_test

import (
	"slices"
	"testing"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/harness"
	"github.com/easyautoml/dbharness/internal/leakcheck"
	"github.com/easyautoml/dbharness/scenarios"
)

// TestMain checks, after the tests, that no goroutine and no server
// connection remains (leakcheck), and drops dbtest's databases.
func TestMain(m *testing.M) { leakcheck.Main(m) }

// The reference workflows, which must always be there.
var reference = []string{
	"salaries_prediction_complete_workflow",
	"salaries_prediction_diagnostic_row_count",
	"machine_1",
}

// TestScenarios runs every scenario file on every backend, as subtests
// scenario/backend.
func TestScenarios(t *testing.T) {
	all, err := harness.ParseFS(scenarios.FS)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sc := range all {
		names = append(names, sc.Name)
	}
	for _, want := range reference {
		if !slices.Contains(names, want) {
			t.Errorf("scenario %s is missing (have %v)", want, names)
		}
	}
	for _, sc := range all {
		t.Run(sc.Name, func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
				res := harness.Run(t.Context(), db, sc, func(_ *harness.Scenario, _ dbtest.Backend, s harness.StepResult) {
					status := "ok"
					switch {
					case s.Skipped:
						status = "skip"
					case !s.Passed:
						status = "FAIL"
					}
					t.Logf("%s:%d: step %d %s: %s %s", sc.File, s.Line, s.Index, s.Kind, status, s.Detail)
					if s.LockReport != "" {
						t.Logf("lock report:\n%s", s.LockReport)
					}
				})
				if !res.Passed {
					t.Error(res.Failure())
				}
				ran := 0
				for _, s := range res.Steps {
					if !s.Skipped {
						ran++
					}
				}
				if res.Passed && ran == 0 {
					t.Errorf("no step of %s runs on %s", sc.Name, db.Backend())
				}
			}, sc.Options()...)
		})
	}
}

// TestScenarioWithoutTransactionRunsAgain: a scenario with transaction:
// none commits, and dbtest restores its database after it: run again on
// the same database, it finds the same state and passes again (its user,
// machine and data table would otherwise exist already), and a
// transactional scenario never gets that database.
func TestScenarioWithoutTransactionRunsAgain(t *testing.T) {
	sc, err := harness.ParseFile(scenarios.FS, "separate_connection_without_transaction.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range dbtest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			txName := dbtest.Open(t, b).DatabaseName()
			var names []string
			for i := range 2 {
				db := dbtest.Open(t, b, sc.Options()...)
				names = append(names, db.DatabaseName())
				if res := harness.Run(t.Context(), db, sc, nil); !res.Passed {
					t.Fatalf("run %d: %s", i+1, res.Failure())
				}
				if err := db.Release(t.Context()); err != nil {
					t.Fatalf("run %d: cleanup: %v", i+1, err)
				}
			}
			if names[0] != names[1] || names[0] == txName {
				t.Errorf("databases %v (transactional: %s); want the same one twice, restored, not the transactional one", names, txName)
			}
		})
	}
}
