package dbtest_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3/vfs/memdb"
	"github.com/pressly/goose/v3"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/fixtures"
	"github.com/easyautoml/dbharness/migrations"
)

// BenchmarkIsolation measures the per-test isolation cost: the time to get
// a transaction-wrapped handle on a migrated database and roll it back, as
// every test does. Report it with -benchtime and benchstat; tests never
// assert on it.
func BenchmarkIsolation(b *testing.B) {
	for _, backend := range dbtest.Backends() {
		b.Run(string(backend), func(b *testing.B) {
			dbtest.Open(b, backend, itemsSchema()) // skip when unavailable; warms the pool
			ctx := context.Background()
			b.ResetTimer()
			for b.Loop() {
				db, err := dbtest.Connect(ctx, backend, itemsSchema())
				if err != nil {
					b.Fatal(err)
				}
				if err := db.Release(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(string(backend)+"/write", func(b *testing.B) {
			dbtest.Open(b, backend, itemsSchema())
			ctx := context.Background()
			b.ResetTimer()
			for b.Loop() {
				db, err := dbtest.Connect(ctx, backend, itemsSchema())
				if err != nil {
					b.Fatal(err)
				}
				if _, err := db.ExecContext(ctx, "INSERT INTO items (id, name) VALUES (1, 'x')"); err != nil {
					b.Fatal(err)
				}
				if err := db.Release(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(string(backend)+"/parallel", func(b *testing.B) {
			dbtest.Open(b, backend, itemsSchema())
			ctx := context.Background()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					db, err := dbtest.Connect(ctx, backend, itemsSchema())
					if err != nil {
						b.Error(err)
						return
					}
					if _, err := db.ExecContext(ctx, "INSERT INTO items (id, name) VALUES (1, 'x')"); err != nil {
						b.Error(err)
					}
					if err := db.Release(ctx); err != nil {
						b.Error(err)
					}
				}
			})
		})
	}
}

// BenchmarkIsolationVsTx runs, in alternation, a test's whole cycle through
// dbtest (Connect, the test's work, Release) and the same work in a plain
// transaction of the backend's own driver on a database with the same
// schema (BeginTx, the work, Rollback), which is what a
// transaction-per-test tool such as go-txdb does with a warm pool. Both use
// the registry's migrations, dbtest's default. The work is one query, or
// (".../fixtures") loading the base fixtures and the query. It reports
// both times and their ratio (plain over dbtest; at least 1 means dbtest
// is no slower).
func BenchmarkIsolationVsTx(b *testing.B) {
	base, err := fixtures.Base()
	if err != nil {
		b.Fatal(err)
	}
	for _, backend := range dbtest.Backends() {
		for _, withFixtures := range []bool{false, true} {
			name := string(backend)
			if withFixtures {
				name += "/fixtures"
			}
			b.Run(name, func(b *testing.B) {
				ctx := context.Background()
				plain := plainPool(b, backend)
				work := func(q fixtures.DBTX) error {
					if withFixtures {
						if _, err := base.Load(ctx, q, string(backend)); err != nil {
							return err
						}
					}
					var n int
					return q.QueryRowContext(ctx, "SELECT count(*) FROM users").Scan(&n)
				}
				cycleDBTest := func() error {
					db, err := dbtest.Connect(ctx, backend)
					if err != nil {
						return err
					}
					return errors.Join(work(db), db.Release(ctx))
				}
				cyclePlain := func() error {
					tx, err := plain.BeginTx(ctx, nil)
					if err != nil {
						return err
					}
					return errors.Join(work(tx), tx.Rollback())
				}
				for _, f := range []func() error{cycleDBTest, cyclePlain} { // warm both
					if err := f(); err != nil {
						b.Fatal(err)
					}
				}
				var tDBTest, tPlain time.Duration
				timed := func(f func() error) time.Duration {
					start := time.Now()
					if err := f(); err != nil {
						b.Fatal(err)
					}
					return time.Since(start)
				}
				i := 0
				for b.Loop() {
					if i%2 == 0 {
						tDBTest += timed(cycleDBTest)
						tPlain += timed(cyclePlain)
					} else {
						tPlain += timed(cyclePlain)
						tDBTest += timed(cycleDBTest)
					}
					i++
				}
				b.ReportMetric(float64(tDBTest.Nanoseconds())/float64(i), "dbtest-ns/cycle")
				b.ReportMetric(float64(tPlain.Nanoseconds())/float64(i), "plain-ns/cycle")
				b.ReportMetric(tPlain.Seconds()/tDBTest.Seconds(), "ratio")
			})
		}
	}
}

// plainPool opens a pool of the backend's own driver, one connection kept
// open, on a database migrated with the registry's migrations.
func plainPool(b *testing.B, backend dbtest.Backend) *sql.DB {
	b.Helper()
	h := dbtest.Open(b, backend) // skips when unavailable
	var db *sql.DB
	var err error
	switch backend {
	case dbtest.SQLite:
		name := fmt.Sprintf("bench-plain-%d", time.Now().UnixNano())
		memdb.Create(name, nil)
		b.Cleanup(func() { memdb.Delete(name) })
		db, err = sql.Open("sqlite3", "file:/"+name+"?vfs=memdb&_pragma=foreign_keys(1)&_pragma=busy_timeout(1000)")
		if err == nil {
			var p *goose.Provider
			if p, err = migrations.NewProvider("sqlite", db); err == nil {
				_, err = p.Up(context.Background())
			}
		}
	default:
		// A database of its own: the handle's, left idle in its open
		// transaction, which holds no lock.
		driver := map[dbtest.Backend]string{dbtest.Postgres: "pgx", dbtest.MySQL: "mysql"}[backend]
		db, err = sql.Open(driver, h.RawDSN())
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	db.SetMaxIdleConns(1)
	return db
}
