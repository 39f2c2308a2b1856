package dynamic

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/ncruces/go-sqlite3"
)

// ErrLocked is matched by errors.Is when an append failed on a lock: SQLite
// busy or locked, a MySQL lock-wait timeout or deadlock, a PostgreSQL
// deadlock, serialization failure or lock timeout. The driver's error stays
// reachable with errors.Is and errors.As.
var ErrLocked = errors.New("dynamic: locked")

// LockedError is the error of an append that failed on a lock.
type LockedError struct {
	Table    string
	Attempts int   // how many times the append was tried
	Err      error // the last driver error
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("dynamic: appending to %s: locked after %d attempt(s): %v", e.Table, e.Attempts, e.Err)
}

// Unwrap returns [ErrLocked] and the driver's error.
func (e *LockedError) Unwrap() []error { return []error{ErrLocked, e.Err} }

// isLockError reports whether err is a lock conflict that a retry of the
// whole transaction may get past.
func isLockError(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, sqlite3.BUSY) || errors.Is(err, sqlite3.LOCKED) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "40P01", "40001", "55P03":
			return true
		}
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) && (me.Number == 1205 || me.Number == 1213) {
		return true
	}
	// Lock errors explained by a test harness (such as dbtest's LockError)
	// say so through this method.
	var lc interface{ LockConflict() bool }
	return errors.As(err, &lc) && lc.LockConflict()
}

// isHopeless reports whether a lock conflict can never clear while the
// caller waits: the harness found that the lock is held by the caller's
// own test transaction.
func isHopeless(err error) bool {
	var sd interface{ SelfDeadlock() bool }
	return errors.As(err, &sd) && sd.SelfDeadlock()
}

// retryPolicy is exponential backoff with full jitter.
type retryPolicy struct {
	attempts  int
	base, max time.Duration
}

var defaultRetry = retryPolicy{attempts: 5, base: 20 * time.Millisecond, max: time.Second}

// wait sleeps before attempt n+1 (n ≥ 1), or returns the context's error.
func (p retryPolicy) wait(ctx context.Context, n int) error {
	d := p.base << min(n-1, 30)
	if d > p.max || d <= 0 {
		d = p.max
	}
	d = time.Duration(rand.Int64N(int64(d) + 1)) // full jitter
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
