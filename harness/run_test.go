package harness_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/harness"
	"github.com/easyautoml/dbharness/internal/leakcheck"
)

// TestMain checks, after the tests, that no goroutine and no server
// connection remains (leakcheck), and drops dbtest's databases.
func TestMain(m *testing.M) { leakcheck.Main(m) }

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

// TestExpectRows: rows are compared in insertion order, floats within the
// tolerance, timestamps with text; a difference names the row, the column
// and both values.
func TestExpectRows(t *testing.T) {
	const setup = `
name: rows
fixtures: [base]
steps:
  - create_machine: {as: m, owner: users.alice, name: m, table: machine_rows}
  - append:
      machine: m
      table:
        columns: [n, x, label, at, ok]
        rows:
          - [1, 0.1, a, "2024-01-15 09:00:00", true]
          - [2, 0.2, b, "2024-01-16 09:00:00", false]
          - [3, 0.30000001, c, "2024-01-17 09:00:00", true]
`
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		res := run(t, db, setup+`
  - expect_rows:
      machine: m
      columns: [n, x, label, at, ok]
      rows:
        - [1, 0.1, a, "2024-01-15 09:00:00", true]
        - [2, 0.2, b, "2024-01-16T09:00:00Z", false]
        - [3, 0.3, c, "2024-01-17 09:00:00", true]
      all: true
      tolerance: 1e-6
  - expect_rows: {machine: m, offset: 2, columns: [label], rows: [[c]]}
`)
		if !res.Passed {
			t.Fatalf("failed: %s", failure(res))
		}
	})
	for _, c := range []struct{ reason, step, want string }{
		{"beyond the tolerance",
			"  - expect_rows: {machine: m, columns: [x], rows: [[0.1], [0.2], [0.3]], tolerance: 1e-9}\n",
			"machine_rows row 3, column x: got 0.30000001, want 0.3"},
		{"a different text",
			"  - expect_rows: {machine: m, offset: 1, columns: [label], rows: [[z]]}\n",
			`machine_rows row 2, column label: got "b", want "z"`},
		{"not all the rows",
			"  - expect_rows: {machine: m, columns: [n], rows: [[1], [2]], all: true}\n",
			"machine_rows has 3 rows, want exactly the 2 given"},
		{"past the end",
			"  - expect_rows: {machine: m, offset: 2, columns: [n], rows: [[3], [4]]}\n",
			"machine_rows has 3 rows; want rows 3 to 4"},
		{"no such column",
			"  - expect_rows: {machine: m, columns: [nope], rows: [[1]]}\n",
			`machine_rows has no column "nope" (it has n, x, label, at, ok)`},
	} {
		t.Run(c.reason, func(t *testing.T) {
			res := run(t, dbtest.Open(t, dbtest.SQLite), setup+c.step)
			if res.Passed || len(res.Steps) != 3 || !strings.HasPrefix(res.Steps[2].Error, c.want) {
				t.Errorf("passed %v, failure %s\nwant %s", res.Passed, failure(res), c.want)
			}
		})
	}
}

// TestPredictFromTheRegistry: predict reads the trained model back from
// the registry, writes one prediction per row, and both works end done,
// as the log says.
func TestPredictFromTheRegistry(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		res := run(t, db, `
name: predict
fixtures: [base]
steps:
  - create_machine: {as: m, owner: users.alice, name: m, table: machine_predict}
  - append: {machine: m, dataset: salaries, rows: [0, 300]}
  - train: {machine: m, as: fit, target: salary, features: [years_experience, education, job_title, city, age, remote], seed: 3}
  - expect_metric: {model: fit, metric: r2, min: 0.9}
  - expect_log: {work: fit, contains: done, level: info, count: 1}
  - expect_log: {machine: m, level: error, count: 0}
  - predict: {machine: m, model: fit}
  - expect_count: {machine: m, predictions: true, rows: 300}
  - expect_rows: {machine: m, predictions: true, offset: 299, columns: [data_row], rows: [[300]]}
  - expect_log: {machine: m, contains: "300 predictions", count: 1}
  - sql:
      query: SELECT kind, status FROM works ORDER BY id
      rows: [[train, done], [predict, done]]
`)
		if !res.Passed {
			t.Fatalf("failed: %s", failure(res))
		}
	})
}

// TestConnectionModes: a pool sharing the test's transaction sees and
// writes what the test does; a separate connection sees none of it, and
// its write fails at once on the test's own lock, with a report.
func TestConnectionModes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		res := run(t, db, `
name: modes
fixtures: [base]
steps:
  - create_machine: {as: m, owner: users.alice, name: m, table: machine_modes}
  - append: {machine: m, table: {columns: [x], rows: [[1], [2]]}}
  - append: {machine: m, table: {columns: [x], rows: [[3]]}, mode: shared}
  - expect_count: {machine: m, rows: 3, mode: shared}
  - sql: {query: "SELECT COUNT(*) FROM machine_modes WHERE x > 1", rows: [[2]], mode: shared}
  - expect_count: {machine: m, rows: 0, mode: separate, expect_error: no_table, backends: [sqlite, postgres]}
  - append: {machine: m, table: {columns: [x], rows: [[4]]}, mode: separate, expect_error: locked, backends: [sqlite, postgres]}
  - expect_count: {machine: m, rows: 3}
`)
		if !res.Passed {
			t.Fatalf("failed: %s", failure(res))
		}
		if db.Backend() == dbtest.MySQL {
			return
		}
		locked := res.Steps[6]
		if !strings.Contains(locked.LockReport, "separate connection") || !strings.Contains(locked.LockReport, "the test transaction") {
			t.Errorf("the lock report does not name both connections:\n%s", locked.LockReport)
		}
	})
}

// TestStatementOriginIsTheScenarioLine: dbtest's messages and lock reports
// name the scenario file's line of the step that ran the statement or
// opened the connection, not the engine's Go code.
func TestStatementOriginIsTheScenarioLine(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		res := run(t, db, `
name: origin
steps:
  - create_team: {as: escaped, name: early, mode: separate}
  - create_user: {as: erin, username: erin}
  - sql: {query: COMMIT, expect_error: transaction_control}
  - create_machine: {as: m, owner: erin, name: frames, table: machine_frames, mode: separate, expect_error: self_deadlock, backends: [sqlite, mysql]}
`)
		if len(res.Steps) < 3 {
			t.Fatalf("ran %d steps: %s", len(res.Steps), failure(res))
		}
		if d := res.Steps[2].Detail; !strings.Contains(d, "COMMIT at test.yaml:6") {
			t.Errorf("the refused COMMIT is not placed at test.yaml:6: %s", d)
		}
		if db.Backend() == dbtest.Postgres {
			return
		}
		if len(res.Steps) != 4 || res.Steps[3].Lock == nil {
			t.Fatalf("no lock report for the separate connection: %s", failure(res))
		}
		if w := res.Steps[3].Lock.Waiter; w.Role != dbtest.RoleRaw || !strings.HasPrefix(w.Location, "test.yaml:") {
			t.Errorf("the waiting separate connection was opened at %q, want a line of test.yaml", w.Location)
		}
	}, dbtest.WithCleanupCheck(func(problems error) error {
		// The escaped team and the refused COMMIT are the point; cleanup
		// must place the COMMIT at its step too.
		if problems == nil || !strings.Contains(problems.Error(), "COMMIT at test.yaml:6") {
			return fmt.Errorf("cleanup does not place the COMMIT at test.yaml:6: %v", problems)
		}
		return nil
	}))
}

// TestRowCountGrammar: one row is "1 row", in details and in failures.
func TestRowCountGrammar(t *testing.T) {
	db := dbtest.Open(t, dbtest.SQLite)
	res := run(t, db, `
name: grammar
steps:
  - create_team: {as: a, name: alpha}
  - expect_count: {table: teams, rows: 1}
  - sql: {query: "UPDATE teams SET name = 'beta'"}
  - sql: {query: "SELECT name FROM teams", rows: [[beta]]}
  - create_team: {as: b, name: gamma}
  - expect_count: {table: teams, rows: 2}
  - expect_count: {table: teams, rows: 1}
`)
	if len(res.Steps) != 7 {
		t.Fatalf("ran %d steps: %s", len(res.Steps), failure(res))
	}
	got := []string{res.Steps[1].Detail, res.Steps[2].Detail, res.Steps[3].Detail, res.Steps[5].Detail, res.Steps[6].Error}
	want := []string{"teams: 1 row", "1 row affected", "1 row as expected", "teams: 2 rows", "teams has 2 rows, want 1"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("got %q, want %q", got[i], want[i])
		}
	}
}
