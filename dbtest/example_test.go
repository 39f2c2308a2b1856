package dbtest_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/internal/exampletest"
)

// A test takes a handle with Open. Its database is migrated with the
// test's goose migrations, and everything the test writes is rolled back
// when it ends: the next test starts from the same clean database.
func ExampleOpen() {
	// The example runs this test function as go test would.
	testRestock := func(t *testing.T) {
		db := dbtest.Open(t, dbtest.SQLite, dbtest.WithMigrations(os.DirFS("testdata/migrations")))

		// The code under test gets the handle: a *sql.DB whose every
		// connection is bound to the test's transaction.
		if _, err := db.ExecContext(t.Context(), "INSERT INTO items (id, name, qty) VALUES (1, 'bolt', 10)"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(t.Context(), "UPDATE items SET qty = qty + 5 WHERE id = 1"); err != nil {
			t.Fatal(err)
		}
		var qty int
		if err := db.QueryRowContext(t.Context(), "SELECT qty FROM items WHERE id = 1").Scan(&qty); err != nil {
			t.Fatal(err)
		}
		fmt.Println("bolts in stock:", qty)
	}
	fmt.Println("first run passed:", exampletest.Run("ExampleOpen", testRestock))
	// The rollback removed the first run's row: inserting id 1 again works.
	fmt.Println("second run passed:", exampletest.Run("ExampleOpen", testRestock))
	// Output:
	// bolts in stock: 15
	// first run passed: true
	// bolts in stock: 15
	// second run passed: true
}

// Each runs the same test on every backend, as subtests "sqlite",
// "postgres" and "mysql". A server that is not configured skips its
// subtest; DBTEST_REQUIRE=postgres,mysql makes that a failure.
func ExampleEach() {
	testUniqueNames := func(t *testing.T) {
		dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
			ctx := t.Context()
			if _, err := db.ExecContext(ctx, "INSERT INTO items (id, name) VALUES (1, 'nut')"); err != nil {
				t.Fatal(err)
			}
			// BeginTx on the handle is a savepoint inside the test's
			// transaction: the failed insert is undone, the first row stays.
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO items (id, name) VALUES (2, 'nut')"); err == nil {
				t.Errorf("%s: a second item named nut was accepted", db.Backend())
			}
			if err := tx.Rollback(); err != nil {
				t.Fatal(err)
			}
			var n int
			if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM items").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 1 {
				t.Errorf("%s: %d items, want 1", db.Backend(), n)
			}
		}, dbtest.WithMigrations(os.DirFS("testdata/migrations")))
	}
	fmt.Println("passed on every available backend:", exampletest.Run("ExampleEach", testUniqueNames))
	// Output:
	// passed on every available backend: true
}

// Connect gives a program that is not a test the same transaction-wrapped
// handle that Open gives a test; Release rolls it back.
func ExampleConnect() {
	ctx := context.Background()
	db, err := dbtest.Connect(ctx, dbtest.SQLite) // the registry schema
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := db.Exec(`INSERT INTO users (username, email, is_staff, created_at, updated_at)
		VALUES ('ada', 'ada@example.com', false, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')`); err != nil {
		fmt.Println(err)
		return
	}
	var n int
	db.QueryRow("SELECT COUNT(*) FROM users").Scan(&n)
	fmt.Println("users inside the transaction:", n)
	if err := db.Release(ctx); err != nil {
		fmt.Println(err)
		return
	}

	// The next handle starts from the clean database.
	next, _ := dbtest.Connect(ctx, dbtest.SQLite)
	defer next.Release(ctx)
	next.QueryRow("SELECT COUNT(*) FROM users").Scan(&n)
	fmt.Println("users after the rollback:", n)
	// Output:
	// users inside the transaction: 1
	// users after the rollback: 0
}

// Code that writes through a second connection while the test's
// transaction holds the write lock can never get the lock. dbtest fails it
// at once and says why.
func ExampleLockError() {
	ctx := context.Background()
	db, _ := dbtest.Connect(ctx, dbtest.SQLite, dbtest.WithMigrations(itemsFS()))
	defer db.Release(ctx)
	db.Exec("INSERT INTO items (id, name) VALUES (1, 'the test writes')")

	other, _ := sql.Open(db.RawDriverName(), db.RawDSN()) // the bug: a second connection
	defer other.Close()
	_, err := other.Exec("INSERT INTO items (id, name) VALUES (2, 'so does the code under test')")

	var le *dbtest.LockError
	if errors.As(err, &le) {
		fmt.Println("locked:", errors.Is(err, dbtest.ErrLocked))
		fmt.Println("self-deadlock:", le.Report.SelfDeadlock)
		fmt.Println("waiter:", le.Report.Waiter.Role, "wanted", le.Report.Wanted)
		fmt.Println("holder:", le.Report.Holders[0].Conn.Role, "holds", le.Report.Holders[0].Lock)
		fmt.Println("fix mentions db.DSN():", strings.Contains(le.Report.Remedy, "db.DSN()"))
	}
	// Output:
	// locked: true
	// self-deadlock: true
	// waiter: separate connection wanted RESERVED
	// holder: the test transaction holds RESERVED
	// fix mentions db.DSN(): true
}

// A test of code that must commit takes a handle without the test
// transaction. What it commits, a separate connection sees; at cleanup
// dbtest empties the tables, so the next run starts clean.
func ExampleWithoutTransaction() {
	testExport := func(t *testing.T) {
		db := dbtest.Open(t, dbtest.SQLite, dbtest.WithMigrations(os.DirFS("testdata/migrations")),
			dbtest.WithoutTransaction())
		ctx := t.Context()
		// The code under test commits in a transaction of its own.
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO items (id, name, qty) VALUES (1, 'bolt', 10)"); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		// A pool of its own, such as an export job opens, sees the row.
		export, err := sql.Open(db.DriverName(), db.DSN())
		if err != nil {
			t.Fatal(err)
		}
		defer export.Close()
		var n int
		if err := export.QueryRowContext(ctx, "SELECT COUNT(*) FROM items").Scan(&n); err != nil {
			t.Fatal(err)
		}
		fmt.Println("items the export sees:", n)
	}
	fmt.Println("first run passed:", exampletest.Run("ExampleWithoutTransaction", testExport))
	// The restore emptied items: inserting id 1 again works.
	fmt.Println("second run passed:", exampletest.Run("ExampleWithoutTransaction", testExport))
	// Output:
	// items the export sees: 1
	// first run passed: true
	// items the export sees: 1
	// second run passed: true
}
