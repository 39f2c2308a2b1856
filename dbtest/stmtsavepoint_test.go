package dbtest_test

import (
	"context"
	"database/sql"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/easyautoml/dbharness/dbtest"
)

// insert is the items insert with arguments, in db's placeholders.
func insert(db *dbtest.DB) string {
	return "INSERT INTO items (id, name) VALUES (" + ph(db, 1) + ", " + ph(db, 2) + ")"
}

// nextLine returns the file:line of its caller's next line.
func nextLine() string {
	_, file, line, _ := runtime.Caller(1)
	return file[strings.LastIndexByte(file, '/')+1:] + ":" + strconv.Itoa(line+1)
}

// sqlState returns the SQLSTATE of a PostgreSQL error, or "".
func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// wantAborted checks that err is PostgreSQL's refusal of a statement in an
// aborted transaction, explained: the earlier statement stmt failed at
// where (any location when where is "") with SQLSTATE cause.
func wantAborted(t *testing.T, err error, stmt, where, cause string, inTx bool) {
	t.Helper()
	var ae *dbtest.AbortedError
	switch {
	case !errors.Is(err, dbtest.ErrTransactionAborted) || !errors.As(err, &ae):
		t.Fatalf("got %v; want a *dbtest.AbortedError", err)
	case sqlState(err) != "25P02":
		t.Errorf("the driver's error is not reachable with errors.As, or is not 25P02: %v", err)
	case ae.Statement != stmt:
		t.Errorf("the error names %q as the statement that failed, want %q", ae.Statement, stmt)
	case where != "" && ae.Location != where:
		t.Errorf("the error places that statement at %q, want %q", ae.Location, where)
	case sqlState(ae.Cause) != cause:
		t.Errorf("the earlier statement's error is %v, want SQLSTATE %s", ae.Cause, cause)
	case ae.InTransaction != inTx:
		t.Errorf("InTransaction = %v, want %v", ae.InTransaction, inTx)
	}
	fix := "WithStatementSavepoints"
	if inTx {
		fix = "tx.Rollback"
	}
	if !strings.Contains(err.Error(), fix) {
		t.Errorf("the message does not say how to fix it (%s):\n%v", fix, err)
	}
}

// TestFailedStatementWithSavepoints is the test that passes on SQLite and
// MySQL and, without implicit savepoints, fails on PostgreSQL: a duplicate
// insert the test expects to fail, then more statements.
func TestFailedStatementWithSavepoints(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		mustExec(t, db, "INSERT INTO items (id, name) VALUES (1, 'bolt')")
		_, err := db.ExecContext(ctx, "INSERT INTO items (id, name) VALUES (2, 'bolt')")
		if err == nil {
			t.Fatal("a duplicate name was accepted")
		}
		if db.Backend() == dbtest.Postgres && sqlState(err) != "23505" {
			t.Errorf("the duplicate insert: %v; want the unique violation itself", err)
		}
		if _, err := db.ExecContext(ctx, insert(db), 3, "bolt"); err == nil {
			t.Fatal("a duplicate name was accepted, with arguments")
		}
		// A statement that fails half way leaves nothing behind.
		if _, err := db.ExecContext(ctx, "INSERT INTO items (id, name) VALUES (4, 'washer'), (5, 'bolt')"); err == nil {
			t.Fatal("a duplicate name was accepted, in the second row")
		}
		if _, err := db.QueryContext(ctx, "SELECT id FROM no_such_table"); err == nil {
			t.Fatal("a read of a missing table worked")
		}
		// A statement that must parse first fails the same way.
		if _, err := db.ExecContext(ctx, "UPDATE no_such_table SET qty = "+ph(db, 1), 1); err == nil {
			t.Fatal("an update of a missing table worked")
		}
		// A failure right after a statement that worked undoes only
		// itself.
		mustExec(t, db, insert(db), 2, "nut")
		if _, err := db.QueryContext(ctx, "SELECT id FROM no_such_table"); err == nil {
			t.Fatal("a read of a missing table worked")
		}
		mustExec(t, db, "UPDATE items SET qty = qty + 5 WHERE id = 1")
		if _, err := db.ExecContext(ctx, "UPDATE no_such_table SET qty = 1"); err == nil {
			t.Fatal("an update of a missing table worked")
		}
		if n := count(t, db, "SELECT COUNT(*) FROM items"); n != 2 {
			t.Errorf("%d rows, want 2: bolt and nut", n)
		}
		if n := count(t, db, "SELECT qty FROM items WHERE id = 1"); n != 5 {
			t.Errorf("bolt's qty is %d, want 5", n)
		}
	}, itemsSchema(), dbtest.WithStatementSavepoints())
}

// TestFailedStatementAbortsOnPostgres is the same test without implicit
// savepoints: on PostgreSQL the statement after the failure fails, and the
// error says which statement failed, where, and what to do.
func TestFailedStatementAbortsOnPostgres(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		mustExec(t, db, "INSERT INTO items (id, name) VALUES (1, 'bolt')")
		where := nextLine()
		if _, err := db.ExecContext(ctx, "INSERT INTO items (id, name) VALUES (2, 'bolt')"); err == nil {
			t.Fatal("a duplicate name was accepted")
		}
		_, err := db.ExecContext(ctx, insert(db), 2, "nut")
		if db.Backend() != dbtest.Postgres {
			if err != nil {
				t.Fatalf("the statement after the failed one: %v", err)
			}
			if n := count(t, db, "SELECT COUNT(*) FROM items"); n != 2 {
				t.Errorf("%d rows, want 2", n)
			}
			return
		}
		wantAborted(t, err, "INSERT INTO items (id, name) VALUES (2, 'bolt')", where, "23505", false)
		t.Logf("as expected:\n%v", err)
		// Every later statement says the same, reads and savepoints too.
		var n int
		err = db.QueryRowContext(ctx, "SELECT COUNT(*) FROM items").Scan(&n)
		wantAborted(t, err, "INSERT INTO items (id, name) VALUES (2, 'bolt')", where, "23505", false)
		_, err = db.BeginTx(ctx, nil)
		wantAborted(t, err, "INSERT INTO items (id, name) VALUES (2, 'bolt')", where, "23505", false)
	}, itemsSchema())
}

// TestFailureInsideBeginTx: inside a transaction the test began, a failed
// statement aborts that transaction on PostgreSQL, with implicit
// savepoints or without, as it would in production; once it is rolled
// back, the test goes on.
func TestFailureInsideBeginTx(t *testing.T) {
	for _, c := range []struct {
		name string
		opts []dbtest.Option
	}{
		{"plain", []dbtest.Option{itemsSchema()}},
		{"savepoints", []dbtest.Option{itemsSchema(), dbtest.WithStatementSavepoints()}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
				ctx := t.Context()
				mustExec(t, db, "INSERT INTO items (id, name) VALUES (1, 'bolt')")
				tx, err := db.BeginTx(ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				mustExec(t, tx, insert(db), 2, "nut")
				where := nextLine()
				if _, err := tx.ExecContext(ctx, insert(db), 3, "bolt"); err == nil {
					t.Fatal("a duplicate name was accepted")
				}
				_, err = tx.ExecContext(ctx, insert(db), 4, "washer")
				if db.Backend() == dbtest.Postgres {
					wantAborted(t, err, insert(db), where, "23505", true)
				} else if err != nil {
					t.Fatalf("the statement after the failed one: %v", err)
				}
				if err := tx.Rollback(); err != nil {
					t.Fatal(err)
				}
				mustExec(t, db, insert(db), 5, "screw")
				if n := count(t, db, "SELECT COUNT(*) FROM items"); n != 2 {
					t.Errorf("%d rows, want 2: bolt and screw", n)
				}
			}, c.opts...)
		})
	}
}

// TestStatementSavepointsNested: implicit savepoints around transactions
// nested three deep, a failure at each level.
func TestStatementSavepointsNested(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		mustExec(t, db, "INSERT INTO items (id, name) VALUES (1, 'bolt')")
		if _, err := db.ExecContext(ctx, "INSERT INTO items (id, name) VALUES (2, 'bolt')"); err == nil {
			t.Fatal("a duplicate name was accepted")
		}
		outer, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		mustExec(t, outer, insert(db), 2, "nut")
		inner, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		mustExec(t, inner, insert(db), 3, "washer")
		innermost, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := innermost.ExecContext(ctx, insert(db), 4, "bolt"); err == nil {
			t.Fatal("a duplicate name was accepted in the innermost transaction")
		}
		if err := innermost.Rollback(); err != nil {
			t.Fatal(err)
		}
		if _, err := inner.ExecContext(ctx, insert(db), 4, "nut"); err == nil {
			t.Fatal("a duplicate name was accepted in the inner transaction")
		}
		if err := inner.Rollback(); err != nil {
			t.Fatal(err)
		}
		mustExec(t, outer, insert(db), 5, "screw")
		if err := outer.Commit(); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, insert(db), 6, "screw"); err == nil {
			t.Fatal("a duplicate name was accepted after the transactions")
		}
		mustExec(t, db, insert(db), 6, "pin")
		if n := count(t, db, "SELECT COUNT(*) FROM items"); n != 4 {
			t.Errorf("%d rows, want 4: bolt, nut, screw and pin", n)
		}
	}, itemsSchema(), dbtest.WithStatementSavepoints())
}

// TestStatementSavepointsPrepared: prepared statements that fail, and one
// that fails to prepare.
func TestStatementSavepointsPrepared(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		ins, err := db.PrepareContext(ctx, insert(db))
		if err != nil {
			t.Fatal(err)
		}
		defer ins.Close()
		if _, err := ins.ExecContext(ctx, 1, "bolt"); err != nil {
			t.Fatal(err)
		}
		if _, err := ins.ExecContext(ctx, 2, "bolt"); err == nil {
			t.Fatal("a duplicate name was accepted")
		}
		if _, err := db.PrepareContext(ctx, "SELECT id FROM no_such_table"); err == nil {
			t.Fatal("a read of a missing table prepared")
		}
		if _, err := ins.ExecContext(ctx, 2, "nut"); err != nil {
			t.Fatal(err)
		}
		sel, err := db.PrepareContext(ctx, "SELECT name FROM items WHERE id = "+ph(db, 1))
		if err != nil {
			t.Fatal(err)
		}
		defer sel.Close()
		var name string
		if err := sel.QueryRowContext(ctx, 2).Scan(&name); err != nil || name != "nut" {
			t.Fatalf("item 2: %q, %v; want nut", name, err)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM items"); n != 2 {
			t.Errorf("%d rows, want 2", n)
		}
	}, itemsSchema(), dbtest.WithStatementSavepoints())
}

// midRowsFailure is a query over items 1 to 4 that fails at item 3, after
// the rows before it were sent: a division by zero on PostgreSQL, an
// integer overflow on SQLite, a subquery of several rows on MySQL.
func midRowsFailure(db *dbtest.DB) string {
	switch db.Backend() {
	case dbtest.Postgres:
		// Ordered below the division, which runs row by row.
		return "SELECT id, CASE WHEN id = 3 THEN 1 / (id - 3) ELSE id END AS v FROM (SELECT id FROM items ORDER BY id OFFSET 0) t"
	case dbtest.SQLite:
		return "SELECT id, CASE WHEN id = 3 THEN abs(-9223372036854775805 - id) ELSE id END AS v FROM items ORDER BY id"
	}
	return "SELECT t.id, CASE WHEN t.id = 3 THEN (SELECT i.id FROM items i WHERE i.id <> t.id) ELSE t.id END AS v FROM items t ORDER BY t.id"
}

// TestQueryFailsMidRows: a query fails after some of its rows were read,
// once while the test reads them, once while a later statement reads them
// into memory. With implicit savepoints the test goes on everywhere;
// without, on PostgreSQL, the next statement names the query.
func TestQueryFailsMidRows(t *testing.T) {
	for _, savepoints := range []bool{false, true} {
		opts := []dbtest.Option{itemsSchema()}
		name := "plain"
		if savepoints {
			opts, name = append(opts, dbtest.WithStatementSavepoints()), "savepoints"
		}
		t.Run(name, func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
				ctx := t.Context()
				for i, n := range []string{"bolt", "nut", "washer", "screw"} {
					mustExec(t, db, insert(db), i+1, n)
				}
				rows, err := db.QueryContext(ctx, midRowsFailure(db))
				if err != nil {
					t.Fatal(err)
				}
				read := 0
				where := nextLine()
				for rows.Next() {
					read++
				}
				err = rows.Err()
				rows.Close()
				if err == nil {
					t.Fatalf("%s: no error after %d rows", midRowsFailure(db), read)
				}
				if read == 0 || read > 2 {
					t.Errorf("the query failed after %d rows, want 1 or 2", read)
				}
				_, err = db.ExecContext(ctx, insert(db), 5, "pin")
				if db.Backend() == dbtest.Postgres && !savepoints {
					wantAborted(t, err, midRowsFailure(db)[:80]+"...", where, "22012", false)
					return
				}
				if err != nil {
					t.Fatalf("the statement after the failed query: %v", err)
				}

				// The rows still open when the next statement runs: it
				// reads them into memory, and meets the failure.
				rows, err = db.QueryContext(ctx, midRowsFailure(db))
				if err != nil {
					t.Fatal(err)
				}
				if !rows.Next() {
					t.Fatalf("no first row: %v", rows.Err())
				}
				mustExec(t, db, insert(db), 6, "rivet")
				for rows.Next() {
				}
				if rows.Err() == nil {
					t.Error("the query read into memory lost its error")
				}
				rows.Close()
				mustExec(t, db, insert(db), 7, "nail")
				if n := count(t, db, "SELECT COUNT(*) FROM items"); n != 7 {
					t.Errorf("%d rows, want 7", n)
				}
			}, opts...)
		})
	}
}

// TestStatementSavepointsSharedDriver: code under test on a pool of its
// own, sharing the test's transaction, meets a failure and goes on.
func TestStatementSavepointsSharedDriver(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		mustExec(t, db, "INSERT INTO items (id, name) VALUES (1, 'bolt')")
		own, err := sql.Open(db.DriverName(), db.DSN())
		if err != nil {
			t.Fatal(err)
		}
		defer own.Close()
		if _, err := own.ExecContext(ctx, insert(db), 2, "bolt"); err == nil {
			t.Fatal("a duplicate name was accepted")
		}
		mustExec(t, own, insert(db), 2, "nut")
		tx, err := own.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		mustExec(t, tx, insert(db), 3, "washer")
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if _, err := own.ExecContext(ctx, insert(db), 4, "washer"); err == nil {
			t.Fatal("a duplicate name was accepted after the transaction")
		}
		if n := count(t, db, "SELECT COUNT(*) FROM items"); n != 3 {
			t.Errorf("the test sees %d rows, want 3", n)
		}
	}, itemsSchema(), dbtest.WithStatementSavepoints())
}

// TestStatementSavepointsOwnSavepoint: a test that issues SAVEPOINT itself
// manages its savepoints; dbtest's stay out of its way.
func TestStatementSavepointsOwnSavepoint(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		mustExec(t, db, "INSERT INTO items (id, name) VALUES (1, 'bolt')")
		mustExec(t, db, "SAVEPOINT mine")
		mustExec(t, db, "INSERT INTO items (id, name) VALUES (2, 'nut')")
		if _, err := db.ExecContext(ctx, "INSERT INTO items (id, name) VALUES (3, 'bolt')"); err == nil {
			t.Fatal("a duplicate name was accepted")
		}
		mustExec(t, db, "ROLLBACK TO SAVEPOINT mine")
		mustExec(t, db, "RELEASE SAVEPOINT mine")
		if n := count(t, db, "SELECT COUNT(*) FROM items"); n != 1 {
			t.Errorf("%d rows, want 1", n)
		}
	}, itemsSchema(), dbtest.WithStatementSavepoints())
}

// TestStatementSavepointsMySQLDeadlock: InnoDB rolls back the whole
// transaction of a deadlock's victim; with implicit savepoints, dbtest
// still refuses the test's next statements with ErrTransactionRolledBack.
func TestStatementSavepointsMySQLDeadlock(t *testing.T) {
	db := dbtest.Open(t, dbtest.MySQL, itemsSchema(), dbtest.WithStatementSavepoints(), dbtest.WithoutLockTrace())
	ctx := t.Context()
	setup := rawConn(t, db)
	mustExec(t, setup, "INSERT INTO items (id, name) VALUES (1, 'one'), (2, 'two')")
	t.Cleanup(func() { setup.Exec("DELETE FROM items") })
	other := rawConn(t, db)
	tx, err := other.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	// The other transaction is the larger: InnoDB rolls back the smaller.
	for i := 10; i < 30; i++ {
		mustExec(t, tx, "INSERT INTO items (id, name) VALUES (?, ?)", i, "other "+strconv.Itoa(i))
	}
	mustExec(t, tx, "UPDATE items SET qty = 2 WHERE id = 2")
	mustExec(t, db, "UPDATE items SET qty = 1 WHERE id = 1")
	waits := make(chan error, 1)
	go func() {
		_, err := tx.ExecContext(ctx, "UPDATE items SET qty = 2 WHERE id = 1") // waits on the test
		waits <- err
	}()
	waitForLockWait(t, db, setup)
	_, err = db.ExecContext(ctx, "UPDATE items SET qty = 1 WHERE id = 2")
	var le *dbtest.LockError
	if !errors.As(err, &le) || !le.Report.Deadlock {
		t.Fatalf("the test's update: %v; want a deadlock", err)
	}
	if err := <-waits; err != nil {
		t.Fatalf("the other transaction's update: %v", err)
	}
	if _, err := db.ExecContext(ctx, "UPDATE items SET qty = 3 WHERE id = 1"); !errors.Is(err, dbtest.ErrTransactionRolledBack) {
		t.Fatalf("the statement after the deadlock: %v; want ErrTransactionRolledBack", err)
	}
}

// TestStatementSavepointsPostgres: what PostgreSQL's pipeline of an
// ExecContext must still do as pgx's stdlib driver does: several
// statements in one string, syntax errors, pgx's named arguments, COPY,
// and statements kept from one test to the next while a test changes a
// table under them.
func TestStatementSavepointsPostgres(t *testing.T) {
	var first string
	t.Run("alter", func(t *testing.T) {
		db := dbtest.Open(t, dbtest.Postgres, itemsSchema(), dbtest.WithStatementSavepoints())
		first = db.DatabaseName()
		ctx := t.Context()
		mustExec(t, db, "INSERT INTO items (id, name) VALUES (1, 'bolt'); INSERT INTO items (id, name) VALUES (2, 'nut')")
		if _, err := db.ExecContext(ctx, "INSERT INTO items (id, name) VALUES (3, 'bolt'); INSERT INTO items (id, name) VALUES (4, 'pin')"); err == nil {
			t.Fatal("a duplicate name was accepted")
		}
		if _, err := db.ExecContext(ctx, "INSERT INTO items (id, name) VALUS (5, 'washer')"); sqlState(err) != "42601" {
			t.Fatalf("a syntax error: %v", err)
		}
		mustExec(t, db, "INSERT INTO items (id, name) VALUES (@id, @name)", pgx.NamedArgs{"id": 5, "name": "washer"})
		if _, err := db.ExecContext(ctx, "INSERT INTO items (id, name) VALUES (@id, @name)", pgx.NamedArgs{"id": 6, "name": "washer"}); err == nil {
			t.Fatal("a duplicate name was accepted, with named arguments")
		}
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		err = conn.Raw(func(dc any) error {
			_, err := dc.(interface {
				CopyFrom(context.Context, pgx.Identifier, []string, pgx.CopyFromSource) (int64, error)
			}).CopyFrom(ctx, pgx.Identifier{"items"}, []string{"id", "name"}, pgx.CopyFromRows([][]any{{7, "rivet"}, {8, "nut"}}))
			return err
		})
		if sqlState(err) != "23505" {
			t.Fatalf("a COPY of a duplicate name: %v", err)
		}
		mustExec(t, db, "ALTER TABLE items ADD COLUMN note TEXT")
		mustExec(t, db, "INSERT INTO items (id, name) VALUES ($1, $2) RETURNING *", 7, "rivet")
		if n := count(t, db, "SELECT COUNT(*) FROM items"); n != 4 {
			t.Errorf("%d rows, want 4: bolt, nut, washer and rivet", n)
		}
	})
	t.Run("after", func(t *testing.T) {
		db := dbtest.Open(t, dbtest.Postgres, itemsSchema(), dbtest.WithStatementSavepoints())
		if db.DatabaseName() != first {
			t.Fatalf("the second test got database %s, not the first's %s: nothing to check", db.DatabaseName(), first)
		}
		// The table is back as it was: the statement kept in the first
		// test, for the altered table, must not serve.
		mustExec(t, db, "INSERT INTO items (id, name) VALUES ($1, $2) RETURNING *", 7, "rivet")
	})
}
