package dbtest_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/dynamic"
)

// BenchmarkSQLiteTracing measures what lock tracing costs on the append
// benchmark: dynamic.Append of a 10,000-row frame into a fresh table of an
// in-memory database, through a connection of dbtest's driver
//
//   - with lock tracing on (dbtest's default),
//   - with it off (WithoutLockTrace),
//   - and, for reference, through ncruces' own driver and memdb VFS, on
//     the same database, without any of dbtest's wrappers.
//
// Each iteration appends through all three, in an order that rotates, so
// that all see the same load of the machine; the benchmark reports each
// one's mean time per append and the median, over iterations, of the
// ratios on/off and on/plain. The target is on/off under 1.05.
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
	raw := func(b *testing.B, opts ...dbtest.Option) (*dbtest.DB, *sql.DB) {
		h := dbtest.Open(b, dbtest.SQLite, append(opts, dbtest.WithoutMigrations())...)
		db, err := sql.Open(h.RawDriverName(), h.RawDSN())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		return h, db
	}
	h, on := raw(b)
	_, off := raw(b, dbtest.WithoutLockTrace())
	plain, err := sql.Open("sqlite3", "file:/"+h.DatabaseName()+"?vfs=memdb&_pragma=foreign_keys(1)&_pragma=busy_timeout(1000)")
	if err != nil {
		b.Fatal(err)
	}
	defer plain.Close()
	pools := []*sql.DB{on, off, plain}
	appendOnce := func(db *sql.DB) time.Duration {
		if _, err := db.Exec("DROP TABLE IF EXISTS t"); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if _, err := dynamic.Append(ctx, db, "sqlite", "t", f); err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		if _, err := db.Exec("DROP TABLE t"); err != nil {
			b.Fatal(err)
		}
		return d
	}
	var sums [3]time.Duration
	var onOff, onPlain []float64
	i := 0
	for b.Loop() {
		var d [3]time.Duration
		for k := range 3 {
			j := (i + k) % 3
			d[j] = appendOnce(pools[j])
			sums[j] += d[j]
		}
		onOff = append(onOff, float64(d[0])/float64(d[1]))
		onPlain = append(onPlain, float64(d[0])/float64(d[2]))
		i++
	}
	n := float64(b.N)
	b.ReportMetric(float64(sums[0].Microseconds())/n, "on-µs/op")
	b.ReportMetric(float64(sums[1].Microseconds())/n, "off-µs/op")
	b.ReportMetric(float64(sums[2].Microseconds())/n, "plain-µs/op")
	b.ReportMetric(median(onOff), "on/off")
	b.ReportMetric(median(onPlain), "on/plain")
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
