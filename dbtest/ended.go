package dbtest

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
)

// ErrTestEnded is matched by errors.Is when a handle, or a transaction,
// connection or pool it gave, is used after the test that opened it ended
// (or after [DB.Release]). The error names that test and where it opened
// the handle, instead of database/sql's "sql: database is closed". For a
// handle opened with [WithoutTransaction] it says that the handle's pool
// was closed and its database restored; the transactions and connections
// such a handle gave, and pools opened with its [DB.DSN], are plain ones of
// the backend's driver and fail with that driver's own errors.
var ErrTestEnded = errors.New("dbtest: handle used after its test ended")

// endedErr is the error of a statement on s after its test ended.
func (s *session) endedErr() error { return endedErr(s.owner, false) }

// endedErr is the error of a handle used after the test that opened it
// ended; owner names that test and where it opened the handle. A handle
// without a transaction ([WithoutTransaction]) had none to roll back: its
// pool was closed and its database restored.
func endedErr(owner string, noTx bool) error {
	if owner == "" {
		owner = "a test"
	}
	if noTx {
		return fmt.Errorf("%w: it belongs to %s, which has ended; its pool was closed and its database was restored for other tests", ErrTestEnded, owner)
	}
	return fmt.Errorf("%w: it belongs to %s, which has ended; its transaction was rolled back and its database given to other tests", ErrTestEnded, owner)
}

// ownerOf names a handle's test and where it opened the handle, for
// [ErrTestEnded].
func ownerOf(test, openedAt string) string {
	return fmt.Sprintf("%s (opened at %s)", test, openedAt)
}

// unknownSessionErr is the error of a pool opened with a [DB.DSN] whose
// handle no longer exists; owner names its test when it was known.
func unknownSessionErr(id, owner string) error {
	if owner != "" {
		return fmt.Errorf("%w: the pool's DSN belongs to %s, which has ended; its transaction was rolled back", ErrTestEnded, owner)
	}
	return fmt.Errorf("%w: the DSN %s:%s names a handle whose test has ended, or one this process did not open", ErrTestEnded, txDriverName, id)
}

// endedCheck returns the error of a call on db after its test ended, and
// otherwise err: database/sql's own error for a closed pool says nothing
// of the test.
func (db *DB) endedCheck(err error) error {
	if db.ended.Load() && (err == nil || !errors.Is(err, ErrTestEnded)) {
		return endedErr(db.owner, db.noTx)
	}
	return err
}

// ExecContext runs query in the test's transaction, like
// [sql.DB.ExecContext]; under [WithoutTransaction] it runs on the handle's
// pool and commits. After the test ended it returns [ErrTestEnded].
func (db *DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := db.endedCheck(nil); err != nil {
		return nil, err
	}
	r, err := db.DB.ExecContext(ctx, query, args...)
	if err != nil {
		return nil, db.endedCheck(err)
	}
	return r, nil
}

// Exec is [DB.ExecContext] with the background context.
func (db *DB) Exec(query string, args ...any) (sql.Result, error) {
	return db.ExecContext(context.Background(), query, args...)
}

// QueryContext runs query in the test's transaction, like
// [sql.DB.QueryContext]; under [WithoutTransaction] it runs on the
// handle's pool. After the test ended it returns [ErrTestEnded].
func (db *DB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if err := db.endedCheck(nil); err != nil {
		return nil, err
	}
	rows, err := db.DB.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, db.endedCheck(err)
	}
	return rows, nil
}

// Query is [DB.QueryContext] with the background context.
func (db *DB) Query(query string, args ...any) (*sql.Rows, error) {
	return db.QueryContext(context.Background(), query, args...)
}

// QueryRowContext runs query in the test's transaction, like
// [sql.DB.QueryRowContext]; under [WithoutTransaction] it runs on the
// handle's pool. After the test ended the row's error is [ErrTestEnded].
func (db *DB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if err := db.endedCheck(nil); err != nil {
		return errorRow(ctx, err)
	}
	return db.DB.QueryRowContext(ctx, query, args...)
}

// QueryRow is [DB.QueryRowContext] with the background context.
func (db *DB) QueryRow(query string, args ...any) *sql.Row {
	return db.QueryRowContext(context.Background(), query, args...)
}

// BeginTx begins a transaction nested in the test's (a savepoint), like
// [sql.DB.BeginTx]; under [WithoutTransaction] it begins a transaction of
// its own on the handle's pool, whose Commit commits. After the test ended
// it returns [ErrTestEnded].
func (db *DB) BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error) {
	if err := db.endedCheck(nil); err != nil {
		return nil, err
	}
	tx, err := db.DB.BeginTx(ctx, opts)
	if err != nil {
		return nil, db.endedCheck(err)
	}
	return tx, nil
}

// Begin is [DB.BeginTx] with the background context.
func (db *DB) Begin() (*sql.Tx, error) { return db.BeginTx(context.Background(), nil) }

// PrepareContext prepares query on the test's transaction, like
// [sql.DB.PrepareContext]; under [WithoutTransaction] it prepares it on the
// handle's pool. After the test ended it returns [ErrTestEnded].
func (db *DB) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	if err := db.endedCheck(nil); err != nil {
		return nil, err
	}
	st, err := db.DB.PrepareContext(ctx, query)
	if err != nil {
		return nil, db.endedCheck(err)
	}
	return st, nil
}

// Prepare is [DB.PrepareContext] with the background context.
func (db *DB) Prepare(query string) (*sql.Stmt, error) {
	return db.PrepareContext(context.Background(), query)
}

// Conn returns a connection on the test's transaction, like [sql.DB.Conn];
// under [WithoutTransaction] it returns one of the handle's pool, outside
// any transaction. After the test ended it returns [ErrTestEnded].
func (db *DB) Conn(ctx context.Context) (*sql.Conn, error) {
	if err := db.endedCheck(nil); err != nil {
		return nil, err
	}
	c, err := db.DB.Conn(ctx)
	if err != nil {
		return nil, db.endedCheck(err)
	}
	return c, nil
}

// PingContext checks the handle, like [sql.DB.PingContext]; after the test
// ended it returns [ErrTestEnded].
func (db *DB) PingContext(ctx context.Context) error {
	if err := db.endedCheck(nil); err != nil {
		return err
	}
	return db.endedCheck(db.DB.PingContext(ctx))
}

// Ping is [DB.PingContext] with the background context.
func (db *DB) Ping() error { return db.PingContext(context.Background()) }

// errorRow returns a *sql.Row whose Scan and Err return err: database/sql
// makes a Row only from a query, so the query runs on a pool whose every
// connection attempt fails with err.
func errorRow(ctx context.Context, err error) *sql.Row {
	pool := sql.OpenDB(failConnector{err})
	defer pool.Close()
	return pool.QueryRowContext(context.WithoutCancel(ctx), "")
}

// failConnector fails every connection with err.
type failConnector struct{ err error }

func (c failConnector) Connect(context.Context) (driver.Conn, error) { return nil, c.err }
func (failConnector) Driver() driver.Driver                          { return failDriver{} }

type failDriver struct{}

func (failDriver) Open(string) (driver.Conn, error) { return nil, errors.New("dbtest: no driver") }
