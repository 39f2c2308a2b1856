package dbtest

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ncruces/go-sqlite3"
	sqlitedriver "github.com/ncruces/go-sqlite3/driver"
	"github.com/ncruces/go-sqlite3/vfs"
)

// SQLite lock tracing. Every connection dbtest opens to a SQLite database,
// the test's own and the raw ones, carries an id in its URI. The dbtest VFS
// records, per database, each lock level a connection takes, gives up or is
// denied, with the statement the connection was running; SQLite's trace hook
// tells which statement that is. When a statement fails with SQLITE_BUSY,
// the timeline explains who held what, since when, and why. The statement
// in flight comes from dbtest's own connection wrappers, which see every
// statement before SQLite does.

var connSeq atomic.Int64

// connState is one connection's lock state on a database.
type connState struct {
	info ConnInfo
	// Guarded by the tracker's mutex:
	level     vfs.LockLevel
	since     time.Time // when level was reached
	sinceStmt string    // statement running when level was reached
	stmt      string    // statement running now
	wanted    vfs.LockLevel
	blockers  []*connState // who held what it last wanted
	selfLock  bool         // it waits on the test's own transaction
	waitStart time.Time

	timeout atomic.Int64 // lock timeout in nanoseconds, read by the busy handler
}

// lockTracker is the lock timeline of one SQLite database.
type lockTracker struct {
	name string
	// quiet: the test now using the database runs without lock diagnosis
	// (WithoutLockTrace); only lock levels are kept, so that the next
	// test's timeline starts right.
	quiet atomic.Bool

	mu     sync.Mutex
	start  time.Time
	conns  map[int]*connState
	events []LockEvent
}

const maxEvents = 512

var (
	trackersMu sync.Mutex
	trackers   = map[string]*lockTracker{}
	// pendingConns holds what is known of a connection before its file is
	// opened: who opened it, and from where.
	pendingConns sync.Map // int → ConnInfo
)

func trackerFor(name string) *lockTracker {
	trackersMu.Lock()
	defer trackersMu.Unlock()
	tr := trackers[name]
	if tr == nil {
		tr = &lockTracker{name: name, start: time.Now(), conns: map[int]*connState{}}
		trackers[name] = tr
	}
	return tr
}

func dropTracker(name string) {
	trackersMu.Lock()
	delete(trackers, name)
	trackersMu.Unlock()
}

// attach registers connection id as a user of the database.
func (t *lockTracker) attach(id int) *connState {
	info := ConnInfo{ID: id, Role: RoleUnknown, Location: "unknown location"}
	if v, ok := pendingConns.LoadAndDelete(id); ok {
		info = v.(ConnInfo)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	cs := t.conns[id]
	if cs == nil || id == 0 {
		cs = &connState{info: info}
		if id != 0 {
			t.conns[id] = cs
		}
	}
	return cs
}

func (t *lockTracker) detach(cs *connState) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.conns[cs.info.ID] == cs {
		delete(t.conns, cs.info.ID)
	}
}

// conn returns the state of connection id, if it is on this database.
func (t *lockTracker) conn(id int) *connState {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.conns[id]
}

// reset starts a new timeline, for a new test on the database, recorded
// or not.
func (t *lockTracker) reset(traced bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.start = time.Now()
	t.events = t.events[:0]
	t.quiet.Store(!traced)
}

func (t *lockTracker) eventLocked(cs *connState, action string, level vfs.LockLevel, now time.Time) {
	if len(t.events) >= maxEvents {
		copy(t.events, t.events[maxEvents/2:])
		t.events = t.events[:len(t.events)-maxEvents/2]
	}
	// The statement is kept whole here and shortened only for a report:
	// this runs for every lock, and must not allocate.
	t.events = append(t.events, LockEvent{
		At: now.Sub(t.start), Conn: cs.info.ID, Action: action,
		Lock: lockName(level), Statement: cs.stmt,
	})
}

func (t *lockTracker) locked(cs *connState, level vfs.LockLevel, err error) {
	if t.quiet.Load() {
		// Levels, and how long a failing wait lasted; nothing else.
		t.mu.Lock()
		switch {
		case err == nil:
			cs.level = max(cs.level, level)
			if !cs.waitStart.IsZero() && level >= cs.wanted {
				cs.waitStart, cs.wanted = time.Time{}, 0
			}
		case cs.waitStart.IsZero():
			cs.waitStart, cs.wanted = time.Now(), level
		}
		t.mu.Unlock()
		return
	}
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	waiting := !cs.waitStart.IsZero()
	if err == nil {
		if level <= cs.level {
			return
		}
		cs.level, cs.since, cs.sinceStmt = level, now, cs.stmt
		switch {
		case !waiting:
			t.eventLocked(cs, "acquired", level, now)
		case level >= cs.wanted:
			// The wait is over.
			t.eventLocked(cs, fmt.Sprintf("acquired after %dms", now.Sub(cs.waitStart).Milliseconds()), level, now)
			cs.waitStart, cs.wanted, cs.blockers, cs.selfLock = time.Time{}, 0, nil, false
		}
		// Otherwise SQLite is retrying its way back up: not news.
		return
	}
	if !errors.Is(err, sqlite3.BUSY) {
		return
	}
	if !waiting {
		cs.waitStart = now
		t.eventLocked(cs, "denied", level, now)
	}
	cs.wanted = level
	cs.blockers = cs.blockers[:0]
	cs.selfLock = false
	for _, o := range t.conns {
		if o == cs || !conflicts(level, o.level) {
			continue
		}
		cs.blockers = append(cs.blockers, o)
		if o.info.Role == RoleTestTx && cs.info.Role != RoleTestTx && o.info.Test != "" && o.info.Test == cs.info.Test {
			cs.selfLock = true
		}
	}
}

// conflicts reports whether a connection holding held keeps another from
// taking want.
func conflicts(want, held vfs.LockLevel) bool {
	switch want {
	case vfs.LOCK_SHARED:
		return held >= vfs.LOCK_PENDING
	case vfs.LOCK_RESERVED:
		return held >= vfs.LOCK_RESERVED
	case vfs.LOCK_PENDING, vfs.LOCK_EXCLUSIVE:
		return held >= vfs.LOCK_SHARED
	}
	return false
}

func (t *lockTracker) unlocked(cs *connState, level vfs.LockLevel) {
	if t.quiet.Load() {
		t.mu.Lock()
		cs.level = min(cs.level, level)
		t.mu.Unlock()
		return
	}
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if level >= cs.level {
		return
	}
	cs.level, cs.since = level, now
	if level == vfs.LOCK_NONE {
		cs.sinceStmt = ""
	}
	if cs.waitStart.IsZero() {
		t.eventLocked(cs, "released to", level, now)
	}
}

func (t *lockTracker) setStmt(cs *connState, sql string) {
	if t.quiet.Load() {
		return
	}
	t.mu.Lock()
	cs.stmt = sql
	t.mu.Unlock()
}

// report explains why connection cs could not get its lock.
func (t *lockTracker) report(cs *connState) *LockReport {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	r := &LockReport{
		Backend:      SQLite,
		Database:     t.name,
		Waiter:       cs.info,
		Statement:    statementHead(cs.stmt),
		Wanted:       lockName(cs.wanted),
		SelfDeadlock: cs.selfLock,
		LockTimeout:  time.Duration(cs.timeout.Load()),
		untraced:     t.quiet.Load(),
	}
	if r.untraced {
		r.Wanted = ""
	}
	if !cs.waitStart.IsZero() {
		r.Waited = now.Sub(cs.waitStart)
	}
	for _, o := range cs.blockers {
		r.Holders = append(r.Holders, LockHolder{
			Conn: o.info, Lock: lockName(o.level), Since: o.since.Sub(t.start),
			HeldFor: now.Sub(o.since), Statement: statementHead(o.sinceStmt), Running: statementHead(o.stmt),
		})
	}
	r.Timeline = append([]LockEvent(nil), t.events...)
	for i := range r.Timeline {
		r.Timeline[i].Statement = statementHead(r.Timeline[i].Statement)
	}
	r.Remedy = sqliteRemedy(r)
	cs.waitStart, cs.wanted, cs.blockers, cs.selfLock = time.Time{}, 0, nil, false
	return r
}

func sqliteRemedy(r *LockReport) string {
	for _, h := range r.Holders {
		if h.Conn.Role == RoleTestTx && r.Waiter.Role != RoleTestTx {
			return "the test's transaction holds the lock until the test ends, so this connection can never get it: " +
				"write through the test's handle (or its transaction), or open the code's pool with " +
				"sql.Open(db.DriverName(), db.DSN()) so that it shares the test's transaction"
		}
	}
	if (r.Wanted == "EXCLUSIVE" || r.Wanted == "PENDING") && len(r.Holders) > 0 && r.Holders[0].Lock == "SHARED" {
		return "a read transaction holds SHARED: in rollback-journal mode a writer cannot commit while any reader is open; " +
			"end the read transaction first, or use WAL mode (dbtest.WithSQLiteWAL), where readers do not block the writer"
	}
	if r.Waiter.Role == RoleTestTx {
		return "another connection holds the lock: commit or roll back its transaction before the test writes, " +
			"or let it share the test's transaction through db.DSN()"
	}
	return "two separate connections want the same database: SQLite allows one writer at a time; " +
		"finish one transaction before the other writes, or retry with backoff"
}

func lockName(l vfs.LockLevel) string {
	switch l {
	case vfs.LOCK_NONE:
		return "NONE"
	case vfs.LOCK_SHARED:
		return "SHARED"
	case vfs.LOCK_RESERVED:
		return "RESERVED"
	case vfs.LOCK_PENDING:
		return "PENDING"
	case vfs.LOCK_EXCLUSIVE:
		return "EXCLUSIVE"
	}
	return "lock " + strconv.Itoa(int(l))
}

// tracedSQLiteDSN is the DSN of connection id to the database at path: an
// in-memory database, or a file in WAL mode.
func tracedSQLiteDSN(path string, wal bool, id int64, lockTimeout time.Duration) string {
	q := url.Values{}
	if wal {
		q.Set("vfs", traceFileVFSName)
		q.Add("_pragma", "journal_mode(wal)")
	} else {
		q.Set("vfs", traceVFSName)
	}
	q.Add("_pragma", "foreign_keys(1)")
	// The busy handler that dbtest installs replaces this busy timeout;
	// it is there for the plain sqlite3 driver.
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", lockTimeout.Milliseconds()))
	if id != 0 {
		q.Set(connParam, strconv.FormatInt(id, 10))
	} else {
		q.Set("dbtest_lock_timeout", lockTimeout.String())
	}
	return (&url.URL{Scheme: "file", OmitHost: true, Path: path, RawQuery: q.Encode()}).String()
}

// sqliteConnector opens traced connections to one database: each one gets
// an id, an origin, a statement trace and a busy handler that gives up at
// the lock timeout, or at once when it waits on the test's own transaction.
type sqliteConnector struct {
	path        string // "/<name>" in memory, or the file's path
	wal         bool   // a file in WAL mode
	role        ConnRole
	lockTimeout time.Duration
	test        func() (test, location string) // the test using the database now

	mu   sync.Mutex
	last *connState // the state of the latest connection, for slots
}

func (c *sqliteConnector) Driver() driver.Driver { return sqliteRawDriver{} }

func (c *sqliteConnector) Connect(ctx context.Context) (driver.Conn, error) {
	id := connSeq.Add(1)
	info := ConnInfo{ID: int(id), Role: c.role, Location: originOf(ctx)}
	if c.test != nil {
		info.Test, _ = c.test()
	}
	pendingConns.Store(int(id), info)
	defer pendingConns.Delete(int(id))
	inner, err := (&sqlitedriver.SQLite{}).OpenConnector(tracedSQLiteDSN(c.path, c.wal, id, c.lockTimeout))
	if err != nil {
		return nil, err
	}
	dc, err := inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	tr := trackerFor(c.path)
	cs := tr.conn(int(id))
	if cs == nil {
		dc.Close()
		return nil, fmt.Errorf("dbtest: sqlite: connection #%d did not open its database through the dbtest VFS", id)
	}
	cs.timeout.Store(int64(c.lockTimeout))
	raw := dc.(sqlitedriver.Conn).Raw()
	if err := instrument(raw, tr, cs); err != nil {
		dc.Close()
		return nil, err
	}
	c.mu.Lock()
	c.last = cs
	c.mu.Unlock()
	if c.role == RoleTestTx {
		return dc, nil
	}
	explain := func(err error) error { return explainSQLite(err, tr, cs) }
	reading := func(query string) func() {
		tr.setStmt(cs, query)
		return func() { tr.setStmt(cs, "") }
	}
	return &reportingConn{Conn: dc, hook: sqliteHook(tr, cs, explain), explain: explain, reading: reading}, nil
}

// state returns the tracker and state of the connector's latest connection.
func (c *sqliteConnector) state() (*lockTracker, *connState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return trackerFor(c.path), c.last
}

// instrument installs the busy handler: it backs off up to the lock
// timeout, and gives up at once on a self-deadlock.
func instrument(raw *sqlite3.Conn, tr *lockTracker, cs *connState) error {
	var first time.Time
	return raw.BusyHandler(func(ctx context.Context, count int) bool {
		if count == 0 {
			first = time.Now()
		}
		tr.mu.Lock()
		self := cs.selfLock
		tr.mu.Unlock()
		if self || time.Since(first) >= time.Duration(cs.timeout.Load()) {
			return false
		}
		// Back off from 100 µs to 10 ms.
		d := time.Duration(100<<min(count, 7)) * time.Microsecond
		if d > 10*time.Millisecond {
			d = 10 * time.Millisecond
		}
		select {
		case <-time.After(d):
			return true
		case <-ctx.Done():
			return false
		}
	})
}

// explainSQLite turns SQLITE_BUSY and SQLITE_LOCKED into a [LockError].
func explainSQLite(err error, tr *lockTracker, cs *connState) error {
	if err == nil || !(errors.Is(err, sqlite3.BUSY) || errors.Is(err, sqlite3.LOCKED)) {
		return err
	}
	var le *LockError
	if errors.As(err, &le) {
		return err
	}
	return &LockError{Err: err, Report: tr.report(cs)}
}

// sqliteRawDriver is the driver of [DB.RawDriverName] on SQLite: the ncruces
// driver with dbtest's tracing. Its DSNs are those of [DB.RawDSN].
type sqliteRawDriver struct{}

const sqliteRawDriverName = "dbtest-sqlite"

func init() {
	sql.Register(sqliteRawDriverName, sqliteRawDriver{})
}

func (sqliteRawDriver) Open(dsn string) (driver.Conn, error) {
	c, err := sqliteRawDriver{}.OpenConnector(dsn)
	if err != nil {
		return nil, err
	}
	return c.Connect(context.Background())
}

// OpenConnector accepts "file:/<database>?..." DSNs of dbtest's databases.
func (sqliteRawDriver) OpenConnector(dsn string) (driver.Connector, error) {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme != "file" || len(u.Path) < 2 {
		return nil, fmt.Errorf("dbtest: %q is not a DSN of a dbtest SQLite database (use db.RawDSN())", dsn)
	}
	q := u.Query()
	timeout := DefaultLockTimeout
	if v := q.Get("dbtest_lock_timeout"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return nil, fmt.Errorf("dbtest: DSN %q: dbtest_lock_timeout: %w", dsn, err)
		}
		timeout = d
	}
	wal := q.Get("vfs") == traceFileVFSName
	name := u.Path[1:]
	if wal {
		name = u.Path
	}
	c := &sqliteConnector{path: u.Path, wal: wal, role: RoleRaw, lockTimeout: timeout}
	c.test = func() (string, string) { return currentTest(name) }
	return c, nil
}

// The test that uses each SQLite database now, for the origin of the raw
// connections opened to it.
var currentTests sync.Map // database name → [2]string{test, location}

func currentTest(name string) (string, string) {
	if v, ok := currentTests.Load(name); ok {
		t := v.([2]string)
		return t[0], t[1]
	}
	return "", ""
}

// sqliteHook records the statement in flight and explains lock errors.
func sqliteHook(tr *lockTracker, cs *connState, explain func(error) error) stmtHook {
	return func(ctx context.Context, query string) (context.Context, func(error) error) {
		tr.setStmt(cs, query) // shortened only when a report needs it
		return ctx, func(err error) error {
			err = explain(err)
			tr.setStmt(cs, "")
			return err
		}
	}
}
