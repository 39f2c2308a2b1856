package dbtest_test

import (
	"context"
	"testing"

	"github.com/easyautoml/dbharness/dbtest"
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
