package dbtest_test

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"testing"
	"time"

	"github.com/easyautoml/dbharness/dbtest"
)

//go:embed testdata/migrations
var testMigrations embed.FS

// itemsFS holds a one-table schema that works on every backend.
func itemsFS() fs.FS {
	sub, err := fs.Sub(testMigrations, "testdata/migrations")
	if err != nil {
		panic(err)
	}
	return sub
}

func itemsSchema() dbtest.Option { return dbtest.WithMigrations(itemsFS()) }

func mustExec(t testing.TB, db interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, query string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func count(t testing.TB, db interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// ph returns the i-th placeholder of db's dialect.
func ph(db *dbtest.DB, i int) string {
	if db.Dialect() == "postgres" {
		return fmt.Sprintf("$%d", i)
	}
	return "?"
}

// The next two tests run in order: the first writes, the second must not
// see what the first wrote.
func TestRollbackIsolation_Write(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		mustExec(t, db, "INSERT INTO items (id, name) VALUES (1, 'written by the first test')")
		if n := count(t, db, "SELECT COUNT(*) FROM items"); n != 1 {
			t.Fatalf("the test sees %d rows of its own write, want 1", n)
		}
	}, itemsSchema())
}

func TestRollbackIsolation_NextTestSeesNothing(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		if n := count(t, db, "SELECT COUNT(*) FROM items"); n != 0 {
			t.Fatalf("found %d rows left by an earlier test, want 0", n)
		}
	}, itemsSchema())
}

func TestDialect(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		if got, want := db.Dialect(), t.Name()[len("TestDialect/"):]; got != want {
			t.Fatalf("Dialect() = %q in subtest %q", got, want)
		}
	}, itemsSchema())
}

func TestSavepoints(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		mustExec(t, db, "INSERT INTO items (id, name) VALUES (1, 'outside')")

		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		mustExec(t, tx, "INSERT INTO items (id, name) VALUES (2, 'rolled back')")
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM items"); n != 1 {
			t.Fatalf("after Rollback: %d rows, want 1", n)
		}

		tx, err = db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		mustExec(t, tx, "INSERT INTO items (id, name) VALUES (3, 'committed')")
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM items"); n != 2 {
			t.Fatalf("after Commit: %d rows, want 2", n)
		}
	}, itemsSchema())
}

// TestNestedSavepoints nests transactions three deep: each BeginTx while
// another is open takes a new connection of the pool, and all of them are
// savepoints of the one test transaction.
func TestNestedSavepoints(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		outer, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		mustExec(t, outer, "INSERT INTO items (id, name) VALUES (1, 'outer')")
		middle, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		mustExec(t, middle, "INSERT INTO items (id, name) VALUES (2, 'middle')")
		inner, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		mustExec(t, inner, "INSERT INTO items (id, name) VALUES (3, 'inner')")
		if err := inner.Commit(); err != nil {
			t.Fatal(err)
		}
		if n := count(t, middle, "SELECT COUNT(*) FROM items"); n != 3 {
			t.Fatalf("middle sees %d rows after the inner commit, want 3", n)
		}
		if err := middle.Rollback(); err != nil {
			t.Fatal(err)
		}
		if n := count(t, outer, "SELECT COUNT(*) FROM items"); n != 1 {
			t.Fatalf("outer sees %d rows after the middle rollback, want 1 (the inner commit goes with it)", n)
		}
		if err := outer.Commit(); err != nil {
			t.Fatal(err)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM items"); n != 1 {
			t.Fatalf("%d rows after the outer commit, want 1", n)
		}
	}, itemsSchema())
}

// TestEnclosingRollbackEndsInner: rolling back an outer savepoint ends the
// inner ones too; using them afterwards is an error, not silent success.
func TestEnclosingRollbackEndsInner(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		outer, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		inner, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		mustExec(t, inner, "INSERT INTO items (id, name) VALUES (1, 'inner')")
		if err := outer.Rollback(); err != nil {
			t.Fatal(err)
		}
		if err := inner.Commit(); err == nil {
			t.Fatal("committing a savepoint ended by its enclosing rollback succeeded")
		}
		if n := count(t, db, "SELECT COUNT(*) FROM items"); n != 0 {
			t.Fatalf("%d rows, want 0", n)
		}
	}, itemsSchema())
}

func TestSharedTransactionDriver(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		mustExec(t, db, "INSERT INTO items (id, name) VALUES (1, 'from the test')")

		// Code under test that opens its own pool.
		own, err := sql.Open(db.DriverName(), db.DSN())
		if err != nil {
			t.Fatal(err)
		}
		defer own.Close()
		if n := count(t, own, "SELECT COUNT(*) FROM items"); n != 1 {
			t.Fatalf("its own pool sees %d rows of the test's transaction, want 1", n)
		}
		mustExec(t, own, "INSERT INTO items (id, name) VALUES (2, 'from code under test')")
		if n := count(t, db, "SELECT COUNT(*) FROM items"); n != 2 {
			t.Fatalf("the test sees %d rows, want 2", n)
		}
		tx, err := own.Begin()
		if err != nil {
			t.Fatal(err)
		}
		mustExec(t, tx, "INSERT INTO items (id, name) VALUES (3, 'in a savepoint')")
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM items"); n != 2 {
			t.Fatalf("after the pool's rollback the test sees %d rows, want 2", n)
		}
	}, itemsSchema())
}

// TestSharedTransactionDriverAfterTest: a pool that outlives its test gets
// a clear error, never another test's data.
func TestSharedTransactionDriverAfterTest(t *testing.T) {
	var dsn, driverName string
	t.Run("inner", func(t *testing.T) {
		db := dbtest.Open(t, dbtest.SQLite, itemsSchema())
		dsn, driverName = db.DSN(), db.DriverName()
	})
	own, err := sql.Open(driverName, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	if err := own.Ping(); err == nil {
		t.Fatal("a pool on an ended test's transaction answered Ping")
	}
}

func TestRawConnectionIsSeparate(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		raw, err := sql.Open(db.RawDriverName(), db.RawDSN())
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		mustExec(t, db, "INSERT INTO items (id, name) VALUES (1, 'uncommitted')")
		if n := count(t, raw, "SELECT COUNT(*) FROM items"); n != 0 {
			t.Fatalf("a separate connection sees %d uncommitted rows of the test, want 0", n)
		}
	}, itemsSchema())
}

// TestLockConflictSurfacesFast: a write through a separate connection to a
// row the test's transaction has written waits for the lock; under dbtest
// it fails within the lock timeout instead of hanging.
func TestLockConflictSurfacesFast(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		raw, err := sql.Open(db.RawDriverName(), db.RawDSN())
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		mustExec(t, db, "INSERT INTO items (id, name) VALUES (1, 'held by the test')")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		start := time.Now()
		_, err = raw.ExecContext(ctx, "INSERT INTO items (id, name) VALUES (1, 'conflicting')")
		elapsed := time.Since(start)
		if err == nil {
			t.Fatal("a conflicting write through a separate connection succeeded")
		}
		if ctx.Err() != nil {
			t.Fatalf("the conflicting write hung until the test's own deadline: %v", err)
		}
		t.Logf("conflict surfaced after %v: %v", elapsed.Round(time.Millisecond), err)
	}, itemsSchema(), dbtest.WithLockTimeout(300*time.Millisecond))
}

func TestParallelIsolation(t *testing.T) {
	for _, b := range dbtest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			for i := range 8 {
				t.Run(fmt.Sprint(i), func(t *testing.T) {
					t.Parallel()
					db := dbtest.Open(t, b, itemsSchema())
					// Every test writes the same key: parallel tests must
					// neither see each other's rows nor wait on their locks.
					mustExec(t, db, "INSERT INTO items (id, name, qty) VALUES (1, 'same key', "+ph(db, 1)+")", i)
					var qty int
					if err := db.QueryRow("SELECT qty FROM items WHERE id = 1").Scan(&qty); err != nil {
						t.Fatal(err)
					}
					if qty != i {
						t.Fatalf("read qty %d, want this test's %d", qty, i)
					}
					if n := count(t, db, "SELECT COUNT(*) FROM items"); n != 1 {
						t.Fatalf("%d rows, want 1", n)
					}
				})
			}
		})
	}
}

// TestInterleavedStatements runs statements while a result set is still
// open, through one pool and across pools: the rest of the open result set
// is read into memory first, so it works on every driver.
func TestInterleavedStatements(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		for i := 1; i <= 5; i++ {
			mustExec(t, db, fmt.Sprintf("INSERT INTO items (id, name) VALUES (%d, 'item %d')", i, i))
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		rows, err := tx.QueryContext(ctx, "SELECT id FROM items ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		var ids []int
		for rows.Next() {
			var id int
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
			mustExec(t, tx, "UPDATE items SET qty = qty + 1 WHERE id = "+fmt.Sprint(id))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		if len(ids) != 5 {
			t.Fatalf("read %d ids while updating, want 5", len(ids))
		}
		if n := count(t, tx, "SELECT SUM(qty) FROM items"); n != 5 {
			t.Fatalf("sum of qty = %d, want 5", n)
		}
	}, itemsSchema())
}

func TestTransactionControlRefused(t *testing.T) {
	for _, b := range dbtest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			db := connectOrSkip(t, b, itemsSchema())
			mustExec(t, db, "INSERT INTO items (id, name) VALUES (1, 'kept inside')")
			for _, stmt := range []string{"COMMIT", "  /* c */ rollback", "BEGIN", "END"} {
				if stmt == "END" && b != dbtest.Postgres {
					continue
				}
				_, err := db.Exec(stmt)
				if !errors.Is(err, dbtest.ErrTransactionControl) {
					t.Errorf("Exec(%q) = %v, want ErrTransactionControl", stmt, err)
				}
			}
			if n := count(t, db, "SELECT COUNT(*) FROM items"); n != 1 {
				t.Fatalf("%d rows after refused statements, want 1", n)
			}
			err := db.Release(context.Background())
			if err == nil {
				t.Fatal("Release did not report the refused COMMIT")
			}
			t.Logf("Release: %v", err)
			next := connectOrSkip(t, b, itemsSchema())
			defer next.Release(context.Background())
			if n := count(t, next, "SELECT COUNT(*) FROM items"); n != 0 {
				t.Fatalf("the next handle sees %d rows, want 0", n)
			}
		})
	}
}

// TestDDLLeavesDatabaseClean: MySQL commits the test's transaction on DDL;
// dbtest says so, and the next test still gets a clean database.
// PostgreSQL and SQLite roll DDL back with the rest.
func TestDDLLeavesDatabaseClean(t *testing.T) {
	for _, b := range dbtest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			var notes []string
			var mu sync.Mutex
			logf := func(format string, args ...any) {
				mu.Lock()
				defer mu.Unlock()
				notes = append(notes, fmt.Sprintf(format, args...))
			}
			db := connectOrSkip(t, b, itemsSchema(), dbtest.WithLogf(logf))
			mustExec(t, db, "INSERT INTO items (id, name) VALUES (1, 'before the DDL')")
			mustExec(t, db, "CREATE TABLE made_by_test (id INTEGER PRIMARY KEY)")
			mustExec(t, db, "INSERT INTO made_by_test (id) VALUES (7)")
			mustExec(t, db, "INSERT INTO items (id, name) VALUES (2, 'after the DDL')")
			if n := count(t, db, "SELECT COUNT(*) FROM items"); n != 2 {
				t.Fatalf("%d rows, want 2", n)
			}
			if err := db.Release(context.Background()); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			got := len(notes)
			mu.Unlock()
			if b == dbtest.MySQL && got == 0 {
				t.Error("MySQL's implicit commit went unreported")
			}
			if b != dbtest.MySQL && got != 0 {
				t.Errorf("unexpected notes: %q", notes)
			}
			t.Logf("notes: %q", notes)
			next := connectOrSkip(t, b, itemsSchema())
			defer next.Release(context.Background())
			if n := count(t, next, "SELECT COUNT(*) FROM items"); n != 0 {
				t.Fatalf("the next handle sees %d rows, want 0", n)
			}
			if _, err := next.Exec("SELECT COUNT(*) FROM made_by_test"); err == nil {
				t.Fatal("the table created by the previous test is still there")
			}
		})
	}
}

// TestContextCancelled: a cancelled context fails statements, yet the
// rollback still runs and the database is clean for the next test.
func TestContextCancelled(t *testing.T) {
	for _, b := range dbtest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			db := connectOrSkip(t, b, itemsSchema())
			if _, err := db.ExecContext(ctx, "INSERT INTO items (id, name) VALUES (1, 'x')"); err != nil {
				t.Fatal(err)
			}
			cancel()
			if _, err := db.ExecContext(ctx, "INSERT INTO items (id, name) VALUES (2, 'y')"); err == nil {
				t.Fatal("a statement ran with a cancelled context")
			}
			if err := db.Release(ctx); err != nil {
				t.Fatal(err)
			}
			next := connectOrSkip(t, b, itemsSchema())
			defer next.Release(context.Background())
			if n := count(t, next, "SELECT COUNT(*) FROM items"); n != 0 {
				t.Fatalf("the next handle sees %d rows, want 0", n)
			}
		})
	}
}

func TestOptions(t *testing.T) {
	sub, _ := fs.Sub(testMigrations, "testdata/migrations")
	cases := []struct {
		name   string
		opts   []dbtest.Option
		reason string
	}{
		{"nil option", []dbtest.Option{nil}, "a nil Option is a programming error"},
		{"nil fs", []dbtest.Option{dbtest.WithMigrations(nil)}, "migrations need a file system"},
		{"nil dialect func", []dbtest.Option{dbtest.WithDialectMigrations(nil)}, "a nil function cannot give migrations"},
		{"both migrations", []dbtest.Option{dbtest.WithMigrations(sub), dbtest.WithoutMigrations()}, "no option silently overrides another"},
		{"twice", []dbtest.Option{dbtest.WithLockTimeout(time.Second), dbtest.WithLockTimeout(2 * time.Second)}, "the second would silently win"},
		{"zero timeout", []dbtest.Option{dbtest.WithLockTimeout(0)}, "a zero lock timeout means wait forever on some servers"},
		{"huge timeout", []dbtest.Option{dbtest.WithLockTimeout(time.Hour)}, "an hour-long wait is the hang dbtest exists to prevent"},
		{"nil logf", []dbtest.Option{dbtest.WithLogf(nil)}, "nowhere to log"},
		{"nil cleanup check", []dbtest.Option{dbtest.WithCleanupCheck(nil)}, "nothing to hand cleanup's findings to"},
		{"without lock trace twice", []dbtest.Option{dbtest.WithoutLockTrace(), dbtest.WithoutLockTrace()}, "an option given twice is a mistake"},
		{"statement savepoints twice", []dbtest.Option{dbtest.WithStatementSavepoints(), dbtest.WithStatementSavepoints()}, "an option given twice is a mistake"},
		{"cleanup check twice", []dbtest.Option{dbtest.WithCleanupCheck(func(error) error { return nil }), dbtest.WithCleanupCheck(func(err error) error { return err })}, "the second would silently win"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db, err := dbtest.Connect(context.Background(), dbtest.SQLite, c.opts...)
			if err == nil {
				db.Release(context.Background())
				t.Fatalf("Connect accepted the options; want an error because %s", c.reason)
			}
		})
	}
}

func TestUnknownBackend(t *testing.T) {
	if _, err := dbtest.Connect(context.Background(), dbtest.Backend("oracle")); err == nil {
		t.Fatal("Connect accepted an unknown backend")
	}
	if _, err := dbtest.ParseBackend("oracle"); err == nil {
		t.Fatal("ParseBackend accepted an unknown backend")
	}
	for in, want := range map[string]dbtest.Backend{"sqlite3": dbtest.SQLite, "PostgreSQL": dbtest.Postgres, "mariadb": dbtest.MySQL} {
		if got, err := dbtest.ParseBackend(in); err != nil || got != want {
			t.Errorf("ParseBackend(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// connectOrSkip is Connect for tests that manage the handle's end
// themselves; it skips an unavailable server like Open does.
func connectOrSkip(t *testing.T, b dbtest.Backend, opts ...dbtest.Option) *dbtest.DB {
	t.Helper()
	probe := dbtest.Open(t, b, opts...) // skips or fails like every test
	_ = probe
	db, err := dbtest.Connect(context.Background(), b, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// TestRegistrySchemaByDefault: without options, the database carries the
// registry schema of package migrations.
func TestRegistrySchemaByDefault(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		for _, table := range []string{"users", "teams", "machines", "works", "billings"} {
			if n := count(t, db, "SELECT COUNT(*) FROM "+table); n != 0 {
				t.Errorf("table %s has %d rows in a fresh database", table, n)
			}
		}
	})
}
