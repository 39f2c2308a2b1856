package dynamic

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/ncruces/go-sqlite3"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/internal/testserver"
)

// killRows is the size of the frames killed mid-append: enough rows for
// many statements (or a long COPY), so that the kill lands in the middle.
const killRows = 20000

// killFrame has killRows rows of about 500 bytes: a MySQL statement of
// them (cut at 2 MiB) runs long enough to be seen running.
func killFrame(t *testing.T) *Frame {
	return frameOf(t, []string{"n", "s", "pad"}, killRows, strings.Repeat("p", 500))
}

func plainDriver(dialect string) string {
	if dialect == "postgres" {
		return "pgx"
	}
	return "mysql"
}

// driverSaysLost reports whether err carries the driver's own account of
// the lost connection: PostgreSQL's admin_shutdown (57P01, from
// pg_terminate_backend), MariaDB's "connection was killed" (1927), or the
// MySQL driver's closed connection.
func driverSaysLost(err error) bool {
	var pe *pgconn.PgError
	var me *mysql.MySQLError
	return errors.As(err, &pe) && pe.Code == "57P01" || errors.As(err, &me) && me.Number == 1927 ||
		errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, driver.ErrBadConn)
}

type outcome struct {
	res Result
	err error
}

// killMidAppend runs an append and kills session id, which the append
// runs on, in its middle: as soon as the server shows the session running
// an INSERT or a COPY, or, should the polls miss every statement, once
// half the rows are written (the append then waits for the kill). It
// returns the append's outcome and where the kill landed.
func killMidAppend(t *testing.T, sessions *testserver.Sessions, id int64, run func(gate Option) (Result, error)) (outcome, string) {
	t.Helper()
	return killWhen(t, sessions, id, []string{"INSERT", "COPY"}, run)
}

// killWhen is killMidAppend, killing once the session runs a statement
// that starts with one of prefixes.
func killWhen(t *testing.T, sessions *testserver.Sessions, id int64, prefixes []string, run func(gate Option) (Result, error)) (outcome, string) {
	t.Helper()
	parked, killed := make(chan struct{}), make(chan struct{})
	var once sync.Once
	gate := afterRows(func(written int64) error {
		if written >= killRows/2 {
			once.Do(func() { close(parked) })
			<-killed
		}
		return nil
	})
	done := make(chan outcome, 1)
	go func() {
		res, err := run(gate)
		done <- outcome{res, err}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var where string
	for where == "" {
		select {
		case o := <-done:
			t.Fatalf("the append ended before the kill: %+v, %v", o.res, o.err)
		case <-parked:
			where = "between two writes, half the rows written"
			continue
		default:
		}
		_, active, stmt, err := sessions.Activity(ctx, id)
		if err != nil {
			close(killed)
			t.Fatal(err)
		}
		head := strings.ToUpper(strings.TrimSpace(stmt))
		for _, p := range prefixes {
			if active && strings.HasPrefix(head, p) {
				where = "during " + strings.Fields(head)[0]
			}
		}
		time.Sleep(time.Millisecond)
	}
	err := sessions.Kill(ctx, id)
	if err == nil {
		err = sessions.WaitGone(ctx, id)
	}
	close(killed)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case o := <-done:
		return o, where
	case <-ctx.Done():
		t.Fatal("the append hung after its connection was killed")
	}
	panic("unreachable")
}

// checkKilled asserts what the caller of an append whose connection was
// killed before the commit gets: an error that names the table, says that
// the connection was lost before the commit and so none of the rows are in
// (ErrConnectionLost, DuringCommit false), carries the driver's error, and
// is not a lock conflict (a lost connection is never retried: had it been
// lost during the commit, the rows might be in); and no rows.
func checkKilled(t *testing.T, o outcome, table string) {
	t.Helper()
	if o.err == nil {
		t.Fatalf("the append succeeded although its connection was killed: %+v", o.res)
	}
	if !strings.HasPrefix(o.err.Error(), "dynamic: appending to "+table+": the connection to the database was lost before the commit") {
		t.Errorf("error = %v; want it to start with %q", o.err, "dynamic: appending to "+table+": the connection to the database was lost before the commit")
	}
	var cl *ConnectionLostError
	if !errors.Is(o.err, ErrConnectionLost) || !errors.As(o.err, &cl) || cl.DuringCommit {
		t.Errorf("error = %v; want a ConnectionLostError before the commit", o.err)
	}
	if !driverSaysLost(o.err) {
		t.Errorf("error = %v; want the driver's error in it (57P01, 1927, or a closed connection)", o.err)
	}
	if errors.Is(o.err, ErrLocked) || o.res.Attempts != 1 || o.res.Rows != 0 {
		t.Errorf("error = %v, result %+v; want one attempt, no rows, no lock conflict", o.err, o.res)
	}
}

// TestKillMidAppend kills the server session an append writes through, in
// the middle of the append (pg_terminate_backend, KILL), on a plain pool
// (Append owns and commits the transaction) into an existing table and
// into a new one, by INSERT and by COPY; and on a test's handle. The
// caller gets a clear error, a fresh connection finds none of the rows
// (and, on MySQL, the created table undone on another connection), and
// the pool, or the next test, gets a working connection. SQLite runs in
// the test binary: it has no server connection to kill.
func TestKillMidAppend(t *testing.T) {
	for _, b := range []dbtest.Backend{dbtest.Postgres, dbtest.MySQL} {
		t.Run(string(b), func(t *testing.T) {
			d := string(b)
			t.Run("plain pool", func(t *testing.T) {
				db := dbtest.Open(t, b, dbtest.WithoutMigrations())
				paths := []struct {
					name string
					opts []Option
				}{{"INSERT", []Option{WithoutCopy(), WithBatchRows(500)}}}
				if b == dbtest.Postgres {
					paths = append(paths, struct {
						name string
						opts []Option
					}{"COPY", nil})
				}
				for _, p := range paths {
					for _, existing := range []bool{true, false} {
						name := fmt.Sprintf("%s into a new table", p.name)
						if existing {
							name = fmt.Sprintf("%s into an existing table", p.name)
						}
						t.Run(name, func(t *testing.T) {
							killOnPool(t, db, d, p.opts, existing)
						})
					}
				}
			})
			t.Run("test handle", func(t *testing.T) {
				db := dbtest.Open(t, b, dbtest.WithoutMigrations())
				sessions, id := watchSession(t, db, db)
				o, where := killMidAppend(t, sessions, id, func(gate Option) (Result, error) {
					return Append(context.Background(), db, d, "killed_in_test", killFrame(t), gate)
				})
				t.Logf("killed %s: %v", where, o.err)
				checkKilled(t, o, "killed_in_test")
				if n, err := Count(context.Background(), sessionsPool(t, db), d, "killed_in_test"); err == nil && n != 0 {
					t.Errorf("a fresh connection counts %d rows", n)
				} else if err != nil && !errors.Is(err, ErrNoTable) {
					t.Fatal(err)
				}
			})
			t.Run("next test", func(t *testing.T) {
				db := dbtest.Open(t, b, dbtest.WithoutMigrations())
				if _, err := Count(context.Background(), db, d, "killed_in_test"); !errors.Is(err, ErrNoTable) {
					t.Errorf("the next test finds the killed test's table: %v", err)
				}
				mustAppendT(t, db, d, "after_the_kill", frameOf(t, []string{"n", "s"}, 3))
			})
		})
	}
}

// watchSession returns a control connection to the server of db, closed at
// cleanup, and the id of the session that q runs on.
func watchSession(t *testing.T, db *dbtest.DB, q testserver.Querier) (*testserver.Sessions, int64) {
	t.Helper()
	d := db.Dialect()
	id, err := testserver.SessionID(context.Background(), q, d)
	if err != nil {
		t.Fatal(err)
	}
	sessions, err := testserver.NewSessions(d, plainDriver(d), db.RawDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sessions.Close() })
	return sessions, id
}

// sessionsPool opens a fresh pool on db's database, closed at cleanup.
func sessionsPool(t *testing.T, db *dbtest.DB) *sql.DB {
	t.Helper()
	pool, err := sql.Open(plainDriver(db.Dialect()), db.RawDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Close() })
	return pool
}

// killOnPool kills an append that owns its transaction on a plain pool of
// one connection: its id is the append's, and the undo of MySQL's DDL
// must not wait for a second one.
func killOnPool(t *testing.T, db *dbtest.DB, d string, opts []Option, existing bool) {
	ctx := context.Background()
	pool := sessionsPool(t, db)
	pool.SetMaxOpenConns(1)
	table := "killed_new"
	var before int64
	if existing {
		table = "killed_old"
		mustAppendT(t, pool, d, table, frameOf(t, []string{"n", "s", "pad"}, 3, "p"))
		before = 3
	}
	t.Cleanup(func() {
		if _, err := sessionsPool(t, db).Exec("DROP TABLE IF EXISTS " + table); err != nil {
			t.Error(err)
		}
	})
	sessions, id := watchSession(t, db, pool)
	o, where := killMidAppend(t, sessions, id, func(gate Option) (Result, error) {
		return Append(ctx, pool, d, table, killFrame(t), append(opts, gate)...)
	})
	t.Logf("killed %s: %v", where, o.err)
	checkKilled(t, o, table)
	n, err := Count(ctx, sessionsPool(t, db), d, table)
	switch {
	case existing && (err != nil || n != before):
		t.Errorf("a fresh connection counts %d rows, %v; want the %d from before", n, err, before)
	case !existing && !errors.Is(err, ErrNoTable):
		t.Errorf("a fresh connection finds the table the killed append created: %d rows, %v", n, err)
	}
	// The pool dropped the dead connection and makes a new one.
	res := mustAppendT(t, pool, d, table, frameOf(t, []string{"n", "s", "pad"}, 2, "p"), opts...)
	if res.Rows != 2 {
		t.Errorf("the append after the kill: %+v", res)
	}
	if n := mustCount(t, pool, d, table); n != before+2 {
		t.Errorf("%d rows after the next append; want %d", n, before+2)
	}
}

// TestKillDuringCommit kills an append's connection while its COMMIT
// runs (PostgreSQL: a deferred trigger makes the commit wait): the error
// says that the rows may or may not be in (DuringCommit), since the caller
// cannot know whether the commit happened; here it had not, and a fresh
// connection finds no row. MySQL has no deferred work to hold a commit.
func TestKillDuringCommit(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t, dbtest.Postgres, dbtest.WithoutMigrations())
	pool := sessionsPool(t, db)
	pool.SetMaxOpenConns(1)
	for _, q := range []string{
		`CREATE TABLE slow_commit (_row_id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, n BIGINT, s TEXT)`,
		`CREATE FUNCTION slow_commit_wait() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(60); RETURN NULL; END $$`,
		`CREATE CONSTRAINT TRIGGER slow_commit_wait AFTER INSERT ON slow_commit DEFERRABLE INITIALLY DEFERRED
			FOR EACH ROW EXECUTE FUNCTION slow_commit_wait()`,
	} {
		if _, err := pool.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if _, err := sessionsPool(t, db).Exec("DROP TABLE slow_commit; DROP FUNCTION slow_commit_wait()"); err != nil {
			t.Error(err)
		}
	})
	sessions, id := watchSession(t, db, pool)
	o, where := killWhen(t, sessions, id, []string{"COMMIT"}, func(Option) (Result, error) {
		return Append(ctx, pool, "postgres", "slow_commit", frameOf(t, []string{"n", "s"}, 3))
	})
	t.Logf("killed %s: %v", where, o.err)
	var cl *ConnectionLostError
	if !errors.As(o.err, &cl) || !cl.DuringCommit || !strings.Contains(o.err.Error(), "the rows may or may not be in") {
		t.Fatalf("error = %v; want a ConnectionLostError during the commit", o.err)
	}
	if n := mustCount(t, sessionsPool(t, db), "postgres", "slow_commit"); n != 0 {
		t.Errorf("a fresh connection counts %d rows; the commit never finished", n)
	}
}

// TestCancelMidAppendInTest cancels appends in the middle, inside a test's
// handle, on every path (owning a savepoint of the test's transaction,
// with INSERT and with COPY; on the caller's connection; in the caller's
// transaction): the append fails with the cancellation and writes no row;
// the test's earlier rows stay, unless the cancellation closed the test's
// connection (pgx closes a connection whose statement, here a COPY, is
// cancelled while it runs; the server then rolls back the test's whole
// transaction); and after cleanup nothing is committed.
func TestCancelMidAppendInTest(t *testing.T) {
	ctx := context.Background()
	for _, p := range appendPaths {
		t.Run(p.name, func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
				d := db.Dialect()
				mustAppendT(t, db, d, "kept", frameOf(t, []string{"n", "s"}, 3))
				q := p.q(t, db)
				cctx, cancel := context.WithCancel(ctx)
				defer cancel()
				cancelAt := afterRows(func(written int64) error {
					if written >= 4 {
						cancel()
					}
					return nil
				})
				res, err := Append(cctx, q, d, "cancelled", frameOf(t, []string{"n", "s"}, 50), append(p.opts, cancelAt)...)
				if !errors.Is(err, context.Canceled) || res.Rows != 0 {
					t.Fatalf("cancelled append: %+v, %v; want no rows and context.Canceled", res, err)
				}
				if _, err := db.ExecContext(ctx, "SELECT 1"); errors.Is(err, driver.ErrBadConn) {
					t.Logf("the cancellation closed the test's connection: %v", err)
					return
				}
				if got := state(t, q, d, "cancelled"); got != "no table" {
					t.Errorf("the cancelled append left %s", got)
				}
				if n := mustCount(t, db, d, "kept"); n != 3 {
					t.Errorf("the test's own rows: %d, want 3", n)
				}
			}, dbtest.WithoutMigrations())
			dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
				for _, table := range []string{"kept", "cancelled"} {
					if _, err := Count(ctx, db, db.Dialect(), table); !errors.Is(err, ErrNoTable) {
						t.Errorf("after cleanup, table %s: %v; want none", table, err)
					}
				}
			}, dbtest.WithoutMigrations())
		})
	}
}

// TestAppendToImmutableSQLiteFile appends into an SQLite database file
// (rollback journal, a plain pool) made immutable (chattr +i) under the
// pool's open connection: the append fails with SQLite's I/O error, naming
// the table, nothing panics, and once the file is writable again it holds
// exactly the rows from before. chattr rather than chmod: the file is open
// already, and modes do not stop root; the flag refuses writes through
// open files, to root too (on file systems that have it, such as ext4;
// the test skips elsewhere).
func TestAppendToImmutableSQLiteFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "frames.db")
	pool, err := sql.Open("sqlite3", "file:"+path+"?_pragma=busy_timeout(1000)")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	pool.SetMaxOpenConns(1)
	mustAppendT(t, pool, "sqlite", "frames", frameOf(t, []string{"n", "s"}, 3))
	if out, err := exec.Command("chattr", "+i", path).CombinedOutput(); err != nil {
		t.Skipf("cannot make %s immutable here: %v: %s", path, err, out)
	}
	defer func() {
		if out, err := exec.Command("chattr", "-i", path).CombinedOutput(); err != nil {
			t.Errorf("chattr -i: %v: %s", err, out)
		}
	}()
	res, err := Append(ctx, pool, "sqlite", "frames", frameOf(t, []string{"n", "s"}, 5000))
	if !errors.Is(err, sqlite3.IOERR) && !errors.Is(err, sqlite3.READONLY) {
		t.Fatalf("appending to an immutable file: %+v, %v; want SQLite's IOERR or READONLY", res, err)
	}
	if !strings.HasPrefix(err.Error(), "dynamic: appending to frames: ") || res.Rows != 0 {
		t.Errorf("appending to an immutable file: %+v, %v", res, err)
	}
	t.Logf("appending to an immutable file: %v", err)
	if out, err := exec.Command("chattr", "-i", path).CombinedOutput(); err != nil {
		t.Fatalf("chattr -i: %v: %s", err, out)
	}
	fresh, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	if n := mustCount(t, fresh, "sqlite", "frames"); n != 3 {
		t.Errorf("the file holds %d rows; want the 3 from before", n)
	}
	if _, err := os.Stat(path + "-journal"); err == nil {
		t.Logf("a hot journal remains: %s", path+"-journal")
	}
}
