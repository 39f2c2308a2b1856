package dbtest_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/easyautoml/dbharness/dbtest"
)

// seededSchema has, on every dialect, a table with generated ids and a row
// its migration seeds (kinds), and a table whose rows refer to it (things).
func seededSchema() dbtest.Option {
	return dbtest.WithDialectMigrations(func(dialect string) (fs.FS, error) { return seededFS(dialect) })
}

// seededFS is the migration of seededSchema.
func seededFS(dialect string) (fstest.MapFS, error) {
	id := map[string]string{
		"sqlite":   "INTEGER PRIMARY KEY AUTOINCREMENT",
		"postgres": "SERIAL PRIMARY KEY",
		"mysql":    "INTEGER AUTO_INCREMENT PRIMARY KEY",
	}
	return fstest.MapFS{"001_kinds.sql": {Data: []byte(fmt.Sprintf(`-- +goose Up
CREATE TABLE kinds (id %[1]s, name VARCHAR(50) NOT NULL UNIQUE);
INSERT INTO kinds (name) VALUES ('seeded');
CREATE TABLE things (id %[1]s, kind_id INTEGER NOT NULL REFERENCES kinds (id), name VARCHAR(50) NOT NULL);
-- +goose Down
DROP TABLE things;
DROP TABLE kinds;
`, id[dialect]))}}, nil
}

// insertID inserts a thing of the seeded kind and returns its id.
func insertID(t *testing.T, db *sql.DB, dialect, name string) int64 {
	t.Helper()
	ctx := context.Background()
	if dialect == "postgres" {
		var id int64
		if err := db.QueryRowContext(ctx, "INSERT INTO things (kind_id, name) VALUES (1, $1) RETURNING id", name).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	res, err := db.ExecContext(ctx, "INSERT INTO things (kind_id, name) VALUES (1, ?)", name)
	if err != nil {
		t.Fatal(err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// connectNoTx opens a handle without a transaction, or skips like Open.
func connectNoTx(t *testing.T, b dbtest.Backend, opts ...dbtest.Option) *dbtest.DB {
	t.Helper()
	return connectOrSkip(t, b, append([]dbtest.Option{seededSchema(), dbtest.WithoutTransaction()}, opts...)...)
}

// TestWithoutTransactionCommitsAndRestores: code commits through the
// handle, in transactions of its own and through a separate pool, which
// sees the committed rows; it creates a table. The next test on the same
// database sees the seeded row only, the table is gone, and ids restart.
func TestWithoutTransactionCommitsAndRestores(t *testing.T) {
	for _, b := range dbtest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			ctx := context.Background()
			db := connectNoTx(t, b)
			name := db.DatabaseName()
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO kinds (name) VALUES ('committed')"); err != nil {
				t.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			first := insertID(t, db.DB, db.Dialect(), "a")
			other, err := sql.Open(db.DriverName(), db.DSN())
			if err != nil {
				t.Fatal(err)
			}
			if n := count(t, other, "SELECT COUNT(*) FROM kinds"); n != 2 {
				t.Errorf("a separate connection sees %d kinds, want 2 (seeded and committed)", n)
			}
			insertID(t, other, db.Dialect(), "b")
			mustExec(t, other, "CREATE TABLE machine_7_data (x INTEGER)")
			other.Close()
			if n := count(t, db, "SELECT COUNT(*) FROM things"); n != 2 {
				t.Errorf("the handle sees %d things, want 2", n)
			}
			if err := db.Release(ctx); err != nil {
				t.Fatalf("Release: %v", err)
			}

			next, err := dbtest.Connect(ctx, b, seededSchema(), dbtest.WithoutTransaction())
			if err != nil {
				t.Fatal(err)
			}
			defer next.Release(ctx)
			if next.DatabaseName() != name {
				t.Fatalf("the next handle got %s, want the restored %s", next.DatabaseName(), name)
			}
			var kind string
			if err := next.QueryRowContext(ctx, "SELECT name FROM kinds").Scan(&kind); err != nil || kind != "seeded" {
				t.Errorf("kinds after the restore: %q, %v; want the seeded row alone", kind, err)
			}
			if n := count(t, next, "SELECT COUNT(*) FROM things"); n != 0 {
				t.Errorf("%d things after the restore, want 0", n)
			}
			if _, err := next.ExecContext(ctx, "SELECT * FROM machine_7_data"); err == nil {
				t.Error("the table the test created is still there")
			}
			if id := insertID(t, next.DB, next.Dialect(), "a"); id != first {
				t.Errorf("the first id after the restore is %d, want %d as in the test before", id, first)
			}
			{
				// The seeded kind's counter restarted after it, not at 1.
				var id int64
				q := "INSERT INTO kinds (name) VALUES ('again')"
				if next.Dialect() == "postgres" {
					if err := next.QueryRowContext(ctx, q+" RETURNING id").Scan(&id); err != nil {
						t.Fatal(err)
					}
				} else {
					res, err := next.ExecContext(ctx, q)
					if err != nil {
						t.Fatal(err)
					}
					id, _ = res.LastInsertId()
				}
				if id != 2 {
					t.Errorf("the next kind's id is %d, want 2 (after the seeded row)", id)
				}
			}
		})
	}
}

// TestWithoutTransactionParallel: parallel tests without a transaction
// never share a database while they run, and none of them gets a
// database of the transactional tests.
func TestWithoutTransactionParallel(t *testing.T) {
	for _, b := range dbtest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			txName := dbtest.Open(t, b, seededSchema()).DatabaseName()
			var mu sync.Mutex
			inUse := map[string]bool{}
			t.Run("group", func(t *testing.T) {
				for i := range 4 {
					t.Run(fmt.Sprint(i), func(t *testing.T) {
						t.Parallel()
						db := dbtest.Open(t, b, seededSchema(), dbtest.WithoutTransaction())
						name := db.DatabaseName()
						mu.Lock()
						if inUse[name] || name == txName {
							t.Errorf("test %d got database %s, in use by another test", i, name)
						}
						inUse[name] = true
						mu.Unlock()
						defer func() {
							mu.Lock()
							delete(inUse, name)
							mu.Unlock()
						}()
						for j := range 5 {
							insertID(t, db.DB, db.Dialect(), fmt.Sprintf("%d-%d", i, j))
						}
						if n := count(t, db, "SELECT COUNT(*) FROM things"); n != 5 {
							t.Errorf("test %d sees %d things, want its own 5", i, n)
						}
					})
				}
			})
		})
	}
}

// TestWithoutTransactionRestoreFails: a separate connection the test left
// inside a transaction holds a lock on a table at cleanup, so the restore
// cannot empty it. Release says so, wrapping ErrRestore, and the next test
// gets a new database, clean.
func TestWithoutTransactionRestoreFails(t *testing.T) {
	for _, b := range dbtest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			ctx := context.Background()
			db := connectNoTx(t, b, dbtest.WithLockTimeout(200*time.Millisecond))
			name := db.DatabaseName()
			insertID(t, db.DB, db.Dialect(), "committed")
			other, err := sql.Open(db.DriverName(), db.DSN())
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			tx, err := other.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.ExecContext(ctx, "UPDATE things SET name = 'held'"); err != nil {
				t.Fatal(err)
			}
			err = db.Release(ctx)
			tx.Rollback()
			if !errors.Is(err, dbtest.ErrRestore) || !strings.Contains(err.Error(), name) {
				t.Fatalf("Release = %v; want ErrRestore naming %s", err, name)
			}
			next, err := dbtest.Connect(ctx, b, seededSchema(), dbtest.WithoutTransaction())
			if err != nil {
				t.Fatal(err)
			}
			defer next.Release(ctx)
			if next.DatabaseName() == name {
				t.Errorf("the next handle got the database that could not be restored")
			}
			if n := count(t, next, "SELECT COUNT(*) FROM things"); n != 0 {
				t.Errorf("the next handle sees %d things, want 0", n)
			}
		})
	}
}

// TestWithoutTransactionSchemaChanged: a test that drops a migrated table
// leaves no error, and the next test gets a new database with the table.
func TestWithoutTransactionSchemaChanged(t *testing.T) {
	for _, b := range dbtest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			ctx := context.Background()
			db := connectNoTx(t, b)
			name := db.DatabaseName()
			mustExec(t, db, "DROP TABLE things")
			if err := db.Release(ctx); err != nil {
				t.Fatalf("Release: %v", err)
			}
			next, err := dbtest.Connect(ctx, b, seededSchema(), dbtest.WithoutTransaction())
			if err != nil {
				t.Fatal(err)
			}
			defer next.Release(ctx)
			if next.DatabaseName() == name {
				t.Errorf("the next handle got %s, whose table was dropped", name)
			}
			if n := count(t, next, "SELECT COUNT(*) FROM things"); n != 0 {
				t.Errorf("things has %d rows, want 0", n)
			}
		})
	}
}

// TestEscapedWritesRestored: when writes escape a transactional test's
// rollback, cleanup reports them as before, and restores the database in
// place instead of dropping it: the next test gets it back, clean.
func TestEscapedWritesRestored(t *testing.T) {
	for _, b := range dbtest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			ctx := context.Background()
			db := connectOrSkip(t, b, seededSchema())
			name := db.DatabaseName()
			raw, err := sql.Open(db.RawDriverName(), db.RawDSN())
			if err != nil {
				t.Fatal(err)
			}
			insertID(t, raw, db.Dialect(), "escapes")
			raw.Close()
			err = db.Release(ctx)
			if err == nil || !strings.Contains(err.Error(), "things (+1 row)") {
				t.Fatalf("Release = %v; want the escaped write reported", err)
			}
			next, err := dbtest.Connect(ctx, b, seededSchema())
			if err != nil {
				t.Fatal(err)
			}
			defer next.Release(ctx)
			if next.DatabaseName() != name {
				t.Errorf("the next handle got %s, want the restored %s", next.DatabaseName(), name)
			}
			if n := count(t, next, "SELECT COUNT(*) FROM things"); n != 0 {
				t.Errorf("things has %d rows, want 0", n)
			}
			if n := count(t, next, "SELECT COUNT(*) FROM kinds"); n != 1 {
				t.Errorf("kinds has %d rows, want the seeded one", n)
			}
		})
	}
}

// TestWithoutTransactionConflicts: the options about the test's
// transaction make no sense without one.
func TestWithoutTransactionConflicts(t *testing.T) {
	for _, o := range []dbtest.Option{dbtest.WithTransactionControl(), dbtest.WithStatementSavepoints(), dbtest.WithoutTransaction()} {
		_, err := dbtest.Connect(context.Background(), dbtest.SQLite, dbtest.WithoutTransaction(), o)
		if err == nil || !strings.Contains(err.Error(), "WithoutTransaction") {
			t.Errorf("Connect = %v; want an error naming WithoutTransaction", err)
		}
	}
}

// BenchmarkWithoutTransaction compares the per-test cost of a handle
// without a transaction, restored at cleanup, with the transactional one
// on the registry's schema (14 tables), for a test that writes one row.
// "notx-rebuild" drops a migrated table, so that cleanup drops the
// database and makes a new one (on SQLite a fresh copy of the migrated
// template): the cost the restore in place saves. Tests never assert on
// it.
func BenchmarkWithoutTransaction(b *testing.B) {
	insert := "INSERT INTO teams (name) VALUES ('x')"
	for _, backend := range dbtest.Backends() {
		for _, mode := range []struct {
			name string
			opts []dbtest.Option
		}{
			{"tx", nil},
			{"notx", []dbtest.Option{dbtest.WithoutTransaction()}},
			{"notx-rebuild", []dbtest.Option{dbtest.WithoutTransaction()}},
		} {
			b.Run(string(backend)+"/"+mode.name, func(b *testing.B) {
				dbtest.Open(b, backend, mode.opts...) // skip when unavailable; warms the pool
				ctx := context.Background()
				for b.Loop() {
					db, err := dbtest.Connect(ctx, backend, mode.opts...)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := db.ExecContext(ctx, insert); err != nil {
						b.Fatal(err)
					}
					if mode.name == "notx-rebuild" {
						if _, err := db.ExecContext(ctx, "DROP TABLE servers"); err != nil {
							b.Fatal(err)
						}
					}
					if err := db.Release(ctx); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestWithoutTransactionIDsRestartAfterDelete: a test that inserted rows
// and deleted them leaves its tables as they were but their counters
// moved on; the next test's ids start where the first test's did.
func TestWithoutTransactionIDsRestartAfterDelete(t *testing.T) {
	for _, b := range dbtest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			ctx := context.Background()
			db := connectNoTx(t, b)
			first := insertID(t, db.DB, db.Dialect(), "a")
			insertID(t, db.DB, db.Dialect(), "b")
			mustExec(t, db, "DELETE FROM things")
			if err := db.Release(ctx); err != nil {
				t.Fatal(err)
			}
			next, err := dbtest.Connect(ctx, b, seededSchema(), dbtest.WithoutTransaction())
			if err != nil {
				t.Fatal(err)
			}
			defer next.Release(ctx)
			if next.DatabaseName() != db.DatabaseName() {
				t.Fatalf("the next handle got %s, want the restored %s", next.DatabaseName(), db.DatabaseName())
			}
			if id := insertID(t, next.DB, next.Dialect(), "a"); id != first {
				t.Errorf("the first id after the restore is %d, want %d", id, first)
			}
		})
	}
}

// TestWithoutTransactionForeignKeyCycle: on PostgreSQL the restore empties
// tables with DELETE, the referring table first; two tables whose foreign
// keys refer to each other have no such order, and are truncated instead.
// Either way the next test finds them empty.
func TestWithoutTransactionForeignKeyCycle(t *testing.T) {
	ctx := context.Background()
	schema := dbtest.WithMigrations(fstest.MapFS{"001_cycle.sql": {Data: []byte(`-- +goose Up
CREATE TABLE hens (id INTEGER PRIMARY KEY, egg_id INTEGER);
CREATE TABLE eggs (id INTEGER PRIMARY KEY, hen_id INTEGER REFERENCES hens (id) DEFERRABLE INITIALLY DEFERRED);
ALTER TABLE hens ADD FOREIGN KEY (egg_id) REFERENCES eggs (id) DEFERRABLE INITIALLY DEFERRED;
CREATE TABLE nests (id INTEGER PRIMARY KEY, hen_id INTEGER NOT NULL REFERENCES hens (id));
-- +goose Down
DROP TABLE nests;
DROP TABLE eggs CASCADE;
DROP TABLE hens;
`)}})
	db := connectOrSkip(t, dbtest.Postgres, schema, dbtest.WithoutTransaction())
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"INSERT INTO hens (id, egg_id) VALUES (1, 1)",
		"INSERT INTO eggs (id, hen_id) VALUES (1, 1)",
		"INSERT INTO nests (id, hen_id) VALUES (1, 1)",
	} {
		mustExec(t, tx, q)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	name := db.DatabaseName()
	if err := db.Release(ctx); err != nil {
		t.Fatalf("Release = %v", err)
	}
	next, err := dbtest.Connect(ctx, dbtest.Postgres, schema, dbtest.WithoutTransaction())
	if err != nil {
		t.Fatal(err)
	}
	defer next.Release(ctx)
	if next.DatabaseName() != name {
		t.Errorf("the next handle got %s, want the restored %s", next.DatabaseName(), name)
	}
	for _, table := range []string{"hens", "eggs", "nests"} {
		if n := count(t, next, "SELECT COUNT(*) FROM "+table); n != 0 {
			t.Errorf("%s has %d rows after the restore, want 0", table, n)
		}
	}
}
