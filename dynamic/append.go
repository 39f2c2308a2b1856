package dynamic

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
)

// Querier is what Append, Read and Count accept: a *sql.DB, a *sql.Tx or a
// *sql.Conn, or a type that embeds a *sql.DB (such as a test harness's
// handle).
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

var (
	_ Querier  = (*sql.DB)(nil)
	_ Querier  = (*sql.Tx)(nil)
	_ Querier  = (*sql.Conn)(nil)
	_ connPool = (*sql.DB)(nil)
	_ execer   = (*sql.Tx)(nil)
	_ execer   = (*sql.Conn)(nil)
)

// connPool is a Querier that hands out connections: a *sql.DB. Append owns
// its transaction on one of them, and may retry it.
type connPool interface {
	Querier
	Conn(ctx context.Context) (*sql.Conn, error)
}

// execer runs statements inside or outside a transaction: a *sql.Tx or a
// *sql.Conn.
type execer interface {
	Querier
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// Result reports what an append did.
type Result struct {
	// Rows is the number of rows written: the frame's length on success,
	// 0 on failure (nothing stays).
	Rows int64
	// Attempts is how many times the append was tried: more than 1 after
	// lock conflicts when Append owned the transaction.
	Attempts int
	// Created tells that the append created the table.
	Created bool
	// AddedColumns are the columns the append added to an existing table,
	// in frame order.
	AddedColumns []string
	// NonFinite counts, per column, the NaN and ±Inf values stored as NULL.
	// It is nil when there were none.
	NonFinite map[string]int
	// Bulk tells that the rows went through PostgreSQL's COPY or MySQL's
	// LOAD DATA LOCAL INFILE.
	Bulk bool
}

// Append writes the frame's rows into table, creating the table when it
// does not exist and adding the columns the frame brings: either every row
// is in and the table is as the frame needs it, or the rows and the table
// are as they were. The frame's columns are matched to the table's by
// name; table columns the frame lacks get NULL. dialectName is "sqlite",
// "postgres" or "mysql" (or "sqlite3", "postgresql", "pgx", "mariadb").
//
// q decides where the append runs:
//
//   - *sql.Tx: inside the caller's transaction, in a savepoint. Nothing is
//     retried; a lock conflict returns at once an error matching
//     [ErrLocked], with Attempts 1.
//   - *sql.Conn: on that connection, in a transaction begun there (a
//     savepoint under a harness that wraps the connection in its own
//     transaction). Nothing is retried, as with a *sql.Tx.
//   - *sql.DB (or a type embedding one): on one connection taken from the
//     pool, in a transaction Append owns. A lock conflict rolls back and
//     retries the whole append, as [WithRetry] bounds it.
//
// Append never opens a second connection: with a *sql.Tx or a *sql.Conn,
// every statement runs on the caller's connection.
//
// On MySQL, DDL commits the current transaction: see the package
// documentation, under Atomicity, for what Append does about it and what
// it cannot undo.
func Append(ctx context.Context, q Querier, dialectName, table string, f *Frame, opts ...Option) (Result, error) {
	d, err := lookupDialect(dialectName)
	if err != nil {
		return Result{}, err
	}
	o, err := appendConfig(opts)
	if err != nil {
		return Result{}, err
	}
	w, err := newWrite(d, table, f, o)
	if err != nil {
		return Result{}, err
	}
	switch q := q.(type) {
	case *sql.Tx:
		return w.inTx(ctx, q)
	case *sql.Conn:
		return w.onConn(ctx, q)
	case connPool:
		return w.owned(ctx, q)
	case nil:
		return Result{}, errors.New("dynamic: Append: nil Querier")
	}
	return Result{}, fmt.Errorf("dynamic: Append needs a *sql.DB, *sql.Tx or *sql.Conn, not %T", q)
}

// write is one append: the frame checked and made ready for the database.
type write struct {
	d         dialect
	opts      *appendOpts
	table     string
	qtable    string
	cols      []Column // the frame's columns, NaN and ±Inf replaced by nil
	qcols     []string
	rows      int
	nonFinite map[string]int
}

func newWrite(d dialect, table string, f *Frame, o *appendOpts) (*write, error) {
	qt, err := quoteIdent(d, table)
	if err != nil {
		return nil, fmt.Errorf("dynamic: table name: %w", err)
	}
	if f == nil || len(f.cols) == 0 {
		return nil, fmt.Errorf("dynamic: appending to %s: the frame has no columns", table)
	}
	w := &write{d: d, opts: o, table: table, qtable: qt, rows: f.rows}
	for _, c := range f.cols {
		qc, err := quoteIdent(d, c.Name)
		if err != nil {
			return nil, fmt.Errorf("dynamic: appending to %s: column %s: %w", table, quoteShort(c.Name), err)
		}
		if c.Type == Float {
			c.Values = w.dropNonFinite(c.Name, c.Values)
		}
		w.cols = append(w.cols, c)
		w.qcols = append(w.qcols, qc)
	}
	return w, nil
}

// dropNonFinite returns vals with NaN and ±Inf replaced by nil, copying
// vals only when it has some, and counts them.
func (w *write) dropNonFinite(name string, vals []any) []any {
	copied := false
	for i, v := range vals {
		if x, ok := v.(float64); ok && (math.IsNaN(x) || math.IsInf(x, 0)) {
			if !copied {
				vals = append([]any(nil), vals...)
				copied = true
			}
			vals[i] = nil
			if w.nonFinite == nil {
				w.nonFinite = map[string]int{}
			}
			w.nonFinite[name]++
		}
	}
	return vals
}

// attempt is what one try of the append did.
type attempt struct {
	ddlRan  bool // a DDL statement was sent, whether or not it succeeded
	created bool
	added   []int   // indexes into write.cols of the columns added
	vals    [][]any // per column, the values as bound for the table
	rows    int64
	bulk    bool
}

func (w *write) result(a *attempt, attempts int, ok bool) Result {
	r := Result{Attempts: attempts}
	if a != nil && ok {
		r.Rows, r.Created, r.Bulk, r.NonFinite = a.rows, a.created, a.bulk, w.nonFinite
		for _, i := range a.added {
			r.AddedColumns = append(r.AddedColumns, w.cols[i].Name)
		}
	}
	return r
}

func (w *write) wrap(err error) error {
	return fmt.Errorf("dynamic: appending to %s: %w", w.table, err)
}

// owned appends in a transaction of its own on a connection of the pool,
// retrying the whole on lock conflicts (after a backoff), and when another
// connection created the table or added a column at the same time (at
// once), within the attempts of the retry policy.
func (w *write) owned(ctx context.Context, db connPool) (Result, error) {
	var last error
	p := w.opts.retry
	for n := 1; ; n++ {
		conn, err := db.Conn(ctx)
		if err != nil {
			return w.result(nil, n, false), w.wrap(err)
		}
		a := &attempt{}
		poisoned, err := w.onConnOnce(ctx, conn, db, a)
		if poisoned {
			// The pool must not hand out a connection in an unknown state.
			conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		conn.Close()
		if err == nil {
			return w.result(a, n, true), nil
		}
		if isSchemaRace(err) && n < p.attempts {
			continue // at once: the next look at the table sees the other's DDL
		}
		if !isLockError(err) {
			return w.result(nil, n, false), w.wrap(err)
		}
		last = err
		if poisoned || isHopeless(err) || n >= p.attempts {
			return w.result(nil, n, false), &LockedError{Table: w.table, Attempts: n, Err: last}
		}
		if werr := p.wait(ctx, n); werr != nil {
			return w.result(nil, n, false), &LockedError{Table: w.table, Attempts: n, Err: errors.Join(last, werr)}
		}
		if w.opts.beforeRetry != nil {
			w.opts.beforeRetry(n + 1)
		}
	}
}

// onConn appends once on the caller's connection.
func (w *write) onConn(ctx context.Context, conn *sql.Conn) (Result, error) {
	a := &attempt{}
	if _, err := w.onConnOnce(ctx, conn, nil, a); err != nil {
		return w.result(nil, 1, false), w.fail(err)
	}
	return w.result(a, 1, true), nil
}

func (w *write) fail(err error) error {
	var cl *ConnectionLostError
	if errors.As(err, &cl) {
		return w.wrap(err)
	}
	if isLockError(err) {
		return &LockedError{Table: w.table, Attempts: 1, Err: err}
	}
	return w.wrap(err)
}

// onConnOnce is one try on a connection outside a transaction: schema and
// rows in one transaction begun on it, or, where DDL commits, the DDL first
// and undone if the rows fail (on spare's connection if conn's is gone, when
// there is a spare). poisoned reports that the transaction could
// not be rolled back, so that the connection's state is unknown.
func (w *write) onConnOnce(ctx context.Context, conn *sql.Conn, spare connPool, a *attempt) (poisoned bool, err error) {
	committing := false
	defer func() { err = lost(ctx, err, committing) }()
	if w.d.ddlCommits() {
		if err := w.schema(ctx, conn, a); err != nil {
			return false, w.undo(ctx, conn, spare, a, err)
		}
	}
	// The transaction outlives ctx, and only its statements are bound to
	// ctx, so that the rollback below is synchronous. A transaction bound
	// to ctx is rolled back by database/sql in another goroutine when ctx
	// ends: Append could return before that rollback ran, while the
	// caller's connection (a *sql.Conn, or a harness's handle on it) still
	// showed the rows; and where DDL commits, the undo's DDL could overtake
	// the rollback and commit the rows.
	if w.d.ddlCommits() {
		if err := ctx.Err(); err != nil {
			return false, w.undo(ctx, conn, spare, a, err)
		}
	}
	tx, err := conn.BeginTx(context.WithoutCancel(ctx), w.d.txOptions())
	if err != nil {
		return false, w.undo(ctx, conn, spare, a, err)
	}
	err = func() error {
		if !w.d.ddlCommits() {
			if err := w.schema(ctx, tx, a); err != nil {
				return err
			}
		}
		if err := w.insert(ctx, tx, conn, a); err != nil {
			return err
		}
		committing = true
		return tx.Commit()
	}()
	if err != nil {
		err = withCtx(ctx, err)
		if rerr := tx.Rollback(); rerr != nil && !errors.Is(rerr, sql.ErrTxDone) {
			poisoned = true
			err = errors.Join(err, fmt.Errorf("rolling back: %w", rerr))
		}
		return poisoned, w.undo(ctx, conn, spare, a, err)
	}
	return false, nil
}

// withCtx adds the context's error to err when the context has ended:
// database/sql then reports what the cancellation did (a statement or
// transaction closed under it) rather than the cancellation itself.
func withCtx(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return errors.Join(err, cerr)
	}
	return err
}

// savepoint names the savepoint of an append inside a caller's
// transaction.
const savepoint = "dynamic_append"

// inTx appends inside the caller's transaction, in a savepoint. Where DDL
// commits, the DDL runs before the savepoint and, since it has ended the
// caller's transaction (MySQL commits before running a DDL statement, even
// one that then fails), a new one is begun so that the rows, and what the
// caller does next, are still a transaction the caller commits or rolls
// back. So it is after the undo of that DDL too.
func (w *write) inTx(ctx context.Context, tx *sql.Tx) (Result, error) {
	a := &attempt{}
	// failBefore handles a failure before the savepoint.
	failBefore := func(err error) (Result, error) {
		err = w.undo(ctx, tx, nil, a, err)
		if a.ddlRan {
			if rerr := reopen(context.WithoutCancel(ctx), tx); rerr != nil {
				err = errors.Join(err, rerr)
			}
		}
		return w.result(nil, 1, false), w.fail(lost(ctx, err, false))
	}
	if w.d.ddlCommits() {
		if err := w.schema(ctx, tx, a); err != nil {
			return failBefore(err)
		}
		if a.ddlRan {
			if err := reopen(ctx, tx); err != nil {
				return failBefore(err)
			}
		}
	}
	if _, err := tx.ExecContext(ctx, "SAVEPOINT "+savepoint); err != nil {
		return failBefore(err)
	}
	err := func() error {
		if !w.d.ddlCommits() {
			if err := w.schema(ctx, tx, a); err != nil {
				return err
			}
		}
		if err := w.insert(ctx, tx, nil, a); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT "+savepoint)
		return err
	}()
	if err != nil {
		err = withCtx(ctx, err)
		bctx := context.WithoutCancel(ctx)
		if _, rerr := tx.ExecContext(bctx, "ROLLBACK TO SAVEPOINT "+savepoint); rerr != nil {
			err = errors.Join(err, fmt.Errorf("rolling back to the savepoint: %w", rerr))
		} else {
			tx.ExecContext(bctx, "RELEASE SAVEPOINT "+savepoint)
		}
		err = w.undo(ctx, tx, nil, a, err)
		if w.d.ddlCommits() && a.ddlRan {
			if rerr := reopen(bctx, tx); rerr != nil {
				err = errors.Join(err, rerr)
			}
		}
		return w.result(nil, 1, false), w.fail(lost(ctx, err, false))
	}
	return w.result(a, 1, true), nil
}

// reopen makes sure the connection of tx is in a transaction after DDL
// that may have committed it: it sets and rolls back to a probe savepoint,
// which MySQL forgets at once outside a transaction, and begins a new
// transaction if it did.
func reopen(ctx context.Context, tx *sql.Tx) error {
	const probe = "dynamic_probe"
	if _, err := tx.ExecContext(ctx, "SAVEPOINT "+probe); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT "+probe)
	if err == nil || !isNoSavepoint(err) {
		return err
	}
	_, err = tx.ExecContext(ctx, "START TRANSACTION")
	return err
}

func (a *attempt) ddl() bool { return a.created || len(a.added) > 0 }
