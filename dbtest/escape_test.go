package dbtest_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/easyautoml/dbharness/dbtest"
)

// escapeReported checks that Release names the items table with one row
// more than it began with.
func escapeReported(t *testing.T, db *dbtest.DB) {
	t.Helper()
	err := db.Release(context.Background())
	if err == nil || !strings.Contains(err.Error(), "items (+1 row)") {
		t.Fatalf("Release = %v; want a report naming items (+1 row)", err)
	}
}

// TestSQLiteEscapeFoundInEveryState: dbtest reads SQLite's data version
// without a statement when the test's transaction has read the database
// (it then held the lock that keeps other writers out), and reads the
// database first otherwise. Each case commits through a separate
// connection at a different point of the test's transaction.
func TestSQLiteEscapeFoundInEveryState(t *testing.T) {
	cases := []struct {
		name   string
		wal    bool
		before bool // read through the handle before the separate write
		after  bool // read through the handle after it
		reason string
	}{
		{"untouched", false, false, false, "the transaction never read: dbtest reads the database at cleanup"},
		{"read after the write", false, false, true, "the handle's read saw the commit"},
		{"wal, read before the write", true, true, false, "in WAL mode the writer did not wait for the reader"},
		{"wal, read before and after", true, true, true, "the reader's snapshot hides the write until cleanup"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts := []dbtest.Option{itemsSchema()}
			if c.wal {
				opts = append(opts, dbtest.WithSQLiteWAL())
			}
			db := connectOrSkip(t, dbtest.SQLite, opts...)
			if c.before {
				count(t, db, "SELECT COUNT(*) FROM items")
			}
			raw, err := sql.Open(db.RawDriverName(), db.RawDSN())
			if err != nil {
				t.Fatal(err)
			}
			mustExec(t, raw, "INSERT INTO items (id, name) VALUES (9, 'escapes')")
			raw.Close()
			if c.after {
				count(t, db, "SELECT COUNT(*) FROM items")
			}
			escapeReported(t, db)
		})
	}
}

// TestSQLiteWriteBetweenTestsReported: a separate connection that a test
// left open commits after the test ended, while its database waits in the
// pool. The next test on that database reports it, and the database is
// rebuilt after it.
func TestSQLiteWriteBetweenTestsReported(t *testing.T) {
	// A schema of its own, so that no other test takes the database.
	schema := dbtest.WithMigrations(fstest.MapFS{"001_items.sql": {Data: []byte(`-- +goose Up
CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER NOT NULL DEFAULT 0);
-- between tests
-- +goose Down
DROP TABLE items;
`)}})
	ctx := context.Background()
	first, err := dbtest.Connect(ctx, dbtest.SQLite, schema)
	if err != nil {
		t.Fatal(err)
	}
	name := first.DatabaseName()
	raw, err := sql.Open(first.RawDriverName(), first.RawDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if err := raw.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
	if err := first.Release(ctx); err != nil {
		t.Fatal(err)
	}
	mustExec(t, raw, "INSERT INTO items (id, name) VALUES (9, 'escapes')")
	next, err := dbtest.Connect(ctx, dbtest.SQLite, schema)
	if err != nil {
		t.Fatal(err)
	}
	if next.DatabaseName() != name {
		t.Fatalf("the next handle got %s, want the released %s", next.DatabaseName(), name)
	}
	count(t, next, "SELECT COUNT(*) FROM items")
	escapeReported(t, next)
	after, err := dbtest.Connect(ctx, dbtest.SQLite, schema)
	if err != nil {
		t.Fatal(err)
	}
	defer after.Release(ctx)
	if n := count(t, after, "SELECT COUNT(*) FROM items"); n != 0 {
		t.Fatalf("the handle after sees %d rows, want 0 (a rebuilt database)", n)
	}
}
