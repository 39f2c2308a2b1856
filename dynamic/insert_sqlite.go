package dynamic

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/ncruces/go-sqlite3"
	sqlitedriver "github.com/ncruces/go-sqlite3/driver"
)

// SQLite's direct path. Through database/sql, every bound value is
// converted and checked by database/sql and the driver before the driver
// binds it; at 100,000 rows of 8 columns that is a large share of the
// time. On a *sql.Conn whose driver lends its *sqlite3.Conn, the same
// multi-row INSERT statements are prepared there and each value is bound
// by type. Batches, row numbers in errors and the rows counted are those
// of insertBatches.

// sqliteLender is a driver connection that lends the SQLite connection
// behind it, under its own lock, with the statement that fn runs for its
// lock reports: dbtest's connections bound to a test's transaction.
type sqliteLender interface {
	RawSQLite(ctx context.Context, query string, fn func(*sqlite3.Conn) error) error
}

// directInserter is a dialect whose rows can skip database/sql.
type directInserter interface {
	// insertDirect writes the rows of a on conn's driver connection; it
	// returns errBulkUnsupported when that connection lends none.
	insertDirect(ctx context.Context, conn *sql.Conn, w *write, a *attempt) error
}

func (sqliteDialect) insertDirect(ctx context.Context, conn *sql.Conn, w *write, a *attempt) error {
	full := w.insertSQL(w.batchRows())
	return conn.Raw(func(dc any) error {
		switch c := dc.(type) {
		case sqlitedriver.Conn:
			raw := c.Raw()
			if old := raw.SetInterrupt(ctx); old != ctx {
				defer raw.SetInterrupt(old)
			}
			return w.insertSQLite(raw, full, a)
		case sqliteLender:
			return c.RawSQLite(ctx, full, func(raw *sqlite3.Conn) error {
				return w.insertSQLite(raw, full, a)
			})
		}
		return errBulkUnsupported
	})
}

// insertSQLite writes the rows in batches of full's rows through raw,
// full's statement prepared once, a shorter last batch through one of its
// own.
func (w *write) insertSQLite(raw *sqlite3.Conn, full string, a *attempt) error {
	batch := w.batchRows()
	var fullStmt *sqlite3.Stmt
	defer func() {
		if fullStmt != nil {
			fullStmt.Close()
		}
	}()
	for from := 0; from < w.rows; {
		to := min(from+batch, w.rows)
		st := fullStmt
		if to-from == batch && st == nil {
			s, _, err := raw.Prepare(full)
			if err != nil {
				return fmt.Errorf("inserting rows %d to %d: %w", from+1, to, err)
			}
			fullStmt, st = s, s
		} else if to-from != batch {
			s, _, err := raw.Prepare(w.insertSQL(to - from))
			if err != nil {
				return fmt.Errorf("inserting rows %d to %d: %w", from+1, to, err)
			}
			defer s.Close()
			st = s
		}
		err := bindRows(st, a.vals, from, to)
		if err == nil {
			err = st.Exec()
		}
		if err != nil {
			return fmt.Errorf("inserting rows %d to %d: %w", from+1, to, err)
		}
		if err := w.wrote(a, to-from); err != nil {
			return err
		}
		from = to
	}
	return nil
}

// bindRows binds rows from to to of vals (per column) to st's parameters,
// in order.
func bindRows(st *sqlite3.Stmt, vals [][]any, from, to int) error {
	p := 1
	for r := from; r < to; r++ {
		for c := range vals {
			if err := bindValue(st, p, vals[c][r]); err != nil {
				return fmt.Errorf("row %d, column %d: %w", r+1, c+1, err)
			}
			p++
		}
	}
	return nil
}

// errBindType reports a value of a type the direct path does not bind; a
// frame holds none.
var errBindType = errors.New("dynamic: no SQLite binding for this type")

func bindValue(st *sqlite3.Stmt, p int, v any) error {
	switch v := v.(type) {
	case nil:
		return st.BindNull(p)
	case int64:
		return st.BindInt64(p, v)
	case float64:
		return st.BindFloat(p, v)
	case bool:
		return st.BindBool(p, v)
	case string:
		return st.BindText(p, v)
	}
	return fmt.Errorf("%w: %T", errBindType, v)
}
