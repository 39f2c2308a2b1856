package dbtest_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/easyautoml/dbharness/dbtest"
)

// ownSchema is the items schema under a name of its own, so that the pool
// of its databases serves only the test that asks for it: a released
// database is then the one the next Connect gets.
func ownSchema(name string) dbtest.Option {
	return dbtest.WithMigrations(fstest.MapFS{"001_items.sql": {Data: []byte(`-- +goose Up
-- ` + name + `
CREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL UNIQUE, qty INTEGER NOT NULL DEFAULT 0);
-- +goose Down
DROP TABLE items;
`)}})
}

// sessionID returns the server's id of the connection behind db.
func sessionID(t *testing.T, db *dbtest.DB) int64 {
	t.Helper()
	q := "SELECT pg_backend_pid()"
	if db.Backend() == dbtest.MySQL {
		q = "SELECT CONNECTION_ID()"
	}
	var id int64
	if err := db.QueryRowContext(context.Background(), q).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestServerConnectionLostInPool: after a test, dbtest leaves the
// database's connection in the next test's transaction (ROLLBACK AND
// CHAIN). When the server closes that connection while the database waits
// in the pool, the next test gets a working handle on a new connection.
func TestServerConnectionLostInPool(t *testing.T) {
	for _, b := range []dbtest.Backend{dbtest.Postgres, dbtest.MySQL} {
		t.Run(string(b), func(t *testing.T) {
			dbtest.Open(t, b, itemsSchema()) // skips when unavailable
			ctx := context.Background()
			schema := ownSchema(t.Name())
			first, err := dbtest.Connect(ctx, b, schema)
			if err != nil {
				t.Fatal(err)
			}
			id := sessionID(t, first)
			name := first.DatabaseName()
			killer, err := sql.Open(first.RawDriverName(), first.RawDSN())
			if err != nil {
				t.Fatal(err)
			}
			defer killer.Close()
			if err := first.Release(ctx); err != nil {
				t.Fatal(err)
			}
			kill := fmt.Sprintf("SELECT pg_terminate_backend(%d)", id)
			if b == dbtest.MySQL {
				kill = fmt.Sprintf("KILL %d", id)
			}
			if _, err := killer.ExecContext(ctx, kill); err != nil {
				t.Fatal(err)
			}
			// The server ends the session on its own time: wait until it is
			// gone, so that the next handle meets a closed connection.
			gone := "SELECT COUNT(*) FROM pg_stat_activity WHERE pid = $1"
			if b == dbtest.MySQL {
				gone = "SELECT COUNT(*) FROM information_schema.processlist WHERE id = ?"
			}
			deadline := time.Now().Add(10 * time.Second)
			for n := 1; n > 0; {
				if err := killer.QueryRowContext(ctx, gone, id).Scan(&n); err != nil {
					t.Fatal(err)
				}
				if n > 0 && time.Now().After(deadline) {
					t.Fatalf("session %d still there 10s after %s", id, kill)
				}
				time.Sleep(5 * time.Millisecond)
			}
			next, err := dbtest.Connect(ctx, b, schema)
			if err != nil {
				t.Fatal(err)
			}
			defer next.Release(ctx)
			if next.DatabaseName() != name {
				t.Fatalf("the next handle got %s, want the released %s", next.DatabaseName(), name)
			}
			mustExec(t, next, "INSERT INTO items (id, name) VALUES (1, 'after the kill')")
			if got := sessionID(t, next); got == id {
				t.Fatalf("the next handle runs on the killed session %d", id)
			}
		})
	}
}

// TestTransactionCharacteristicsDoNotLeak: a test that changes its
// transaction's characteristics (SET TRANSACTION READ ONLY) must not hand
// them to the next test, as a chained transaction would inherit them.
func TestTransactionCharacteristicsDoNotLeak(t *testing.T) {
	const b = dbtest.Postgres
	dbtest.Open(t, b, itemsSchema()) // skips when unavailable
	ctx := context.Background()
	schema := ownSchema(t.Name())
	first, err := dbtest.Connect(ctx, b, schema)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, first, "SET TRANSACTION READ ONLY")
	var ro string
	if err := first.QueryRowContext(ctx, "SHOW transaction_read_only").Scan(&ro); err != nil || ro != "on" {
		t.Fatalf("transaction_read_only = %q, %v; want on", ro, err)
	}
	if err := first.Release(ctx); err != nil {
		t.Fatal(err)
	}
	next, err := dbtest.Connect(ctx, b, schema)
	if err != nil {
		t.Fatal(err)
	}
	defer next.Release(ctx)
	mustExec(t, next, "INSERT INTO items (id, name) VALUES (1, 'writable again')")
}

// TestMySQLAutocommitCaught: turning autocommit off and on again commits
// MySQL's open transaction and lets what follows commit statement by
// statement. dbtest asks the server whether the transaction is still open
// after any statement that is not plain DML, and reports it.
func TestMySQLAutocommitCaught(t *testing.T) {
	const b = dbtest.MySQL
	db := connectOrSkip(t, b, itemsSchema())
	mustExec(t, db, "SET autocommit = 0")
	mustExec(t, db, "SET autocommit = 1")
	mustExec(t, db, "INSERT INTO items (id, name) VALUES (1, 'escapes')")
	err := db.Release(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no longer open") || !strings.Contains(err.Error(), "items (+1 row)") {
		t.Fatalf("Release = %v; want a report that the transaction ended and items (+1 row)", err)
	}
	next := connectOrSkip(t, b, itemsSchema())
	defer next.Release(context.Background())
	if n := count(t, next, "SELECT COUNT(*) FROM items"); n != 0 {
		t.Fatalf("the next handle sees %d rows, want 0", n)
	}
}
