package dbtest

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// Lock diagnosis on PostgreSQL and MySQL. Every statement that dbtest's
// connections run, the test's and the raw ones, is watched: if it is still
// running after selfDeadlockCheck, dbtest asks the server who blocks it
// (pg_blocking_pids and pg_stat_activity; SHOW ENGINE INNODB STATUS and
// InnoDB's lock-wait tables, see server_locks_innodb.go) and keeps the
// answer for the report. When the blocker
// is the test's own transaction, the wait can never end while the test
// waits: dbtest cancels the statement at once instead of waiting out the
// lock timeout.

// selfDeadlockCheck is how long a statement runs before dbtest looks for
// its blockers; then it looks again every recheckEvery. A statement that
// has the shape of a self-deadlock is looked at after suspectCheck, and
// again every selfDeadlockCheck while it is younger than quickFor. Each
// check reads the server's lock tables, which takes their latch: a few
// checks per wait, not a poll.
const (
	selfDeadlockCheck = 30 * time.Millisecond
	// suspectCheck is the first check of a statement on a separate
	// connection while the test's own transaction holds uncommitted
	// writes: the shape of a self-deadlock, looked at sooner.
	suspectCheck  = 10 * time.Millisecond
	quickFor      = 500 * time.Millisecond // checks selfDeadlockCheck apart for so long
	recheckEvery  = 200 * time.Millisecond
	maxLockChecks = 2 // per server, at once
)

// serverConn is a server session that dbtest opened.
type serverConn struct {
	b       Backend
	id      int64 // PostgreSQL backend PID, MySQL connection id
	db      string
	mu      sync.Mutex
	info    ConnInfo
	stmt    string    // running now
	write   string    // the last statement that may have taken locks
	writeAt time.Time // when it started
	// prevWrite is the one before write: while write waits for a lock,
	// the locks the session holds are prevWrite's or older.
	prevWrite string
	timeout   atomic.Int64
	// untraced: the test runs without lock diagnosis (WithoutLockTrace).
	untraced bool
}

var serverConns sync.Map // "<backend>:<id>" → *serverConn

func serverConnKey(b Backend, id int64) string { return string(b) + ":" + strconv.FormatInt(id, 10) }

func lookupServerConn(b Backend, id int64) *serverConn {
	if v, ok := serverConns.Load(serverConnKey(b, id)); ok {
		return v.(*serverConn)
	}
	return nil
}

func (sc *serverConn) snapshot() (ConnInfo, string, string) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.info, sc.stmt, sc.write
}

func (sc *serverConn) running(head string) {
	sc.mu.Lock()
	sc.stmt = head
	if head != "" {
		if k := strings.ToUpper(firstWord(head)); k != "SELECT" && k != "SHOW" && k != "SET" {
			sc.prevWrite, sc.write, sc.writeAt = sc.write, head, time.Now()
		}
	}
	sc.mu.Unlock()
}

func firstWord(s string) string {
	if w := leadingWords(s, 1); len(w) > 0 {
		return w[0]
	}
	return ""
}

// serverSessionID asks a real connection for its server session id.
func serverSessionID(ctx context.Context, b Backend, c driver.Conn) (int64, error) {
	if pc, ok := c.(*stdlib.Conn); ok {
		return int64(pc.Conn().PgConn().PID()), nil
	}
	rows, st, err := queryConn(ctx, c, "SELECT CONNECTION_ID()", nil)
	if err != nil {
		return 0, err
	}
	defer func() {
		rows.Close()
		if st != nil {
			st.Close()
		}
	}()
	dest := make([]driver.Value, len(rows.Columns()))
	if err := rows.Next(dest); err != nil {
		return 0, err
	}
	switch v := dest[0].(type) {
	case int64:
		return v, nil
	case uint64:
		return int64(v), nil
	case []byte:
		return strconv.ParseInt(string(v), 10, 64)
	}
	return 0, fmt.Errorf("dbtest: %s: unexpected connection id %v", b, dest[0])
}

// lockWatch watches one statement.
type lockWatch struct {
	p     *serverProvider
	sc    *serverConn
	start time.Time
	stmt  string

	mu        sync.Mutex
	timer     *time.Timer
	done      bool
	self      bool
	snap      *LockReport
	checked   int   // checks that ran
	checkErr  error // the last check's error, if it failed
	cancelled bool
	inflight  sync.WaitGroup // a check that is running
	// deadline is a lock timeout shorter than the server keeps (MySQL
	// counts whole seconds): a statement still waiting for a lock then is
	// cancelled, and timedOut says so.
	deadline time.Duration
	timedOut bool
	// suspect: a separate connection's statement while the test's
	// transaction holds writes, checked more often (see suspectCheck).
	suspect bool
}

// watchHook returns the statement hook of connection sc.
func (p *serverProvider) watchHook(sc *serverConn) stmtHook {
	if sc.untraced {
		return p.untracedHook(sc)
	}
	return func(ctx context.Context, query string) (context.Context, func(error) error) {
		head := statementHead(query)
		sc.running(head)
		w := &lockWatch{p: p, sc: sc, start: time.Now(), stmt: head}
		if t := time.Duration(sc.timeout.Load()); t > 0 && t < p.d.lockTimeoutStep() {
			w.deadline = t
		}
		first := selfDeadlockCheck
		if sc.info.Role == RoleRaw && ownTxHasWritten(sc) {
			first, w.suspect = suspectCheck, true
		}
		w.mu.Lock()
		w.timer = time.AfterFunc(w.nextCheck(first), w.check)
		w.mu.Unlock()
		return ctx, func(err error) error {
			w.mu.Lock()
			w.done = true
			w.timer.Stop()
			w.mu.Unlock()
			w.inflight.Wait() // leave no check behind
			sc.running("")
			return w.explain(err)
		}
	}
}

func (w *lockWatch) check() {
	w.mu.Lock()
	if w.done {
		w.mu.Unlock()
		return
	}
	select {
	case w.p.checks <- struct{}{}:
	default:
		// Enough checks are running; look again soon.
		w.timer.Reset(selfDeadlockCheck)
		w.mu.Unlock()
		return
	}
	w.inflight.Add(1)
	w.mu.Unlock()
	defer w.inflight.Done()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	rep, err := w.p.d.blockers(ctx, w.p.admin, w.sc.id, w.stmt)
	if err == nil && len(rep.Holders) > 0 {
		if info, _, _ := w.sc.snapshot(); !selfDeadlock(info, rep) {
			w.p.findCycle(ctx, w.sc.id, rep)
		}
	}
	cancel()
	<-w.p.checks
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return
	}
	w.checked++
	w.checkErr = err
	if err != nil {
		// Look again soon: the lock tables may be busy.
		w.timer.Reset(selfDeadlockCheck)
		return
	}
	if len(rep.Holders) > 0 {
		w.snap = rep
		info, _, _ := w.sc.snapshot()
		w.self = selfDeadlock(info, rep)
		if w.self && !w.cancelled {
			w.cancel()
			return
		}
	}
	waiting := rep.Wanted != "" || len(rep.Holders) > 0
	if w.deadline > 0 && waiting && time.Since(w.start) >= w.deadline && !w.cancelled {
		if w.snap == nil {
			w.snap = rep
		}
		w.timedOut = true
		w.cancel()
		return
	}
	if w.suspect && time.Since(w.start) < quickFor {
		w.timer.Reset(w.nextCheck(selfDeadlockCheck))
		return
	}
	w.timer.Reset(w.nextCheck(recheckEvery))
}

// nextCheck is how long to wait before the next check: d, or less to be
// on time for the deadline.
func (w *lockWatch) nextCheck(d time.Duration) time.Duration {
	if w.deadline > 0 {
		if left := w.deadline - time.Since(w.start); left > 0 && left < d {
			return left
		}
	}
	return d
}

// cancel stops the watched statement; w.mu is held.
func (w *lockWatch) cancel() {
	w.cancelled = true
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	w.p.d.cancelQuery(ctx, w.p.admin, w.sc.id)
	cancel()
}

// selfDeadlock reports whether the waiter waits on its own test's
// transaction. When the server named the blockers, one of them being the
// test's transaction is enough: that one is never released while the test
// waits. When they were inferred, every candidate must be the test's
// transaction.
func selfDeadlock(waiter ConnInfo, rep *LockReport) bool {
	if waiter.Role == RoleTestTx || len(rep.Holders) == 0 {
		return false
	}
	own := func(h LockHolder) bool {
		return h.Conn.Role == RoleTestTx && h.Conn.Test != "" && h.Conn.Test == waiter.Test
	}
	for _, h := range rep.Holders {
		if own(h) && !rep.inferred {
			return true
		}
		if !own(h) && rep.inferred {
			return false
		}
	}
	return rep.inferred
}

func (w *lockWatch) explain(err error) error {
	if err == nil {
		return nil
	}
	var le *LockError
	if errors.As(err, &le) {
		return err
	}
	w.mu.Lock()
	self, snap, checked, checkErr, timedOut := w.self, w.snap, w.checked, w.checkErr, w.timedOut
	w.mu.Unlock()
	deadlock, isLock := w.p.d.lockError(err)
	isLock = isLock || timedOut
	if !self && !isLock {
		return err
	}
	rep := snap
	if rep == nil {
		rep = &LockReport{}
	}
	info, _, _ := w.sc.snapshot()
	rep.Backend, rep.Database, rep.Waiter, rep.Statement = w.p.b, w.sc.db, info, w.stmt
	rep.Waited = time.Since(w.start)
	rep.LockTimeout = time.Duration(w.sc.timeout.Load())
	rep.SelfDeadlock, rep.Deadlock = self, deadlock
	if deadlock {
		rep.cycle = nil // the server reported it: its account is better
		rep.ServerDetail = w.p.d.deadlockDetail(err, w.p.admin)
	} else if isLock && !self && len(rep.Holders) > 0 {
		if rep.cycle == nil {
			// The waiter gave up before a check saw the cycle close,
			// or the server's deadlock check: the other end may wait
			// on it now.
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			w.p.findCycle(ctx, w.sc.id, rep)
			cancel()
		}
		if rep.cycle != nil {
			rep.Deadlock = true
			rep.ServerDetail = w.p.cycleDetail(rep)
		}
	}
	if timedOut && !self {
		rep.ServerDetail = strings.TrimPrefix(rep.ServerDetail+fmt.Sprintf("\nthe server counts lock waits in steps of %v: dbtest stopped the statement at the %v lock timeout",
			w.p.d.lockTimeoutStep(), w.deadline), "\n")
		// Report the server's own lock-wait timeout, which code under test
		// may match, rather than the cancellation that stood in for it.
		err = w.p.d.lockTimeoutError(w.deadline)
	}
	if snap == nil {
		switch {
		case checkErr != nil:
			rep.ServerDetail += fmt.Sprintf("\ndbtest could not read the server's lock tables (%d checks): %v", checked, checkErr)
		case checked > 0:
			rep.ServerDetail += fmt.Sprintf("\nthe server's lock tables showed no blocker in %d checks", checked)
		}
		rep.ServerDetail = strings.TrimPrefix(rep.ServerDetail, "\n")
	}
	rep.Remedy = serverRemedy(rep)
	return &LockError{Err: err, Report: rep}
}

// untracedHook is the statement hook of a connection whose test runs
// without lock diagnosis: no watch, no blocker checks; a lock error is still
// a *LockError, with what the error itself tells.
func (p *serverProvider) untracedHook(sc *serverConn) stmtHook {
	return func(ctx context.Context, query string) (context.Context, func(error) error) {
		start := time.Now()
		return ctx, func(err error) error {
			if err == nil {
				return nil
			}
			deadlock, isLock := p.d.lockError(err)
			var le *LockError
			if !isLock || errors.As(err, &le) {
				return err
			}
			info, _, _ := sc.snapshot()
			rep := &LockReport{Backend: p.b, Database: sc.db, Waiter: info, Statement: statementHead(query),
				Waited: time.Since(start), LockTimeout: time.Duration(sc.timeout.Load()), Deadlock: deadlock, untraced: true}
			rep.Remedy = serverRemedy(rep)
			return &LockError{Err: err, Report: rep}
		}
	}
}

func serverRemedy(r *LockReport) string {
	switch {
	case r.Deadlock:
		return "two transactions took the same locks in opposite orders: take them in one order " +
			"(sort the rows or tables you update), or retry the transaction that lost"
	case r.SelfDeadlock:
		return "the test's transaction holds the lock until the test ends, so this connection can never get it: " +
			"write through the test's handle (or its transaction), or open the code's pool with " +
			"sql.Open(db.DriverName(), db.DSN()) so that it shares the test's transaction"
	case r.Waiter.Role == RoleTestTx:
		return "a separate connection holds the lock in an open transaction: commit or roll it back before the test writes, " +
			"or let that code share the test's transaction through db.DSN()"
	}
	return "another transaction holds the lock: keep transactions short, and finish one before another writes the same rows"
}

// holderInfo names the server session id as dbtest knows it.
func holderInfo(b Backend, id int64) (ConnInfo, string) {
	info, write, _ := holderInfoAt(b, id)
	return info, write
}

// holderInfoAt is holderInfo with the time its last write started.
func holderInfoAt(b Backend, id int64) (ConnInfo, string, time.Time) {
	if sc := lookupServerConn(b, id); sc != nil {
		sc.mu.Lock()
		defer sc.mu.Unlock()
		return sc.info, sc.write, sc.writeAt
	}
	return ConnInfo{ID: int(id), Role: RoleUnknown}, "", time.Time{}
}

// PostgreSQL.

func (postgresDialect) blockers(ctx context.Context, admin *sql.DB, waiter int64, _ string) (*LockReport, error) {
	rep := &LockReport{}
	err := admin.QueryRowContext(ctx, `SELECT coalesce(string_agg(mode || ' on ' || locktype, ', '), '')
		FROM pg_locks WHERE pid = $1 AND NOT granted`, waiter).Scan(&rep.Wanted)
	if err != nil {
		return nil, err
	}
	rows, err := admin.QueryContext(ctx, `SELECT a.pid, coalesce(a.state, ''), coalesce(a.query, ''),
			coalesce(a.wait_event_type, '') = 'Lock',
			coalesce(extract(epoch FROM clock_timestamp() - a.xact_start), 0)::float8,
			coalesce((SELECT string_agg(DISTINCT l.mode, ', ') FROM pg_locks l
				WHERE l.pid = a.pid AND l.granted AND l.locktype IN ('relation', 'transactionid', 'tuple')
				AND l.mode NOT IN ('AccessShareLock', 'ExclusiveLock')), '')
		FROM pg_stat_activity a WHERE a.pid = ANY (pg_blocking_pids($1))`, waiter)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var pid int64
		var state, query, modes string
		var waiting bool
		var age float64
		if err := rows.Scan(&pid, &state, &query, &waiting, &age, &modes); err != nil {
			return nil, err
		}
		info, write := holderInfo(Postgres, pid)
		if sc := lookupServerConn(Postgres, pid); sc != nil && waiting {
			// It waits itself (a deadlock): its locks are older than
			// the statement it runs.
			sc.mu.Lock()
			if sc.stmt == sc.write && sc.prevWrite != "" {
				write = sc.prevWrite
			}
			sc.mu.Unlock()
		}
		if info.Role == RoleUnknown {
			info.ID = int(pid)
		}
		h := LockHolder{Conn: info, Lock: modes, Since: -1, HeldFor: time.Duration(age * float64(time.Second)), Statement: write}
		if h.Lock == "" {
			h.Lock = "a conflicting lock"
		}
		if h.Statement == "" {
			h.Statement = statementHead(query)
		}
		if state != "" && state != "active" {
			h.Running = "nothing (" + state + ")"
		} else {
			h.Running = statementHead(query)
		}
		rep.Holders = append(rep.Holders, h)
	}
	return rep, rows.Err()
}

func (postgresDialect) cancelQuery(ctx context.Context, admin *sql.DB, id int64) {
	admin.ExecContext(ctx, "SELECT pg_cancel_backend($1)", id)
}

func (postgresDialect) lockError(err error) (deadlock, lock bool) {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false, false
	}
	switch pe.Code {
	case "40P01":
		return true, true
	case "55P03", "40001":
		return false, true
	}
	return false, false
}

// deadlockDetail returns PostgreSQL's account of the deadlock. The server
// sends the statements of the processes to its log only; dbtest adds those
// of the processes it knows.
func (postgresDialect) deadlockDetail(err error, _ *sql.DB) string {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return ""
	}
	lines := []string{pe.Detail}
	seen := map[int64]bool{}
	for _, m := range pgProcess.FindAllStringSubmatch(pe.Detail, -1) {
		pid, _ := strconv.ParseInt(m[1], 10, 64)
		if seen[pid] {
			continue
		}
		seen[pid] = true
		if sc := lookupServerConn(Postgres, pid); sc != nil {
			info, stmt, write := sc.snapshot()
			if stmt == "" {
				stmt = write
			}
			lines = append(lines, fmt.Sprintf("Process %d (%s, opened at %s): %s", pid, info.Role, info.Location, stmt))
		}
	}
	return strings.Join(lines, "\n")
}

var pgProcess = regexp.MustCompile(`Process (\d+) waits`)

// MySQL and MariaDB.

func (mysqlDialect) cancelQuery(ctx context.Context, admin *sql.DB, id int64) {
	admin.ExecContext(ctx, "KILL QUERY "+strconv.FormatInt(id, 10))
}

func (mysqlDialect) lockError(err error) (deadlock, lock bool) {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return false, false
	}
	switch me.Number {
	case 1213:
		return true, true
	case 1205:
		return false, true
	}
	return false, false
}

// deadlockDetail returns InnoDB's account of its latest deadlock: both
// transactions and their statements.
func (mysqlDialect) deadlockDetail(_ error, admin *sql.DB) string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var typ, name, status string
	if err := admin.QueryRowContext(ctx, "SHOW ENGINE INNODB STATUS").Scan(&typ, &name, &status); err != nil {
		return ""
	}
	i := strings.Index(status, "LATEST DETECTED DEADLOCK")
	if i < 0 {
		return ""
	}
	section := status[i:]
	if j := strings.Index(section, "\nTRANSACTIONS\n"); j > 0 {
		section = section[:j]
	}
	var keep []string
	for _, line := range strings.Split(section, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "*** (") || strings.HasPrefix(line, "MySQL thread id") || strings.HasPrefix(line, "MariaDB thread id") ||
			firstWord(line) == "UPDATE" || firstWord(line) == "INSERT" || firstWord(line) == "DELETE" || firstWord(line) == "SELECT" {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}

// The raw drivers of the server backends: the real drivers, with each
// connection's origin recorded and its statements watched.

const (
	postgresRawDriverName = "dbtest-pgx"
	mysqlRawDriverName    = "dbtest-mysql"
)

func init() {
	sql.Register(postgresRawDriverName, serverRawDriver{b: Postgres})
	sql.Register(mysqlRawDriverName, serverRawDriver{b: MySQL})
}

type serverRawDriver struct{ b Backend }

func (d serverRawDriver) Open(dsn string) (driver.Conn, error) {
	c, err := d.OpenConnector(dsn)
	if err != nil {
		return nil, err
	}
	return c.Connect(context.Background())
}

func (d serverRawDriver) OpenConnector(dsn string) (driver.Connector, error) {
	var dbname string
	var inner driver.Connector
	var err error
	switch d.b {
	case Postgres:
		cfg, perr := pgx.ParseConfig(dsn)
		if perr != nil {
			return nil, fmt.Errorf("dbtest: %w", redactErr(perr, dsn))
		}
		dbname = cfg.Database
		inner, err = postgresDialect{}.connector(dsn)
	case MySQL:
		cfg, perr := mysql.ParseDSN(dsn)
		if perr != nil {
			return nil, fmt.Errorf("dbtest: %w", redactErr(perr, dsn))
		}
		dbname = cfg.DBName
		inner, err = mysqlDialect{}.connector(dsn)
	}
	if err != nil {
		return nil, err
	}
	return &serverRawConnector{d: d, inner: inner, db: dbname}, nil
}

type serverRawConnector struct {
	d     serverRawDriver
	inner driver.Connector
	db    string
}

func (c *serverRawConnector) Driver() driver.Driver { return c.d }

func (c *serverRawConnector) Connect(ctx context.Context) (driver.Conn, error) {
	loc := originOf(ctx)
	dc, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	prov, err := getProvider(ctx, c.d.b)
	if err != nil {
		return dc, nil // no dbtest server: a plain connection
	}
	sp, ok := prov.(*serverProvider)
	if !ok {
		return dc, nil
	}
	id, err := serverSessionID(ctx, c.d.b, dc)
	if err != nil {
		dc.Close()
		return nil, err
	}
	test, _ := currentTest(c.db)
	sc := &serverConn{b: c.d.b, id: id, db: c.db, untraced: rawIsUntraced(c.db), info: ConnInfo{ID: int(id), Role: RoleRaw, Location: loc, Test: test}}
	sc.timeout.Store(int64(rawLockTimeout(c.db)))
	key := serverConnKey(c.d.b, id)
	serverConns.Store(key, sc)
	markRawConn(c.db)
	return &reportingConn{Conn: dc, hook: sp.watchHook(sc), explain: noFinish,
		onClose: func() { serverConns.CompareAndDelete(key, sc) }}, nil
}

// rawConns counts, per database, the raw connections opened to it during
// the current test: their commits escape the test's rollback, so cleanup
// checks the database when there were any.
var rawConns sync.Map // database name → *atomic.Int64

func markRawConn(db string) {
	v, _ := rawConns.LoadOrStore(db, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

// takeRawConns returns how many raw connections were opened to db since
// the last call, and starts counting again.
func takeRawConns(db string) int64 {
	if v, ok := rawConns.Load(db); ok {
		return v.(*atomic.Int64).Swap(0)
	}
	return 0
}

// rawLockTimeout is the lock timeout of the test now using db.
var rawTimeouts sync.Map // database name → time.Duration

func rawLockTimeout(db string) time.Duration {
	if v, ok := rawTimeouts.Load(db); ok {
		return v.(time.Duration)
	}
	return DefaultLockTimeout
}

// rawUntraced tells, per database, whether the test now using it runs
// without lock diagnosis.
var rawUntraced sync.Map // database name → bool

func rawIsUntraced(db string) bool {
	v, ok := rawUntraced.Load(db)
	return ok && v.(bool)
}

// testTxConns holds, per database, the connection of the test's
// transaction that uses it now.
var testTxConns sync.Map // database name → *serverConn

// ownTxHasWritten reports whether the transaction of the test that opened
// raw connection sc has written, and so may hold locks sc will wait for.
func ownTxHasWritten(sc *serverConn) bool {
	v, ok := testTxConns.Load(sc.db)
	if !ok {
		return false
	}
	tx := v.(*serverConn)
	tx.mu.Lock()
	defer tx.mu.Unlock()
	return tx.write != "" && tx.info.Test == sc.info.Test
}

// Deadlocks the server did not report. PostgreSQL looks for a deadlock
// only once a lock wait has lasted deadlock_timeout; when that is not below
// the lock timeout (dbtest lowers it where the role may, see
// server_tune.go), the lock timeout ends the wait first, and the server
// calls it a lock timeout. dbtest follows pg_blocking_pids from the
// waiter's blockers: when the chain comes back to the waiter, it was a
// deadlock.

// A cycleFinder is a server whose lock tables tell who waits for whom.
type cycleFinder interface {
	// waitCycle returns a cycle of waits through waiter, starting at one
	// of holders (which waiter waited for) and ending at waiter, with
	// what each session runs; nil when there is none.
	waitCycle(ctx context.Context, admin *sql.DB, waiter int64, holders []int64) ([]cycleMember, error)
}

// cycleMember is a session in a cycle of lock waits.
type cycleMember struct {
	id   int64
	stmt string // the statement it runs: the one that waits
}

// findCycle records in rep a cycle of waits through waiter, if the server
// shows one.
func (p *serverProvider) findCycle(ctx context.Context, waiter int64, rep *LockReport) {
	cf, ok := p.d.(cycleFinder)
	if !ok {
		return
	}
	ids := make([]int64, 0, len(rep.Holders))
	for _, h := range rep.Holders {
		ids = append(ids, int64(h.Conn.ID))
	}
	if cycle, err := cf.waitCycle(ctx, p.admin, waiter, ids); err == nil && len(cycle) > 0 {
		rep.cycle = cycle
	}
}

// cycleDetail describes the cycle dbtest found for rep, and why the server
// did not report it.
func (p *serverProvider) cycleDetail(rep *LockReport) string {
	var b strings.Builder
	b.WriteString("dbtest found a deadlock in pg_blocking_pids, which the server did not report")
	dt, advice := p.deadlockTimeout()
	switch {
	case dt > 0 && dt >= rep.LockTimeout:
		fmt.Fprintf(&b, ": its deadlock_timeout on dbtest's databases (%v) is not below the lock timeout (%v), "+
			"so the lock timeout ended the wait before the server looked for a deadlock", dt, rep.LockTimeout)
	case dt > 0:
		fmt.Fprintf(&b, ": the lock timeout (%v) ended the wait before the server's deadlock check (deadlock_timeout %v) found it", rep.LockTimeout, dt)
	}
	fmt.Fprintf(&b, "\n%s waits in %s", rep.Waiter, rep.Statement)
	for i, m := range rep.cycle {
		info, _ := holderInfo(rep.Backend, m.id)
		if i == len(rep.cycle)-1 {
			fmt.Fprintf(&b, "\n  for %s", info)
			break
		}
		fmt.Fprintf(&b, "\n  for %s, which waits in %s", info, statementHead(m.stmt))
	}
	if dt >= rep.LockTimeout && advice != "" {
		b.WriteString("\n" + advice)
	}
	return b.String()
}

// waitCycle follows pg_blocking_pids from the holders, at most eight
// sessions deep.
func (postgresDialect) waitCycle(ctx context.Context, admin *sql.DB, waiter int64, holders []int64) ([]cycleMember, error) {
	rows, err := admin.QueryContext(ctx, `WITH RECURSIVE w(pid, path) AS (
			SELECT h::int, ARRAY[h::int] FROM unnest($2::bigint[]) AS h
		UNION ALL
			SELECT b, w.path || b FROM w, unnest(pg_blocking_pids(w.pid)) AS b
			WHERE w.pid <> $1 AND b <> ALL (w.path) AND cardinality(w.path) < 8
		)
		SELECT p.pid, coalesce(a.query, '')
		FROM (SELECT path FROM w WHERE pid = $1 LIMIT 1) AS c
		CROSS JOIN unnest(c.path) WITH ORDINALITY AS p(pid, n)
		LEFT JOIN pg_stat_activity a ON a.pid = p.pid
		ORDER BY p.n`, waiter, holders)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cycle []cycleMember
	for rows.Next() {
		var m cycleMember
		if err := rows.Scan(&m.id, &m.stmt); err != nil {
			return nil, err
		}
		cycle = append(cycle, m)
	}
	return cycle, rows.Err()
}
