package dbtest_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"github.com/ncruces/go-sqlite3/vfs/memdb"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/dynamic"
)

// BenchmarkSQLiteTracing measures what lock tracing costs on the append
// benchmark: dynamic.Append of a 10,000-row frame through a connection of
// dbtest's tracing driver and VFS, against the plain ncruces driver on the
// plain memdb VFS. Compare the two with benchstat; the target is under 5%.
func BenchmarkSQLiteTracing(b *testing.B) {
	rows := make([][]any, 10_000)
	for i := range rows {
		rows[i] = []any{i, float64(i) / 3, fmt.Sprintf("name %d", i), i%2 == 0}
	}
	f, err := dynamic.FromRows([]string{"i", "f", "s", "b"}, rows)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	run := func(b *testing.B, db *sql.DB) {
		for b.Loop() {
			b.StopTimer()
			db.Exec("DROP TABLE IF EXISTS t")
			b.StartTimer()
			if _, err := dynamic.Append(ctx, db, "sqlite", "t", f); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(rows))*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		db.Exec("DROP TABLE IF EXISTS t")
	}
	b.Run("b_traced", func(b *testing.B) {
		h := dbtest.Open(b, dbtest.SQLite, dbtest.WithoutMigrations())
		db, err := sql.Open(h.RawDriverName(), h.RawDSN())
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		run(b, db)
	})
	b.Run("a_plain", func(b *testing.B) {
		if _, err := dbtest.InitSQLite(); err != nil {
			b.Fatal(err)
		}
		memdb.Create("bench-plain", nil)
		defer memdb.Delete("bench-plain")
		db, err := sql.Open("sqlite3", "file:/bench-plain?vfs=memdb&_pragma=foreign_keys(1)&_pragma=busy_timeout(1000)")
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		run(b, db)
	})
}
