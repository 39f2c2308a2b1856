package dbtest

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/ncruces/go-sqlite3"
	sqlitedriver "github.com/ncruces/go-sqlite3/driver"
)

// txDriverName is the database/sql driver whose connections are views of a
// test's transaction. Its DSNs are "dbtest:<id>", handed out by [DB.DSN].
const txDriverName = "dbtest"

func init() {
	sql.Register(txDriverName, txDriver{})
}

// sessions maps DSN ids to live sessions, so that code under test can open
// its own pool on the test's transaction with sql.Open.
var sessions sync.Map // string → *session

type txDriver struct{}

func (txDriver) Open(dsn string) (driver.Conn, error) {
	c, err := txDriver{}.OpenConnector(dsn)
	if err != nil {
		return nil, err
	}
	return c.Connect(context.Background())
}

func (txDriver) OpenConnector(dsn string) (driver.Connector, error) {
	id, ok := strings.CutPrefix(dsn, txDriverName+":")
	if !ok {
		return nil, fmt.Errorf("dbtest: DSN %q was not made by DB.DSN", dsn)
	}
	c := txConnector{id: id}
	if v, ok := sessions.Load(id); ok {
		c.owner = v.(*session).owner // to name the test once it ended
	}
	return c, nil
}

// txConnector hands out views of one session. It looks the session up at
// each connection, so a pool outliving its test gets a clear error.
type txConnector struct {
	id    string
	s     *session // set for the handle's own pool
	owner string   // the test of the session, when it was known at sql.Open
}

func (c txConnector) Connect(context.Context) (driver.Conn, error) {
	s := c.s
	if s == nil {
		v, ok := sessions.Load(c.id)
		if !ok {
			return nil, unknownSessionErr(c.id, c.owner)
		}
		s = v.(*session)
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, s.endedErr()
	}
	return &txConn{s: s}, nil
}

func (txConnector) Driver() driver.Driver { return txDriver{} }

// txConn is one database/sql connection bound to the test's transaction.
type txConn struct {
	s *session
}

var (
	_ driver.ExecerContext      = (*txConn)(nil)
	_ driver.QueryerContext     = (*txConn)(nil)
	_ driver.ConnPrepareContext = (*txConn)(nil)
	_ driver.ConnBeginTx        = (*txConn)(nil)
	_ driver.Pinger             = (*txConn)(nil)
	_ driver.NamedValueChecker  = (*txConn)(nil)
	_ driver.SessionResetter    = (*txConn)(nil)
	_ driver.Validator          = (*txConn)(nil)
)

func (c *txConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *txConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.s.prepare(ctx, query)
}

func (c *txConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	return c.s.exec(ctx, query, args)
}

func (c *txConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	return c.s.query(ctx, query, args)
}

// Close closes the view; the test's transaction goes on.
func (c *txConn) Close() error { return nil }

func (c *txConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

// BeginTx starts a savepoint. Isolation levels and read-only mode cannot
// change inside the test's transaction; they are accepted and ignored.
func (c *txConn) BeginTx(ctx context.Context, _ driver.TxOptions) (driver.Tx, error) {
	return c.s.begin(ctx)
}

func (c *txConn) Ping(context.Context) error {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if c.s.closed {
		return c.s.endedErr()
	}
	return nil
}

func (c *txConn) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := c.s.conn.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

func (c *txConn) ResetSession(context.Context) error {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if c.s.closed {
		return driver.ErrBadConn
	}
	return nil
}

func (c *txConn) IsValid() bool {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return !c.s.closed
}

// CopyFrom copies rows into a table with PostgreSQL's COPY protocol, inside
// the test's transaction. It is the bulk path that package dynamic looks for
// through (*sql.Conn).Raw. On other backends it returns an error.
func (c *txConn) CopyFrom(ctx context.Context, tableName pgx.Identifier, columnNames []string, rowSrc pgx.CopyFromSource) (int64, error) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, s.endedErr()
	}
	pc, ok := s.conn.(*stdlib.Conn)
	if !ok {
		return 0, fmt.Errorf("dbtest: COPY is not available on %s", s.eng.backend())
	}
	if err := s.settleLocked(); err != nil {
		return 0, err
	}
	query := "COPY " + tableName.Sanitize() + " FROM STDIN"
	g, err := s.guardLocked(ctx, query, false)
	if err != nil {
		return 0, err
	}
	n, err := pc.Conn().CopyFrom(ctx, tableName, columnNames, rowSrc)
	s.noteErr(err)
	return n, s.stmtDoneLocked(ctx, g, query, err)
}

// RawSQLite runs fn with the SQLite connection behind the test's
// transaction, under the session's lock: the direct path that package
// dynamic looks for through (*sql.Conn).Raw, which binds values without
// database/sql. query is what fn runs, for lock reports. On other backends
// it returns an error.
func (c *txConn) RawSQLite(ctx context.Context, query string, fn func(*sqlite3.Conn) error) error {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.checkLocked(ctx, query); err != nil {
		return err
	}
	sc, ok := s.conn.(sqlitedriver.Conn)
	if !ok {
		return fmt.Errorf("dbtest: no SQLite connection on %s", s.eng.backend())
	}
	raw := sc.Raw()
	sctx, done := s.before(ctx, query)
	if old := raw.SetInterrupt(sctx); old != sctx {
		defer raw.SetInterrupt(old)
	}
	err := fn(raw)
	s.noteErr(err)
	return done(err)
}
