package dbtest_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/easyautoml/dbharness/dbtest"
)

// TestWithOrigin: a statement run with a context from WithOrigin is
// placed at that origin in dbtest's messages, and so is a connection it
// opens in lock reports; without one, at the Go caller.
func TestWithOrigin(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := dbtest.WithOrigin(context.Background(), "steps.yaml:12")
		_, err := db.ExecContext(ctx, "COMMIT")
		if !errors.Is(err, dbtest.ErrTransactionControl) || !strings.Contains(err.Error(), "COMMIT at steps.yaml:12") {
			t.Errorf("COMMIT with an origin: %v; want it placed at steps.yaml:12", err)
		}
		_, err = db.ExecContext(context.Background(), "COMMIT")
		if err == nil || !strings.Contains(err.Error(), "COMMIT at origin_test.go:") {
			t.Errorf("COMMIT without an origin: %v; want it placed at origin_test.go", err)
		}
	}, dbtest.WithCleanupCheck(func(error) error { return nil }))
}

// TestWithOriginNamesTheConnection: the separate connection that waits on
// the test's lock was opened with an origin; the lock report names it.
func TestWithOriginNamesTheConnection(t *testing.T) {
	db := dbtest.Open(t, dbtest.SQLite, itemsSchema())
	mustExec(t, db, "INSERT INTO items (name) VALUES ('held')")
	raw, err := sql.Open(db.RawDriverName(), db.RawDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_, err = raw.ExecContext(dbtest.WithOrigin(context.Background(), "steps.yaml:7"), "INSERT INTO items (name) VALUES ('waits')")
	var le *dbtest.LockError
	if !errors.As(err, &le) {
		t.Fatalf("the separate write: %v; want a lock error", err)
	}
	if loc := le.Report.Waiter.Location; loc != "steps.yaml:7" {
		t.Errorf("the waiter was opened at %q, want steps.yaml:7", loc)
	}
}
