package dbtest

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
)

// serverDialect is what differs between PostgreSQL and MySQL when dbtest
// manages databases on a server.
type serverDialect interface {
	engine
	// connector opens connections for dsn with the real driver.
	connector(dsn string) (driver.Connector, error)
	// dsn derives, from the configured DSN, one for database db ("" keeps
	// the configured database) with dbtest's session settings.
	dsn(base, db string, lockTimeout time.Duration, app string) (string, error)
	createSQL(db string) string
	// tuneSQL sets up a new database for lock diagnosis; it may fail for
	// want of privileges, and the database is used all the same.
	tuneSQL(db string) []string
	dropSQL(db string) string
	// endSessions ends the sessions still on database db before it is
	// dropped, where dropSQL does not: a statement that outlived its
	// client (a cancelled context closes the connection, not the
	// statement) holds locks that make the drop wait.
	endSessions(ctx context.Context, q sessionQuerier, db string)
	// listSQL lists the databases whose names start with "dbtest_".
	listSQL() string
	// claim marks token as alive for as long as conn stays open.
	claim(ctx context.Context, conn *sql.Conn, token string) error
	// alive reports whether the process that claimed token still runs.
	alive(ctx context.Context, conn *sql.Conn, token string) (bool, error)
	version(ctx context.Context, conn *sql.Conn) string

	// blockers asks the server who blocks session waiter, which runs
	// statement stmt (as statementHead gives it).
	blockers(ctx context.Context, admin *sql.DB, waiter int64, stmt string) (*LockReport, error)
	// cancelQuery cancels the statement session id runs.
	cancelQuery(ctx context.Context, admin *sql.DB, id int64)
	// lockTimeoutStep is the shortest lock timeout the server keeps
	// itself: dbtest enforces shorter ones by cancelling the statement.
	lockTimeoutStep() time.Duration
	// lockTimeoutError is the error the server gives when a lock wait
	// times out, for a timeout dbtest enforced itself.
	lockTimeoutError(after time.Duration) error
	// lockError classifies a driver error.
	lockError(err error) (deadlock, lock bool)
	// deadlockDetail returns the server's account of a deadlock.
	deadlockDetail(err error, admin *sql.DB) string
}

// sessionQuerier is a *sql.Conn or a *sql.DB.
type sessionQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// unavailableError says that a backend cannot be used here; Open skips the
// test, or fails it when DBTEST_REQUIRE names the backend.
type unavailableError struct{ reason string }

func (e *unavailableError) Error() string { return e.reason }

// serverProvider makes databases on a PostgreSQL or MySQL server. Every
// database of the process is named dbtest_<token>_<n>. A control connection
// held for the life of the process marks the token alive; any later process
// that finds databases of a token nobody holds drops them, and a companion
// process (see reaper.go) drops this process's databases as soon as it
// ends.
type serverProvider struct {
	d     serverDialect
	b     Backend
	base  string
	token string
	admin *sql.DB

	mu  sync.Mutex // guards ctl and seq
	ctl *sql.Conn
	seq int
	ver string

	// checks bounds the lock checks running at once: a slow machine makes
	// many statements outlast selfDeadlockCheck, and each check is a query.
	checks chan struct{}
	tuning tuneState // whether tuneSQL worked (server_tune.go)
}

func newServerProvider(ctx context.Context, b Backend, token string) (*serverProvider, error) {
	base, env := serverDSN(b)
	if base == "" { // no DSN: a Testcontainers container (containers.go)
		var err error
		if base, env, err = containerServer(ctx, b); err != nil {
			return nil, err
		}
	}
	var d serverDialect
	switch b {
	case Postgres:
		d = postgresDialect{}
	case MySQL:
		d = mysqlDialect{}
	}
	adminDSN, err := d.dsn(base, "", DefaultLockTimeout, "dbtest:"+token)
	if err != nil {
		return nil, fmt.Errorf("dbtest: %s: %s: %w", b, env, err)
	}
	conn, err := d.connector(adminDSN)
	if err != nil {
		return nil, fmt.Errorf("dbtest: %s: %s: %w", b, env, err)
	}
	p := &serverProvider{d: d, b: b, base: base, token: token, admin: sql.OpenDB(conn),
		checks: make(chan struct{}, maxLockChecks)}
	// The control connection, plus the lock checks.
	p.admin.SetMaxOpenConns(1 + maxLockChecks)
	p.admin.SetMaxIdleConns(1 + maxLockChecks)
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p.ctl, err = p.admin.Conn(cctx)
	if err == nil {
		err = p.ctl.PingContext(cctx)
	}
	if err != nil {
		p.admin.Close()
		return nil, &unavailableError{fmt.Sprintf("cannot connect to %s (from %s): %v", redactDSN(base), env, redactErr(err, base))}
	}
	if err := d.claim(cctx, p.ctl, token); err != nil {
		p.close(ctx)
		return nil, fmt.Errorf("dbtest: %s: marking this process alive: %w", b, err)
	}
	p.ver = d.version(cctx, p.ctl)
	p.sweep(cctx)
	p.warmChecks(cctx)
	if err := startReaper(b, base, token); err != nil {
		p.close(ctx)
		return nil, fmt.Errorf("dbtest: %s: starting the cleanup process: %w", b, err)
	}
	return p, nil
}

// warmChecks opens the connections of the lock checks now, so that the
// first self-deadlock of the process is not recognised late for want of
// one (connecting takes tens of milliseconds on a busy machine).
func (p *serverProvider) warmChecks(ctx context.Context) {
	var conns []*sql.Conn
	for range maxLockChecks {
		c, err := p.admin.Conn(ctx)
		if err != nil {
			break
		}
		conns = append(conns, c)
	}
	for _, c := range conns {
		c.Close() // back to the pool, idle
	}
}

func (p *serverProvider) engine() engine   { return p.d }
func (p *serverProvider) describe() string { return p.ver + " at " + redactDSN(p.base) }

func (p *serverProvider) rawDSN(sl *slot, lockTimeout time.Duration) string {
	dsn, _ := p.d.dsn(p.base, sl.name, lockTimeout, "dbtest-raw")
	return dsn
}

func (p *serverProvider) newSlot(ctx context.Context, m *migrationSet, _ slotOptions) (*slot, error) {
	p.mu.Lock()
	p.seq++
	name := fmt.Sprintf("dbtest_%s_%d", p.token, p.seq)
	err := p.ctlExecLocked(ctx, p.d.createSQL(name))
	if err == nil {
		p.tuneLocked(ctx, name)
	}
	p.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("dbtest: %s: creating database %s: %w", p.b, name, err)
	}
	sl, err := p.migrateSlot(ctx, name, m)
	if err != nil {
		p.dropDatabase(context.WithoutCancel(ctx), name)
		return nil, err
	}
	return sl, nil
}

func (p *serverProvider) migrateSlot(ctx context.Context, name string, m *migrationSet) (*slot, error) {
	dsn, err := p.d.dsn(p.base, name, DefaultLockTimeout, "dbtest")
	if err != nil {
		return nil, err
	}
	conn, err := p.d.connector(dsn)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	if err := m.up(ctx, p.b, db); err != nil {
		return nil, err
	}
	return &slot{name: name, connector: conn, lockTimeout: DefaultLockTimeout}, nil
}

func (p *serverProvider) dropSlot(ctx context.Context, sl *slot) error {
	return p.dropDatabase(ctx, sl.name)
}

func (p *serverProvider) dropDatabase(ctx context.Context, name string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ctl == nil {
		return nil
	}
	p.d.endSessions(ctx, p.ctl, name)
	if err := p.ctlExecLocked(ctx, p.d.dropSQL(name)); err != nil {
		return fmt.Errorf("dbtest: %s: dropping database %s: %w", p.b, name, err)
	}
	return nil
}

// ctlExecLocked runs a statement on the control connection. When the
// connection is gone (the server restarted, say), it opens a new one, marks
// the process alive again, and runs the statement once more.
func (p *serverProvider) ctlExecLocked(ctx context.Context, query string) error {
	_, err := p.ctl.ExecContext(ctx, query)
	if err == nil || !connectionLost(err) {
		return err
	}
	ctl, cerr := p.admin.Conn(ctx)
	if cerr != nil {
		return fmt.Errorf("%w; reconnecting: %w", err, redactErr(cerr, p.base))
	}
	if cerr := p.d.claim(ctx, ctl, p.token); cerr != nil {
		ctl.Close()
		return fmt.Errorf("%w; reconnecting: %w", err, cerr)
	}
	p.ctl.Close()
	p.ctl = ctl
	_, err = p.ctl.ExecContext(ctx, query)
	return err
}

// reclaim makes sure that the control connection, and with it this
// process's claim on its databases, survived: a server restart cuts it,
// and until it is back another process takes this one's databases for
// abandoned.
func (p *serverProvider) reclaim(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ctl == nil {
		return nil
	}
	return p.ctlExecLocked(ctx, "SELECT 1")
}

// databaseGone reports whether err says that the database a connection
// was opened to does not exist.
func databaseGone(err error) bool {
	var pe *pgconn.PgError
	var me *mysql.MySQLError
	return errors.As(err, &pe) && pe.Code == "3D000" || errors.As(err, &me) && me.Number == 1049
}

// connectionLost reports whether err says the connection is unusable.
func connectionLost(err error) bool {
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "connection reset") ||
		strings.Contains(msg, "broken pipe") || strings.Contains(msg, "invalid connection") ||
		strings.Contains(msg, "terminating connection")
}

var dbNamePattern = regexp.MustCompile(`^dbtest_([a-z0-9]{10})_[0-9]+$`)

// sweep drops the databases left behind by processes that are gone.
func (p *serverProvider) sweep(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	rows, err := p.ctl.QueryContext(ctx, p.d.listSQL())
	if err != nil {
		return
	}
	byToken := map[string][]string{}
	for rows.Next() {
		var name string
		if rows.Scan(&name) == nil {
			if m := dbNamePattern.FindStringSubmatch(name); m != nil && m[1] != p.token {
				byToken[m[1]] = append(byToken[m[1]], name)
			}
		}
	}
	rows.Close()
	for token, names := range byToken {
		if alive, err := p.d.alive(ctx, p.ctl, token); err != nil || alive {
			continue
		}
		for _, n := range names {
			p.d.endSessions(ctx, p.ctl, n)
			p.ctl.ExecContext(ctx, p.d.dropSQL(n))
		}
	}
}

func (p *serverProvider) close(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	if p.ctl != nil {
		errs = append(errs, p.ctl.Close())
		p.ctl = nil
	}
	errs = append(errs, p.admin.Close())
	return errors.Join(errs...)
}

// dropToken drops every database of token on the server named by base. The
// companion process calls it once the test binary is gone.
func dropToken(ctx context.Context, b Backend, base, token string) error {
	var d serverDialect = postgresDialect{}
	if b == MySQL {
		d = mysqlDialect{}
	}
	dsn, err := d.dsn(base, "", DefaultLockTimeout, "dbtest-cleanup")
	if err != nil {
		return err
	}
	conn, err := d.connector(dsn)
	if err != nil {
		return err
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	rows, err := db.QueryContext(ctx, d.listSQL())
	if err != nil {
		return err
	}
	var names []string
	for rows.Next() {
		var name string
		if rows.Scan(&name) == nil {
			if m := dbNamePattern.FindStringSubmatch(name); m != nil && m[1] == token {
				names = append(names, name)
			}
		}
	}
	rows.Close()
	var errs []error
	for _, n := range names {
		d.endSessions(ctx, db, n)
		_, err := db.ExecContext(ctx, d.dropSQL(n))
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
