package dbtest_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/easyautoml/dbharness/dbtest"
)

// TestStatementsKeptAcrossTests: dbtest keeps prepared statements on a
// database's connection from one test to the next. Each test must still
// see its own database state, a statement on a table that a rolled-back
// test created must fail as it would unprepared, more distinct statements
// than the cache holds must work, and several statements in one string
// (which do not prepare) must still run.
func TestStatementsKeptAcrossTests(t *testing.T) {
	for _, b := range dbtest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			dbtest.Open(t, b, itemsSchema()) // skips when unavailable
			ctx := context.Background()
			schema := ownSchema(t.Name())
			insert := "INSERT INTO items (id, name) VALUES (?, ?)"
			if b == dbtest.Postgres {
				insert = "INSERT INTO items (id, name) VALUES ($1, $2)"
			}
			for i := range 3 {
				db, err := dbtest.Connect(ctx, b, schema)
				if err != nil {
					t.Fatal(err)
				}
				if n := count(t, db, "SELECT COUNT(*) FROM items"); n != 0 {
					t.Errorf("test %d sees %d rows left by the one before", i, n)
				}
				mustExec(t, db, insert, 1, "one")
				mustExec(t, db, insert, 2, "two")
				if n := count(t, db, "SELECT COUNT(*) FROM items"); n != 2 {
					t.Errorf("test %d sees %d rows, want 2", i, n)
				}
				if i == 0 && b != dbtest.MySQL { // MySQL's DDL would commit
					mustExec(t, db, "CREATE TABLE later (id INTEGER)")
					count(t, db, "SELECT COUNT(*) FROM later")
				}
				for k := range 80 { // more than the cache holds
					if n := count(t, db, fmt.Sprintf("SELECT COUNT(*) + %d FROM items", k)); n != 2+k {
						t.Fatalf("query %d: %d, want %d", k, n, 2+k)
					}
				}
				if b == dbtest.SQLite {
					mustExec(t, db, "CREATE TEMP TABLE t1 (x INTEGER); CREATE TEMP TABLE t2 (y INTEGER)")
					count(t, db, "SELECT COUNT(*) FROM t2")
				}
				if i > 0 && b != dbtest.MySQL { // last: it ends PostgreSQL's transaction
					var n int
					if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM later").Scan(&n); err == nil {
						t.Errorf("test %d reads a table that a rolled-back test created", i)
					}
				}
				if err := db.Release(ctx); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestPgxCacheAfterRolledBackDDL: a test that changed a column's type in
// its transaction, and ran a query on it, leaves pgx's statement cache
// describing the column as it was inside that transaction; the next test
// on the same connection, which sees the column as it was before, must
// still be able to run the same query.
func TestPgxCacheAfterRolledBackDDL(t *testing.T) {
	dbtest.Open(t, dbtest.Postgres, itemsSchema()) // skips when unavailable
	ctx := context.Background()
	schema := ownSchema(t.Name())
	const query = "SELECT qty FROM items WHERE id = $1"
	var pids [2]int
	for i := range 2 {
		db, err := dbtest.Connect(ctx, dbtest.Postgres, schema)
		if err != nil {
			t.Fatal(err)
		}
		pids[i] = count(t, db, "SELECT pg_backend_pid()")
		mustExec(t, db, "INSERT INTO items (id, name, qty) VALUES (1, 'bolt', 7)")
		if i == 0 {
			mustExec(t, db, "ALTER TABLE items ALTER COLUMN qty TYPE TEXT")
			var s string
			if err := db.QueryRowContext(ctx, query, 1).Scan(&s); err != nil || s != "7" {
				t.Fatalf("test A: %q, %v", s, err)
			}
		} else {
			var n int
			if err := db.QueryRowContext(ctx, query, 1).Scan(&n); err != nil || n != 7 {
				t.Errorf("test B, after test A's ALTER was rolled back: %d, %v", n, err)
			}
		}
		if err := db.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if pids[0] != pids[1] {
		t.Fatalf("the tests ran on different connections (%d, %d): the test proves nothing", pids[0], pids[1])
	}
}
