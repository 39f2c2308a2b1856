package dynamic

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestTimeFormat: the timestamps bound on SQLite and MySQL are exactly
// what time's own formatting of each dialect's layout gives, in every
// range of years.
func TestTimeFormat(t *testing.T) {
	times := []time.Time{
		time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC),
		time.Date(2020, 1, 2, 3, 4, 5, 999999999, time.UTC),
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
	for _, c := range []struct {
		d      dialect
		layout string
	}{{sqliteDialect{}, sqliteTimeLayout}, {mysqlDialect{}, mysqlTimeLayout}} {
		for _, tm := range times {
			want := tm.UTC().Format(c.layout)
			if got := c.d.encodeTime(tm); got != want {
				t.Errorf("%s: %v: got %q, want %q", c.d.name(), tm, got, want)
			}
		}
	}
}
