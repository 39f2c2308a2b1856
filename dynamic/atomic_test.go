package dynamic

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/easyautoml/dbharness/dbtest"
)

var errInjected = errors.New("injected failure")

// afterRows returns an option that calls fn after each batch (each row on
// COPY) with the number of rows written so far.
func afterRows(fn func(written int64) error) Option {
	return Option{"afterRows", func(o *appendOpts) error {
		o.afterRows = fn
		return nil
	}}
}

// failAfter fails an append once it has written n rows.
func failAfter(n int64) Option {
	return afterRows(func(written int64) error {
		if written >= n {
			return errInjected
		}
		return nil
	})
}

func frameOf(t testing.TB, cols []string, n int, extra ...any) *Frame {
	t.Helper()
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = append([]any{i, fmt.Sprintf("row %d", i)}, extra...)
	}
	f, err := FromRows(cols, rows)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// state is what a test can see of a table: its columns and rows, or that
// it does not exist.
func state(t testing.TB, q Querier, dialect, table string) string {
	t.Helper()
	f, err := Read(context.Background(), q, dialect, table)
	if errors.Is(err, ErrNoTable) {
		return "no table"
	}
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("columns %v, %d rows", f.Names(), f.Len())
}

// appendPaths are the ways Append runs: owning its transaction (INSERT,
// and COPY on PostgreSQL), on a caller's connection, and in a caller's
// transaction.
var appendPaths = []struct {
	name string
	opts []Option
	q    func(t *testing.T, db *dbtest.DB) Querier
}{
	{"owned, INSERT", []Option{WithBatchRows(2), WithoutCopy()}, func(t *testing.T, db *dbtest.DB) Querier { return db }},
	{"owned, default (COPY on PostgreSQL)", []Option{WithBatchRows(2)}, func(t *testing.T, db *dbtest.DB) Querier { return db }},
	{"caller's connection", []Option{WithBatchRows(2)}, func(t *testing.T, db *dbtest.DB) Querier {
		conn, err := db.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}},
	{"caller's transaction", []Option{WithBatchRows(2)}, func(t *testing.T, db *dbtest.DB) Querier {
		tx, err := db.BeginTx(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tx.Rollback() })
		return tx
	}},
}

// TestAtomicAppend makes appends fail after some rows are written, on
// every path, into a new table and into an existing one that the append
// widens: no row stays, and the table is as it was, its creation and new
// columns undone, on MySQL too.
func TestAtomicAppend(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		d := db.Dialect()
		for _, p := range appendPaths {
			t.Run(p.name, func(t *testing.T) {
				q := p.q(t, db)
				f := frameOf(t, []string{"n", "s"}, 10)
				_, err := Append(ctx, q, d, "atomic_new", f, append(p.opts, failAfter(3))...)
				if !errors.Is(err, errInjected) {
					t.Fatalf("err = %v, want the injected failure", err)
				}
				if got := state(t, q, d, "atomic_new"); got != "no table" {
					t.Errorf("the failed append left its table: %s", got)
				}

				mustAppendT(t, q, d, "atomic_old", frameOf(t, []string{"n", "s"}, 1))
				before := state(t, q, d, "atomic_old")
				wider := frameOf(t, []string{"n", "s", "added", "more"}, 10, 2.5, true)
				res, err := Append(ctx, q, d, "atomic_old", wider, append(p.opts, failAfter(3))...)
				if !errors.Is(err, errInjected) {
					t.Fatalf("err = %v, want the injected failure", err)
				}
				if res.Rows != 0 || res.AddedColumns != nil || res.Created {
					t.Errorf("Result of a failed append = %+v, want nothing written", res)
				}
				if got := state(t, q, d, "atomic_old"); got != before {
					t.Errorf("after the failed append: %s; before: %s", got, before)
				}
				// The table still takes the columns, and nothing was half done.
				if res := mustAppendT(t, q, d, "atomic_old", wider, p.opts...); len(res.AddedColumns) != 2 || res.Rows != 10 {
					t.Errorf("the append after the failed one: %+v", res)
				}
				if _, err := q.ExecContext(ctx, "DROP TABLE atomic_old"); err != nil {
					t.Fatal(err)
				}
			})
		}
	}, dbtest.WithoutMigrations())
}

func mustAppendT(t testing.TB, q Querier, dialect, table string, f *Frame, opts ...Option) Result {
	t.Helper()
	res, err := Append(context.Background(), q, dialect, table, f, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestAtomicConstraint: a row that the database itself refuses (a CHECK
// constraint) half way through an append that also adds columns.
func TestAtomicConstraint(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		d := db.Dialect()
		ddl := map[string]string{
			"sqlite":   `CREATE TABLE checked (_row_id INTEGER PRIMARY KEY, n INTEGER CHECK (n < 50), s TEXT)`,
			"postgres": `CREATE TABLE checked (_row_id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, n BIGINT CHECK (n < 50), s TEXT)`,
			"mysql":    `CREATE TABLE checked (_row_id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, n BIGINT, s LONGTEXT, CONSTRAINT n_small CHECK (n < 50)) ENGINE=InnoDB`,
		}[d]
		if _, err := db.ExecContext(ctx, ddl); err != nil {
			t.Fatal(err)
		}
		mustAppendT(t, db, d, "checked", frameOf(t, []string{"n", "s"}, 3))
		before := state(t, db, d, "checked")
		for _, p := range appendPaths {
			q := p.q(t, db)
			_, err := Append(ctx, q, d, "checked", frameOf(t, []string{"n", "s", "extra"}, 100, 1.5), WithBatchRows(10))
			if err == nil || !strings.HasPrefix(err.Error(), "dynamic: appending to checked: ") {
				t.Fatalf("%s: err = %v, want the CHECK violation", p.name, err)
			}
			if got := state(t, q, d, "checked"); got != before {
				t.Errorf("%s: after the failed append: %s; before: %s", p.name, got, before)
			}
		}
	}, dbtest.WithoutMigrations())
}

// TestAtomicCancel cancels the context half way through appends that own
// their transaction on separate connections: the rollback and, on MySQL,
// the undo of the DDL still run, on a context that outlives the
// cancellation.
func TestAtomicCancel(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		d := db.Dialect()
		raw, err := sql.Open(db.RawDriverName(), db.RawDSN())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { raw.Close() })
		t.Cleanup(func() {
			for _, table := range []string{"cancel_new", "cancel_old"} {
				if _, err := raw.Exec("DROP TABLE IF EXISTS " + table); err != nil {
					t.Error(err)
				}
			}
		})
		for _, opts := range [][]Option{{WithoutCopy()}, nil} {
			ctx, cancel := context.WithCancel(context.Background())
			cancelAt := afterRows(func(written int64) error {
				if written >= 3 {
					cancel()
				}
				return nil
			})
			f := frameOf(t, []string{"n", "s"}, 50)
			_, err := Append(ctx, raw, d, "cancel_new", f, append(opts, WithBatchRows(2), cancelAt)...)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			if got := state(t, raw, d, "cancel_new"); got != "no table" {
				t.Errorf("the cancelled append left its table: %s", got)
			}

			mustAppendT(t, raw, d, "cancel_old", frameOf(t, []string{"n", "s"}, 1))
			before := state(t, raw, d, "cancel_old")
			ctx, cancel = context.WithCancel(context.Background())
			_, err = Append(ctx, raw, d, "cancel_old", frameOf(t, []string{"n", "s", "added"}, 50, "x"), append(opts, WithBatchRows(2), cancelAt)...)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			if got := state(t, raw, d, "cancel_old"); got != before {
				t.Errorf("after the cancelled append: %s; before: %s", got, before)
			}
			if _, err := raw.Exec("DROP TABLE cancel_old"); err != nil {
				t.Fatal(err)
			}
			cancel()
		}
	}, dbtest.WithoutMigrations())
}

// TestUndoReportsWhatStays: when the undo of MySQL's DDL fails too, the
// error says what stayed.
func TestUndoReportsWhatStays(t *testing.T) {
	w := &write{d: mysqlDialect{}, table: "t", qtable: "`t`"}
	cause := errors.New("rows failed")
	err := w.undo(context.Background(), failingQuerier{}, nil, &attempt{created: true}, cause)
	if !errors.Is(err, cause) || !strings.Contains(err.Error(), "the table it created could not be dropped (DROP TABLE `t`)") {
		t.Errorf("err = %v", err)
	}
	w.qcols = []string{"`a`", "`b`"}
	err = w.undo(context.Background(), failingQuerier{}, nil, &attempt{added: []int{1}}, cause)
	if !strings.Contains(err.Error(), "the columns it added could not be dropped (ALTER TABLE `t` DROP COLUMN `b`)") {
		t.Errorf("err = %v", err)
	}
	if got := w.undo(context.Background(), failingQuerier{}, nil, &attempt{}, cause); got != cause {
		t.Errorf("undo without DDL = %v, want the cause alone", got)
	}
}

type failingQuerier struct {
	Querier
	err error
}

func (q failingQuerier) ExecContext(context.Context, string, ...any) (sql.Result, error) {
	if q.err != nil {
		return nil, q.err
	}
	return nil, errors.New("server gone")
}

// TestUndoOnSpareConnection: when the connection of the append is gone,
// the undo runs on another connection of the pool.
func TestUndoOnSpareConnection(t *testing.T) {
	db := dbtest.Open(t, dbtest.SQLite, dbtest.WithoutMigrations())
	if _, err := db.Exec("CREATE TABLE t (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	w := &write{d: mysqlDialect{}, table: "t", qtable: `"t"`}
	cause := errors.New("rows failed")
	gone := failingQuerier{err: driver.ErrBadConn}
	if err := w.undo(context.Background(), gone, db, &attempt{created: true}, cause); err != cause {
		t.Fatalf("undo = %v, want the cause alone", err)
	}
	if _, err := Count(context.Background(), db, "sqlite", "t"); !errors.Is(err, ErrNoTable) {
		t.Errorf("the table is still there: %v", err)
	}
	err := w.undo(context.Background(), gone, nil, &attempt{created: true}, cause)
	if !strings.Contains(err.Error(), "could not be dropped") || !errors.Is(err, driver.ErrBadConn) {
		t.Errorf("undo without a spare connection = %v", err)
	}
}

// TestBatchCut: statements are cut to the byte budget, never below one
// row.
func TestBatchCut(t *testing.T) {
	big := strings.Repeat("x", 1000)
	f, err := FromRows([]string{"s"}, [][]any{{big}, {big}, {big}, {big}, {strings.Repeat("y", 5000)}, {big}})
	if err != nil {
		t.Fatal(err)
	}
	w, err := newWrite(mysqlDialect{}, "t", f, &appendOpts{})
	if err != nil {
		t.Fatal(err)
	}
	var cuts []int
	for from := 0; from < f.Len(); {
		to := w.cut(from, f.Len(), 2100)
		cuts = append(cuts, to)
		from = to
	}
	if diff := cmp.Diff([]int{2, 4, 5, 6}, cuts); diff != "" {
		t.Errorf("batch ends (-want +got):\n%s", diff)
	}
}

// TestCallersTransactionAfterDDL: after an append in the caller's
// transaction, failed or not, what the caller writes next is still rolled
// back by its Rollback, on MySQL too, where the append's DDL committed the
// transaction and Append began a new one.
func TestCallersTransactionAfterDDL(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		d := db.Dialect()
		raw, err := sql.Open(db.RawDriverName(), db.RawDSN())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { raw.Close() })
		t.Cleanup(func() {
			for _, table := range []string{"later", "fresh_ok", "fresh_failed"} {
				if _, err := raw.Exec("DROP TABLE IF EXISTS " + table); err != nil {
					t.Error(err)
				}
			}
		})
		if _, err := raw.Exec("CREATE TABLE later (x INTEGER)"); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			table string
			opts  []Option
		}{
			{"fresh_failed", []Option{WithBatchRows(1), failAfter(2)}},
			{"fresh_ok", nil},
		} {
			tx, err := raw.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Append(ctx, tx, d, c.table, frameOf(t, []string{"n", "s"}, 5), c.opts...)
			if (err != nil) != (c.opts != nil) {
				t.Fatalf("%s: err = %v", c.table, err)
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO later (x) VALUES (1)"); err != nil {
				t.Fatal(err)
			}
			if err := tx.Rollback(); err != nil {
				t.Fatalf("%s: rolling back the caller's transaction: %v", c.table, err)
			}
			if n := mustCount(t, raw, d, "later"); n != 0 {
				t.Errorf("%s: the caller's write after the append escaped its rollback", c.table)
			}
		}
		if got := state(t, raw, d, "fresh_failed"); got != "no table" {
			t.Errorf("the failed append left %s", got)
		}
	}, dbtest.WithoutMigrations())
}
