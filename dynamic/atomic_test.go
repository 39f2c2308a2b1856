package dynamic

import (
	"context"
	"errors"
	"testing"

	"github.com/easyautoml/dbharness/dbtest"
)

var errInjected = errors.New("injected failure")

// TestAtomicAppend makes appends fail after some rows were written, on
// every path (batched INSERT, COPY, inside a caller's transaction), into a
// new table and into an existing one: no row stays, and the table is as it
// was before, created table and added columns included.
func TestAtomicAppend(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		rows := make([][]any, 1000)
		for i := range rows {
			rows[i] = []any{i, "row"}
		}
		f, err := FromRows([]string{"n", "s"}, rows)
		if err != nil {
			t.Fatal(err)
		}
		extra, err := FromRows([]string{"n", "s", "added"}, [][]any{{1, "x", 2.5}, {2, "y", 3.5}, {3, "z", 4.5}})
		if err != nil {
			t.Fatal(err)
		}
		faultHook = func(n int64) error {
			if n >= 2 {
				return errInjected
			}
			return nil
		}
		defer func() { faultHook = nil }()
		for _, c := range []struct {
			name string
			opts []Option
			tx   bool
		}{
			{"insert", []Option{WithBatchRows(1), WithoutCopy()}, false},
			{"copy", nil, false},
			{"caller's transaction", []Option{WithBatchRows(1)}, true},
		} {
			var q Querier = db
			if c.tx {
				tx, err := db.BeginTx(ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer tx.Rollback()
				q = tx
			}
			// A new table: nothing of it may remain.
			if _, err := Append(ctx, q, db.Dialect(), "atomic_new", f, c.opts...); !errors.Is(err, errInjected) {
				t.Fatalf("%s: err = %v, want the injected failure", c.name, err)
			}
			if _, err := Count(ctx, q, db.Dialect(), "atomic_new"); !errors.Is(err, ErrNoTable) {
				t.Fatalf("%s: the failed append left its table behind: %v", c.name, err)
			}
			// An existing table: same rows, same columns as before.
			faultHook = nil
			if _, err := Append(ctx, q, db.Dialect(), "atomic_old", f.Slice(0, 1)); err != nil {
				t.Fatal(err)
			}
			faultHook = func(n int64) error {
				if n >= 2 {
					return errInjected
				}
				return nil
			}
			if _, err := Append(ctx, q, db.Dialect(), "atomic_old", extra, c.opts...); !errors.Is(err, errInjected) {
				t.Fatalf("%s: err = %v, want the injected failure", c.name, err)
			}
			got, err := Read(ctx, q, db.Dialect(), "atomic_old")
			if err != nil {
				t.Fatal(err)
			}
			if got.Len() != 1 || len(got.Names()) != 2 {
				t.Fatalf("%s: after the failed append the table has %d rows and columns %v; want 1 row, columns n and s", c.name, got.Len(), got.Names())
			}
			faultHook = nil
			if _, err := db.ExecContext(ctx, "DROP TABLE atomic_old"); err != nil && !c.tx {
				t.Fatal(err)
			}
			faultHook = func(n int64) error {
				if n >= 2 {
					return errInjected
				}
				return nil
			}
		}
	}, dbtest.WithoutMigrations())
}
