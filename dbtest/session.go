package dbtest

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
)

// A session is the test's transaction: one real connection of the
// underlying driver, opened on the test's own database and kept inside a
// transaction until cleanup. Every connection that the handle's *sql.DB, or
// a pool opened with [DB.DSN], hands out is a view of the session; the
// session serialises their use of the real connection.
type session struct {
	mu   sync.Mutex
	eng  engine
	conn driver.Conn // the real connection; nil once closed
	tx   txControl   // the test transaction's BEGIN and ROLLBACK on conn
	// kept holds prepared statements on conn across tests; nil when the
	// engine keeps none.
	kept *stmtCache
	// open is the result set currently streaming from conn. Before conn
	// runs anything else, the rest of that result set is read into memory,
	// so that interleaved queries work on drivers that cannot interleave.
	open       *sessRows
	savepoints []*savepoint
	spSeq      int
	stmts      map[*sessStmt]struct{} // prepared on conn, closed with the session
	// implicitCommits lists the statements after which MySQL committed the
	// test's transaction on its own (DDL). The database must be rebuilt.
	implicitCommits []string
	// refused lists the transaction-control statements that were refused
	// because they would have ended the test's transaction.
	refused []string
	// passTxControl lets such statements through, to reproduce what they
	// do; passed lists them, for the report at cleanup.
	passTxControl bool
	passed        []string
	// ended says which failed statement the database ended the test's
	// transaction on, by itself: SQLite rolls it back when a write is
	// interrupted (a cancelled context), MySQL on a deadlock. Statements
	// after it are refused, so that none runs outside the transaction and
	// commits on its own.
	ended  string
	closed bool
	// owner names the test that opened the session and where, for the
	// error of a handle used after that test ended.
	owner string
	// readDB records, at close, whether the transaction had read the
	// database (see readProbe).
	readDB bool
	// unsure records that the test ran a statement that might have ended
	// the transaction without dbtest seeing it: one that is not plain DML
	// (see inspect), or one that failed. An engine whose
	// in-transaction check costs a round trip is asked only then.
	unsure bool
	logf   func(format string, args ...any)
	// hook watches each statement, for lock reports; nil when none.
	hook stmtHook
	// Implicit savepoints (WithStatementSavepoints, stmtsavepoint.go), on
	// an engine whose transaction a failed statement aborts.
	stmtSP  bool   // give each statement outside BeginTx a savepoint
	spOpen  bool   // the implicit savepoint exists, set before the last statement
	spFresh bool   // and nothing ran since it was set or rolled back to
	spOff   string // what stopped them for the rest of the test, if anything
	ranDDL  bool   // the test ran DDL: statements kept for them may be stale
	// abortedBy is the statement whose failure aborted the transaction,
	// while it is aborted (see [AbortedError]).
	abortedBy *abortCause
	// explain turns lock errors met while reading rows into a [LockError].
	explain func(error) error
}

// A stmtHook is called before a statement runs. The function it returns is
// called with the statement's error and returns it, explained when it is a
// lock error.
type stmtHook func(ctx context.Context, query string) (context.Context, func(error) error)

func noFinish(err error) error { return err }

func (s *session) before(ctx context.Context, query string) (context.Context, func(error) error) {
	if s.hook == nil {
		return ctx, noFinish
	}
	return s.hook(ctx, query)
}

func (s *session) explained(err error) error {
	if err == nil || s.explain == nil {
		return err
	}
	return s.explain(err)
}

// ErrTransactionControl is returned, wrapped, when code under test issues a
// COMMIT, ROLLBACK or BEGIN statement on a handle bound to the test's
// transaction. Executing it would end the test's transaction and let the
// test's writes escape the rollback, so dbtest refuses it and fails the
// test. Use BeginTx on the handle instead: it becomes a savepoint.
var ErrTransactionControl = errors.New("statement would end the test's transaction")

// ErrTransactionRolledBack is returned, wrapped, by every statement on a
// handle after the database rolled back the test's transaction by itself
// when a statement failed: SQLite does so when a write is interrupted (its
// context was cancelled), MySQL on a deadlock. The test's earlier writes
// are gone; running the next statements outside any transaction would
// commit them, so dbtest refuses them, as PostgreSQL refuses statements in
// a failed transaction. The rollback at cleanup is then a no-op and does
// not fail the test.
var ErrTransactionRolledBack = errors.New("the database rolled back the test's transaction")

// settleLocked reads whatever is left of a streaming result set into memory
// so that the real connection can run another statement.
func (s *session) settleLocked() error {
	if s.open == nil {
		return nil
	}
	r := s.open
	s.open = nil
	return r.materializeLocked()
}

// check runs under s.mu before any statement: it makes sure the session is
// usable and inspects the statement.
func (s *session) checkLocked(ctx context.Context, query string) (stmtKind, error) {
	if s.closed {
		return stmtOther, s.endedErr()
	}
	if s.ended != "" {
		return stmtOther, fmt.Errorf("dbtest: %s: %w %s; the test's earlier writes are gone", s.eng.backend(), ErrTransactionRolledBack, s.ended)
	}
	kind, keeps := inspect(query)
	if !keeps {
		s.unsure = true
		s.ranDDL = s.ranDDL || kind == stmtDDL
	}
	switch {
	case kind.endsTransaction() || kind == stmtBegin:
		msg := fmt.Sprintf("%s at %s", statementHead(query), originOf(ctx))
		if s.passTxControl {
			s.passed = append(s.passed, msg)
			break
		}
		s.refused = append(s.refused, msg)
		return kind, fmt.Errorf("dbtest: %s: %w; use BeginTx on the handle (it becomes a savepoint)", msg, ErrTransactionControl)
	}
	if err := s.settleLocked(); err != nil {
		return kind, err
	}
	return kind, nil
}

// afterLocked restores the test's transaction after a statement that MySQL
// committed implicitly.
func (s *session) afterLocked(ctx context.Context, kind stmtKind, query string) error {
	if kind != stmtDDL || !s.eng.implicitDDLCommit() {
		return nil
	}
	head := statementHead(query)
	where := originOf(ctx)
	s.implicitCommits = append(s.implicitCommits, fmt.Sprintf("%s at %s", head, where))
	if s.logf != nil {
		s.logf("dbtest: %s: %s at %s committed the test's transaction implicitly (MySQL commits on DDL); "+
			"dbtest opened a new transaction and will rebuild the test's database at cleanup", s.eng.backend(), head, where)
	}
	if err := s.execRawLocked(ctx, s.eng.beginSQL()); err != nil {
		return fmt.Errorf("dbtest: reopening the test's transaction after %s: %w", head, err)
	}
	for _, sp := range s.savepoints {
		if err := s.execRawLocked(ctx, "SAVEPOINT "+sp.name); err != nil {
			return fmt.Errorf("dbtest: recreating savepoint after %s: %w", head, err)
		}
	}
	return nil
}

// noteEndedLocked checks, after a statement failed, that the test's
// transaction is still open, and records it when the database ended it.
func (s *session) noteEndedLocked(ctx context.Context, query string, err error) {
	if err == nil || s.ended != "" || len(s.passed) > 0 {
		return // with COMMIT let through, the transaction may be over already
	}
	if open, ierr := s.eng.inTransaction(context.WithoutCancel(ctx), s.conn); ierr != nil || open {
		return
	}
	_, head := classify(query)
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	s.ended = fmt.Sprintf("when %s at %s failed (%s)", head, originOf(ctx), msg)
	if s.logf != nil {
		s.logf("dbtest: %s: %v %s; dbtest refuses the test's next statements", s.eng.backend(), ErrTransactionRolledBack, s.ended)
	}
}

// execRawLocked runs a statement without arguments on the real connection.
func (s *session) execRawLocked(ctx context.Context, query string) error {
	if err := s.settleLocked(); err != nil {
		return err
	}
	_, err := execConn(ctx, s.conn, query, nil)
	return err
}

func (s *session) exec(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kind, err := s.checkLocked(ctx, query)
	if err != nil {
		return nil, err
	}
	pipe, canPipe := s.eng.(savepointPipeliner)
	g, err := s.guardLocked(ctx, query, canPipe && s.kept != nil)
	if err != nil {
		return nil, err
	}
	sctx, done := s.before(ctx, query)
	var res driver.Result
	handled := false
	if g.wrapped && canPipe && s.kept != nil {
		r := pipe.execAfter(sctx, s.conn, s.kept, g.prefix, spNext, query, args)
		if r.spErr != nil {
			done(nil)
			return nil, s.spFailedLocked(r.spErr)
		}
		res, err, handled, g.freshAfter = r.res, r.err, r.handled, r.fresh
		if !handled && len(g.prefix) > 0 {
			if perr := s.execRawLocked(ctx, strings.Join(g.prefix, "; ")); perr != nil {
				done(nil)
				return nil, s.spFailedLocked(perr)
			}
		}
	}
	if !handled {
		if st := s.cachedStmt(sctx, query, len(args)); st != nil {
			res, err = stmtExec(sctx, st, args)
		} else {
			res, err = execConn(sctx, s.conn, query, args)
		}
	}
	s.noteErr(err)
	err = done(err)
	if aerr := s.afterLocked(ctx, kind, query); aerr != nil && err == nil {
		err = aerr
	}
	s.noteEndedLocked(ctx, query, err)
	return res, s.stmtDoneLocked(ctx, g, query, err)
}

// cachedStmt returns the kept statement of query, or nil when the engine
// keeps none for it or it does not prepare (several statements in one
// string, say): the caller then runs query as it is.
func (s *session) cachedStmt(ctx context.Context, query string, nargs int) driver.Stmt {
	if s.kept == nil || !s.eng.(stmtCacher).cacheStmt(nargs) {
		return nil
	}
	st, err := s.kept.get(ctx, query)
	if err != nil {
		return nil
	}
	return st
}

func (s *session) query(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kind, err := s.checkLocked(ctx, query)
	if err != nil {
		return nil, err
	}
	g, err := s.guardLocked(ctx, query, false)
	if err != nil {
		return nil, err
	}
	sctx, done := s.before(ctx, query)
	var rows driver.Rows
	var closeStmt driver.Stmt
	if st := s.cachedStmt(sctx, query, len(args)); st != nil {
		rows, err = stmtQuery(sctx, st, args)
	} else {
		rows, closeStmt, err = queryConn(sctx, s.conn, query, args)
	}
	s.noteErr(err)
	if err = done(err); err != nil {
		s.noteEndedLocked(ctx, query, err)
		return nil, s.stmtDoneLocked(ctx, g, query, err)
	}
	s.stmtDoneLocked(ctx, g, query, nil)
	if aerr := s.afterLocked(ctx, kind, query); aerr != nil {
		rows.Close()
		if closeStmt != nil {
			closeStmt.Close()
		}
		return nil, aerr
	}
	r := &sessRows{s: s, rows: rows, stmt: closeStmt, query: query, origin: givenOrigin(ctx)}
	s.open = r
	return r, nil
}

func (s *session) prepare(ctx context.Context, query string) (driver.Stmt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.checkLocked(ctx, query); err != nil {
		return nil, err
	}
	g, err := s.guardLocked(ctx, query, false)
	if err != nil {
		return nil, err
	}
	sctx, done := s.before(ctx, query)
	st, err := prepareConn(sctx, s.conn, query)
	if err = done(err); err != nil {
		s.noteErr(err)
		return nil, s.stmtDoneLocked(ctx, g, query, err)
	}
	// Preparing changes nothing in the database: a savepoint set before
	// it still serves the next statement.
	fresh := s.spFresh
	s.stmtDoneLocked(ctx, g, query, nil)
	s.spFresh = fresh
	ss := &sessStmt{s: s, stmt: st, query: query}
	if s.stmts == nil {
		s.stmts = make(map[*sessStmt]struct{})
	}
	s.stmts[ss] = struct{}{}
	return ss, nil
}

// noteErr marks the session unsure when a statement failed: a server may
// end the transaction with the error (a deadlock victim, say).
func (s *session) noteErr(err error) {
	if err != nil {
		s.unsure = true
	}
}

// A costlyTxCheck is an engine whose inTransaction costs a round trip:
// close asks it only when the session is unsure.
type costlyTxCheck interface{ costlyTxCheck() }

// A readProbe is an engine that can tell, without a statement, whether a
// connection's transaction has read its database.
type readProbe interface {
	hasRead(c driver.Conn) bool
}

// A savepoint is a transaction begun inside the test's transaction.
type savepoint struct {
	s     *session
	name  string
	ended bool
}

func (s *session) begin(ctx context.Context) (*savepoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, s.endedErr()
	}
	if err := s.settleLocked(); err != nil {
		return nil, err
	}
	s.spSeq++
	sp := &savepoint{s: s, name: fmt.Sprintf("dbtest_sp_%d", s.spSeq)}
	// The implicit savepoint of the last statement goes first: the
	// transaction begun here nests in the test's own.
	var pre []string
	if ab, ok := s.eng.(abortingEngine); ok {
		pre, _ = s.spReleaseLocked(ab, false)
	}
	if err := s.execRawLocked(ctx, strings.Join(append(pre, "SAVEPOINT "+sp.name), "; ")); err != nil {
		s.noteErr(err)
		if len(pre) > 0 {
			return nil, s.spFailedLocked(err)
		}
		return nil, s.explainAbortedLocked(err)
	}
	s.spOpen, s.spFresh = false, false
	s.savepoints = append(s.savepoints, sp)
	return sp, nil
}

// end releases or rolls back sp, and forgets every savepoint begun after it:
// the database ends those too.
func (sp *savepoint) end(rollback bool) error {
	s := sp.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if sp.ended {
		return errors.New("dbtest: transaction already ended by an enclosing transaction")
	}
	if s.closed {
		return s.endedErr()
	}
	i := len(s.savepoints) - 1
	for i >= 0 && s.savepoints[i] != sp {
		i--
	}
	for _, inner := range s.savepoints[i:] {
		inner.ended = true
	}
	s.savepoints = s.savepoints[:i]
	ctx := context.Background()
	if rollback {
		if err := s.execRawLocked(ctx, "ROLLBACK TO SAVEPOINT "+sp.name); err != nil {
			s.noteErr(err)
			return err
		}
	}
	err := s.execRawLocked(ctx, "RELEASE SAVEPOINT "+sp.name)
	s.noteErr(err)
	if ab, ok := s.eng.(abortingEngine); ok && !ab.txFailed(s.conn) {
		s.abortedBy = nil
	}
	return s.explainAbortedLocked(err)
}

func (sp *savepoint) Commit() error   { return sp.end(false) }
func (sp *savepoint) Rollback() error { return sp.end(true) }

// sessStmt is a prepared statement of the real connection, used under the
// session's lock.
type sessStmt struct {
	s     *session
	stmt  driver.Stmt
	query string
}

func (st *sessStmt) Close() error {
	st.s.mu.Lock()
	defer st.s.mu.Unlock()
	if _, ok := st.s.stmts[st]; !ok {
		return nil // closed already, or with the session
	}
	delete(st.s.stmts, st)
	if err := st.s.settleLocked(); err != nil {
		return err
	}
	return st.stmt.Close()
}

func (st *sessStmt) NumInput() int { return st.stmt.NumInput() }

func (st *sessStmt) Exec(args []driver.Value) (driver.Result, error) {
	return st.ExecContext(context.Background(), namedValues(args))
}

func (st *sessStmt) Query(args []driver.Value) (driver.Rows, error) {
	return st.QueryContext(context.Background(), namedValues(args))
}

func (st *sessStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	s := st.s
	s.mu.Lock()
	defer s.mu.Unlock()
	kind, err := s.checkLocked(ctx, st.query)
	if err != nil {
		return nil, err
	}
	g, err := s.guardLocked(ctx, st.query, false)
	if err != nil {
		return nil, err
	}
	sctx, done := s.before(ctx, st.query)
	res, err := stmtExec(sctx, st.stmt, args)
	s.noteErr(err)
	err = done(err)
	if aerr := s.afterLocked(ctx, kind, st.query); aerr != nil && err == nil {
		err = aerr
	}
	s.noteEndedLocked(ctx, st.query, err)
	return res, s.stmtDoneLocked(ctx, g, st.query, err)
}

func (st *sessStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	s := st.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.checkLocked(ctx, st.query); err != nil {
		return nil, err
	}
	g, err := s.guardLocked(ctx, st.query, false)
	if err != nil {
		return nil, err
	}
	sctx, done := s.before(ctx, st.query)
	rows, err := stmtQuery(sctx, st.stmt, args)
	s.noteErr(err)
	if err = done(err); err != nil {
		s.noteEndedLocked(ctx, st.query, err)
		return nil, s.stmtDoneLocked(ctx, g, st.query, err)
	}
	s.stmtDoneLocked(ctx, g, st.query, nil)
	r := &sessRows{s: s, rows: rows, query: st.query, origin: givenOrigin(ctx)}
	s.open = r
	return r, nil
}

func (st *sessStmt) CheckNamedValue(nv *driver.NamedValue) error {
	if c, ok := st.stmt.(driver.NamedValueChecker); ok {
		return c.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// sessRows streams a result set from the real connection until another
// statement needs the connection; then it reads the rest into memory.
type sessRows struct {
	s      *session
	rows   driver.Rows // nil once materialized or closed
	stmt   driver.Stmt // statement to close with the rows, if any
	query  string
	origin string // the query's WithOrigin, if any; else the reader's caller

	cols   []string
	types  []colType
	buf    [][]driver.Value
	closed bool
	err    error // error met while reading ahead, returned after buf
}

// colType is what the real result set said of a column, kept for after it
// was read into memory.
type colType struct {
	scan         reflect.Type
	dbName       string
	length       int64
	hasLength    bool
	nullable     bool
	hasNullable  bool
	precision    int64
	scale        int64
	hasPrecision bool
}

func (r *sessRows) Columns() []string {
	if r.cols == nil && r.rows != nil {
		r.cols = r.rows.Columns()
	}
	return r.cols
}

// materializeLocked reads the remaining rows and the column metadata into
// memory and releases the real result set.
func (r *sessRows) materializeLocked() error {
	if r.rows == nil {
		return nil
	}
	cols := r.Columns()
	r.types = make([]colType, len(cols))
	for i := range cols {
		r.types[i] = describeColumn(r.rows, i)
	}
	for {
		dest := make([]driver.Value, len(cols))
		err := r.rows.Next(dest)
		if err == io.EOF {
			break
		}
		if err != nil {
			r.err = err
			r.s.noteErr(err)
			r.s.rowsFailedLocked(r.query, "", err)
			break
		}
		for i, v := range dest {
			if b, ok := v.([]byte); ok {
				dest[i] = append([]byte(nil), b...)
			}
		}
		r.buf = append(r.buf, dest)
	}
	err := r.rows.Close()
	r.rows = nil
	if r.stmt != nil {
		if cerr := r.stmt.Close(); err == nil {
			err = cerr
		}
		r.stmt = nil
	}
	if r.err != nil {
		// The rows failed: their reader gets the error from Next, and
		// the statement that had them read goes on (closing them
		// repeats the same error on some drivers).
		return nil
	}
	return err
}

func describeColumn(rows driver.Rows, i int) colType {
	var c colType
	if t, ok := rows.(driver.RowsColumnTypeScanType); ok {
		c.scan = t.ColumnTypeScanType(i)
	}
	if t, ok := rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		c.dbName = t.ColumnTypeDatabaseTypeName(i)
	}
	if t, ok := rows.(driver.RowsColumnTypeLength); ok {
		c.length, c.hasLength = t.ColumnTypeLength(i)
	}
	if t, ok := rows.(driver.RowsColumnTypeNullable); ok {
		c.nullable, c.hasNullable = t.ColumnTypeNullable(i)
	}
	if t, ok := rows.(driver.RowsColumnTypePrecisionScale); ok {
		c.precision, c.scale, c.hasPrecision = t.ColumnTypePrecisionScale(i)
	}
	return c
}

func (r *sessRows) column(i int) colType {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if r.rows != nil {
		return describeColumn(r.rows, i)
	}
	if i < len(r.types) {
		return r.types[i]
	}
	return colType{}
}

func (r *sessRows) Next(dest []driver.Value) error {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if r.rows != nil {
		err := r.rows.Next(dest)
		if err != nil && err != io.EOF {
			r.s.noteErr(err)
			where := r.origin
			if where == "" {
				where = callerOutside()
			}
			r.s.rowsFailedLocked(r.query, where, err)
			err = r.s.explained(err)
		}
		return err
	}
	if len(r.buf) > 0 {
		copy(dest, r.buf[0])
		r.buf = r.buf[1:]
		return nil
	}
	if r.err != nil {
		return r.err
	}
	return io.EOF
}

func (r *sessRows) Close() error {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	r.buf = nil
	if r.s.open == r {
		r.s.open = nil
	}
	if r.rows == nil {
		return nil
	}
	err := r.rows.Close()
	r.rows = nil
	if r.stmt != nil {
		if cerr := r.stmt.Close(); err == nil {
			err = cerr
		}
		r.stmt = nil
	}
	return err
}

func (r *sessRows) ColumnTypeScanType(i int) reflect.Type {
	if c := r.column(i); c.scan != nil {
		return c.scan
	}
	return reflect.TypeFor[any]()
}

func (r *sessRows) ColumnTypeDatabaseTypeName(i int) string { return r.column(i).dbName }

func (r *sessRows) ColumnTypeLength(i int) (int64, bool) {
	c := r.column(i)
	return c.length, c.hasLength
}

func (r *sessRows) ColumnTypeNullable(i int) (bool, bool) {
	c := r.column(i)
	return c.nullable, c.hasNullable
}

func (r *sessRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	c := r.column(i)
	return c.precision, c.scale, c.hasPrecision
}

// close ends the session: it rolls back the test's transaction and reports
// whether the transaction was still open, so the caller can tell that
// something committed it. With chain, a rollback begins the next test's
// transaction in the same statement where the engine can, and chained
// says so.
func (s *session) close(ctx context.Context, chain bool) (stillOpen, chained bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false, false, nil
	}
	s.closed = true
	if s.open != nil {
		if r := s.open; r.rows != nil {
			r.rows.Close()
			r.rows = nil
		}
		s.open = nil
	}
	for st := range s.stmts {
		st.stmt.Close()
	}
	s.stmts = nil
	if _, costly := s.eng.(costlyTxCheck); costly && !s.unsure {
		// Nothing the test ran could have ended the transaction.
		stillOpen = true
	} else if stillOpen, err = s.eng.inTransaction(ctx, s.conn); err != nil {
		return false, false, err
	}
	s.readDB = true
	if p, ok := s.eng.(readProbe); ok {
		s.readDB = p.hasRead(s.conn)
	}
	if stillOpen {
		// A chained transaction inherits the characteristics of the one
		// before (SET TRANSACTION ISOLATION LEVEL, READ ONLY): chain only
		// after a test that ran plain DML and reads, all of which worked.
		chained, err = s.tx.rollback(ctx, chain && !s.unsure)
	}
	if p, ok := s.eng.(savepointPipeliner); ok && s.ranDDL && err == nil {
		// The rollback undid the test's DDL: the tables may differ from
		// those the kept statements were prepared for.
		err = p.forget(ctx, s.conn, s.kept)
	}
	return stillOpen, chained, err
}
