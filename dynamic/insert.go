package dynamic

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// insert writes the rows of a.vals: through the dialect's bulk path when
// it has one (streamed on ex, or through conn's driver connection) and the
// server takes it, else in multi-row INSERT statements,
// bound by the driver directly where the dialect can (SQLite), or through
// database/sql.
func (w *write) insert(ctx context.Context, ex execer, conn *sql.Conn, a *attempt) error {
	if w.rows == 0 {
		return nil
	}
	if sl, ok := w.d.(streamLoader); ok && !w.opts.noBulk {
		if err := sl.loadStream(ctx, ex, w, a); !errors.Is(err, errBulkUnsupported) {
			return err
		}
	}
	if bl, ok := w.d.(bulkLoader); ok && conn != nil && !w.opts.noBulk {
		names := make([]string, len(w.cols))
		for i, c := range w.cols {
			names[i] = c.Name
		}
		src := &rowSource{vals: a.vals, rows: w.rows, row: -1, hook: w.opts.afterRows}
		n, err := bl.bulkLoad(ctx, conn, w.table, names, src)
		if !errors.Is(err, errBulkUnsupported) {
			if err != nil {
				return err
			}
			a.rows, a.bulk = n, true
			return nil
		}
	}
	if di, ok := w.d.(directInserter); ok && conn != nil {
		if err := di.insertDirect(ctx, conn, w, a); !errors.Is(err, errBulkUnsupported) {
			return err
		}
	}
	return w.insertBatches(ctx, ex, a)
}

// batchRows is the number of rows of a full INSERT: the option's or the
// dialect's, lowered to the limit on bound parameters.
func (w *write) batchRows() int {
	n := w.d.batchRows()
	if w.opts.batchRows > 0 {
		n = w.opts.batchRows
	}
	return max(1, min(n, w.d.maxParams()/len(w.cols)))
}

// insertBatches writes the rows in multi-row INSERT statements: full
// batches through one prepared statement, reused; a last, shorter batch
// (or one cut short by the dialect's bound on a statement's bytes) through
// a statement of its own.
func (w *write) insertBatches(ctx context.Context, ex execer, a *attempt) error {
	batch := w.batchRows()
	budget := w.d.maxStatementBytes()
	var full *sql.Stmt
	defer func() {
		if full != nil {
			full.Close()
		}
	}()
	args := make([]any, 0, batch*len(w.cols))
	for from := 0; from < w.rows; {
		to := min(from+batch, w.rows)
		if budget > 0 {
			to = w.cut(from, to, budget)
		}
		args = args[:0]
		for r := from; r < to; r++ {
			for c := range a.vals {
				args = append(args, a.vals[c][r])
			}
		}
		var err error
		if to-from == batch {
			if full == nil {
				if full, err = ex.PrepareContext(ctx, w.insertSQL(batch)); err != nil {
					return err
				}
			}
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = ex.ExecContext(ctx, w.insertSQL(to-from), args...)
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

// cut returns the end of a batch from row from that holds at most budget
// bytes of values (and at least one row), at most to.
func (w *write) cut(from, to, budget int) int {
	size := 0
	for r := from; r < to; r++ {
		for _, c := range w.cols {
			switch v := c.Values[r].(type) {
			case string:
				size += len(v) + 8
			default:
				size += 16
			}
		}
		if size > budget && r > from {
			return r
		}
	}
	return to
}

// wrote counts n more rows of a written and calls the afterRows hook.
func (w *write) wrote(a *attempt, n int) error {
	a.rows += int64(n)
	if w.opts.afterRows != nil {
		return w.opts.afterRows(a.rows)
	}
	return nil
}

func (w *write) insertSQL(rows int) string {
	var b strings.Builder
	cols := strings.Join(w.qcols, ", ")
	b.Grow(len(w.qtable) + len(cols) + rows*len(w.cols)*8 + 32)
	fmt.Fprintf(&b, "INSERT INTO %s (%s) VALUES ", w.qtable, cols)
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

// rowSource feeds the bulk path from the encoded values, without copying
// them: a pgx.CopyFromSource.
type rowSource struct {
	vals [][]any
	rows int
	row  int
	buf  []any
	hook func(written int64) error
	err  error
}

func (s *rowSource) Next() bool {
	if s.hook != nil && s.row >= 0 {
		if s.err = s.hook(int64(s.row + 1)); s.err != nil {
			return false
		}
	}
	s.row++
	return s.row < s.rows
}

func (s *rowSource) Values() ([]any, error) {
	if s.buf == nil {
		s.buf = make([]any, len(s.vals))
	}
	for i := range s.vals {
		s.buf[i] = s.vals[i][s.row]
	}
	return s.buf, nil
}

func (s *rowSource) Err() error { return s.err }
