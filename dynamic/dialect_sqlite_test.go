package dynamic

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestSQLiteTimeFormat: the timestamps written on SQLite are exactly what
// time's own formatting of the layout gives, in every range of years.
func TestSQLiteTimeFormat(t *testing.T) {
	times := []time.Time{
		time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-44, 3, 15, 12, 0, 0, 0, time.UTC),
		time.Date(2024, 2, 29, 23, 30, 0, 0, time.FixedZone("", -5*3600)),
		{},
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		zone := time.FixedZone("", int(r.Int64N(86400))-43200)
		times = append(times, time.Unix(r.Int64N(1<<36)-1<<35, r.Int64N(1e9)).In(zone))
	}
	for _, tm := range times {
		want := tm.UTC().Format(sqliteTimeLayout)
		if got := (sqliteDialect{}).encodeTime(tm); got != want {
			t.Errorf("%v: got %q, want %q", tm, got, want)
		}
	}
}
