package dbtest_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/easyautoml/dbharness/dbtest"
)

// TestUseAfterTestEnded: a handle, a transaction and a shared pool kept
// past their test fail with ErrTestEnded, naming the test and where it
// opened the handle, not with database/sql's "database is closed"; so does
// a handle opened with WithoutTransaction.
func TestUseAfterTestEnded(t *testing.T) {
	for _, b := range dbtest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			var (
				db     *dbtest.DB
				tx     *sql.Tx
				shared *sql.DB
			)
			t.Run("owner", func(t *testing.T) {
				db = dbtest.Open(t, b, itemsSchema())
				var err error
				if tx, err = db.BeginTx(context.Background(), nil); err != nil {
					t.Fatal(err)
				}
				if shared, err = sql.Open(db.DriverName(), db.DSN()); err != nil {
					t.Fatal(err)
				}
				if err := shared.Ping(); err != nil {
					t.Fatal(err)
				}
			})
			if db == nil {
				t.SkipNow() // the backend is unavailable: Open skipped
			}
			defer shared.Close()
			defer tx.Rollback() // fails too, but ends the Tx's goroutine
			owner := "TestUseAfterTestEnded/" + string(b) + "/owner"
			check := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, dbtest.ErrTestEnded) || !strings.Contains(err.Error(), owner) {
					t.Errorf("%s after the test ended: %v; want ErrTestEnded naming %s", what, err, owner)
				}
			}
			ctx := context.Background()
			_, err := db.ExecContext(ctx, "INSERT INTO items (name) VALUES ('late')")
			check("db.ExecContext", err)
			if err == nil || !strings.Contains(err.Error(), "opened at ended_test.go:") {
				t.Errorf("db.ExecContext: %v; want where the handle was opened", err)
			}
			var n int
			check("db.QueryRowContext", db.QueryRowContext(ctx, "SELECT COUNT(*) FROM items").Scan(&n))
			_, err = db.QueryContext(ctx, "SELECT 1")
			check("db.QueryContext", err)
			_, err = db.BeginTx(ctx, nil)
			check("db.BeginTx", err)
			_, err = db.Conn(ctx)
			check("db.Conn", err)
			check("db.PingContext", db.PingContext(ctx))
			_, err = db.PrepareContext(ctx, "SELECT 1")
			check("db.PrepareContext", err)
			_, err = tx.ExecContext(ctx, "INSERT INTO items (name) VALUES ('late')")
			check("tx.ExecContext", err)
			_, err = shared.ExecContext(ctx, "INSERT INTO items (name) VALUES ('late')")
			check("a pool opened with db.DSN()", err)
			t.Run("without transaction", func(t *testing.T) { useAfterEndedWithoutTransaction(t, b) })
		})
	}
}

// useAfterEndedWithoutTransaction: a handle opened with WithoutTransaction
// and kept past its test fails with ErrTestEnded too, naming the test and
// where it opened the handle, and saying that its database was restored:
// there was no transaction to roll back.
func useAfterEndedWithoutTransaction(t *testing.T, b dbtest.Backend) {
	var db *dbtest.DB
	t.Run("owner", func(t *testing.T) {
		db = dbtest.Open(t, b, itemsSchema(), dbtest.WithoutTransaction())
		if _, err := db.Exec("INSERT INTO items (id, name) VALUES (1, 'committed')"); err != nil {
			t.Fatal(err)
		}
	})
	if db == nil {
		t.SkipNow() // the backend is unavailable: Open skipped
	}
	owner := "TestUseAfterTestEnded/" + string(b) + "/without_transaction/owner"
	check := func(what string, err error) {
		t.Helper()
		switch {
		case !errors.Is(err, dbtest.ErrTestEnded) || !strings.Contains(err.Error(), owner):
			t.Errorf("%s after the test ended: %v; want ErrTestEnded naming %s", what, err, owner)
		case !strings.Contains(err.Error(), "opened at ended_test.go:"):
			t.Errorf("%s: %v; want where the handle was opened", what, err)
		case !strings.Contains(err.Error(), "its database was restored"):
			t.Errorf("%s: %v; want it to say the database was restored", what, err)
		case strings.Contains(err.Error(), "rolled back"):
			t.Errorf("%s: %v; the handle had no transaction to roll back", what, err)
		}
	}
	ctx := context.Background()
	_, err := db.ExecContext(ctx, "INSERT INTO items (name) VALUES ('late')")
	check("db.ExecContext", err)
	_, err = db.Exec("INSERT INTO items (name) VALUES ('late')")
	check("db.Exec", err)
	var n int
	check("db.QueryRowContext", db.QueryRowContext(ctx, "SELECT COUNT(*) FROM items").Scan(&n))
	_, err = db.QueryContext(ctx, "SELECT 1")
	check("db.QueryContext", err)
	_, err = db.BeginTx(ctx, nil)
	check("db.BeginTx", err)
	_, err = db.PrepareContext(ctx, "SELECT 1")
	check("db.PrepareContext", err)
	_, err = db.Conn(ctx)
	check("db.Conn", err)
	check("db.PingContext", db.PingContext(ctx))
	if err := db.Release(ctx); err != nil {
		t.Errorf("a second Release: %v; want nil", err)
	}
}
