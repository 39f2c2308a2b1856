package dynamic

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Querier is what Append, Read and Count accept: a *sql.DB, a *sql.Tx or a
// *sql.Conn (or a type that embeds one, such as dbtest.DB).
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

var (
	_ Querier = (*sql.DB)(nil)
	_ Querier = (*sql.Tx)(nil)
	_ Querier = (*sql.Conn)(nil)
)

// pool is a Querier that hands out connections: Append owns its
// transaction on one of them and may retry it.
type pool interface {
	Conn(ctx context.Context) (*sql.Conn, error)
}

// Result reports what an append did.
type Result struct {
	Rows         int64          // rows written
	Attempts     int            // times the append was tried (more than 1 after lock conflicts)
	Created      bool           // the table was created
	AddedColumns []string       // columns added to an existing table
	NonFinite    map[string]int // NaN and ±Inf values stored as NULL, per column
	Bulk         bool           // written with PostgreSQL's COPY
}

// Option configures Append.
type Option func(*appendOpts) error

type appendOpts struct {
	retry     retryPolicy
	batchRows int
	noCopy    bool
	given     map[string]bool
}

func (o *appendOpts) once(name string) error {
	if o.given[name] {
		return fmt.Errorf("dynamic: option %s given twice", name)
	}
	o.given[name] = true
	return nil
}

// WithRetry bounds the retries of an append that owns its transaction:
// at most attempts tries, waiting base, 2·base, 4·base ... (capped at max,
// each wait drawn at random below its bound) in between. The default is 5
// attempts from 20 ms to 1 s. The context bounds the whole.
func WithRetry(attempts int, base, max time.Duration) Option {
	return func(o *appendOpts) error {
		if attempts < 1 || base <= 0 || max < base {
			return fmt.Errorf("dynamic: WithRetry(%d, %v, %v): want attempts ≥ 1 and 0 < base ≤ max", attempts, base, max)
		}
		if err := o.once("WithRetry"); err != nil {
			return err
		}
		o.retry = retryPolicy{attempts: attempts, base: base, max: max}
		return nil
	}
}

// WithBatchRows sets how many rows one INSERT statement carries. It is
// capped by the database's limit on bound parameters. The default was
// measured per database.
func WithBatchRows(n int) Option {
	return func(o *appendOpts) error {
		if n < 1 {
			return fmt.Errorf("dynamic: WithBatchRows(%d): want at least 1", n)
		}
		if err := o.once("WithBatchRows"); err != nil {
			return err
		}
		o.batchRows = n
		return nil
	}
}

// WithoutCopy makes PostgreSQL appends use INSERT instead of COPY.
func WithoutCopy() Option {
	return func(o *appendOpts) error {
		if err := o.once("WithoutCopy"); err != nil {
			return err
		}
		o.noCopy = true
		return nil
	}
}

// Append writes the frame's rows into table, creating the table when it
// does not exist and adding the columns the frame brings, in one
// transaction: either every row is in and the table is as the frame needs
// it, or nothing changed.
//
// With a *sql.Tx or a *sql.Conn, Append runs on it, never on a second
// connection. With a *sql.Tx it works inside a savepoint of the caller's
// transaction and a lock conflict is returned at once (errors.Is
// [ErrLocked]), since only the caller can retry its transaction. With a
// *sql.DB or a *sql.Conn it owns the transaction and retries the whole
// append on lock conflicts (see [WithRetry]).
//
// On MySQL, DDL commits the current transaction: a table or columns that
// the append creates exist before its rows are written. If the append then
// fails, Append drops what it created; inside a caller's transaction the
// DDL has also committed the caller's earlier writes, which no code can
// undo.
func Append(ctx context.Context, q Querier, dialectName, table string, f *Frame, opts ...Option) (Result, error) {
	d, err := lookupDialect(dialectName)
	if err != nil {
		return Result{}, err
	}
	o := &appendOpts{retry: defaultRetry, given: map[string]bool{}}
	for _, opt := range opts {
		if opt == nil {
			return Result{}, errors.New("dynamic: nil Option")
		}
		if err := opt(o); err != nil {
			return Result{}, err
		}
	}
	if f == nil || len(f.cols) == 0 {
		return Result{}, fmt.Errorf("dynamic: appending to %s: the frame has no columns", table)
	}
	w, err := newWrite(d, table, f)
	if err != nil {
		return Result{}, err
	}
	w.opts = o
	switch q := q.(type) {
	case *sql.Tx:
		return w.inTx(ctx, q)
	case *sql.Conn:
		return w.owned(ctx, func(context.Context) (*sql.Conn, func(), error) { return q, func() {}, nil })
	case pool:
		return w.owned(ctx, func(ctx context.Context) (*sql.Conn, func(), error) {
			c, err := q.Conn(ctx)
			if err != nil {
				return nil, nil, err
			}
			return c, func() { c.Close() }, nil
		})
	}
	return Result{}, fmt.Errorf("dynamic: Append needs a *sql.DB, *sql.Tx or *sql.Conn, not %T", q)
}

// write is one append: the frame's values made ready for the database.
type write struct {
	d      *dialect
	table  string
	qtable string
	cols   []Column // the frame's columns, NaN and Inf replaced by nil
	qcols  []string
	rows   int
	opts   *appendOpts
	res    Result
}

func newWrite(d *dialect, table string, f *Frame) (*write, error) {
	qt, err := d.quoteIdent(table)
	if err != nil {
		return nil, err
	}
	w := &write{d: d, table: table, qtable: qt, rows: f.rows, res: Result{NonFinite: map[string]int{}}}
	for _, c := range f.cols {
		qc, err := d.quoteIdent(c.Name)
		if err != nil {
			return nil, fmt.Errorf("dynamic: table %s: column %q: %w", table, c.Name, err)
		}
		if c.Type == Float {
			vals := c.Values
			copied := false
			for i, v := range vals {
				if x, ok := v.(float64); ok && (math.IsNaN(x) || math.IsInf(x, 0)) {
					if !copied {
						vals = append([]any(nil), vals...)
						copied = true
					}
					vals[i] = nil
					w.res.NonFinite[c.Name]++
				}
			}
			c.Values = vals
		}
		w.cols = append(w.cols, c)
		w.qcols = append(w.qcols, qc)
	}
	return w, nil
}

// execer runs statements: a *sql.Tx or a *sql.Conn.
type execer interface {
	Querier
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// owned runs the append in its own transaction on a connection, retrying
// the whole on lock conflicts.
func (w *write) owned(ctx context.Context, getConn func(context.Context) (*sql.Conn, func(), error)) (Result, error) {
	var last error
	for attempt := 1; attempt <= w.opts.retry.attempts; attempt++ {
		if attempt > 1 {
			if err := w.opts.retry.wait(ctx, attempt-1); err != nil {
				return w.result(attempt - 1), &LockedError{Table: w.table, Attempts: attempt - 1, Err: last}
			}
		}
		conn, done, err := getConn(ctx)
		if err != nil {
			return w.result(attempt), fmt.Errorf("dynamic: appending to %s: %w", w.table, err)
		}
		err = w.once(ctx, conn)
		done()
		if err == nil {
			return w.result(attempt), nil
		}
		if !isLockError(err) {
			return w.result(attempt), fmt.Errorf("dynamic: appending to %s: %w", w.table, err)
		}
		last = err
		if isHopeless(err) {
			return w.result(attempt), &LockedError{Table: w.table, Attempts: attempt, Err: err}
		}
	}
	return w.result(w.opts.retry.attempts), &LockedError{Table: w.table, Attempts: w.opts.retry.attempts, Err: last}
}

func (w *write) result(attempts int) Result {
	r := w.res
	r.Attempts = attempts
	if len(r.NonFinite) == 0 {
		r.NonFinite = nil
	}
	return r
}

// once is one attempt of an owned append.
func (w *write) once(ctx context.Context, conn *sql.Conn) (err error) {
	w.res.Rows, w.res.Created, w.res.AddedColumns, w.res.Bulk = 0, false, nil, false
	var undo func(context.Context)
	if w.d.ddlCommits {
		// DDL would commit the transaction: run it first, undo it on failure.
		undo, err = w.ensureSchema(ctx, conn)
		if err != nil {
			return err
		}
		defer func() {
			if err != nil {
				undo(context.WithoutCancel(ctx))
			}
		}()
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	if !w.d.ddlCommits {
		if _, err = w.ensureSchema(ctx, tx); err != nil {
			return err
		}
	}
	if err = w.insert(ctx, tx, conn); err != nil {
		return err
	}
	return tx.Commit()
}

// inTx appends inside the caller's transaction, in a savepoint.
func (w *write) inTx(ctx context.Context, tx *sql.Tx) (res Result, err error) {
	w.res.Rows = 0
	var undo func(context.Context)
	if w.d.ddlCommits {
		if undo, err = w.ensureSchema(ctx, tx); err != nil {
			return w.txError(err)
		}
	}
	const sp = "dynamic_append"
	if _, err = tx.ExecContext(ctx, "SAVEPOINT "+sp); err != nil {
		if undo != nil {
			undo(context.WithoutCancel(ctx))
		}
		return w.txError(err)
	}
	defer func() {
		if err != nil {
			bctx := context.WithoutCancel(ctx)
			tx.ExecContext(bctx, "ROLLBACK TO SAVEPOINT "+sp)
			tx.ExecContext(bctx, "RELEASE SAVEPOINT "+sp)
			if undo != nil {
				undo(bctx)
			}
		}
	}()
	if !w.d.ddlCommits {
		if _, err = w.ensureSchema(ctx, tx); err != nil {
			return w.txError(err)
		}
	}
	if err = w.insert(ctx, tx, nil); err != nil {
		return w.txError(err)
	}
	if _, err = tx.ExecContext(ctx, "RELEASE SAVEPOINT "+sp); err != nil {
		return w.txError(err)
	}
	return w.result(1), nil
}

func (w *write) txError(err error) (Result, error) {
	if isLockError(err) {
		return w.result(1), &LockedError{Table: w.table, Attempts: 1, Err: err}
	}
	return w.result(1), fmt.Errorf("dynamic: appending to %s: %w", w.table, err)
}

// ensureSchema creates the table or adds the frame's new columns. It
// returns how to undo that, for databases where DDL commits.
func (w *write) ensureSchema(ctx context.Context, ex execer) (func(context.Context), error) {
	existing, err := tableColumns(ctx, ex, w.d, w.table)
	if err != nil {
		return nil, err
	}
	nothing := func(context.Context) {}
	if existing == nil {
		var b strings.Builder
		fmt.Fprintf(&b, "CREATE TABLE %s (%s %s", w.qtable, w.d.mustQuote(rowIDColumn), w.d.rowID)
		for i, c := range w.cols {
			fmt.Fprintf(&b, ", %s %s", w.qcols[i], w.d.types[storedType(c.Type)])
		}
		b.WriteString(")")
		if _, err := ex.ExecContext(ctx, b.String()); err != nil {
			return nil, err
		}
		w.res.Created = true
		return func(ctx context.Context) { ex.ExecContext(ctx, "DROP TABLE IF EXISTS "+w.qtable) }, nil
	}
	byFold := map[string]dbColumn{}
	for _, c := range existing {
		byFold[strings.ToLower(c.name)] = c
	}
	var added []int
	for i, c := range w.cols {
		e, ok := byFold[strings.ToLower(c.Name)]
		if !ok {
			added = append(added, i)
			continue
		}
		if e.name != c.Name {
			return nil, fmt.Errorf("dynamic: table %s: column %q collides with the table's column %q: names must differ in more than case", w.table, c.Name, e.name)
		}
		if !compatible(e.typ, c.Type) {
			return nil, fmt.Errorf("dynamic: table %s: column %q is %s in the table but %s in the frame", w.table, c.Name, e.typ, c.Type)
		}
	}
	if len(added) == 0 {
		return nothing, nil
	}
	var done []string
	undo := func(ctx context.Context) {
		for _, q := range done {
			ex.ExecContext(ctx, fmt.Sprintf("ALTER TABLE %s DROP COLUMN %s", w.qtable, q))
		}
	}
	for _, i := range added {
		q := fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s", w.qtable, w.qcols[i], w.d.types[storedType(w.cols[i].Type)])
		if _, err := ex.ExecContext(ctx, q); err != nil {
			undo(context.WithoutCancel(ctx))
			return nil, err
		}
		done = append(done, w.qcols[i])
		w.res.AddedColumns = append(w.res.AddedColumns, w.cols[i].Name)
	}
	return undo, nil
}

// storedType is the type a new column gets: an all-NULL column is text.
func storedType(t Type) Type {
	if t == Unknown {
		return Text
	}
	return t
}

// compatible reports whether frame values of type f fit a column of type
// c. Integers widen into a float column (exactly, below 2^53); nothing else
// converts silently. An all-NULL frame column fits anything.
func compatible(c, f Type) bool {
	return f == Unknown || c == f || c == Float && f == Integer
}

func (d *dialect) mustQuote(name string) string {
	q, _ := d.quoteIdent(name)
	return q
}

// insert writes the rows: COPY on PostgreSQL when the connection allows
// it, else multi-row INSERT statements in batches.
func (w *write) insert(ctx context.Context, ex execer, conn *sql.Conn) error {
	if w.rows == 0 {
		return nil
	}
	if w.d.name == "postgres" && conn != nil && !w.opts.noCopy {
		n, err := w.copyRows(ctx, conn)
		if err == nil {
			w.res.Rows, w.res.Bulk = n, true
			return nil
		}
		if !errors.Is(err, errors.ErrUnsupported) {
			return err
		}
	}
	ncols := len(w.cols)
	batch := w.d.maxBatchRows
	if w.opts.batchRows > 0 {
		batch = w.opts.batchRows
	}
	if lim := w.d.maxParams / ncols; batch > lim {
		batch = max(lim, 1)
	}
	full := w.rows / batch
	args := make([]any, 0, batch*ncols)
	if full > 0 {
		st, err := ex.PrepareContext(ctx, w.insertSQL(batch))
		if err != nil {
			return err
		}
		defer st.Close()
		for b := 0; b < full; b++ {
			args = w.appendArgs(args[:0], b*batch, (b+1)*batch)
			if _, err := st.ExecContext(ctx, args...); err != nil {
				return err
			}
			w.res.Rows += int64(batch)
			if err := faultAfterRows(w.res.Rows); err != nil {
				return err
			}
		}
	}
	if rest := w.rows - full*batch; rest > 0 {
		args = w.appendArgs(args[:0], full*batch, w.rows)
		if _, err := ex.ExecContext(ctx, w.insertSQL(rest), args...); err != nil {
			return err
		}
		w.res.Rows += int64(rest)
		if err := faultAfterRows(w.res.Rows); err != nil {
			return err
		}
	}
	return nil
}

func (w *write) insertSQL(rows int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "INSERT INTO %s (%s) VALUES ", w.qtable, strings.Join(w.qcols, ", "))
	n := 1
	for r := 0; r < rows; r++ {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range w.cols {
			if c > 0 {
				b.WriteString(", ")
			}
			b.WriteString(w.d.placeholder(n))
			n++
		}
		b.WriteByte(')')
	}
	return b.String()
}

func (w *write) appendArgs(args []any, from, to int) []any {
	for r := from; r < to; r++ {
		for _, c := range w.cols {
			args = append(args, c.Values[r])
		}
	}
	return args
}

// pgCopier is a driver connection that can COPY, such as dbtest's.
type pgCopier interface {
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
}

// copyRows writes the rows with COPY through the connection's driver
// connection: pgx's stdlib connection, or one offering CopyFrom.
func (w *write) copyRows(ctx context.Context, conn *sql.Conn) (int64, error) {
	names := make([]string, len(w.cols))
	for i, c := range w.cols {
		names[i] = c.Name
	}
	src := &frameSource{w: w, row: -1}
	var n int64
	err := conn.Raw(func(dc any) error {
		var err error
		switch c := dc.(type) {
		case pgCopier:
			n, err = c.CopyFrom(ctx, pgx.Identifier{w.table}, names, src)
		case interface{ Conn() *pgx.Conn }:
			n, err = c.Conn().CopyFrom(ctx, pgx.Identifier{w.table}, names, src)
		default:
			err = errors.ErrUnsupported
		}
		if err != nil && src.err != nil {
			// The source failed; the server only echoes its message.
			err = fmt.Errorf("%w (COPY aborted: %v)", src.err, err)
		}
		return err
	})
	return n, err
}

// frameSource feeds COPY from the frame without copying it.
type frameSource struct {
	w    *write
	row  int
	vals []any
	err  error
}

func (s *frameSource) Next() bool {
	s.row++
	if s.err = faultAfterRows(int64(s.row)); s.err != nil {
		return false
	}
	return s.row < s.w.rows
}

func (s *frameSource) Values() ([]any, error) {
	if s.vals == nil {
		s.vals = make([]any, len(s.w.cols))
	}
	for i, c := range s.w.cols {
		s.vals[i] = c.Values[s.row]
	}
	return s.vals, nil
}

func (s *frameSource) Err() error { return s.err }

// faultAfterRows lets tests make an append fail part way: when it is set,
// it is asked after every batch (and every COPY row) and fails the append
// by returning an error. It is nil outside tests.
var faultHook func(rowsWritten int64) error

func faultAfterRows(n int64) error {
	if faultHook == nil {
		return nil
	}
	return faultHook(n)
}
