package registry_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/dynamic"
	"github.com/easyautoml/dbharness/registry"
)

// The soak test's length. By default (CI) it is short: each appender stops
// after soakAppends appends or soakShort, whichever comes first. The long
// form, -soak (or DBTEST_SOAK=1), runs until every appender has made
// soakAppends appends and at least soakLong has passed; -soak=2m or
// DBTEST_SOAK=2m sets that time.
const (
	soakAppenders = 16
	soakAppends   = 200
	soakRows      = 4 // rows per append
	soakShort     = 3 * time.Second
	soakLong      = 30 * time.Second
	envSoak       = "DBTEST_SOAK"
)

// soakFlag is -soak: a duration, or alone for the default long form.
type soakFlag struct{ d time.Duration }

func (f *soakFlag) String() string   { return f.d.String() }
func (f *soakFlag) IsBoolFlag() bool { return true }
func (f *soakFlag) Set(s string) error {
	d, err := parseSoak(s)
	f.d = d
	return err
}

var soak soakFlag

func init() {
	flag.Var(&soak, "soak", "run TestSoakAppendUnderTableLock in its long form, for at least this long (alone: 30s)")
}

// parseSoak reads -soak's or DBTEST_SOAK's value: a boolean (long form
// of the default length, or the short form) or a duration.
func parseSoak(s string) (time.Duration, error) {
	if b, err := strconv.ParseBool(s); err == nil {
		if b {
			return soakLong, nil
		}
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("want true, false or a positive duration, not %q", s)
	}
	return d, nil
}

// soakLength returns how long the long form runs, or 0 for the short
// form.
func soakLength(t *testing.T) time.Duration {
	if soak.d > 0 {
		return soak.d
	}
	if v := os.Getenv(envSoak); v != "" {
		d, err := parseSoak(v)
		if err != nil {
			t.Fatalf("%s: %v", envSoak, err)
		}
		return d
	}
	return 0
}

// appender counts what one goroutine did.
type appender struct {
	markers   []string // of its appends that succeeded
	rows      int64    // rows written, as Append reported
	retries   int      // extra attempts Append made on lock conflicts
	lockWaits int      // times it found the machine's table lock held
	err       error
}

// TestSoakAppendUnderTableLock has 16 goroutines, each on connections of
// its own, append into one machine's table through AppendToMachine, which
// takes the machine's MachineTableLockWrite for each append and records a
// DataLinesOperation. A goroutine that finds the lock held waits and tries
// again. Every append carries a marker of its own in every row. Afterwards
// the table holds exactly the rows written, the operations add up to them,
// every marker of a successful append is there exactly soakRows times, and
// no other marker is: no append lost, doubled, or half written.
func TestSoakAppendUnderTableLock(t *testing.T) {
	long := soakLength(t)
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		s := newSeparate(t, db)
		m := committedMachine(t, s)
		ctx := context.Background()

		check := s.open(t)
		defer check.Close()
		repo, err := registry.New(check, s.dialect)
		if err != nil {
			t.Fatal(err)
		}
		hardStop := time.Now().Add(5*time.Minute + 2*long) // beyond it, the soak hangs
		stop := time.Now().Add(soakShort)
		if long > 0 {
			stop = time.Now().Add(long)
		}
		done := func(appends int) bool {
			if long > 0 {
				return appends >= soakAppends && time.Now().After(stop)
			}
			return appends >= soakAppends || time.Now().After(stop)
		}

		start := time.Now()
		results := make([]appender, soakAppenders)
		var wg sync.WaitGroup
		for g := range soakAppenders {
			pool := s.open(t)
			defer pool.Close()
			// Connections of its own: AppendToMachine uses one at a time;
			// the second is the spare on which an append undoes its DDL.
			pool.SetMaxOpenConns(2)
			r, err := registry.New(pool, s.dialect)
			if err != nil {
				t.Fatal(err)
			}
			res := &results[g]
			wg.Go(func() {
				for n := 0; !done(n); n++ {
					marker := fmt.Sprintf("g%02d-a%04d", g, n)
					rows := make([][]any, soakRows)
					for k := range rows {
						rows[k] = []any{marker, g, n, k, float64(n) + float64(k)/10}
					}
					f, err := dynamic.FromRows([]string{"marker", "goroutine", "append", "k", "value"}, rows)
					if err != nil {
						res.err = err
						return
					}
					for wait := time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
						out, err := r.AppendToMachine(ctx, pool, m.ID, m.OwnerUserID, f)
						if errors.Is(err, registry.ErrLockHeld) {
							res.lockWaits++
							if time.Now().After(hardStop) {
								res.err = fmt.Errorf("%s: still waiting for the table lock at the hard stop", marker)
								return
							}
							time.Sleep(rand.N(wait) + time.Millisecond/2) // the holder is appending
							continue
						}
						if err != nil {
							res.err = fmt.Errorf("%s: %w", marker, err)
							return
						}
						res.markers = append(res.markers, marker)
						res.rows += out.Rows
						res.retries += out.Attempts - 1
						break
					}
				}
			})
		}
		wg.Wait()
		elapsed := time.Since(start)

		var appends, retries, lockWaits int
		var written int64
		want := map[string]bool{}
		for g, res := range results {
			if res.err != nil {
				t.Errorf("goroutine %d: %v", g, res.err)
			}
			appends += len(res.markers)
			written += res.rows
			retries += res.retries
			lockWaits += res.lockWaits
			for _, mk := range res.markers {
				want[mk] = true
			}
			if long > 0 && len(res.markers) < soakAppends && res.err == nil {
				t.Errorf("goroutine %d made %d appends in the long form; want %d", g, len(res.markers), soakAppends)
			}
		}

		found, err := dynamic.Count(ctx, check, s.dialect, m.DataTableName)
		if err != nil {
			t.Fatal(err)
		}
		ops, err := repo.ListDataLinesOperations(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		var opRows int64
		for _, op := range ops {
			opRows += op.RowsCount
		}
		t.Logf("%s: %d goroutines, %d appends in %v: %d rows written, %d found; %d operations recording %d rows; %d retries, %d lock waits",
			s.dialect, soakAppenders, appends, elapsed.Round(time.Millisecond), written, found, len(ops), opRows, retries, lockWaits)
		if written != int64(appends*soakRows) || found != written {
			t.Errorf("%d appends of %d rows: %d rows written, %d found", appends, soakRows, written, found)
		}
		if len(ops) != appends || opRows != found {
			t.Errorf("%d operations recording %d rows; want %d recording %d", len(ops), opRows, appends, found)
		}

		// Every marker exactly soakRows times, and none other.
		q := fmt.Sprintf("SELECT marker, COUNT(*) FROM %s GROUP BY marker", m.DataTableName)
		rows, err := check.QueryContext(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var wrong []string
		seen := map[string]bool{}
		for rows.Next() {
			var mk string
			var n int
			if err := rows.Scan(&mk, &n); err != nil {
				t.Fatal(err)
			}
			seen[mk] = true
			switch {
			case !want[mk]:
				wrong = append(wrong, fmt.Sprintf("%s: %d rows of an append that reported failure", mk, n))
			case n != soakRows:
				wrong = append(wrong, fmt.Sprintf("%s: %d rows, want %d", mk, n, soakRows))
			}
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		for mk := range want {
			if !seen[mk] {
				wrong = append(wrong, mk+": lost")
			}
		}
		sort.Strings(wrong)
		if len(wrong) > 0 {
			t.Errorf("%d appends lost, doubled or stray:\n%v", len(wrong), wrong)
		}
		if _, err := repo.GetTableLock(ctx, m.ID); !errors.Is(err, registry.ErrNotFound) {
			t.Errorf("the table lock is left behind: %v", err)
		}
	})
}
