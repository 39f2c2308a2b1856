package dbtest

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"reflect"
)

// reportingConn is a connection of the real driver whose lock errors are
// explained. Everything else passes through.
type reportingConn struct {
	driver.Conn
	hook    stmtHook          // watches each statement
	explain func(error) error // explains errors met while reading rows
	onClose func()            // when not nil, called as the connection closes
	// reading, when not nil, is told of a query whose rows are being read:
	// its locks are taken as the rows are stepped through, after the
	// statement hook has ended. It returns what to call when they close.
	reading func(query string) (closed func())

	checker  driver.NamedValueChecker // the real connection's, once looked up
	lookedUp bool
}

// rows wraps the rows of query.
func (c *reportingConn) rows(query string, rows driver.Rows) driver.Rows {
	r := &reportingRows{Rows: rows, explain: c.explain}
	if c.reading != nil {
		r.closed = c.reading(query)
	}
	return r
}

func (c *reportingConn) Close() error {
	if c.onClose != nil {
		c.onClose()
	}
	return c.Conn.Close()
}

var (
	_ driver.ExecerContext      = (*reportingConn)(nil)
	_ driver.QueryerContext     = (*reportingConn)(nil)
	_ driver.ConnPrepareContext = (*reportingConn)(nil)
	_ driver.ConnBeginTx        = (*reportingConn)(nil)
	_ driver.Pinger             = (*reportingConn)(nil)
	_ driver.NamedValueChecker  = (*reportingConn)(nil)
	_ driver.SessionResetter    = (*reportingConn)(nil)
	_ driver.Validator          = (*reportingConn)(nil)
)

func (c *reportingConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *reportingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	sctx, done := c.hook(ctx, query)
	st, err := prepareConn(sctx, c.Conn, query)
	if err = done(err); err != nil {
		return nil, err
	}
	rs := &reportingStmt{Stmt: st, conn: c, query: query}
	rs.checker, _ = st.(driver.NamedValueChecker)
	return rs, nil
}

func (c *reportingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := c.Conn.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	sctx, done := c.hook(ctx, query)
	res, err := e.ExecContext(sctx, query, args)
	if errors.Is(err, driver.ErrSkip) {
		// Nothing ran: database/sql prepares the statement instead, and
		// the prepared statement is watched. The watch must end here, or
		// its timer would look for blockers every recheckEvery forever.
		done(nil)
		return nil, err
	}
	return res, done(err)
}

func (c *reportingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := c.Conn.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	sctx, done := c.hook(ctx, query)
	rows, err := q.QueryContext(sctx, query, args)
	if errors.Is(err, driver.ErrSkip) {
		done(nil) // as in ExecContext
		return nil, err
	}
	if err = done(err); err != nil {
		return nil, err
	}
	return c.rows(query, rows), nil
}

func (c *reportingConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *reportingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	var tx driver.Tx
	var err error
	_, done := c.hook(ctx, "BEGIN")
	if b, ok := c.Conn.(driver.ConnBeginTx); ok {
		tx, err = b.BeginTx(ctx, opts)
	} else {
		//lint:ignore SA1019 the fallback for drivers without ConnBeginTx
		tx, err = c.Conn.Begin()
	}
	if err = done(err); err != nil {
		return nil, err
	}
	return &reportingTx{tx: tx, conn: c}, nil
}

func (c *reportingConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *reportingConn) CheckNamedValue(nv *driver.NamedValue) error {
	// Called for every argument; database/sql uses a connection from one
	// goroutine at a time, so the lookup is kept without a lock.
	if !c.lookedUp {
		c.checker, _ = c.Conn.(driver.NamedValueChecker)
		c.lookedUp = true
	}
	if c.checker != nil {
		return c.checker.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

func (c *reportingConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *reportingConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

// Raw gives the real driver connection, for (*sql.Conn).Raw users that
// need it, such as COPY on PostgreSQL.
func (c *reportingConn) Unwrap() driver.Conn { return c.Conn }

type reportingTx struct {
	tx   driver.Tx
	conn *reportingConn
}

func (t *reportingTx) Commit() error {
	_, done := t.conn.hook(context.Background(), "COMMIT")
	return done(t.tx.Commit())
}

func (t *reportingTx) Rollback() error {
	_, done := t.conn.hook(context.Background(), "ROLLBACK")
	return done(t.tx.Rollback())
}

type reportingStmt struct {
	driver.Stmt
	conn    *reportingConn
	query   string
	checker driver.NamedValueChecker // the statement's own, looked up once: it is called for every argument
}

func (s *reportingStmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), namedValues(args))
}

func (s *reportingStmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), namedValues(args))
}

func (s *reportingStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	sctx, done := s.conn.hook(ctx, s.query)
	res, err := stmtExec(sctx, s.Stmt, args)
	return res, done(err)
}

func (s *reportingStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	sctx, done := s.conn.hook(ctx, s.query)
	rows, err := stmtQuery(sctx, s.Stmt, args)
	if err = done(err); err != nil {
		return nil, err
	}
	return s.conn.rows(s.query, rows), nil
}

func (s *reportingStmt) CheckNamedValue(nv *driver.NamedValue) error {
	if s.checker != nil {
		return s.checker.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// reportingRows explains lock errors met while stepping through rows. It
// keeps the column-type interfaces of the real rows.
type reportingRows struct {
	driver.Rows
	explain func(error) error
	closed  func() // when not nil, called once as the rows close
}

func (r *reportingRows) Close() error {
	if r.closed != nil {
		r.closed()
		r.closed = nil
	}
	return r.Rows.Close()
}

func (r *reportingRows) Next(dest []driver.Value) error {
	err := r.Rows.Next(dest)
	if err == nil || err == io.EOF {
		return err
	}
	return r.explain(err)
}

func (r *reportingRows) ColumnTypeScanType(i int) reflect.Type {
	if t := describeColumn(r.Rows, i).scan; t != nil {
		return t
	}
	return reflect.TypeFor[any]()
}

func (r *reportingRows) ColumnTypeDatabaseTypeName(i int) string {
	return describeColumn(r.Rows, i).dbName
}

func (r *reportingRows) ColumnTypeLength(i int) (int64, bool) {
	c := describeColumn(r.Rows, i)
	return c.length, c.hasLength
}

func (r *reportingRows) ColumnTypeNullable(i int) (bool, bool) {
	c := describeColumn(r.Rows, i)
	return c.nullable, c.hasNullable
}

func (r *reportingRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	c := describeColumn(r.Rows, i)
	return c.precision, c.scale, c.hasPrecision
}
