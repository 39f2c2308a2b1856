package dbtest_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/easyautoml/dbharness/dbtest"
)

// TestSQLiteSelfDeadlockReport reproduces the platform's bug: the test
// writes in its transaction, then code under test writes through a
// separate connection to the same database. That connection can never get
// the lock while the test waits, so dbtest fails it at once with a report.
func TestSQLiteSelfDeadlockReport(t *testing.T) {
	db := dbtest.Open(t, dbtest.SQLite, itemsSchema())
	mustExec(t, db, "INSERT INTO items (id, name) VALUES (1, 'held by the test')")

	raw, err := sql.Open(db.RawDriverName(), db.RawDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	start := time.Now()
	_, err = raw.Exec("INSERT INTO items (id, name) VALUES (2, 'from a separate connection')")
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("the separate connection wrote while the test held the write lock")
	}
	if !errors.Is(err, dbtest.ErrLocked) || !errors.Is(err, sqlite3.BUSY) {
		t.Fatalf("err = %v; want it to match dbtest.ErrLocked and sqlite3.BUSY", err)
	}
	var le *dbtest.LockError
	if !errors.As(err, &le) {
		t.Fatalf("errors.As(*LockError) failed for %v", err)
	}
	r := le.Report
	if !r.SelfDeadlock {
		t.Error("the report does not call it a self-deadlock")
	}
	if r.Wanted != "RESERVED" {
		t.Errorf("Wanted = %q, want RESERVED", r.Wanted)
	}
	if r.Waiter.Role != dbtest.RoleRaw || !strings.HasPrefix(r.Waiter.Location, "lock_test.go:") {
		t.Errorf("Waiter = %+v; want a separate connection opened in lock_test.go", r.Waiter)
	}
	if len(r.Holders) != 1 {
		t.Fatalf("Holders = %+v, want the test's transaction alone", r.Holders)
	}
	h := r.Holders[0]
	if h.Conn.Role != dbtest.RoleTestTx || h.Lock != "RESERVED" || !strings.HasPrefix(h.Statement, "INSERT INTO items") {
		t.Errorf("holder = %+v; want the test transaction holding RESERVED since its INSERT", h)
	}
	if !strings.HasPrefix(h.Conn.Location, "lock_test.go:") {
		t.Errorf("the test transaction was opened at %q, want lock_test.go", h.Conn.Location)
	}
	msg := err.Error()
	for _, want := range []string{"separate connection) wanted RESERVED", "the test transaction, opened by dbtest.Open at lock_test.go:", "has held RESERVED since its INSERT INTO items", "fix:", "db.DSN()"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the message lacks %q:\n%s", want, msg)
		}
	}
	t.Logf("surfaced after %v:\n%v", elapsed.Round(time.Millisecond), err)
}

// TestSQLiteBusyBetweenSeparateConnections: two separate connections are
// not a self-deadlock: the waiter waits out the lock timeout and then
// fails with a report naming the holder.
func TestSQLiteBusyBetweenSeparateConnections(t *testing.T) {
	db := dbtest.Open(t, dbtest.SQLite, itemsSchema(), dbtest.WithLockTimeout(200*time.Millisecond))
	a, err := sql.Open(db.RawDriverName(), db.RawDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := sql.Open(db.RawDriverName(), db.RawDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	txa, err := a.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer txa.Rollback()
	mustExec(t, txa, "INSERT INTO items (id, name) VALUES (1, 'a holds the write lock')")
	_, err = b.Exec("INSERT INTO items (id, name) VALUES (2, 'b waits')")
	var le *dbtest.LockError
	if !errors.As(err, &le) {
		t.Fatalf("err = %v, want a *LockError", err)
	}
	if le.Report.SelfDeadlock {
		t.Error("two separate connections were called a self-deadlock")
	}
	if le.Report.Waited < 150*time.Millisecond {
		t.Errorf("the waiter gave up after %v, before the 200ms lock timeout", le.Report.Waited)
	}
	if len(le.Report.Holders) != 1 || le.Report.Holders[0].Conn.Role != dbtest.RoleRaw {
		t.Errorf("holders = %+v, want connection a", le.Report.Holders)
	}
	t.Log(err)
}
