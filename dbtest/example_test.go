package dbtest_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/easyautoml/dbharness/dbtest"
)

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
