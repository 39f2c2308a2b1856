package dynamic_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/dynamic"
)

// The benchmarks run on direct connections of each database's own driver
// (not dbtest's wrappers) to a database dbtest creates on the servers named
// by DBTEST_POSTGRES_DSN and DBTEST_MYSQL_DSN; a backend without a server
// is skipped with the reason. They are shaped for -benchtime=3x:
//
//	go test -run '^$' -bench . -benchtime 3x ./dynamic/

var benchCols = []string{"id", "years", "education", "job", "city", "age", "remote", "hired_at"}

// benchFrame is a mixed 8-column frame of n rows: integers, floats, short
// text, booleans and timestamps, like a salaries dataset.
func benchFrame(b *testing.B, n int) *dynamic.Frame {
	b.Helper()
	rows := make([][]any, n)
	base := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range rows {
		rows[i] = []any{i, float64(i%400) / 10, []string{"hs", "bsc", "msc", "phd"}[i%4], fmt.Sprintf("job %d", i%8),
			fmt.Sprintf("city %d", i%10), 20 + i%45, i%3 == 0, base.Add(time.Duration(i) * time.Minute)}
	}
	f, err := dynamic.FromRows(benchCols, rows)
	if err != nil {
		b.Fatal(err)
	}
	return f
}

// benchDB opens a direct connection pool of the backend's own driver on a
// database of dbtest's.
func benchDB(b *testing.B, backend dbtest.Backend) (*sql.DB, string) {
	b.Helper()
	db := dbtest.Open(b, backend, dbtest.WithoutMigrations())
	driver := map[dbtest.Backend]string{dbtest.SQLite: "sqlite3", dbtest.Postgres: "pgx", dbtest.MySQL: "mysql"}[backend]
	raw, err := sql.Open(driver, db.RawDSN())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		raw.Exec("DROP TABLE IF EXISTS bench")
		raw.Close()
	})
	return raw, db.Dialect()
}

// benchPath is one way of writing the frame.
type benchPath struct {
	name string
	run  func(ctx context.Context) error
}

// BenchmarkAppend reports rows/s of dynamic.Append into an existing table
// and of the best raw path of the same driver, on the same data and
// table: for SQLite a prepared single-row INSERT in one transaction and a
// prepared multi-row INSERT, for PostgreSQL pgx's COPY, for MySQL a
// prepared multi-row INSERT. On a shared machine the paths, run one after
// the other, meet different loads: BenchmarkAppendVsRaw gives the ratio.
func BenchmarkAppend(b *testing.B) {
	for _, backend := range dbtest.Backends() {
		b.Run(string(backend), func(b *testing.B) {
			raw, dialect := benchDB(b, backend)
			for _, n := range []int{10_000, 100_000} {
				f := benchFrame(b, n)
				paths := []benchPath{
					{"append", func(ctx context.Context) error {
						_, err := dynamic.Append(ctx, raw, dialect, "bench", f)
						return err
					}},
				}
				switch backend {
				case dbtest.SQLite:
					paths = append(paths,
						benchPath{"raw-prepared-1row", func(ctx context.Context) error { return rawMultiRow(ctx, raw, dialect, f, 1) }},
						benchPath{"raw-multirow", func(ctx context.Context) error { return rawMultiRow(ctx, raw, dialect, f, 250) }})
				case dbtest.Postgres:
					paths = append(paths, benchPath{"raw-copy", func(ctx context.Context) error { return rawCopy(ctx, raw, f) }})
				case dbtest.MySQL:
					paths = append(paths, benchPath{"raw-multirow", func(ctx context.Context) error { return rawMultiRow(ctx, raw, dialect, f, 1000) }})
				}
				for _, p := range paths {
					b.Run(fmt.Sprintf("%d/%s", n, p.name), func(b *testing.B) {
						ctx := context.Background()
						for b.Loop() {
							b.StopTimer()
							createBench(b, raw, dialect)
							b.StartTimer()
							if err := p.run(ctx); err != nil {
								b.Fatal(err)
							}
						}
						b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
					})
				}
			}
		})
	}
}

// BenchmarkAppendVsRaw runs Append and the best raw path of the same
// driver (SQLite: prepared multi-row INSERT; PostgreSQL: COPY; MySQL:
// prepared multi-row INSERT) in alternation, so that both meet the same
// machine load, and reports both rates and their ratio (Append over raw;
// target: at least 0.8).
func BenchmarkAppendVsRaw(b *testing.B) {
	for _, backend := range dbtest.Backends() {
		b.Run(string(backend), func(b *testing.B) {
			raw, dialect := benchDB(b, backend)
			best := map[dbtest.Backend]func(context.Context, *dynamic.Frame) error{
				dbtest.SQLite:   func(ctx context.Context, f *dynamic.Frame) error { return rawMultiRow(ctx, raw, dialect, f, 250) },
				dbtest.Postgres: func(ctx context.Context, f *dynamic.Frame) error { return rawCopy(ctx, raw, f) },
				dbtest.MySQL:    func(ctx context.Context, f *dynamic.Frame) error { return rawMultiRow(ctx, raw, dialect, f, 1000) },
			}[backend]
			for _, n := range []int{10_000, 100_000} {
				f := benchFrame(b, n)
				b.Run(fmt.Sprint(n), func(b *testing.B) {
					ctx := context.Background()
					var tAppend, tRaw time.Duration
					timed := func(run func() error) time.Duration {
						createBench(b, raw, dialect)
						start := time.Now()
						if err := run(); err != nil {
							b.Fatal(err)
						}
						return time.Since(start)
					}
					appendRun := func() error {
						_, err := dynamic.Append(ctx, raw, dialect, "bench", f)
						return err
					}
					rawRun := func() error { return best(ctx, f) }
					i := 0
					for b.Loop() {
						if i%2 == 0 {
							tAppend += timed(appendRun)
							tRaw += timed(rawRun)
						} else {
							tRaw += timed(rawRun)
							tAppend += timed(appendRun)
						}
						i++
					}
					rows := float64(n) * float64(i)
					b.ReportMetric(rows/tAppend.Seconds(), "append-rows/s")
					b.ReportMetric(rows/tRaw.Seconds(), "raw-rows/s")
					b.ReportMetric(tRaw.Seconds()/tAppend.Seconds(), "ratio")
				})
			}
		})
	}
}

// BenchmarkBatchRows measures Append's INSERT path at several batch sizes:
// how each dialect's default was chosen.
func BenchmarkBatchRows(b *testing.B) {
	for _, backend := range dbtest.Backends() {
		b.Run(string(backend), func(b *testing.B) {
			raw, dialect := benchDB(b, backend)
			const n = 20_000
			f := benchFrame(b, n)
			for _, size := range []int{50, 100, 250, 500, 1000, 2000, 4000} {
				b.Run(fmt.Sprint(size), func(b *testing.B) {
					ctx := context.Background()
					for b.Loop() {
						b.StopTimer()
						createBench(b, raw, dialect)
						b.StartTimer()
						if _, err := dynamic.Append(ctx, raw, dialect, "bench", f, dynamic.WithBatchRows(size), dynamic.WithoutCopy()); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
				})
			}
		})
	}
}

// createBench (re)creates the table every path writes to, as Append would
// create it.
func createBench(b *testing.B, db *sql.DB, dialect string) {
	b.Helper()
	if _, err := db.Exec("DROP TABLE IF EXISTS bench"); err != nil {
		b.Fatal(err)
	}
	types := map[string][]string{
		"sqlite":   {"INTEGER", "REAL", "TEXT", "TEXT", "TEXT", "INTEGER", "BOOLEAN", "TIMESTAMP"},
		"postgres": {"BIGINT", "DOUBLE PRECISION", "TEXT", "TEXT", "TEXT", "BIGINT", "BOOLEAN", "TIMESTAMPTZ"},
		"mysql":    {"BIGINT", "DOUBLE", "LONGTEXT", "LONGTEXT", "LONGTEXT", "BIGINT", "BOOLEAN", "DATETIME(6)"},
	}[dialect]
	defs := []string{map[string]string{
		"sqlite":   "_row_id INTEGER PRIMARY KEY",
		"postgres": "_row_id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
		"mysql":    "_row_id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY",
	}[dialect]}
	for i, c := range benchCols {
		defs = append(defs, c+" "+types[i])
	}
	opts := ""
	if dialect == "mysql" {
		opts = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
	}
	if _, err := db.Exec("CREATE TABLE bench (" + strings.Join(defs, ", ") + ")" + opts); err != nil {
		b.Fatal(err)
	}
}

func benchInsert(dialect string, rows int) string {
	var sb strings.Builder
	sb.WriteString("INSERT INTO bench (" + strings.Join(benchCols, ", ") + ") VALUES ")
	n := 1
	for r := 0; r < rows; r++ {
		if r > 0 {
			sb.WriteString(",")
		}
		sb.WriteString("(")
		for c := range benchCols {
			if c > 0 {
				sb.WriteString(",")
			}
			if dialect == "postgres" {
				fmt.Fprintf(&sb, "$%d", n)
			} else {
				sb.WriteString("?")
			}
			n++
		}
		sb.WriteString(")")
	}
	return sb.String()
}

// rawMultiRow writes the frame in one transaction with a prepared INSERT
// of batch rows (1: the classic prepared single-row INSERT), binding the
// driver's own types.
func rawMultiRow(ctx context.Context, db *sql.DB, dialect string, f *dynamic.Frame, batch int) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, benchInsert(dialect, batch))
	if err != nil {
		return err
	}
	defer st.Close()
	rows := f.Rows()
	args := make([]any, 0, batch*len(benchCols))
	i := 0
	for ; i+batch <= len(rows); i += batch {
		args = args[:0]
		for _, row := range rows[i : i+batch] {
			args = append(args, row...)
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return err
		}
	}
	if i < len(rows) {
		args = args[:0]
		for _, row := range rows[i:] {
			args = append(args, row...)
		}
		if _, err := tx.ExecContext(ctx, benchInsert(dialect, len(rows)-i), args...); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// rawCopy writes the frame with pgx's COPY in one transaction.
func rawCopy(ctx context.Context, db *sql.DB, f *dynamic.Frame) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	rows := f.Rows()
	return conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		tx, err := pc.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"bench"}, benchCols, pgx.CopyFromRows(rows)); err != nil {
			return err
		}
		return tx.Commit(ctx)
	})
}
