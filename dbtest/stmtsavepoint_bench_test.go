package dbtest_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/easyautoml/dbharness/dbtest"
)

// BenchmarkStatementSavepoints measures what WithStatementSavepoints costs
// per statement: the same statements in one test's transaction, plain and
// with a savepoint of their own. On PostgreSQL an ExecContext carries its
// savepoint, and the next statement's, in its own round trip; a query or a
// prepared statement after anything but an ExecContext pays one more.
// SQLite and MySQL are unchanged by the option.
// Compare with benchstat; tests never assert on it.
func BenchmarkStatementSavepoints(b *testing.B) {
	stmts := []struct {
		name string
		run  func(ctx context.Context, db *dbtest.DB, i int) error
	}{
		{"insert-args", func(ctx context.Context, db *dbtest.DB, i int) error {
			_, err := db.ExecContext(ctx, insert(db), i, fmt.Sprint("item ", i))
			return err
		}},
		{"insert-literal", func(ctx context.Context, db *dbtest.DB, i int) error {
			_, err := db.ExecContext(ctx, fmt.Sprintf("INSERT INTO items (id, name) VALUES (%d, 'item %d')", i, i))
			return err
		}},
		{"select", func(ctx context.Context, db *dbtest.DB, i int) error {
			var name string
			return db.QueryRowContext(ctx, "SELECT name FROM items WHERE id = "+ph(db, 1), 1).Scan(&name)
		}},
		// A write and a read of it, as tests do: the read's savepoint
		// comes with the write.
		{"insert-select", func(ctx context.Context, db *dbtest.DB, i int) error {
			if _, err := db.ExecContext(ctx, insert(db), i, fmt.Sprint("item ", i)); err != nil {
				return err
			}
			var name string
			return db.QueryRowContext(ctx, "SELECT name FROM items WHERE id = "+ph(db, 1), i).Scan(&name)
		}},
	}
	for _, backend := range dbtest.Backends() {
		for _, st := range stmts {
			for _, mode := range []string{"plain", "savepoints"} {
				b.Run(string(backend)+"/"+st.name+"/"+mode, func(b *testing.B) {
					opts := []dbtest.Option{itemsSchema()}
					if mode == "savepoints" {
						opts = append(opts, dbtest.WithStatementSavepoints())
					}
					db := dbtest.Open(b, backend, opts...)
					ctx := context.Background()
					mustExec(b, db, "INSERT INTO items (id, name) VALUES (1, 'first')")
					i := 1
					for b.Loop() {
						i++
						if err := st.run(ctx, db, i); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}
