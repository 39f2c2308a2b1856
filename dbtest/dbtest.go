package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// DB is a database handle for one test. It embeds a *sql.DB whose every
// connection is bound to the test's transaction, so the test and the code
// it calls see one consistent database, and everything is rolled back when
// the test ends.
//
// A BeginTx on the handle becomes a SAVEPOINT: Commit releases it and
// Rollback rolls back to it, to any depth. A COMMIT, ROLLBACK or BEGIN
// statement run on the handle is refused (see [ErrTransactionControl]).
//
// Under [WithoutTransaction] the embedded *sql.DB is instead a plain pool of
// connections to the test's database: what runs on it commits, and the
// database is restored when the test ends.
type DB struct {
	*sql.DB

	backend     Backend
	id          string
	sess        *session
	prov        provider
	pool        *pool
	slot        *slot
	lockTimeout time.Duration
	dataVersion uint32 // SQLite's data version when the test began
	test        string // the test's name, or the handle's
	owner       string // the test and where it opened the handle, for ErrTestEnded
	dirty       bool   // other connections committed: rebuild the database
	checkClean  func(problems error) error
	noTx        bool // WithoutTransaction: no test transaction, restored at cleanup
	logf        func(format string, args ...any)

	mu       sync.Mutex
	released bool
	ended    atomic.Bool // set at the start of Release, read without mu
}

// Open returns a handle on a migrated database of backend b for the test.
// The test runs inside a transaction that is rolled back at cleanup, even
// when the test's context was cancelled.
//
// A server backend that is not configured or not reachable skips the test
// with a one-line reason, unless DBTEST_REQUIRE names it: then the test
// fails.
func Open(tb testing.TB, b Backend, opts ...Option) *DB {
	tb.Helper()
	cfg, err := newConfig(opts)
	if err != nil {
		tb.Fatal(err)
	}
	var mu sync.Mutex
	ended := false
	if cfg.logf == nil {
		cfg.logf = func(format string, args ...any) {
			mu.Lock()
			defer mu.Unlock()
			if !ended {
				tb.Logf(format, args...)
			}
		}
	}
	if cfg.openedAt == "" {
		cfg.openedAt = callerOutside()
	}
	cfg.testName = tb.Name()
	db, err := connect(context.Background(), b, cfg)
	if err != nil {
		var ue *unavailableError
		if errors.As(err, &ue) {
			if required(b) {
				tb.Fatalf("dbtest: %s is required by %s but unavailable: %s", b, EnvRequire, ue.reason)
			}
			tb.Skipf("dbtest: %s unavailable: %s", b, ue.reason)
		}
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		err := db.Release(context.Background())
		mu.Lock()
		ended = true
		mu.Unlock()
		if err != nil {
			tb.Error(err)
		}
	})
	return db
}

// Each runs fn as one subtest per backend, named "sqlite", "postgres" and
// "mysql", each with its own handle from [Open].
func Each(t *testing.T, fn func(t *testing.T, db *DB), opts ...Option) {
	t.Helper()
	at := openedAt(callerOutside())
	for _, b := range Backends() {
		t.Run(string(b), func(t *testing.T) {
			// A skip or failure in Open is reported at the caller's
			// dbtest.Each, not here.
			t.Helper()
			fn(t, Open(t, b, append(opts[:len(opts):len(opts)], at)...))
		})
	}
}

// Connect is [Open] for programs that are not tests, such as a command that
// runs scenarios: it returns a handle bound to a fresh transaction, and
// [DB.Release] ends it. An unavailable backend is an error.
func Connect(ctx context.Context, b Backend, opts ...Option) (*DB, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if cfg.openedAt == "" {
		cfg.openedAt = originOf(ctx)
	}
	db, err := connect(ctx, b, cfg)
	var ue *unavailableError
	if errors.As(err, &ue) {
		return nil, fmt.Errorf("dbtest: %s unavailable: %s", b, ue.reason)
	}
	return db, err
}

func connect(ctx context.Context, b Backend, cfg *config) (*DB, error) {
	switch b {
	case SQLite, Postgres, MySQL:
	default:
		return nil, fmt.Errorf("dbtest: unknown backend %q (want sqlite, postgres or mysql)", b)
	}
	prov, err := getProvider(ctx, b)
	if err != nil {
		return nil, err
	}
	mig, err := migrationsFor(cfg, b)
	if err != nil {
		return nil, err
	}
	if cfg.sqliteWAL && b != SQLite {
		cfg.sqliteWAL = false // an SQLite option: the servers ignore it
	}
	p := getPool(prov, b, mig, slotOptions{wal: cfg.sqliteWAL, noTx: cfg.noTx})
	db := &DB{backend: b, prov: prov, pool: p, id: strings.ToLower(rand.Text()), lockTimeout: cfg.lockTimeout,
		checkClean: cfg.cleanupCheck, noTx: cfg.noTx, logf: cfg.logf}
	if err := db.takeSlot(ctx, cfg); err != nil {
		return nil, err
	}
	if db.noTx {
		return db.connectNoTx(cfg)
	}
	sl, eng := db.slot, prov.engine()
	db.sess = &session{eng: eng, conn: sl.conn, tx: sl.tx, kept: sl.stmts, logf: cfg.logf, passTxControl: cfg.passTxControl, stmtSP: cfg.stmtSP}
	db.test = cfg.testName
	if db.test == "" {
		db.test = "handle " + db.id
	}
	db.owner = ownerOf(db.test, cfg.openedAt)
	db.sess.owner = db.owner
	currentTests.Store(sl.name, [2]string{db.test, cfg.openedAt})
	rawTimeouts.Store(sl.name, cfg.lockTimeout)
	rawUntraced.Store(sl.name, cfg.noTrace)
	takeRawConns(sl.name)
	switch pr := prov.(type) {
	case *sqliteProvider:
		db.sess.explain, db.sess.hook = db.traceSQLite(sl.connector.(*sqliteConnector), cfg)
	case *serverProvider:
		key := serverConnKey(b, sl.serverID)
		sc := &serverConn{b: b, id: sl.serverID, db: sl.name, untraced: cfg.noTrace,
			info: ConnInfo{ID: int(sl.serverID), Role: RoleTestTx, Location: cfg.openedAt, Test: db.test}}
		sc.timeout.Store(int64(cfg.lockTimeout))
		serverConns.Store(key, sc)
		testTxConns.Store(sl.name, sc)
		db.sess.hook = pr.watchHook(sc)
		pr.noteTuning(cfg.logf)
	}
	sessions.Store(db.id, db.sess)
	db.DB = sql.OpenDB(txConnector{id: db.id, s: db.sess})
	return db, nil
}

// traceSQLite starts a new lock timeline for the test and names the test's
// connection in it.
func (db *DB) traceSQLite(sc *sqliteConnector, cfg *config) (func(error) error, stmtHook) {
	tr, cs := sc.state()
	tr.reset(!cfg.noTrace)
	tr.mu.Lock()
	cs.info.Role = RoleTestTx
	cs.info.Test = db.test
	cs.info.Location = cfg.openedAt
	tr.mu.Unlock()
	cs.timeout.Store(int64(cfg.lockTimeout))
	explain := func(err error) error { return explainSQLite(err, tr, cs) }
	return explain, sqliteHook(tr, cs, explain)
}

// takeSlot takes a database from the pool and begins the test's
// transaction on it. A pooled connection that fails is replaced once: the
// server may have restarted since it was opened. If the database itself is
// gone, it is left out of the pool and another one taken: after a restart
// cut this process's claim on its databases, another process may have
// taken them for abandoned and dropped them.
func (db *DB) takeSlot(ctx context.Context, cfg *config) error {
	const attempts = 3
	eng := db.prov.engine()
	for n := 1; ; n++ {
		sl, err := db.pool.acquire(ctx)
		if err != nil {
			return err
		}
		db.slot = sl
		if err = db.begin(ctx, eng, cfg.lockTimeout); err != nil {
			sl.disconnect()
			if sp, ok := db.prov.(*serverProvider); ok {
				sp.reclaim(ctx)
			}
			err = db.begin(ctx, eng, cfg.lockTimeout)
		}
		if err == nil {
			return nil
		}
		db.pool.release(context.WithoutCancel(ctx), sl, false)
		if !databaseGone(err) || n == attempts {
			return fmt.Errorf("dbtest: %s: starting the test's transaction: %w", db.backend, err)
		}
		if cfg.logf != nil {
			cfg.logf("dbtest: %s: database %s was dropped by another process (after a server restart?); taking another", db.backend, sl.name)
		}
	}
}

// begin connects the slot if needed, applies the lock timeout and opens the
// test's transaction.
func (db *DB) begin(ctx context.Context, eng engine, lockTimeout time.Duration) error {
	sl := db.slot
	if sl.chained && !sl.tx.alive(ctx) {
		// The server closed the connection while the database waited in
		// the pool: open a new one.
		sl.disconnect()
	}
	if err := sl.connect(ctx, eng); err != nil {
		return err
	}
	if sl.baseline == nil {
		counts, err := countTables(ctx, db.backend, sl.conn)
		if err != nil {
			return err
		}
		base, err := captureBase(ctx, db.backend, &slot{conn: sl.conn, baseline: counts})
		if err != nil {
			return err
		}
		sl.baseline, sl.base = counts, base
	}
	if db.backend != SQLite && sl.serverID == 0 {
		id, err := serverSessionID(ctx, db.backend, sl.conn)
		if err != nil {
			return err
		}
		sl.serverID = id
	}
	if sl.lockTimeout != lockTimeout {
		if err := eng.setLockTimeout(ctx, sl.conn, lockTimeout); err != nil {
			return err
		}
		sl.lockTimeout = lockTimeout
	}
	if db.noTx {
		return nil // the connection waits, outside any transaction, for cleanup
	}
	if db.backend == SQLite {
		// The version as of the connection's last read: a commit since
		// then shows at the end of this test, as one into its database.
		v, err := sqliteDataVersion(ctx, sl, false)
		if err != nil {
			return err
		}
		db.dataVersion = v
	}
	if sl.chained { // the last test's rollback began this transaction
		sl.chained = false
		return nil
	}
	return sl.tx.begin(ctx)
}

// Release rolls back the test's transaction and returns the database to
// dbtest. [Open] calls it at cleanup; call it yourself only for handles from
// [Connect]. It reports what went wrong inside the transaction, as a
// *[CleanupError]: statements that tried to end it, or writes that escaped
// it. With [WithCleanupCheck], it returns what the check makes of that.
func (db *DB) Release(ctx context.Context) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.released {
		return nil
	}
	db.released = true
	db.ended.Store(true)
	ctx = context.WithoutCancel(ctx)
	if db.noTx {
		return db.releaseNoTx(ctx)
	}
	db.DB.Close()
	sessions.Delete(db.id)
	s := db.sess
	rctx := ctx
	if db.backend != SQLite { // a server that stopped answering
		var cancel context.CancelFunc
		rctx, cancel = context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
	}
	// On a server, raw connections opened during the test mean a count
	// of every table after the rollback; otherwise the rollback can begin
	// the next test's transaction in the same round trip.
	var rawConns int64
	if db.backend != SQLite {
		rawConns = takeRawConns(db.slot.name)
	}
	stillOpen, chained, err := s.close(rctx, rawConns == 0)
	db.slot.chained = chained
	clean := err == nil && len(s.implicitCommits) == 0
	ce := &CleanupError{Backend: db.backend}
	for _, r := range s.refused {
		ce.problems = append(ce.problems, fmt.Sprintf("refused %s: it would have ended the test's transaction", r))
		ce.Statements = append(ce.Statements, r)
	}
	if err != nil {
		if s.logf != nil {
			s.logf("dbtest: %s: rolling back the test's transaction: %v (the connection is discarded; the server rolls back on its own)", db.backend, err)
		}
	} else if !stillOpen && s.ended != "" {
		// Rolled back by the database, and nothing ran after it.
		stillOpen = true
	} else if !stillOpen {
		clean = false
		p := "the test's transaction was no longer open at cleanup: something committed or rolled it back, and what the test wrote until then escaped the rollback"
		if len(s.passed) > 0 {
			p = fmt.Sprintf("the test's transaction was ended from inside by %s; what the test wrote until then escaped the rollback", strings.Join(s.passed, ", then "))
		}
		ce.problems = append(ce.problems, p)
		ce.Statements = append(ce.Statements, s.passed...)
		ce.Ended = true
	}
	if err == nil {
		if p, tables := db.escapedWrites(rctx, !stillOpen, rawConns); p != "" {
			clean = false
			ce.problems = append(ce.problems, p)
			ce.Tables = tables
		}
		if db.dirty {
			clean = false
		}
	}
	currentTests.Delete(db.slot.name)
	if !clean && err == nil {
		// Committed writes: restore the database in place when its schema
		// is the migrated one, which costs less than a new database.
		rerr := restore(rctx, db.backend, db.slot)
		clean = rerr == nil
		var rb *rebuildError
		if errors.As(rerr, &rb) && s.logf != nil {
			s.logf("dbtest: %s: database %s cannot be restored in place: %s; dropping it, the next test gets a new database", db.backend, db.slot.name, rb.reason)
		}
	}
	if rerr := db.pool.release(rctx, db.slot, clean); rerr != nil && s.logf != nil {
		s.logf("%v", rerr)
	}
	var problems error
	if len(ce.problems) > 0 {
		problems = ce
	}
	if db.checkClean != nil {
		return db.checkClean(problems)
	}
	return problems
}

// escapedWrites reports writes that other connections committed to the
// test's database: the rollback did not undo them. rawConns counts the
// raw connections opened to a server's database during the test.
func (db *DB) escapedWrites(ctx context.Context, committed bool, rawConns int64) (string, []string) {
	sl := db.slot
	if db.backend == SQLite && sqliteFileMoved(sl.conn) {
		return fmt.Sprintf("the database file %s was removed or replaced during the test; "+
			"what the test wrote since went to a file that nobody can open again", sl.name), nil
	}
	changed := committed
	switch db.backend {
	case SQLite:
		refresh := !db.sess.readDB || sl.connector.(*sqliteConnector).wal
		v, err := sqliteDataVersion(ctx, sl, refresh)
		changed = changed || err != nil || v != db.dataVersion
	default:
		changed = rawConns > 0 || changed
	}
	if !changed {
		return "", nil
	}
	now, err := countTables(ctx, db.backend, sl.conn)
	if err != nil {
		return "checking for writes that escaped the rollback: " + err.Error(), nil
	}
	diffs, tables := diffCounts(sl.baseline, now)
	if len(db.sess.implicitCommits) > 0 && len(diffs) > 0 {
		// MySQL committed the test's own writes on DDL: the counts cannot
		// tell them from a separate connection's. Say so in the log; the
		// database is rebuilt either way.
		if db.sess.logf != nil {
			db.sess.logf("dbtest: %s: tables left changed after the implicit commit(s): %s (the test's own writes before the DDL, or a separate connection's)",
				db.backend, strings.Join(diffs, ", "))
		}
		db.dirty = true
		return "", nil
	}
	switch {
	case len(diffs) > 0 && committed:
		return "tables left changed: " + strings.Join(diffs, ", "), tables
	case len(diffs) > 0:
		return "writes through a separate connection escaped the test's rollback: " + strings.Join(diffs, ", ") +
			"; let that code share the test's transaction (db.DSN()) or clean up what it commits", tables
	}
	// Committed changes that left every row count as it was (the test
	// cleaned up after its separate connections) are not reported; the
	// database is still rebuilt.
	db.dirty = true
	return "", nil
}

// Backend returns the handle's backend.
func (db *DB) Backend() Backend { return db.backend }

// Dialect returns "sqlite", "postgres" or "mysql".
func (db *DB) Dialect() string { return string(db.backend) }

// DriverName is the database/sql driver name for [DB.DSN].
func (db *DB) DriverName() string {
	if db.noTx {
		return db.RawDriverName()
	}
	return txDriverName
}

// DSN returns a data source name that lands on the test's transaction:
// sql.Open(db.DriverName(), db.DSN()) gives a pool for code under test that
// insists on opening its own, and everything it does is rolled back with
// the test.
//
// Under [WithoutTransaction] there is no test transaction: DriverName and
// DSN are then those of [DB.RawDriverName] and [DB.RawDSN].
func (db *DB) DSN() string {
	if db.noTx {
		return db.RawDSN()
	}
	return txDriverName + ":" + db.id
}

// RawDriverName is the database/sql driver name for [DB.RawDSN]: a wrapper
// of the backend's own driver (pgx, go-sql-driver/mysql or ncruces) that
// records where each connection was opened and explains its lock errors.
// The DSN works with the backend's own driver too.
func (db *DB) RawDriverName() string {
	switch db.backend {
	case Postgres:
		return postgresRawDriverName
	case MySQL:
		return mysqlRawDriverName
	}
	return sqliteRawDriverName
}

// RawDSN returns a DSN for a genuinely separate connection to the test's
// database, with dbtest's lock timeout. Writes through it do not see the
// test's uncommitted rows, and what it commits escapes the rollback: it is
// there to reproduce such bugs on purpose.
func (db *DB) RawDSN() string { return db.prov.rawDSN(db.slot, db.lockTimeout) }

// DatabaseName returns the name of the test's database on the server (or of
// the in-memory database on SQLite).
func (db *DB) DatabaseName() string { return db.slot.name }

// Describe names backend b's server and version, or says why it is
// unavailable.
func Describe(ctx context.Context, b Backend) (string, error) {
	prov, err := getProvider(ctx, b)
	if err != nil {
		var ue *unavailableError
		if errors.As(err, &ue) {
			return "", fmt.Errorf("dbtest: %s unavailable: %s", b, ue.reason)
		}
		return "", err
	}
	if b == SQLite {
		if _, err := InitSQLite(); err != nil {
			return "", err
		}
	}
	return prov.describe(), nil
}

// Main runs the tests of a package and then drops every database dbtest
// made for them. Use it from TestMain:
//
//	func TestMain(m *testing.M) { dbtest.Main(m) }
//
// Without it, a companion process drops them as soon as the test binary
// exits; Main only does it sooner.
func Main(m *testing.M) {
	os.Exit(WrapMain(m).Run())
}

// Runner is what TestMain runs: *testing.M, or a wrapper of it.
type Runner interface{ Run() int }

// WrapMain returns a Runner that runs m and then drops every database
// dbtest made and closes every connection it kept, so that a goroutine
// leak check that runs after it sees none of dbtest's:
//
//	func TestMain(m *testing.M) { goleak.VerifyTestMain(dbtest.WrapMain(m)) }
func WrapMain(m Runner) Runner { return wrappedMain{m} }

type wrappedMain struct{ m Runner }

func (w wrappedMain) Run() int {
	code := w.m.Run()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := releaseAll(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	return code
}
