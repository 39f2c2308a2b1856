package dbtest_test

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/ncruces/go-sqlite3"

	"github.com/easyautoml/dbharness/dbtest"
)

// TestSQLiteSelfDeadlockReport reproduces the platform's bug: the test
// writes in its transaction, then code under test writes through a
// separate connection to the same database. That connection can never get
// the lock while the test waits, so dbtest fails it at once with a report.
func TestSQLiteSelfDeadlockReport(t *testing.T) {
	db := dbtest.Open(t, dbtest.SQLite, itemsSchema())
	mustExec(t, db, "INSERT INTO items (id, name) VALUES (1, 'held by the test')")

	raw, err := sql.Open(db.RawDriverName(), db.RawDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	start := time.Now()
	_, err = raw.Exec("INSERT INTO items (id, name) VALUES (2, 'from a separate connection')")
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("the separate connection wrote while the test held the write lock")
	}
	if !errors.Is(err, dbtest.ErrLocked) || !errors.Is(err, sqlite3.BUSY) {
		t.Fatalf("err = %v; want it to match dbtest.ErrLocked and sqlite3.BUSY", err)
	}
	var le *dbtest.LockError
	if !errors.As(err, &le) {
		t.Fatalf("errors.As(*LockError) failed for %v", err)
	}
	r := le.Report
	if !r.SelfDeadlock {
		t.Error("the report does not call it a self-deadlock")
	}
	if r.Wanted != "RESERVED" {
		t.Errorf("Wanted = %q, want RESERVED", r.Wanted)
	}
	if r.Waiter.Role != dbtest.RoleRaw || !strings.HasPrefix(r.Waiter.Location, "lock_test.go:") {
		t.Errorf("Waiter = %+v; want a separate connection opened in lock_test.go", r.Waiter)
	}
	if len(r.Holders) != 1 {
		t.Fatalf("Holders = %+v, want the test's transaction alone", r.Holders)
	}
	h := r.Holders[0]
	if h.Conn.Role != dbtest.RoleTestTx || h.Lock != "RESERVED" || !strings.HasPrefix(h.Statement, "INSERT INTO items") {
		t.Errorf("holder = %+v; want the test transaction holding RESERVED since its INSERT", h)
	}
	if !strings.HasPrefix(h.Conn.Location, "lock_test.go:") {
		t.Errorf("the test transaction was opened at %q, want lock_test.go", h.Conn.Location)
	}
	msg := err.Error()
	for _, want := range []string{"separate connection) wanted RESERVED", "the test transaction, opened by dbtest.Open at lock_test.go:", "has held RESERVED since its INSERT INTO items", "fix:", "db.DSN()"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the message lacks %q:\n%s", want, msg)
		}
	}
	t.Logf("surfaced after %v:\n%v", elapsed.Round(time.Millisecond), err)
}

// TestSQLiteBusyBetweenSeparateConnections: two separate connections are
// not a self-deadlock: the waiter waits out the lock timeout and then
// fails with a report naming the holder.
func TestSQLiteBusyBetweenSeparateConnections(t *testing.T) {
	db := dbtest.Open(t, dbtest.SQLite, itemsSchema(), dbtest.WithLockTimeout(200*time.Millisecond))
	a, err := sql.Open(db.RawDriverName(), db.RawDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := sql.Open(db.RawDriverName(), db.RawDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	txa, err := a.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer txa.Rollback()
	mustExec(t, txa, "INSERT INTO items (id, name) VALUES (1, 'a holds the write lock')")
	_, err = b.Exec("INSERT INTO items (id, name) VALUES (2, 'b waits')")
	var le *dbtest.LockError
	if !errors.As(err, &le) {
		t.Fatalf("err = %v, want a *LockError", err)
	}
	if le.Report.SelfDeadlock {
		t.Error("two separate connections were called a self-deadlock")
	}
	if le.Report.Waited < 150*time.Millisecond {
		t.Errorf("the waiter gave up after %v, before the 200ms lock timeout", le.Report.Waited)
	}
	if len(le.Report.Holders) != 1 || le.Report.Holders[0].Conn.Role != dbtest.RoleRaw {
		t.Errorf("holders = %+v, want connection a", le.Report.Holders)
	}
	t.Log(err)
}

// rawConn opens a separate connection to the test's database, connected
// before it returns (so that timing a statement does not time the
// connecting), and closed when the test ends.
func rawConn(t testing.TB, db *dbtest.DB) *sql.DB {
	t.Helper()
	raw, err := sql.Open(db.RawDriverName(), db.RawDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	if err := raw.Ping(); err != nil {
		t.Fatal(err)
	}
	return raw
}

// separateWrite makes the platform's bug: the test's transaction writes
// item 1, then a separate connection runs query (which writes item 1 too)
// and waits on the test's own lock. It returns how long the statement
// took, and its error.
func separateWrite(t *testing.T, db *dbtest.DB, query string, args ...any) (time.Duration, error) {
	t.Helper()
	mustExec(t, db, "INSERT INTO items (id, name) VALUES (1, 'held by the test')")
	raw := rawConn(t, db)
	start := time.Now()
	_, err := raw.Exec(query, args...)
	return time.Since(start), err
}

const separateInsert = "INSERT INTO items (id, name) VALUES (1, 'from a separate connection')"

// TestSelfDeadlockEveryBackend: the platform's bug on every backend. The
// separate connection waits on the test's own transaction; dbtest fails it
// well before the lock timeout, with a report naming both connections.
func TestSelfDeadlockEveryBackend(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		elapsed, err := separateWrite(t, db, separateInsert)
		var le *dbtest.LockError
		if !errors.As(err, &le) {
			t.Fatalf("err = %v, want a *dbtest.LockError", err)
		}
		if !errors.Is(err, dbtest.ErrLocked) {
			t.Error("errors.Is(err, ErrLocked) is false")
		}
		r := le.Report
		if !r.SelfDeadlock {
			t.Errorf("not reported as a self-deadlock:\n%v", err)
		}
		if len(r.Holders) == 0 || r.Holders[0].Conn.Role != dbtest.RoleTestTx {
			t.Errorf("holders = %+v, want the test transaction", r.Holders)
		}
		if r.Waiter.Role != dbtest.RoleRaw || !strings.HasPrefix(r.Waiter.Location, "lock_test.go:") {
			t.Errorf("waiter = %+v, want the separate connection opened in lock_test.go", r.Waiter)
		}
		if elapsed >= 10*time.Second {
			t.Fatalf("the self-deadlock took %v to surface", elapsed)
		}
		t.Logf("surfaced after %v (lock timeout %v):\n%v", elapsed.Round(time.Millisecond), r.LockTimeout, err)
	}, itemsSchema(), dbtest.WithLockTimeout(5*time.Second))
}

// TestSelfDeadlockWithArguments: a statement with arguments, which the
// MySQL driver runs as a prepared statement (database/sql retries it that
// way after the driver declines it), is recognised the same way, and by
// the one watch of the statement that really ran.
func TestSelfDeadlockWithArguments(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		query := "INSERT INTO items (id, name) VALUES (?, ?)"
		if db.Backend() == dbtest.Postgres {
			query = "INSERT INTO items (id, name) VALUES ($1, $2)"
		}
		_, err := separateWrite(t, db, query, 1, "from a separate connection")
		var le *dbtest.LockError
		if !errors.As(err, &le) || !le.SelfDeadlock() {
			t.Fatalf("err = %v; want a *dbtest.LockError reporting a self-deadlock", err)
		}
		if !strings.HasPrefix(le.Report.Statement, "INSERT INTO items") {
			t.Errorf("the report names statement %q, want the INSERT", le.Report.Statement)
		}
	}, itemsSchema(), dbtest.WithLockTimeout(5*time.Second))
}

// TestMySQLSelfDeadlockWhileLockTablesAreRead: InnoDB's information_schema
// lock tables are a copy refreshed only after 100 ms without readers. A
// client reading them every 20 ms, as other test binaries' lock checks
// do, keeps the copy from showing the wait at all; dbtest must recognise
// the self-deadlock all the same, long before the lock timeout.
func TestMySQLSelfDeadlockWhileLockTablesAreRead(t *testing.T) {
	db := dbtest.Open(t, dbtest.MySQL, itemsSchema(), dbtest.WithLockTimeout(5*time.Second))
	reader, err := sql.Open(db.RawDriverName(), db.RawDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	stop := make(chan struct{})
	reads := make(chan int, 1)
	go func() {
		n := 0
		defer func() { reads <- n }()
		for {
			var trx int
			if err := reader.QueryRow("SELECT COUNT(*) FROM information_schema.INNODB_TRX").Scan(&trx); err != nil {
				t.Errorf("reading INNODB_TRX: %v", err)
				return
			}
			n++
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	defer func() {
		close(stop)
		if n := <-reads; n < 2 {
			t.Errorf("INNODB_TRX was read %d times during the wait, want it read throughout", n)
		}
	}()
	time.Sleep(100 * time.Millisecond) // let the reads freeze the copy before the test writes
	elapsed, err := separateWrite(t, db, separateInsert)
	var le *dbtest.LockError
	if !errors.As(err, &le) {
		t.Fatalf("err = %v, want a *dbtest.LockError", err)
	}
	if !le.Report.SelfDeadlock {
		t.Fatalf("not recognised as a self-deadlock while INNODB_TRX was being read:\n%v", err)
	}
	if len(le.Report.Holders) != 1 || le.Report.Holders[0].Conn.Role != dbtest.RoleTestTx {
		t.Errorf("holders = %+v, want the test transaction alone", le.Report.Holders)
	}
	if !strings.HasPrefix(le.Report.Holders[0].Statement, "INSERT INTO items") {
		t.Errorf("the holder's statement is %q, want its INSERT", le.Report.Holders[0].Statement)
	}
	t.Logf("surfaced after %v:\n%v", elapsed.Round(time.Millisecond), err)
}

// TestWithoutLockTrace: with lock diagnosis off, a self-deadlock is no
// longer recognised: it waits out the lock timeout, and still fails as a
// *LockError that says tracing was off. DBTEST_LOCK_TRACE=off does the
// same; another value is refused.
func TestWithoutLockTrace(t *testing.T) {
	check := func(t *testing.T, db *dbtest.DB) {
		waited, err := separateWrite(t, db, separateInsert)
		var le *dbtest.LockError
		if !errors.As(err, &le) || !errors.Is(err, dbtest.ErrLocked) {
			t.Fatalf("err = %v, want a *dbtest.LockError", err)
		}
		if le.SelfDeadlock() || len(le.Report.Holders) != 0 || len(le.Report.Timeline) != 0 {
			t.Errorf("the report has diagnosis that was turned off:\n%v", err)
		}
		if !strings.Contains(err.Error(), "lock tracing was off") {
			t.Errorf("the report does not say that tracing was off:\n%v", err)
		}
		if waited < 900*time.Millisecond {
			t.Errorf("the wait ended after %v, before the 1s lock timeout: something still recognised the self-deadlock", waited)
		}
	}
	t.Run("option", func(t *testing.T) {
		dbtest.Each(t, check, itemsSchema(), dbtest.WithLockTimeout(time.Second), dbtest.WithoutLockTrace())
	})
	t.Run("environment", func(t *testing.T) {
		t.Setenv(dbtest.EnvLockTrace, "off")
		check(t, dbtest.Open(t, dbtest.SQLite, itemsSchema()))
	})
	t.Run("bad environment", func(t *testing.T) {
		t.Setenv(dbtest.EnvLockTrace, "quiet")
		if db, err := dbtest.Connect(context.Background(), dbtest.SQLite); err == nil {
			db.Release(context.Background())
			t.Fatal("Connect accepted DBTEST_LOCK_TRACE=quiet")
		}
	})
	t.Run("the next test is traced", func(t *testing.T) {
		// The same database, back in the pool: its timeline starts anew.
		dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
			_, err := separateWrite(t, db, separateInsert)
			var le *dbtest.LockError
			if !errors.As(err, &le) || !le.SelfDeadlock() {
				t.Fatalf("err = %v, want a self-deadlock", err)
			}
		}, itemsSchema())
	})
}

// TestSubSecondLockTimeout: a lock timeout under a second holds on MySQL
// too, whose innodb_lock_wait_timeout counts whole seconds: dbtest stops
// the waiting statement itself, and the error is a *LockError naming the
// holder, as on the other backends.
func TestSubSecondLockTimeout(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		a, b := rawConn(t, db), rawConn(t, db)
		mustExec(t, a, "INSERT INTO items (id, name) VALUES (1, 'committed')")
		defer mustExec(t, a, "DELETE FROM items")
		txa, err := a.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer txa.Rollback()
		mustExec(t, txa, "UPDATE items SET name = 'a holds the row' WHERE id = 1")
		_, err = b.Exec("UPDATE items SET name = 'b waits' WHERE id = 1")
		var le *dbtest.LockError
		if !errors.As(err, &le) || le.SelfDeadlock() {
			t.Fatalf("err = %v, want a *dbtest.LockError, not a self-deadlock", err)
		}
		if le.Report.LockTimeout != 200*time.Millisecond {
			t.Errorf("lock timeout %v in the report, want 200ms", le.Report.LockTimeout)
		}
		if len(le.Report.Holders) != 1 || le.Report.Holders[0].Conn.Role != dbtest.RoleRaw {
			t.Errorf("holders = %+v, want connection a", le.Report.Holders)
		}
		if db.Backend() == dbtest.MySQL {
			if !strings.Contains(le.Report.ServerDetail, "dbtest stopped the statement at the 200ms lock timeout") {
				t.Errorf("on MySQL the wait did not end at dbtest's 200ms lock timeout:\n%v", err)
			}
			var me *mysql.MySQLError
			if !errors.As(err, &me) || me.Number != 1205 {
				t.Errorf("err = %v; want MySQL's own lock-wait timeout, 1205, for code that matches it", err)
			}
		}
		t.Logf("after %v:\n%v", le.Report.Waited.Round(time.Millisecond), err)
	}, itemsSchema(), dbtest.WithLockTimeout(200*time.Millisecond))
}

// TestMySQLTableLockTimeout: a wait for a lock of the MySQL server rather
// than of InnoDB (LOCK TABLES), which InnoDB's status does not list, is
// recognised from the process list and stopped at the lock timeout too.
func TestMySQLTableLockTimeout(t *testing.T) {
	db := dbtest.Open(t, dbtest.MySQL, itemsSchema(), dbtest.WithLockTimeout(200*time.Millisecond))
	ctx := context.Background()
	holder, err := rawConn(t, db).Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	mustExec(t, holder, "LOCK TABLES items WRITE")
	defer mustExec(t, holder, "UNLOCK TABLES")
	_, err = rawConn(t, db).Exec("INSERT INTO items (id, name) VALUES (1, 'waits for the table')")
	var le *dbtest.LockError
	if !errors.As(err, &le) {
		t.Fatalf("err = %v, want a *dbtest.LockError", err)
	}
	if !strings.HasSuffix(le.Report.Wanted, " lock") || !strings.Contains(le.Report.ServerDetail, "dbtest stopped the statement at the 200ms lock timeout") {
		t.Errorf("the report does not name the server's lock, or dbtest did not stop the wait:\n%v", err)
	}
	t.Log(err)
}

// TestEscapedWritesReported: what a separate connection commits escapes the
// test's rollback; cleanup reports it, naming the table, and the next test
// still starts clean.
func TestEscapedWritesReported(t *testing.T) {
	for _, b := range dbtest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			db := connectOrSkip(t, b, itemsSchema())
			raw, err := sql.Open(db.RawDriverName(), db.RawDSN())
			if err != nil {
				t.Fatal(err)
			}
			mustExec(t, raw, "INSERT INTO items (id, name) VALUES (9, 'escapes')")
			raw.Close()
			err = db.Release(context.Background())
			if err == nil || !strings.Contains(err.Error(), "items (+1 row)") {
				t.Fatalf("Release = %v; want a report naming items (+1 row)", err)
			}
			var ce *dbtest.CleanupError
			if !errors.As(err, &ce) || !slices.Equal(ce.Tables, []string{"items"}) || ce.Ended || len(ce.Statements) != 0 {
				t.Errorf("Release = %#v; want a *CleanupError naming table items alone", err)
			}
			t.Log(err)
			next := connectOrSkip(t, b, itemsSchema())
			defer next.Release(context.Background())
			if n := count(t, next, "SELECT COUNT(*) FROM items"); n != 0 {
				t.Fatalf("the next handle sees %d rows, want 0", n)
			}
		})
	}
}

// TestDeadlockReported: two separate connections update two rows in
// opposite orders. The server kills one; its error carries a report with
// the server's account of both statements.
func TestDeadlockReported(t *testing.T) {
	for _, b := range []dbtest.Backend{dbtest.Postgres, dbtest.MySQL} {
		t.Run(string(b), func(t *testing.T) {
			db := dbtest.Open(t, b, itemsSchema(), dbtest.WithLockTimeout(5*time.Second))
			erra, errc := deadlockPair(t, db)
			var le *dbtest.LockError
			for _, err := range []error{erra, errc} {
				if errors.As(err, &le) && le.Report.Deadlock {
					break
				}
				le = nil
			}
			if le == nil {
				t.Fatalf("no deadlock report: a: %v, c: %v", erra, errc)
			}
			if !strings.Contains(le.Report.ServerDetail, "UPDATE") {
				t.Errorf("the report lacks the server's account of the statements:\n%v", le)
			}
			if b == dbtest.Postgres {
				// dbtest shortens deadlock_timeout where the role may set it.
				var super bool
				var timeout string
				setup := rawConn(t, db)
				if err := setup.QueryRow("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&super); err != nil {
					t.Fatal(err)
				}
				if err := setup.QueryRow("SHOW deadlock_timeout").Scan(&timeout); err != nil {
					t.Fatal(err)
				}
				if super && timeout != "100ms" {
					t.Errorf("deadlock_timeout = %s on dbtest's database, want 100ms", timeout)
				}
			}
			t.Logf("surfaced after %v:\n%v", le.Report.Waited.Round(time.Millisecond), le)
		})
	}
}

// deadlockPair makes two separate connections of db, a and c, each in a
// transaction of its own, take items 1 and 2 in opposite orders: a
// updates 1, c updates 2, then a wants 2 and, once it waits, c wants 1. A
// connection whose update fails rolls back, as code that gives up does, so
// that the other goes on. It returns both last updates' errors.
func deadlockPair(t *testing.T, db *dbtest.DB) (erra, errc error) {
	t.Helper()
	ctx := t.Context()
	setup := rawConn(t, db)
	mustExec(t, setup, "INSERT INTO items (id, name) VALUES (1, 'one'), (2, 'two')")
	t.Cleanup(func() { mustExec(t, setup, "DELETE FROM items") })
	// Opened here, each on a line of its own, for the reports.
	a, err := sql.Open(db.RawDriverName(), db.RawDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	c, err := sql.Open(db.RawDriverName(), db.RawDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	txa, err := a.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { txa.Rollback() })
	txc, err := c.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { txc.Rollback() })
	mustExec(t, txa, "UPDATE items SET qty = 1 WHERE id = 1")
	mustExec(t, txc, "UPDATE items SET qty = 2 WHERE id = 2")
	update := func(tx *sql.Tx, query string, done chan<- error) {
		_, err := tx.ExecContext(ctx, query)
		if err != nil {
			tx.Rollback()
		}
		done <- err
	}
	doneA, doneC := make(chan error, 1), make(chan error, 1)
	go update(txa, "UPDATE items SET qty = 1 WHERE id = 2", doneA)
	waitForLockWait(t, db, setup) // the order only picks the victim
	go update(txc, "UPDATE items SET qty = 2 WHERE id = 1", doneC)
	return <-doneA, <-doneC
}

// waitForLockWait waits until a transaction in db's database waits for a
// lock, asking through conn: pg_stat_activity on PostgreSQL, SHOW ENGINE
// INNODB STATUS on MySQL (InnoDB's lock-wait tables are a copy, refreshed
// only after 100 ms without readers).
func waitForLockWait(t *testing.T, db *dbtest.DB, conn *sql.DB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for {
		var waits bool
		if db.Backend() == dbtest.MySQL {
			var typ, name, status string
			if err := conn.QueryRowContext(ctx, "SHOW ENGINE INNODB STATUS").Scan(&typ, &name, &status); err != nil {
				t.Fatal(err)
			}
			waits = strings.Contains(status, "LOCK WAIT")
		} else {
			err := conn.QueryRowContext(ctx, "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock')").Scan(&waits)
			if err != nil {
				t.Fatal(err)
			}
		}
		if waits {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal("no transaction came to wait for a lock")
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// TestCommitFromInsideCaught: code under test calls COMMIT on the
// connection it was handed. With WithTransactionControl the statement goes
// through, as it would without dbtest: the test's rows escape. Cleanup
// catches it on every backend, naming the statement and the tables.
func TestCommitFromInsideCaught(t *testing.T) {
	for _, b := range dbtest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			db := connectOrSkip(t, b, itemsSchema(), dbtest.WithTransactionControl())
			mustExec(t, db, "INSERT INTO items (id, name) VALUES (1, 'written by the test')")
			if _, err := db.Exec("COMMIT"); err != nil { // what the data-frame library did
				t.Fatal(err)
			}
			mustExec(t, db, "INSERT INTO items (id, name) VALUES (2, 'after the commit')")
			err := db.Release(context.Background())
			if err == nil {
				t.Fatal("Release did not catch the COMMIT")
			}
			for _, want := range []string{"ended from inside by COMMIT at lock_test.go:", "items (+2 rows)"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Release error lacks %q:\n%v", want, err)
				}
			}
			var ce *dbtest.CleanupError
			if !errors.As(err, &ce) || !ce.Ended || len(ce.Statements) != 1 || !strings.HasPrefix(ce.Statements[0], "COMMIT at lock_test.go:") ||
				!slices.Equal(ce.Tables, []string{"items"}) {
				t.Errorf("Release = %#v; want a *CleanupError: ended by COMMIT at lock_test.go, table items", err)
			}
			t.Log(err)
			next := connectOrSkip(t, b, itemsSchema())
			defer next.Release(context.Background())
			if n := count(t, next, "SELECT COUNT(*) FROM items"); n != 0 {
				t.Fatalf("the next handle sees %d rows, want 0", n)
			}
		})
	}
}

// TestCleanupCheck: a test that reproduces a commit from inside on purpose
// hands cleanup's findings to its own check, which sees the refused
// statement and decides; on every backend.
func TestCleanupCheck(t *testing.T) {
	for _, b := range dbtest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			var got error
			t.Run("refused", func(t *testing.T) {
				db := dbtest.Open(t, b, itemsSchema(), dbtest.WithCleanupCheck(func(problems error) error {
					got = problems
					return nil // expected: the test below refuses on purpose
				}))
				mustExec(t, db, "INSERT INTO items (id, name) VALUES (1, 'written by the test')")
				if _, err := db.Exec("ROLLBACK"); !errors.Is(err, dbtest.ErrTransactionControl) {
					t.Fatalf("ROLLBACK = %v, want ErrTransactionControl", err)
				}
			})
			var ce *dbtest.CleanupError
			if !errors.As(got, &ce) || len(ce.Statements) != 1 || !strings.HasPrefix(ce.Statements[0], "ROLLBACK at lock_test.go:") || ce.Ended || len(ce.Tables) != 0 {
				t.Fatalf("the check was given %#v; want a *CleanupError naming the refused ROLLBACK alone", got)
			}
			t.Run("clean", func(t *testing.T) {
				dbtest.Open(t, b, itemsSchema(), dbtest.WithCleanupCheck(func(problems error) error {
					got = problems
					return nil
				}))
			})
			if got != nil {
				t.Fatalf("the check of a clean test was given %v, want nil", got)
			}
		})
	}
}

// TestSQLiteJournalVersusWAL shows the contrast: a long read transaction
// keeps a writer from committing in rollback-journal mode (dbtest's
// in-memory databases), and does not in WAL mode.
func TestSQLiteJournalVersusWAL(t *testing.T) {
	for _, mode := range []string{"journal", "wal"} {
		t.Run(mode, func(t *testing.T) {
			opts := []dbtest.Option{itemsSchema(), dbtest.WithLockTimeout(200 * time.Millisecond)}
			if mode == "wal" {
				opts = append(opts, dbtest.WithSQLiteWAL())
			}
			db, err := dbtest.Connect(context.Background(), dbtest.SQLite, opts...)
			if err != nil {
				t.Fatal(err)
			}
			reader, err := sql.Open(db.RawDriverName(), db.RawDSN())
			if err != nil {
				t.Fatal(err)
			}
			defer reader.Close()
			writer, err := sql.Open(db.RawDriverName(), db.RawDSN())
			if err != nil {
				t.Fatal(err)
			}
			defer writer.Close()
			ctx := context.Background()
			rtx, err := reader.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer rtx.Rollback()
			count(t, rtx, "SELECT COUNT(*) FROM items") // the long read holds SHARED
			_, err = writer.Exec("INSERT INTO items (id, name) VALUES (1, 'written while a read is open')")
			switch mode {
			case "journal":
				var le *dbtest.LockError
				if !errors.As(err, &le) {
					t.Fatalf("the writer committed during a read in rollback-journal mode: err = %v", err)
				}
				if le.Report.Wanted != "EXCLUSIVE" && le.Report.Wanted != "PENDING" {
					t.Errorf("the writer wanted %s, want EXCLUSIVE", le.Report.Wanted)
				}
				t.Log(err)
			case "wal":
				if err != nil {
					t.Fatalf("WAL mode: the writer was blocked by a reader: %v", err)
				}
				if n := count(t, rtx, "SELECT COUNT(*) FROM items"); n != 0 {
					t.Errorf("the reader's snapshot changed under it: %d rows", n)
				}
			}
			rtx.Rollback()
			reader.Close()
			writer.Close()
			err = db.Release(ctx)
			if mode == "wal" && (err == nil || !strings.Contains(err.Error(), "items (+1 row)")) {
				t.Errorf("the writer's commit escaped the rollback unreported: %v", err)
			}
		})
	}
}
