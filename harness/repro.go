package harness

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/dynamic"
)

// A LockPattern is one of the known lock bugs, reproduced on a backend.
type LockPattern struct {
	N        int
	Name     string
	Expected string // what the pattern does, as documented
	Fix      string
	run      func(ctx context.Context, b dbtest.Backend, out *PatternResult) error
}

// PatternResult is what a reproduction did.
type PatternResult struct {
	Pattern  *LockPattern
	Backend  dbtest.Backend
	OK       bool          // the pattern behaved as documented
	Happened string        // what it did
	Report   string        // the lock report or cleanup error that explains it
	Elapsed  time.Duration // how long the bug took to show itself
	Err      string        // why the reproduction itself failed

	// Lock is the lock report as data, when there is one, for the lock
	// timelines of [WriteHTML].
	Lock *dbtest.LockReport
}

// LockPatterns returns the known lock-bug patterns, in order.
func LockPatterns() []*LockPattern {
	return []*LockPattern{
		{N: 1, Name: "write through a separate connection",
			Expected: "the test writes in its transaction, then code under test writes through a separate connection: on SQLite and MySQL that write waits on the test's own lock, which cannot be released while the test waits, and fails at once with a report; on PostgreSQL it cannot see the test's uncommitted rows, so its foreign key fails; and what such a connection commits escapes the rollback and fails the test at cleanup, naming the tables",
			Fix:      "give the code the test's handle or transaction, or sql.Open(db.DriverName(), db.DSN())",
			run:      patternSeparate},
		{N: 2, Name: "the fix: share the test's transaction",
			Expected: "the same code, given db.DSN(), writes into the test's transaction: the test sees its rows, and the rollback removes them",
			Fix:      "(this is the fix)",
			run:      patternShared},
		{N: 3, Name: "two writers in opposite order",
			Expected: "two separate connections update two rows in opposite orders: one is stopped, and the report names both statements",
			Fix:      "take locks in one order (sort the rows you update), or retry the transaction that lost",
			run:      patternDeadlock},
		{N: 4, Name: "a long read against a writer",
			Expected: "a long read transaction keeps a writer from committing in SQLite's rollback-journal mode, and does not in WAL mode; PostgreSQL and MySQL readers never block writers",
			Fix:      "keep read transactions short, or use WAL mode on SQLite",
			run:      patternLongRead},
		{N: 5, Name: "the retry safety net",
			Expected: "a writer holds the table briefly: dynamic.Append's bounded retry succeeds after it; a writer holds it too long: the retry gives up with the report instead of hanging",
			Fix:      "keep the retry bounded; find the long writer with the report",
			run:      patternRetry},
		{N: 6, Name: "COMMIT from inside the test",
			Expected: "code under test calls COMMIT on the connection it was handed: the test's rows escape the rollback; dbtest refuses the statement, or with WithTransactionControl lets it through and fails the test at cleanup naming the statement and the tables",
			Fix:      "let the code begin and commit its own transaction (a savepoint under dbtest), never the connection's",
			run:      patternCommit},
	}
}

// ReproLock runs the patterns on backend b.
func ReproLock(ctx context.Context, b dbtest.Backend, patterns []*LockPattern) []PatternResult {
	var out []PatternResult
	for _, p := range patterns {
		r := PatternResult{Pattern: p, Backend: b}
		if err := p.run(ctx, b, &r); err != nil {
			r.OK, r.Err = false, err.Error()
		}
		out = append(out, r)
	}
	return out
}

// WriteRepro prints reproductions for a terminal: what was expected, what
// happened, the report with its timeline, the fix.
func WriteRepro(w io.Writer, results []PatternResult) {
	for _, r := range results {
		status := "as documented"
		if !r.OK {
			status = "NOT AS DOCUMENTED"
		}
		fmt.Fprintf(w, "── pattern %d on %s: %s  [%s, %s]\n", r.Pattern.N, r.Backend, r.Pattern.Name, status, FormatDuration(r.Elapsed))
		fmt.Fprintf(w, "  expected: %s\n", r.Pattern.Expected)
		fmt.Fprintf(w, "  happened: %s\n", r.Happened)
		if r.Err != "" {
			fmt.Fprintf(w, "  error:    %s\n", indent(r.Err))
		}
		if r.Report != "" {
			fmt.Fprintf(w, "  report:\n")
			for _, line := range strings.Split(strings.Trim(r.Report, "\n"), "\n") {
				fmt.Fprintf(w, "    %s\n", line)
			}
		}
		fmt.Fprintf(w, "  fix:      %s\n\n", r.Pattern.Fix)
	}
}

const reproSchema = `CREATE TABLE repro_items (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL, qty INTEGER NOT NULL DEFAULT 0)`

func connect(ctx context.Context, b dbtest.Backend, opts ...dbtest.Option) (*dbtest.DB, error) {
	return dbtest.Connect(ctx, b, opts...)
}

func openRaw(db *dbtest.DB) (*sql.DB, error) { return sql.Open(db.RawDriverName(), db.RawDSN()) }

// patternSeparate: the platform's bug.
func patternSeparate(ctx context.Context, b dbtest.Backend, out *PatternResult) error {
	// A long lock timeout: the point is that dbtest does not wait it out.
	db, err := connect(here(ctx), b, dbtest.WithLockTimeout(2*time.Second))
	if err != nil {
		return err
	}
	defer db.Release(ctx)
	uid, err := createUser(ctx, db, "erin")
	if err != nil {
		return err
	}
	raw, err := openRaw(db)
	if err != nil {
		return err
	}
	defer raw.Close()
	if err := raw.PingContext(here(ctx)); err != nil { // connect first: the time below is the statement's
		return err
	}
	start := time.Now()
	_, err = raw.ExecContext(here(ctx), fmt.Sprintf("INSERT INTO machines (owner_user_id, name, data_table_name) VALUES (%d, 'm', 'machine_repro')", uid))
	out.Elapsed = time.Since(start)
	var le *dbtest.LockError
	var pe *pgconn.PgError
	first := false
	switch {
	case errors.As(err, &le):
		// SQLite and MySQL: the write waits on the test's own lock.
		out.Report = le.Report.String()
		out.Lock = le.Report
		out.Happened = fmt.Sprintf("the separate write failed after %s: %s", FormatDuration(out.Elapsed), firstLine(le.Err.Error()))
		first = le.Report.SelfDeadlock && out.Elapsed < 2*time.Second
		if !le.Report.SelfDeadlock {
			out.Happened += " (not recognised as a self-deadlock)"
		}
	case b == dbtest.Postgres && errors.As(err, &pe) && pe.Code == "23503":
		// PostgreSQL: the separate connection does not see the test's
		// uncommitted user, so its foreign key fails at once.
		out.Happened = fmt.Sprintf("the separate connection cannot see the test's uncommitted user: %s (after %s)", pe.Message, FormatDuration(out.Elapsed))
		first = true
	default:
		out.Happened = fmt.Sprintf("the separate write returned %v", err)
		return nil
	}
	raw.Close()

	// What a separate connection commits escapes the rollback.
	db2, err := connect(here(ctx), b)
	if err != nil {
		return err
	}
	raw2, err := openRaw(db2)
	if err != nil {
		db2.Release(ctx)
		return err
	}
	_, err = raw2.ExecContext(here(ctx), "INSERT INTO teams (name) VALUES ('escaped')")
	raw2.Close()
	if err != nil {
		db2.Release(ctx)
		return fmt.Errorf("the separate write that should escape failed: %w", err)
	}
	rerr := db2.Release(ctx)
	if rerr == nil {
		out.Happened += "; a committed separate write went unreported"
		return nil
	}
	out.Report += "\ncleanup of a test whose separate connection committed:\n  " + rerr.Error()
	out.Happened += "; the separate connection's committed write was reported at cleanup"
	out.OK = first && strings.Contains(rerr.Error(), "teams (+1 row)")
	return nil
}

// createUser inserts a user through the test's handle and returns its id.
func createUser(ctx context.Context, db *dbtest.DB, name string) (int64, error) {
	if _, err := db.ExecContext(here(ctx), fmt.Sprintf("INSERT INTO users (username, email) VALUES ('%s', '%s@example.com')", name, name)); err != nil {
		return 0, err
	}
	var id int64
	err := db.QueryRowContext(here(ctx), "SELECT id FROM users WHERE username = '"+name+"'").Scan(&id)
	return id, err
}

// patternShared: the fix.
func patternShared(ctx context.Context, b dbtest.Backend, out *PatternResult) error {
	db, err := connect(here(ctx), b)
	if err != nil {
		return err
	}
	uid, err := createUser(ctx, db, "erin")
	if err != nil {
		db.Release(ctx)
		return err
	}
	shared, err := sql.Open(db.DriverName(), db.DSN())
	if err != nil {
		db.Release(ctx)
		return err
	}
	start := time.Now()
	_, err = shared.ExecContext(here(ctx), fmt.Sprintf("INSERT INTO machines (owner_user_id, name, data_table_name) VALUES (%d, 'm', 'machine_repro')", uid))
	out.Elapsed = time.Since(start)
	shared.Close()
	if err != nil {
		db.Release(ctx)
		out.Happened = "the shared write failed: " + err.Error()
		return nil
	}
	var n int
	db.QueryRowContext(here(ctx), "SELECT COUNT(*) FROM machines").Scan(&n)
	if err := db.Release(ctx); err != nil {
		return err
	}
	next, err := connect(here(ctx), b)
	if err != nil {
		return err
	}
	defer next.Release(ctx)
	var after int
	next.QueryRowContext(here(ctx), "SELECT COUNT(*) FROM machines").Scan(&after)
	out.Happened = fmt.Sprintf("the write through db.DSN() took %s; the test saw %d machine(s); after the rollback: %d", FormatDuration(out.Elapsed), n, after)
	out.OK = n == 1 && after == 0
	return nil
}

func patternDeadlock(ctx context.Context, b dbtest.Backend, out *PatternResult) error {
	// PostgreSQL looks for deadlocks after deadlock_timeout: 100 ms on
	// dbtest's databases, but the server's 1 s where the role may not set
	// it; the lock timeout must be longer, or it would win the race.
	timeout := time.Second
	if b == dbtest.Postgres {
		timeout = 2 * time.Second
	}
	db, err := connect(here(ctx), b, dbtest.WithoutMigrations(), dbtest.WithLockTimeout(timeout))
	if err != nil {
		return err
	}
	defer db.Release(ctx)
	setup, err := openRaw(db)
	if err != nil {
		return err
	}
	defer setup.Close()
	if _, err := setup.ExecContext(here(ctx), reproSchema); err != nil {
		return err
	}
	defer setup.ExecContext(here(ctx), "DROP TABLE repro_items")
	if _, err := setup.ExecContext(here(ctx), "INSERT INTO repro_items (id, name) VALUES (1, 'one'), (2, 'two')"); err != nil {
		return err
	}
	a, _ := openRaw(db)
	defer a.Close()
	c, _ := openRaw(db)
	defer c.Close()
	ta, err := a.BeginTx(here(ctx), nil)
	if err != nil {
		return err
	}
	defer ta.Rollback()
	tc, err := c.BeginTx(here(ctx), nil)
	if err != nil {
		return err
	}
	defer tc.Rollback()
	start := time.Now()
	if _, err := ta.ExecContext(here(ctx), "UPDATE repro_items SET qty = 1 WHERE id = 1"); err != nil {
		return err
	}
	if b == dbtest.SQLite {
		// SQLite has one writer: the second write waits on the first.
		_, err := tc.ExecContext(here(ctx), "UPDATE repro_items SET qty = 2 WHERE id = 2")
		out.Elapsed = time.Since(start)
		var le *dbtest.LockError
		if errors.As(err, &le) {
			out.Report = le.Report.String()
			out.Lock = le.Report
			out.Happened = "SQLite allows one writer: the second connection's UPDATE failed with " + firstLine(le.Err.Error())
			out.OK = len(le.Report.Holders) == 1 && strings.Contains(out.Report, "UPDATE repro_items SET qty = 1")
		} else {
			out.Happened = fmt.Sprintf("the second writer returned %v", err)
		}
		return nil
	}
	if _, err := tc.ExecContext(here(ctx), "UPDATE repro_items SET qty = 2 WHERE id = 2"); err != nil {
		return err
	}
	errs := make(chan error, 1)
	go func() {
		_, err := ta.ExecContext(here(ctx), "UPDATE repro_items SET qty = 1 WHERE id = 2")
		errs <- err
	}()
	time.Sleep(100 * time.Millisecond)
	_, errc := tc.ExecContext(here(ctx), "UPDATE repro_items SET qty = 2 WHERE id = 1")
	erra := <-errs
	out.Elapsed = time.Since(start)
	for _, err := range []error{errc, erra} {
		var le *dbtest.LockError
		if errors.As(err, &le) && le.Report.Deadlock {
			out.Report = le.Report.String()
			out.Lock = le.Report
			out.Happened = "the server found the deadlock and stopped one transaction: " + firstLine(le.Err.Error())
			out.OK = strings.Count(le.Report.ServerDetail, "UPDATE repro_items") >= 2
			return nil
		}
	}
	out.Happened = fmt.Sprintf("no deadlock was reported (%v, %v)", errc, erra)
	return nil
}

func patternLongRead(ctx context.Context, b dbtest.Backend, out *PatternResult) error {
	modes := []string{"journal"}
	if b == dbtest.SQLite {
		modes = append(modes, "wal")
	}
	var happened []string
	ok := true
	for _, mode := range modes {
		opts := []dbtest.Option{dbtest.WithoutMigrations(), dbtest.WithLockTimeout(300 * time.Millisecond)}
		if mode == "wal" {
			opts = append(opts, dbtest.WithSQLiteWAL())
		}
		db, err := connect(here(ctx), b, opts...)
		if err != nil {
			return err
		}
		res, rep, err := longRead(ctx, db)
		db.Release(ctx)
		if err != nil {
			return err
		}
		label := mode
		if b != dbtest.SQLite {
			label = "MVCC"
		}
		happened = append(happened, label+": "+res)
		if rep != "" {
			out.Report += rep
		}
		blocked := rep != ""
		if want := b == dbtest.SQLite && mode == "journal"; blocked != want {
			ok = false
		}
	}
	out.Happened = strings.Join(happened, "; ")
	out.OK = ok
	return nil
}

func longRead(ctx context.Context, db *dbtest.DB) (string, string, error) {
	setup, err := openRaw(db)
	if err != nil {
		return "", "", err
	}
	defer setup.Close()
	if _, err := setup.ExecContext(here(ctx), reproSchema); err != nil {
		return "", "", err
	}
	defer setup.ExecContext(here(ctx), "DROP TABLE repro_items")
	reader, _ := openRaw(db)
	defer reader.Close()
	writer, _ := openRaw(db)
	defer writer.Close()
	rtx, err := reader.BeginTx(here(ctx), nil)
	if err != nil {
		return "", "", err
	}
	defer rtx.Rollback()
	var n int
	if err := rtx.QueryRowContext(here(ctx), "SELECT COUNT(*) FROM repro_items").Scan(&n); err != nil {
		return "", "", err
	}
	start := time.Now()
	_, err = writer.ExecContext(here(ctx), "INSERT INTO repro_items (id, name) VALUES (1, 'written during a read')")
	d := FormatDuration(time.Since(start))
	var le *dbtest.LockError
	if errors.As(err, &le) {
		return "the writer was blocked and failed after " + d, le.Report.String(), nil
	}
	if err != nil {
		return "", "", err
	}
	writer.ExecContext(here(ctx), "DELETE FROM repro_items")
	return "the writer committed in " + d + " while the read was open", "", nil
}

func patternRetry(ctx context.Context, b dbtest.Backend, out *PatternResult) error {
	db, err := connect(here(ctx), b, dbtest.WithoutMigrations(), dbtest.WithLockTimeout(100*time.Millisecond))
	if err != nil {
		return err
	}
	defer db.Release(ctx)
	writer, _ := openRaw(db)
	defer writer.Close()
	appender, _ := openRaw(db)
	defer appender.Close()
	f, err := dynamic.FromRows([]string{"x"}, [][]any{{1}})
	if err != nil {
		return err
	}
	if _, err := dynamic.Append(here(ctx), writer, db.Dialect(), "repro_frames", f); err != nil {
		return err
	}
	defer writer.ExecContext(here(ctx), "DROP TABLE repro_frames")
	hold := 600 * time.Millisecond // several lock timeouts, so that the retry is needed even when a wait ends late
	release, err := holdTable(here(ctx), b, writer, "repro_frames")
	if err != nil {
		return err
	}
	time.AfterFunc(hold, release)
	start := time.Now()
	res, err := dynamic.Append(here(ctx), appender, db.Dialect(), "repro_frames", f, dynamic.WithRetry(20, 50*time.Millisecond, 200*time.Millisecond))
	brief := time.Since(start)
	if err != nil {
		out.Happened = "the retry did not get past a brief writer: " + err.Error()
		return nil
	}
	// Now a writer that does not let go.
	release2, err := holdTable(here(ctx), b, writer, "repro_frames")
	if err != nil {
		return err
	}
	defer release2()
	start = time.Now()
	_, err = dynamic.Append(here(ctx), appender, db.Dialect(), "repro_frames", f, dynamic.WithRetry(3, 50*time.Millisecond, 100*time.Millisecond))
	out.Elapsed = time.Since(start)
	var le *dynamic.LockedError
	if !errors.As(err, &le) {
		out.Happened = fmt.Sprintf("the retry against a stuck writer returned %v", err)
		return nil
	}
	var report *dbtest.LockError
	if errors.As(err, &report) {
		out.Report = report.Report.String()
		out.Lock = report.Report
	}
	out.Happened = fmt.Sprintf("brief writer: succeeded after %d attempts in %s; stuck writer: gave up after %d attempts in %s",
		res.Attempts, FormatDuration(brief), le.Attempts, FormatDuration(out.Elapsed))
	out.OK = res.Attempts > 1 && le.Attempts == 3 && out.Report != ""
	return nil
}

// holdTable makes a connection of pool hold a lock that keeps others from
// writing to table, until release is called.
func holdTable(ctx context.Context, b dbtest.Backend, pool *sql.DB, table string) (release func(), err error) {
	conn, err := pool.Conn(here(ctx))
	if err != nil {
		return nil, err
	}
	lock, unlock := []string{"BEGIN IMMEDIATE"}, "COMMIT"
	switch b {
	case dbtest.Postgres:
		lock, unlock = []string{"BEGIN", "LOCK TABLE " + table + " IN EXCLUSIVE MODE"}, "COMMIT"
	case dbtest.MySQL:
		lock, unlock = []string{"LOCK TABLES " + table + " WRITE"}, "UNLOCK TABLES"
	}
	for _, q := range lock {
		if _, err := conn.ExecContext(here(ctx), q); err != nil {
			conn.Close()
			return nil, err
		}
	}
	done := false
	return func() {
		if !done {
			done = true
			conn.ExecContext(context.Background(), unlock)
			conn.Close()
		}
	}, nil
}

func patternCommit(ctx context.Context, b dbtest.Backend, out *PatternResult) error {
	// Under dbtest's default, the statement is refused.
	db, err := connect(here(ctx), b)
	if err != nil {
		return err
	}
	db.ExecContext(here(ctx), "INSERT INTO teams (name) VALUES ('kept inside')")
	_, cerr := db.ExecContext(here(ctx), "COMMIT")
	refused := errors.Is(cerr, dbtest.ErrTransactionControl)
	rerr := db.Release(ctx)
	// Let it through, as it goes without dbtest: the rows escape, and
	// cleanup catches it.
	db2, err := connect(here(ctx), b, dbtest.WithTransactionControl())
	if err != nil {
		return err
	}
	start := time.Now()
	db2.ExecContext(here(ctx), "INSERT INTO teams (name) VALUES ('escapes')")
	db2.ExecContext(here(ctx), "COMMIT")
	db2.ExecContext(here(ctx), "INSERT INTO teams (name) VALUES ('after the commit')")
	caught := db2.Release(ctx)
	out.Elapsed = time.Since(start)
	if caught != nil {
		out.Report = caught.Error()
	}
	out.Happened = fmt.Sprintf("refused by default: %v; let through, then caught at cleanup: %v", refused && rerr != nil, caught != nil)
	out.OK = refused && rerr != nil && caught != nil && strings.Contains(caught.Error(), "COMMIT") && strings.Contains(caught.Error(), "teams (+2 rows)")
	return nil
}

// here puts the file:line of its caller in ctx as the origin of the
// connections and statements that ctx opens and runs: the patterns play
// the code under test, so their reports name the pattern's own lines
// rather than the caller of the harness.
func here(ctx context.Context) context.Context {
	_, file, line, ok := runtime.Caller(1)
	if !ok {
		return ctx
	}
	return dbtest.WithOrigin(ctx, fmt.Sprintf("%s:%d", filepath.Base(file), line))
}
