package dbtest_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/internal/testserver"
)

// longInsert is a statement that writes for many seconds, per dialect.
var longInsert = map[dbtest.Backend]string{
	dbtest.SQLite: `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 1000000000)
		INSERT INTO items (id, name) SELECT x + 10, 'n' || x FROM c`,
	dbtest.Postgres: `INSERT INTO items (id, name) SELECT g + 10, 'n' || g FROM generate_series(1, 1000000000) g`,
	dbtest.MySQL:    `INSERT INTO items (id, name) SELECT 10 + SLEEP(600), 'n'`,
}

// interruptedCtx is a context that ends once its Err has been asked n
// times. SQLite's progress handler asks it every few instructions of a
// running statement, database/sql only looks at Done before it calls the
// driver: the context thus ends in the middle of the statement, whatever
// the machine's load.
type interruptedCtx struct {
	context.Context
	n    atomic.Int64
	done chan struct{}
	once sync.Once
}

func interruptAfter(n int64) *interruptedCtx {
	c := &interruptedCtx{Context: context.Background(), done: make(chan struct{})}
	c.n.Store(n)
	return c
}

func (c *interruptedCtx) Done() <-chan struct{} { return c.done }

func (c *interruptedCtx) Err() error {
	if c.n.Add(-1) > 0 {
		return nil
	}
	c.once.Do(func() { close(c.done) })
	return context.Canceled
}

// cancelMidStatement runs longInsert on db with a context cancelled while
// the statement runs, and returns the statement's error.
func cancelMidStatement(t *testing.T, db *dbtest.DB, b dbtest.Backend) error {
	t.Helper()
	if b == dbtest.SQLite {
		_, err := db.ExecContext(interruptAfter(100), longInsert[b])
		return err
	}
	// On a server: cancel once the server shows the statement running.
	running := statementRunning(t, db, b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := db.ExecContext(ctx, longInsert[b])
		errc <- err
	}()
	running()
	cancel()
	select {
	case err := <-errc:
		return err
	case <-time.After(time.Minute):
		t.Fatal("the cancelled statement did not return within a minute")
	}
	return nil
}

func plainDriver(b dbtest.Backend) string {
	switch b {
	case dbtest.Postgres:
		return "pgx"
	case dbtest.MySQL:
		return "mysql"
	}
	return "sqlite3"
}

// TestCancelMidStatement cancels the context of a statement while it runs,
// in the middle of a test that wrote before it: the statement fails with
// the cancellation; the next statement fails too rather than run outside
// the test's transaction (on the servers the driver closed the connection;
// SQLite rolled the transaction back, and dbtest refuses the rest); a
// separate connection sees nothing committed; cleanup passes; and the next
// test starts on a clean database.
func TestCancelMidStatement(t *testing.T) {
	for _, b := range dbtest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			db := connectOrSkip(t, b, itemsSchema(), dbtest.WithLogf(t.Logf))
			released := false
			defer func() {
				if !released {
					db.Release(context.Background())
				}
			}()
			mustExec(t, db, "INSERT INTO items (id, name) VALUES (1, 'before the cancel')")
			err := cancelMidStatement(t, db, b)
			if !errors.Is(err, context.Canceled) && !errors.Is(err, sqlite3.INTERRUPT) {
				t.Fatalf("the cancelled statement: %v; want context.Canceled or SQLite's INTERRUPT", err)
			}
			_, err = db.Exec("INSERT INTO items (id, name) VALUES (2, 'after the cancel')")
			switch {
			case b == dbtest.SQLite && !errors.Is(err, dbtest.ErrTransactionRolledBack):
				t.Errorf("the statement after the cancel: %v; want ErrTransactionRolledBack", err)
			case b != dbtest.SQLite && !errors.Is(err, driver.ErrBadConn):
				t.Errorf("the statement after the cancel: %v; want driver.ErrBadConn", err)
			}
			t.Logf("the statement after the cancel: %v", err)

			sep, err := sql.Open(plainDriver(b), db.RawDSN())
			if err != nil {
				t.Fatal(err)
			}
			defer sep.Close()
			if n := count(t, sep, "SELECT COUNT(*) FROM items"); n != 0 {
				t.Errorf("a separate connection sees %d rows committed", n)
			}
			sep.Close()
			released = true
			if err := db.Release(context.Background()); err != nil {
				t.Errorf("cleanup after the cancel: %v", err)
			}
			next := connectOrSkip(t, b, itemsSchema())
			defer next.Release(context.Background())
			if n := count(t, next, "SELECT COUNT(*) FROM items"); n != 0 {
				t.Errorf("the next test sees %d rows", n)
			}
		})
	}
}

// TestCancelledTestContext: the test's own context (t.Context) ends while a
// statement of the test still runs, as when a goroutine of the test writes
// past its end; the cleanup waits for the statement to stop, rolls back,
// and the next test starts clean. On SQLite the database is a file (WAL),
// whose growing log shows that the statement runs.
func TestCancelledTestContext(t *testing.T) {
	for _, b := range dbtest.Backends() {
		opts := []dbtest.Option{itemsSchema()}
		if b == dbtest.SQLite {
			opts = append(opts, dbtest.WithSQLiteWAL())
		}
		t.Run(string(b), func(t *testing.T) {
			db := dbtest.Open(t, b, opts...)
			mustExec(t, db, "INSERT INTO items (id, name) VALUES (1, 'written by the ended test')")
			running := statementRunning(t, db, b)
			ctx := t.Context() // cancelled when the test ends, before its cleanups
			go db.ExecContext(ctx, longInsert[b])
			running()
		})
		t.Run(string(b)+" after", func(t *testing.T) {
			db := dbtest.Open(t, b, opts...)
			if n := count(t, db, "SELECT COUNT(*) FROM items"); n != 0 {
				t.Errorf("the next test sees %d rows of the one whose context ended", n)
			}
		})
	}
}

// statementRunning returns a function that waits until db's connection
// runs an INSERT: on a server, as the server shows it; on SQLite (a WAL
// file), until the log grows.
func statementRunning(t *testing.T, db *dbtest.DB, b dbtest.Backend) func() {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	if b == dbtest.SQLite {
		wal := db.DatabaseName() + "-wal"
		size := func() int64 {
			fi, err := os.Stat(wal)
			if err != nil {
				return 0
			}
			return fi.Size()
		}
		start := size()
		return func() {
			defer cancel()
			for size() <= start {
				if ctx.Err() != nil {
					t.Fatal("the statement never wrote to the WAL")
				}
				time.Sleep(time.Millisecond)
			}
		}
	}
	id, err := testserver.SessionID(ctx, db, string(b))
	if err != nil {
		t.Fatal(err)
	}
	sessions, err := testserver.NewSessions(string(b), plainDriver(b), db.RawDSN())
	if err != nil {
		t.Fatal(err)
	}
	return func() {
		defer cancel()
		defer sessions.Close()
		if _, err := sessions.WaitActive(ctx, id, "INSERT"); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSQLiteFileRemoved removes the database file, with its WAL and shared
// memory, under a running handle (a file database: WithSQLiteWAL). In WAL
// mode SQLite goes on writing into the files it has open, which nobody can
// open again; dbtest's cleanup reports the removal, naming the file, and
// the next test gets a new database instead of that ghost. Nothing panics.
func TestSQLiteFileRemoved(t *testing.T) {
	db, err := dbtest.Connect(context.Background(), dbtest.SQLite, itemsSchema(), dbtest.WithSQLiteWAL())
	if err != nil {
		t.Fatal(err)
	}
	path := db.DatabaseName()
	mustExec(t, db, "INSERT INTO items (id, name) VALUES (1, 'before')")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
	_, err = db.Exec("INSERT INTO items (id, name) VALUES (2, 'into a removed file')")
	t.Logf("writing after the file was removed: %v", err)
	err = db.Release(context.Background())
	if err == nil || !strings.Contains(err.Error(), "the database file "+path+" was removed or replaced during the test") {
		t.Fatalf("Release = %v; want a report naming the removed file %s", err, path)
	}
	t.Log(err)
	next := dbtest.Open(t, dbtest.SQLite, itemsSchema(), dbtest.WithSQLiteWAL())
	if next.DatabaseName() == path {
		t.Fatalf("the next test got the removed database %s again", path)
	}
	if n := count(t, next, "SELECT COUNT(*) FROM items"); n != 0 {
		t.Errorf("the next test sees %d rows", n)
	}
}

// TestSQLiteFileReadOnly makes the database file and its WAL immutable
// (chattr +i) under a running handle: writes fail with SQLite's I/O error
// (IOERR), nothing panics, and cleanup passes once the file is writable
// again. chattr, not chmod: the handle's file is open already, and a mode
// applies to opening only; and tests often run as root, whom modes do not
// stop. The immutable flag refuses writes through open files too, to
// root as well (it needs CAP_LINUX_IMMUTABLE and a file system with the
// flag, such as ext4; the test skips elsewhere).
func TestSQLiteFileReadOnly(t *testing.T) {
	db := dbtest.Open(t, dbtest.SQLite, itemsSchema(), dbtest.WithSQLiteWAL())
	path := db.DatabaseName()
	mustExec(t, db, "INSERT INTO items (id, name) VALUES (1, 'before')")
	files := []string{path, path + "-wal"}
	for _, f := range files {
		if out, err := exec.Command("chattr", "+i", f).CombinedOutput(); err != nil {
			t.Skipf("cannot make %s immutable here: %v: %s", f, err, out)
		}
	}
	// Before dbtest's cleanup, which removes the files.
	t.Cleanup(func() {
		for _, f := range files {
			if out, err := exec.Command("chattr", "-i", f).CombinedOutput(); err != nil {
				t.Errorf("chattr -i %s: %v: %s", f, err, out)
			}
		}
	})
	// Enough rows to make SQLite write pages, not only keep them in memory.
	_, err := db.Exec(`WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 20000)
		INSERT INTO items (id, name) SELECT x + 10, printf('%0500d', x) FROM c`)
	if !errors.Is(err, sqlite3.IOERR) {
		t.Fatalf("writing to an immutable file: %v; want SQLite's IOERR", err)
	}
	t.Logf("writing to an immutable file: %v", err)
}
