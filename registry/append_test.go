package registry_test

import (
	"context"
	"errors"
	"testing"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/dynamic"
	"github.com/easyautoml/dbharness/fixtures"
	"github.com/easyautoml/dbharness/registry"
)

// TestAppendToMachine: the append records a DataLinesOperation, and a lock
// held by another holder stops it before any row is written.
func TestAppendToMachine(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		ids := fixtures.MustLoadBase(t, db)
		repo, err := registry.New(db, db.Dialect())
		if err != nil {
			t.Fatal(err)
		}
		alice, _ := ids.ID("users.alice")
		m, _ := ids.ID("machines.alice_private")
		f, err := dynamic.FromRows([]string{"x", "label"}, [][]any{{1, "a"}, {2, "b"}, {3, "c"}})
		if err != nil {
			t.Fatal(err)
		}
		res, err := repo.AppendToMachine(ctx, db, m, alice, f)
		if err != nil {
			t.Fatal(err)
		}
		if res.Rows != 3 {
			t.Fatalf("%d rows", res.Rows)
		}
		ops, err := repo.ListDataLinesOperations(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		if len(ops) != 1 || ops[0].RowsCount != 3 || ops[0].ColumnsCount != 2 || ops[0].UserID != alice {
			t.Fatalf("operations = %+v, want one of 3 rows and 2 columns by alice", ops)
		}
		if _, err := repo.GetTableLock(ctx, m); !errors.Is(err, registry.ErrNotFound) {
			t.Fatalf("the append left its lock behind: %v", err)
		}

		lock, err := repo.AcquireTableLock(ctx, m, "someone else", 60e9)
		if err != nil {
			t.Fatal(err)
		}
		_, err = repo.AppendToMachine(ctx, db, m, alice, f)
		if !errors.Is(err, registry.ErrLockHeld) {
			t.Fatalf("append under another's lock: err = %v, want ErrLockHeld", err)
		}
		if n, _ := dynamic.Count(ctx, db, db.Dialect(), "machine_alice_private"); n != 3 {
			t.Fatalf("%d rows after the refused append, want 3", n)
		}
		repo.ReleaseTableLock(ctx, lock)
	})
}
