package registry_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	_ "github.com/ncruces/go-sqlite3/driver"
	"github.com/ncruces/go-sqlite3/vfs/memdb"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/migrations"
	"github.com/easyautoml/dbharness/registry"
)

func TestTableLock(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		r, clk := newRepo(t, db)
		m := mustMachine(t, r, mustUser(t, r, "ada"), nil, "salaries")
		const ttl = time.Minute

		a, err := r.AcquireTableLock(ctx, m.ID, "appender-a", ttl)
		if err != nil {
			t.Fatal(err)
		}
		want := registry.MachineTableLockWrite{ID: a.ID, MachineID: m.ID, Holder: "appender-a", AcquiredAt: stored(t0), ExpiresAt: stored(t0.Add(ttl))}
		if diff := cmp.Diff(want, a); diff != "" {
			t.Errorf("AcquireTableLock (-want +got):\n%s", diff)
		}
		if got, err := r.GetTableLock(ctx, m.ID); err != nil || got != a {
			t.Errorf("GetTableLock = %+v, %v; want %+v", got, err, a)
		}

		held := func(what, holder, wantHolder string, wantExpiry time.Time) {
			t.Helper()
			_, err := r.AcquireTableLock(ctx, m.ID, holder, ttl)
			var he *registry.LockHeldError
			if !errors.As(err, &he) || !errors.Is(err, registry.ErrLockHeld) {
				t.Errorf("%s: error = %v, want a LockHeldError", what, err)
				return
			}
			if he.Holder != wantHolder || !he.ExpiresAt.Equal(wantExpiry) || he.MachineID != m.ID {
				t.Errorf("%s: %+v, want held by %q until %v", what, he, wantHolder, wantExpiry)
			}
			mustErr(t, what, err, registry.ErrLockHeld, `"`+wantHolder+`"`, wantExpiry.Format(time.RFC3339Nano))
		}
		held("another holder", "appender-b", "appender-a", want.ExpiresAt)
		held("the same holder again: not reentrant", "appender-a", "appender-a", want.ExpiresAt)

		// Refreshing moves the expiry; the lock outlives its first ttl.
		clk.Advance(30 * time.Second)
		a, err = r.RefreshTableLock(ctx, a, ttl)
		if err != nil {
			t.Fatal(err)
		}
		if want := stored(t0.Add(30*time.Second + ttl)); !a.ExpiresAt.Equal(want) || !a.AcquiredAt.Equal(stored(t0)) {
			t.Errorf("RefreshTableLock = %+v, want acquired at t0, expiring at %v", a, want)
		}
		clk.Advance(45 * time.Second) // past the first ttl, not the refreshed one
		held("after a refresh", "appender-b", "appender-a", a.ExpiresAt)

		if err := r.ReleaseTableLock(ctx, a); err != nil {
			t.Fatal(err)
		}
		mustErr(t, "releasing twice", r.ReleaseTableLock(ctx, a), registry.ErrLockNotHeld, `"appender-a"`)
		_, err = r.GetTableLock(ctx, m.ID)
		mustErr(t, "GetTableLock after release", err, registry.ErrNotFound)

		// The next holder crashes; its lock blocks others until the very
		// microsecond it expires, and no longer.
		b, err := r.AcquireTableLock(ctx, m.ID, "appender-b", ttl)
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(ttl - time.Microsecond)
		held("a microsecond before expiry", "appender-c", "appender-b", b.ExpiresAt)
		clk.Advance(time.Microsecond)
		c, err := r.AcquireTableLock(ctx, m.ID, "appender-c", ttl)
		if err != nil {
			t.Fatalf("taking over an expired lock: %v", err)
		}
		if c.ID == b.ID || c.Holder != "appender-c" || !c.AcquiredAt.Equal(b.ExpiresAt) {
			t.Errorf("takeover = %+v, want a new lock of appender-c acquired at %v", c, b.ExpiresAt)
		}
		mustErr(t, "the crashed holder releasing", r.ReleaseTableLock(ctx, b), registry.ErrLockNotHeld)
		_, err = r.RefreshTableLock(ctx, b, ttl)
		mustErr(t, "the crashed holder refreshing", err, registry.ErrLockNotHeld)

		// A lock that expired but that nobody took is still its holder's.
		clk.Advance(2 * ttl)
		if c, err = r.RefreshTableLock(ctx, c, ttl); err != nil {
			t.Errorf("refreshing an expired lock nobody took: %v", err)
		}
		held("after refreshing an expired lock", "appender-d", "appender-c", c.ExpiresAt)

		_, err = r.AcquireTableLock(ctx, m.ID+1000, "x", ttl)
		mustErr(t, "AcquireTableLock(unknown machine)", err, registry.ErrNotFound)
		for _, bad := range []struct {
			holder string
			ttl    time.Duration
			reason string
		}{
			{"x", 0, "a zero ttl"},
			{"x", -time.Second, "a negative ttl"},
			{"", ttl, "no holder"},
			{strings.Repeat("h", 256), ttl, "a holder over 255 bytes"},
		} {
			_, err := r.AcquireTableLock(ctx, m.ID, bad.holder, bad.ttl)
			mustErr(t, bad.reason, err, registry.ErrInvalid)
		}
		_, err = r.RefreshTableLock(ctx, c, 0)
		mustErr(t, "RefreshTableLock with a zero ttl", err, registry.ErrInvalid)
	})
}

// separate gives a test genuinely separate connections to a migrated
// database: on a server, the test's own database through its raw DSN; on
// SQLite, a fresh in-memory database (dbtest counts any commit to the
// test's own SQLite database as a write that escaped the test). open
// returns a new pool each time; the caller closes it.
type separate struct {
	dialect string
	dsn     string
	driver  string
}

func newSeparate(t *testing.T, db *dbtest.DB) separate {
	t.Helper()
	s := separate{dialect: db.Dialect(), driver: db.RawDriverName(), dsn: db.RawDSN()}
	if s.dialect == "sqlite" {
		s.driver = "sqlite3" // the ncruces driver, on a database of our own
		s.dsn = memdb.TestDB(t, url.Values{"_pragma": {"busy_timeout(10000)", "foreign_keys(1)"}})
		pool := s.open(t)
		defer pool.Close()
		p, err := migrations.NewProvider(s.dialect, pool)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Up(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func (s separate) open(t *testing.T) *sql.DB {
	t.Helper()
	pool, err := sql.Open(s.driver, s.dsn)
	if err != nil {
		t.Fatal(err)
	}
	return pool
}

// committedMachine creates, through its own connection, a user and a
// machine that every connection can see, and deletes them when the test
// ends.
func committedMachine(t *testing.T, s separate) registry.Machine {
	t.Helper()
	pool := s.open(t)
	r, err := registry.New(pool, s.dialect)
	if err != nil {
		t.Fatal(err)
	}
	suffix := strings.ToLower(rand.Text()[:10])
	u, err := r.CreateUser(t.Context(), registry.User{Username: "locker_" + suffix})
	if err != nil {
		t.Fatal(err)
	}
	m, err := r.CreateMachine(t.Context(), registry.Machine{OwnerUserID: u.ID, Name: "locked", DataTableName: "locked_" + suffix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		defer pool.Close()
		ctx := context.Background()
		if err := r.DeleteMachine(ctx, m.ID); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		q := "DELETE FROM users WHERE id = ?"
		if s.dialect == "postgres" {
			q = "DELETE FROM users WHERE id = $1"
		}
		if _, err := pool.ExecContext(ctx, q, u.ID); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return m
}

// TestTableLockExcludes races holders on separate connections for one
// machine's table lock: at most one of them holds it at any moment.
func TestTableLockExcludes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		s := newSeparate(t, db)
		m := committedMachine(t, s)

		const workers = 8
		repos := make([]*registry.Repo, workers)
		pools := make([]*sql.DB, workers)
		defer func() {
			// Every connection comes back: no rows were left open.
			for i, pool := range pools {
				if pool == nil {
					continue
				}
				if err := pool.Close(); err != nil {
					t.Error(err)
				}
				if n := pool.Stats().OpenConnections; n != 0 {
					t.Errorf("pool %d: %d connections still open after Close", i, n)
				}
			}
		}()
		for i := range repos {
			pool := s.open(t)
			pools[i] = pool
			pool.SetMaxOpenConns(1)
			r, err := registry.New(pool, s.dialect)
			if err != nil {
				t.Fatal(err)
			}
			repos[i] = r
		}
		holder := func(i int) string { return "worker-" + string(rune('a'+i)) }

		// Everyone at once, once: exactly one wins, and every loser is
		// told who won.
		type result struct {
			lock registry.MachineTableLockWrite
			err  error
		}
		results := make([]result, workers)
		var wg sync.WaitGroup
		startLine := make(chan struct{})
		for i, r := range repos {
			wg.Go(func() {
				<-startLine
				l, err := r.AcquireTableLock(t.Context(), m.ID, holder(i), time.Minute)
				results[i] = result{l, err}
			})
		}
		close(startLine)
		wg.Wait()
		var winners []int
		for i, res := range results {
			if res.err == nil {
				winners = append(winners, i)
			}
		}
		if len(winners) != 1 {
			var got []string
			for i, res := range results {
				got = append(got, fmt.Sprintf("%s: %v", holder(i), res.err))
			}
			t.Fatalf("%d holders acquired the lock at once:\n%s", len(winners), strings.Join(got, "\n"))
		}
		win := winners[0]
		for i, res := range results {
			if i == win {
				continue
			}
			var he *registry.LockHeldError
			if !errors.As(res.err, &he) || he.Holder != holder(win) {
				t.Errorf("%s: error = %v, want the lock held by %s", holder(i), res.err, holder(win))
			}
		}
		if err := repos[win].ReleaseTableLock(t.Context(), results[win].lock); err != nil {
			t.Fatal(err)
		}

		// Then each takes the lock a few times, waiting its turn: nobody is
		// ever inside with anybody else.
		const rounds = 5
		var inside, maxInside, entries atomic.Int32
		deadline := time.Now().Add(30 * time.Second)
		for i, r := range repos {
			wg.Go(func() {
				ctx := t.Context()
				for range rounds {
					var l registry.MachineTableLockWrite
					for {
						var err error
						l, err = r.AcquireTableLock(ctx, m.ID, holder(i), time.Minute)
						if err == nil {
							break
						}
						if !errors.Is(err, registry.ErrLockHeld) {
							t.Errorf("%s: %v", holder(i), err)
							return
						}
						if time.Now().After(deadline) {
							t.Errorf("%s: still waiting for the lock at the deadline", holder(i))
							return
						}
						time.Sleep(time.Millisecond) // back off; the holder is working
					}
					n := inside.Add(1)
					for {
						mx := maxInside.Load()
						if n <= mx || maxInside.CompareAndSwap(mx, n) {
							break
						}
					}
					entries.Add(1)
					// The row says it is ours while we are inside.
					if got, err := r.GetTableLock(ctx, m.ID); err != nil || got.Holder != holder(i) {
						t.Errorf("%s inside, but the lock row is %+v, %v", holder(i), got, err)
					}
					inside.Add(-1)
					if err := r.ReleaseTableLock(ctx, l); err != nil {
						t.Errorf("%s: %v", holder(i), err)
						return
					}
				}
			})
		}
		wg.Wait()
		if mx := maxInside.Load(); mx != 1 {
			t.Errorf("%d holders were inside at once", mx)
		}
		if n := entries.Load(); n != workers*rounds {
			t.Errorf("%d turns taken, want %d", n, workers*rounds)
		}
		if _, err := repos[0].GetTableLock(t.Context(), m.ID); !errors.Is(err, registry.ErrNotFound) {
			t.Errorf("after everyone released, GetTableLock = %v, want ErrNotFound", err)
		}
	})
}

// TestTableLockTakeover: a holder that dies without releasing blocks
// others on other connections until its lock expires, then loses it.
func TestTableLockTakeover(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		s := newSeparate(t, db)
		m := committedMachine(t, s)
		ctx := t.Context()
		clk := newClock()
		const ttl = 10 * time.Second

		crashing := s.open(t)
		cr, err := registry.New(crashing, s.dialect, registry.WithClock(clk.Now))
		if err != nil {
			t.Fatal(err)
		}
		dead, err := cr.AcquireTableLock(ctx, m.ID, "crashed", ttl)
		if err != nil {
			t.Fatal(err)
		}
		crashing.Close() // gone, without releasing

		pool := s.open(t)
		defer pool.Close()
		rescuer, err := registry.New(pool, s.dialect, registry.WithClock(clk.Now))
		if err != nil {
			t.Fatal(err)
		}
		_, err = rescuer.AcquireTableLock(ctx, m.ID, "rescuer", ttl)
		var he *registry.LockHeldError
		if !errors.As(err, &he) || he.Holder != "crashed" {
			t.Fatalf("before expiry: error = %v, want the lock held by the crashed holder", err)
		}
		clk.Advance(ttl)
		l, err := rescuer.AcquireTableLock(ctx, m.ID, "rescuer", ttl)
		if err != nil {
			t.Fatalf("after expiry: %v", err)
		}
		if l.ID == dead.ID || l.Holder != "rescuer" {
			t.Errorf("after expiry: %+v, want a new lock of the rescuer", l)
		}
		// Were the crashed holder to come back, the lock is no longer its.
		_, err = rescuer.RefreshTableLock(ctx, dead, ttl)
		mustErr(t, "refreshing the dead lock", err, registry.ErrLockNotHeld)
		mustErr(t, "releasing the dead lock", rescuer.ReleaseTableLock(ctx, dead), registry.ErrLockNotHeld)
		if err := rescuer.ReleaseTableLock(ctx, l); err != nil {
			t.Fatal(err)
		}
	})
}
