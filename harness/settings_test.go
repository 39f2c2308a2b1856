package harness_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/harness"
)

// TestCheckCleanup: expect_cleanup accepts exactly what it names, and
// otherwise fails naming the scenario's file and line and what cleanup
// found.
func TestCheckCleanup(t *testing.T) {
	sc, err := harness.Parse("commit.yaml", []byte(
		"name: commit\nexpect_cleanup:\n  statements: [commit]\n  tables: [teams, users]\nsteps:\n  - sql: {query: SELECT 1}\n"))
	if err != nil {
		t.Fatal(err)
	}
	found := &dbtest.CleanupError{Backend: dbtest.SQLite, Statements: []string{"COMMIT at lib.go:12"}, Ended: true, Tables: []string{"users", "teams"}}
	cases := []struct {
		reason  string
		found   error
		wantErr string // "" when the check passes
	}{
		{"exactly what it expects, tables in any order", found, ""},
		{"nothing found", nil, "harness: commit.yaml:2: expect_cleanup: cleanup found nothing, want statements [COMMIT], tables [teams users]"},
		{"a table missing",
			&dbtest.CleanupError{Statements: found.Statements, Tables: []string{"teams"}},
			"harness: commit.yaml:2: expect_cleanup: cleanup found statements [COMMIT], tables [teams], want statements [COMMIT], tables [teams users]"},
		{"another statement",
			&dbtest.CleanupError{Statements: []string{"ROLLBACK at lib.go:12"}, Tables: found.Tables},
			"harness: commit.yaml:2: expect_cleanup: cleanup found statements [ROLLBACK], tables [teams users]"},
		{"not a cleanup error", errors.New("dbtest: rolling back: broken"), "harness: commit.yaml:2: expect_cleanup: dbtest: rolling back: broken"},
	}
	for _, c := range cases {
		err := sc.CheckCleanup(c.found)
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("%s: %v", c.reason, err)
		case c.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), c.wantErr)):
			t.Errorf("%s:\n got %v\nwant %s...", c.reason, err, c.wantErr)
		case c.found != nil && err != nil && !errors.Is(err, c.found):
			t.Errorf("%s: the error does not wrap what cleanup found", c.reason)
		}
	}
	plain, err := harness.Parse("plain.yaml", []byte("name: plain\nsteps:\n  - sql: {query: SELECT 1}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := plain.CheckCleanup(found); err != found {
		t.Errorf("without expect_cleanup, CheckCleanup = %v; want what cleanup found, unchanged", err)
	}
	if n := len(plain.Options()); n != 0 {
		t.Errorf("a scenario without settings has %d options", n)
	}
}

// TestScenarioOptions: each setting becomes a dbtest option, and a handle
// opened with them behaves accordingly.
func TestScenarioOptions(t *testing.T) {
	sc, err := harness.Parse("all.yaml", []byte("name: all\nsqlite_journal: wal\nlock_timeout: 150ms\ntransaction_control: pass\n"+
		"expect_cleanup: {statements: [COMMIT]}\nsteps:\n  - sql: {query: SELECT 1}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(sc.Options()); n != 4 {
		t.Fatalf("%d options, want 4", n)
	}
	db, err := dbtest.Connect(context.Background(), dbtest.SQLite, sc.Options()...)
	if err != nil {
		t.Fatal(err)
	}
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal mode %q (%v), want wal", mode, err)
	}
	if _, err := db.Exec("COMMIT"); err != nil {
		t.Errorf("COMMIT was refused: %v", err)
	}
	if err := db.Release(context.Background()); err != nil {
		t.Errorf("Release = %v; the COMMIT was expected", err)
	}
}

// TestBackgroundStepFailureFailsTheRun: a commit run in the background
// (after:) that fails fails the scenario, naming its step. Here the
// separate connection cannot commit on SQLite while the test's
// transaction holds its read lock: dbtest stops it as a self-deadlock.
func TestBackgroundStepFailureFailsTheRun(t *testing.T) {
	db := dbtest.Open(t, dbtest.SQLite)
	res := run(t, db, `
name: late
steps:
  - begin: {as: a}
  - create_team: {as: t, name: written by a, conn: a}
  - expect_count: {table: users, rows: 0}
  - commit: {conn: a, after: 10ms}
  - expect_count: {table: users, rows: 0}
`)
	if res.Passed {
		t.Fatal("the run passed; the background commit cannot have succeeded")
	}
	if !strings.HasPrefix(res.Error, "harness: test.yaml:7: step 4 (commit): ") || !strings.Contains(res.Error, "self-deadlock") {
		t.Errorf("error %q; want it to name step 4 (commit) and the self-deadlock", res.Error)
	}
}

// TestTransactionSetting: transaction: none gives the handle
// dbtest.WithoutTransaction; a bad value, or a conflict with
// transaction_control: pass or expect_cleanup, is an error naming the file
// and line.
func TestTransactionSetting(t *testing.T) {
	cases := []struct {
		reason  string
		yaml    string
		wantErr string // "" when it parses
		opts    int
	}{
		{"none", "transaction: none\n", "", 1},
		{"test, the default", "transaction: test\n", "", 0},
		{"a bad value", "transaction: off\n", "harness: tx.yaml:2:14: transaction: want test", 0},
		{"not a scalar", "transaction: [none]\n", "harness: tx.yaml:2:14: transaction: want test", 0},
		{"with transaction_control: pass after it", "transaction: none\ntransaction_control: pass\n",
			"harness: tx.yaml:3:1: transaction_control: transaction: none and transaction_control: pass conflict", 0},
		{"with transaction_control: pass before it", "transaction_control: pass\ntransaction: none\n",
			"harness: tx.yaml:3:1: transaction: transaction: none and transaction_control: pass conflict", 0},
		// Without a transaction cleanup never finds what expect_cleanup
		// waits for: the scenario could never pass.
		{"with expect_cleanup after it", "transaction: none\nexpect_cleanup: {tables: [items]}\n",
			"harness: tx.yaml:3:1: expect_cleanup: transaction: none (line 2, column 1) and expect_cleanup (line 3, column 1) conflict", 0},
		{"with expect_cleanup before it", "expect_cleanup: {statements: [COMMIT]}\ntransaction: none\n",
			"harness: tx.yaml:3:1: transaction: transaction: none (line 3, column 1) and expect_cleanup (line 2, column 1) conflict", 0},
		{"expect_cleanup with transaction: test", "transaction: test\nexpect_cleanup: {tables: [items]}\n", "", 1},
	}
	for _, c := range cases {
		sc, err := harness.Parse("tx.yaml", []byte("name: tx\n"+c.yaml+"steps:\n  - sql: {query: SELECT 1}\n"))
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("%s: %v", c.reason, err)
		case c.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), c.wantErr)):
			t.Errorf("%s:\n got %v\nwant %s...", c.reason, err, c.wantErr)
		case err == nil && len(sc.Options()) != c.opts:
			t.Errorf("%s: %d options, want %d", c.reason, len(sc.Options()), c.opts)
		}
	}
	sc, err := harness.Parse("tx.yaml", []byte("name: tx\ntransaction: none\nsteps:\n  - sql: {query: SELECT 1}\n"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := dbtest.Connect(context.Background(), dbtest.SQLite, sc.Options()...)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Release(context.Background())
	if db.DriverName() != db.RawDriverName() {
		t.Errorf("transaction: none gives a handle on driver %s, want the raw %s (no test transaction)", db.DriverName(), db.RawDriverName())
	}
}
