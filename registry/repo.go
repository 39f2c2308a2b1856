package registry

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// DBTX is what the repository needs of a database handle: a pool
// (*sql.DB), a transaction (*sql.Tx) or a single connection (*sql.Conn).
type DBTX interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

var (
	_ DBTX = (*sql.DB)(nil)
	_ DBTX = (*sql.Tx)(nil)
	_ DBTX = (*sql.Conn)(nil)
)

// txBeginner is a handle that can start a transaction; the repository uses
// one, when it has one, to make multi-statement operations atomic.
type txBeginner interface {
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

// Repo reads and writes the registry through one database handle. It holds
// no state of its own besides its options, and is safe for concurrent use
// when its handle is.
type Repo struct {
	q     DBTX
	d     *dialect
	clock func() time.Time
}

// An Option configures a [Repo]; [WithClock] makes one. Options validate
// their arguments, and giving the same option twice is an error.
type Option struct {
	apply func(*options) error
}

type options struct {
	clock func() time.Time
	seen  map[string]bool
}

func (o *options) once(name string) error {
	if o.seen[name] {
		return fmt.Errorf("registry: %s given twice: %w", name, ErrInvalid)
	}
	o.seen[name] = true
	return nil
}

// WithClock sets the clock that timestamps rows and decides whether a
// table lock has expired (default: [time.Now]). The repository compares
// expiry against this clock, never the database's NOW(), so every backend
// behaves the same and tests can move time at will. Times are stored in
// UTC, to the microsecond.
func WithClock(now func() time.Time) Option {
	return Option{func(o *options) error {
		if now == nil {
			return fmt.Errorf("registry: WithClock: nil clock: %w", ErrInvalid)
		}
		if err := o.once("WithClock"); err != nil {
			return err
		}
		o.clock = now
		return nil
	}}
}

// New returns a repository over q, which speaks dialect: "sqlite",
// "postgres" or "mysql" (or an alias that package migrations accepts:
// "sqlite3", "pgx", "mariadb").
func New(q DBTX, dialect string, opts ...Option) (*Repo, error) {
	if q == nil {
		return nil, fmt.Errorf("registry: nil database handle: %w", ErrInvalid)
	}
	d, err := lookupDialect(dialect)
	if err != nil {
		return nil, err
	}
	o := options{clock: time.Now, seen: map[string]bool{}}
	for _, opt := range opts {
		if opt.apply == nil {
			return nil, fmt.Errorf("registry: zero Option: %w", ErrInvalid)
		}
		if err := opt.apply(&o); err != nil {
			return nil, err
		}
	}
	return &Repo{q: q, d: d, clock: o.clock}, nil
}

// WithTx returns a repository like r that works through q instead,
// typically a transaction begun on r's handle.
func (r *Repo) WithTx(q DBTX) *Repo {
	c := *r
	c.q = q
	return &c
}

// Dialect returns the canonical name of the repository's dialect:
// "sqlite", "postgres" or "mysql".
func (r *Repo) Dialect() string { return r.d.name }

// now returns the clock's time as stored: UTC, to the microsecond.
func (r *Repo) now() time.Time { return r.clock().UTC().Truncate(time.Microsecond) }

// t turns a time into a bind argument for the dialect.
func (r *Repo) t(t time.Time) any { return r.d.timeArg(t.UTC().Truncate(time.Microsecond)) }

func (r *Repo) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return r.q.ExecContext(ctx, r.d.rebind(query), args...)
}

func (r *Repo) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return r.q.QueryContext(ctx, r.d.rebind(query), args...)
}

func (r *Repo) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return r.q.QueryRowContext(ctx, r.d.rebind(query), args...)
}

// insert runs an INSERT and returns the new row's id.
func (r *Repo) insert(ctx context.Context, query string, args ...any) (int64, error) {
	if r.d.returning {
		var id int64
		err := r.queryRow(ctx, query+" RETURNING id", args...).Scan(&id)
		return id, err
	}
	res, err := r.exec(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// inTx runs fn in a transaction when r's handle can begin one (a *sql.DB or
// *sql.Conn), and directly otherwise (a *sql.Tx: the caller's transaction
// already makes it atomic).
func (r *Repo) inTx(ctx context.Context, fn func(r *Repo) error) (err error) {
	b, ok := r.q.(txBeginner)
	if !ok {
		return fn(r)
	}
	tx, err := b.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("registry: beginning a transaction: %w", err)
	}
	defer func() {
		if err != nil {
			if rerr := tx.Rollback(); rerr != nil && !errors.Is(rerr, sql.ErrTxDone) {
				err = errors.Join(err, fmt.Errorf("registry: rolling back: %w", rerr))
			}
		}
	}()
	if err := fn(r.WithTx(tx)); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("registry: committing: %w", err)
	}
	return nil
}

// wrap adds context to a database error: what was being done, and
// ErrNotFound or ErrDuplicate when the error means that.
func (r *Repo) wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	what := fmt.Sprintf(format, args...)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("registry: %s: %w", what, ErrNotFound)
	case r.d.duplicate(err):
		return fmt.Errorf("registry: %s: %w: %w", what, ErrDuplicate, err)
	}
	return fmt.Errorf("registry: %s: %w", what, err)
}

// nullable turns an optional id into a bind argument.
func nullable(id *int64) any {
	if id == nil {
		return nil
	}
	return *id
}

// A rowScanner is a *sql.Row or *sql.Rows.
type rowScanner interface {
	Scan(dest ...any) error
}

// collect scans every row of a query with scan.
func collect[T any](rows *sql.Rows, err error, scan func(rowScanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
