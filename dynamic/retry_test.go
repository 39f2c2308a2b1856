package dynamic

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/ncruces/go-sqlite3"

	"github.com/easyautoml/dbharness/dbtest"
)

// lockTimeout keeps lock waits short on the test's separate connections
// (MySQL waits whole seconds, at least one).
const lockTimeout = 200 * time.Millisecond

// holdWriteLock makes a connection of pool hold a write lock on table, in
// a write transaction that also inserts a row, until the returned function
// commits it: BEGIN IMMEDIATE on SQLite, LOCK TABLE ... IN EXCLUSIVE MODE
// on PostgreSQL, LOCK TABLES ... WRITE on MySQL.
func holdWriteLock(t *testing.T, dialect string, pool *sql.DB, table string) (commit func()) {
	t.Helper()
	ctx := context.Background()
	conn, err := pool.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lock := map[string][]string{
		"sqlite":   {"BEGIN IMMEDIATE", "INSERT INTO " + table + " (x) VALUES (-1)"},
		"postgres": {"BEGIN", "LOCK TABLE " + table + " IN EXCLUSIVE MODE", "INSERT INTO " + table + " (x) VALUES (-1)"},
		"mysql":    {"LOCK TABLES " + table + " WRITE", "INSERT INTO " + table + " (x) VALUES (-1)"},
	}[dialect]
	unlock := map[string]string{"sqlite": "COMMIT", "postgres": "COMMIT", "mysql": "UNLOCK TABLES"}[dialect]
	for _, q := range lock {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			conn.Close()
			t.Fatalf("%s: %v", q, err)
		}
	}
	done := false
	commit = func() {
		if done {
			return
		}
		done = true
		if _, err := conn.ExecContext(ctx, unlock); err != nil {
			t.Errorf("%s: %v", unlock, err)
		}
		conn.Close()
	}
	t.Cleanup(commit)
	return commit
}

// contended sets up a table committed by a separate connection and two
// more separate pools: one to hold the lock, one to append. Everything is
// dropped and closed at cleanup.
func contended(t *testing.T, db *dbtest.DB, table string) (holder, appender *sql.DB) {
	t.Helper()
	open := func() *sql.DB {
		p, err := sql.Open(db.RawDriverName(), db.RawDSN())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		return p
	}
	holder, appender = open(), open()
	f, err := FromRows([]string{"x"}, [][]any{{0}})
	if err != nil {
		t.Fatal(err)
	}
	mustAppendT(t, holder, db.Dialect(), table, f)
	t.Cleanup(func() {
		if _, err := holder.Exec("DROP TABLE " + table); err != nil {
			t.Error(err)
		}
	})
	return holder, appender
}

// TestRetryAfterWriterCommits: a separate connection holds a write
// transaction on the table; an append that owns its transaction fails on
// the lock, backs off, and succeeds once the writer has committed.
func TestRetryAfterWriterCommits(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		d := db.Dialect()
		holder, appender := contended(t, db, "contended")
		commit := holdWriteLock(t, d, holder, "contended")
		var retried []int
		onRetry := Option{"beforeRetry", func(o *appendOpts) error {
			o.beforeRetry = func(n int) {
				retried = append(retried, n)
				commit() // the writer commits while the append backs off
			}
			return nil
		}}
		f, err := FromRows([]string{"x"}, [][]any{{1}, {2}})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		res, err := Append(context.Background(), appender, d, "contended", f, WithRetry(5, 10*time.Millisecond, 50*time.Millisecond), onRetry)
		if err != nil {
			t.Fatalf("the bounded retry did not get past the writer: %v", err)
		}
		if res.Attempts != 2 || res.Rows != 2 || len(retried) != 1 {
			t.Errorf("Result = %+v after retries %v; want 2 rows written at the second attempt", res, retried)
		}
		if n := mustCount(t, appender, d, "contended"); n != 4 {
			t.Errorf("%d rows, want 4: the table's, the writer's and the append's two", n)
		}
		t.Logf("%s: written at attempt %d after %v", d, res.Attempts, time.Since(start).Round(time.Millisecond))
	}, dbtest.WithoutMigrations(), dbtest.WithLockTimeout(lockTimeout))
}

// TestRetryGivesUp: against a writer that never lets go, the retry stops
// after the attempts WithRetry allows, or when the context ends, with an
// error that matches ErrLocked and still holds the driver's error.
func TestRetryGivesUp(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		d := db.Dialect()
		holder, appender := contended(t, db, "stuck")
		holdWriteLock(t, d, holder, "stuck")
		f, err := FromRows([]string{"x"}, [][]any{{1}})
		if err != nil {
			t.Fatal(err)
		}
		res, err := Append(context.Background(), appender, d, "stuck", f, WithRetry(2, time.Millisecond, time.Millisecond))
		var le *LockedError
		if !errors.Is(err, ErrLocked) || !errors.As(err, &le) || le.Attempts != 2 || res.Attempts != 2 || res.Rows != 0 {
			t.Fatalf("err = %v, Result = %+v; want ErrLocked after 2 attempts", err, res)
		}
		checkDriverError(t, d, err)

		// The context bounds the retries too.
		ctx, cancel := context.WithTimeout(context.Background(), lockTimeout/2)
		defer cancel()
		_, err = Append(ctx, appender, d, "stuck", f, WithRetry(1000, time.Second, time.Second))
		if err == nil || !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, ErrLocked) {
			t.Fatalf("err = %v, want the deadline or ErrLocked", err)
		}
	}, dbtest.WithoutMigrations(), dbtest.WithLockTimeout(lockTimeout))
}

// checkDriverError checks that the driver's own lock error is reachable.
func checkDriverError(t *testing.T, dialect string, err error) {
	t.Helper()
	switch dialect {
	case "sqlite":
		if !errors.Is(err, sqlite3.BUSY) {
			t.Errorf("errors.Is(err, sqlite3.BUSY) is false for %v", err)
		}
	case "postgres":
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "55P03" {
			t.Errorf("no *pgconn.PgError 55P03 in %v", err)
		}
	case "mysql":
		var me *mysql.MySQLError
		if !errors.As(err, &me) || me.Number != 1205 {
			t.Errorf("no *mysql.MySQLError 1205 in %v", err)
		}
	}
}

// TestLockedInCallersTransaction: inside the caller's transaction or on the
// caller's connection, a lock conflict comes back at once, after one
// attempt, whatever WithRetry says; and the caller's transaction is still
// usable afterwards where the database allows it.
func TestLockedInCallersTransaction(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		d := db.Dialect()
		holder, appender := contended(t, db, "contended_tx")
		holdWriteLock(t, d, holder, "contended_tx")
		f, err := FromRows([]string{"x"}, [][]any{{1}})
		if err != nil {
			t.Fatal(err)
		}
		retry := WithRetry(10, time.Millisecond, time.Millisecond)

		tx, err := appender.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		res, err := Append(ctx, tx, d, "contended_tx", f, retry)
		var le *LockedError
		if !errors.Is(err, ErrLocked) || !errors.As(err, &le) || le.Attempts != 1 || res.Attempts != 1 {
			t.Fatalf("in a *sql.Tx: err = %v, Result = %+v; want ErrLocked after one attempt", err, res)
		}
		checkDriverError(t, d, err)
		// The caller's transaction is usable still: Append rolled back to
		// its savepoint (PostgreSQL would refuse any statement otherwise).
		var one int
		if err := tx.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
			t.Errorf("the caller's transaction after the conflict: %v", err)
		}
		if err := tx.Rollback(); err != nil {
			t.Errorf("the caller's transaction could not be rolled back: %v", err)
		}

		conn, err := appender.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		res, err = Append(ctx, conn, d, "contended_tx", f, retry)
		if !errors.Is(err, ErrLocked) || !errors.As(err, &le) || le.Attempts != 1 || res.Attempts != 1 {
			t.Fatalf("on a *sql.Conn: err = %v, Result = %+v; want ErrLocked after one attempt", err, res)
		}
		checkDriverError(t, d, err)
		// The connection is usable: its transaction was rolled back.
		if err := conn.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
			t.Errorf("the caller's connection after the conflict: %v", err)
		}
	}, dbtest.WithoutMigrations(), dbtest.WithLockTimeout(lockTimeout))
}

func mustCount(t *testing.T, q Querier, dialect, table string) int64 {
	t.Helper()
	n, err := Count(context.Background(), q, dialect, table)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestBackoffBounds(t *testing.T) {
	p := retryPolicy{attempts: 10, base: 10 * time.Millisecond, max: 70 * time.Millisecond}
	var got []time.Duration
	for n := 1; n <= 5; n++ {
		got = append(got, p.bound(n))
	}
	want := []time.Duration{10, 20, 40, 70, 70}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("bounds %v, want %v ms", got, want)
		}
	}
	if b := p.bound(200); b != p.max {
		t.Errorf("bound(200) = %v: the shift overflowed", b)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := (retryPolicy{base: time.Hour, max: time.Hour}).wait(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("wait on a cancelled context = %v", err)
	}
	start := time.Now()
	for range 20 {
		if err := p.wait(context.Background(), 1); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > 20*p.bound(1)+time.Second {
		t.Errorf("20 waits bounded by %v took %v", p.bound(1), d)
	}
}

func TestIsLockError(t *testing.T) {
	for _, c := range []struct {
		reason string
		err    error
		want   bool
	}{
		{"SQLite busy", sqlite3.BUSY, true},
		{"SQLite locked", sqlite3.LOCKED, true},
		{"PostgreSQL deadlock", &pgconn.PgError{Code: "40P01"}, true},
		{"PostgreSQL serialization failure", &pgconn.PgError{Code: "40001"}, true},
		{"PostgreSQL lock timeout", &pgconn.PgError{Code: "55P03"}, true},
		{"PostgreSQL unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"MySQL lock wait timeout", &mysql.MySQLError{Number: 1205}, true},
		{"MySQL deadlock", &mysql.MySQLError{Number: 1213}, true},
		{"MySQL duplicate key", &mysql.MySQLError{Number: 1062}, false},
		{"wrapped", errors.Join(errors.New("x"), &mysql.MySQLError{Number: 1213}), true},
		{"context", context.DeadlineExceeded, false},
		{"nil", nil, false},
	} {
		if got := isLockError(c.err); got != c.want {
			t.Errorf("%s: isLockError = %v, want %v", c.reason, got, c.want)
		}
	}
}

// TestConcurrentAppends: several appenders, each owning its transaction
// on its own connection, write into a table that none of them finds at
// first, each bringing a column of its own. Creation and column races are
// retried; every row arrives.
func TestConcurrentAppends(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		d := db.Dialect()
		pool, err := sql.Open(db.RawDriverName(), db.RawDSN())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pool.Close() })
		t.Cleanup(func() {
			if _, err := pool.Exec("DROP TABLE IF EXISTS racing"); err != nil {
				t.Error(err)
			}
		})
		const writers, rows = 4, 50
		errs := make(chan error, writers)
		for w := range writers {
			go func() {
				data := make([][]any, rows)
				for i := range data {
					data[i] = []any{w, i, float64(i)}
				}
				f, err := FromRows([]string{"writer", "i", "own_" + string(rune('a'+w))}, data)
				if err == nil {
					_, err = Append(context.Background(), pool, d, "racing", f, WithRetry(30, 5*time.Millisecond, 100*time.Millisecond))
				}
				errs <- err
			}()
		}
		for range writers {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
		got, err := Read(context.Background(), pool, d, "racing")
		if err != nil {
			t.Fatal(err)
		}
		if got.Len() != writers*rows || len(got.Names()) != 2+writers {
			t.Errorf("%d rows, columns %v; want %d rows and a column per writer", got.Len(), got.Names(), writers*rows)
		}
	}, dbtest.WithoutMigrations(), dbtest.WithLockTimeout(lockTimeout))
}
