package harness_test

import (
	"context"
	"strings"
	"testing"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/harness"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// run parses src and runs it on db.
func run(t *testing.T, db *dbtest.DB, src string) harness.Result {
	t.Helper()
	sc, err := harness.Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return harness.Run(context.Background(), db, sc, nil)
}

// failure describes why a result failed, for test messages.
func failure(res harness.Result) string {
	var b strings.Builder
	b.WriteString(res.Error)
	for _, s := range res.Steps {
		if !s.Passed {
			b.WriteString("\nstep " + s.Kind + ": " + s.Error)
		}
	}
	return b.String()
}

// TestExpectedErrorKeepsTheTransaction: a step that fails as expected does
// not poison the scenario's transaction (on PostgreSQL a failed statement
// aborts it), and what the step wrote before failing is undone.
func TestExpectedErrorKeepsTheTransaction(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		res := run(t, db, `
name: duplicate
steps:
  - create_user: {as: a, username: ann}
  - create_user: {as: b, username: ann, expect_error: duplicate}
  - create_user: {as: c, username: cid}
  - expect_count: {table: users, rows: 2}
`)
		if !res.Passed {
			t.Fatalf("failed: %s", failure(res))
		}
		if len(res.Steps) != 4 || !strings.Contains(res.Steps[1].Detail, "failed as expected") {
			t.Errorf("steps = %+v", res.Steps)
		}
	})
}

// TestUnexpectedSuccess: a step that expects an error and succeeds fails
// the scenario, and the scenario stops there.
func TestUnexpectedSuccess(t *testing.T) {
	db := dbtest.Open(t, dbtest.SQLite)
	res := run(t, db, `
name: unexpected
steps:
  - create_user: {as: a, username: ann, expect_error: duplicate}
  - create_user: {as: b, username: bob}
`)
	if res.Passed || len(res.Steps) != 1 {
		t.Fatalf("passed = %v, %d steps; want a failure at step 1", res.Passed, len(res.Steps))
	}
	if want := "expected a duplicate error, and the step succeeded"; res.Steps[0].Error != want {
		t.Errorf("error = %q, want %q", res.Steps[0].Error, want)
	}
}
