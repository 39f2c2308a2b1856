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
// opened the handle, not with database/sql's "database is closed".
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
			_, err = tx.ExecContext(ctx, "INSERT INTO items (name) VALUES ('late')")
			check("tx.ExecContext", err)
			_, err = shared.ExecContext(ctx, "INSERT INTO items (name) VALUES ('late')")
			check("a pool opened with db.DSN()", err)
		})
	}
}
