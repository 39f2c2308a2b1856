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

// ErrLocked is matched by errors.Is when an append failed on a lock
// conflict: SQLite busy or locked, a MySQL lock-wait timeout (1205) or
// deadlock (1213), a PostgreSQL deadlock (40P01), serialization failure
// (40001) or lock timeout (55P03). The error is a *[LockedError]; the
// driver's error stays reachable with errors.Is and errors.As.
var ErrLocked = errors.New("dynamic: locked")

// LockedError is the error of an append that failed on a lock conflict,
// after Attempts tries (1 inside the caller's transaction or connection).
type LockedError struct {
	Table    string
	Attempts int
	// Err is the last attempt's error: the driver's, possibly joined with
	// the context's error when the context ended the retries.
	Err error
}

// Error names the table, the attempts and the last error.
func (e *LockedError) Error() string {
	return fmt.Sprintf("dynamic: appending to %s: lock conflict after %d attempt(s): %v", e.Table, e.Attempts, e.Err)
}

// Unwrap returns [ErrLocked] and the last attempt's error.
func (e *LockedError) Unwrap() []error { return []error{ErrLocked, e.Err} }

// isLockError reports whether err is a lock conflict, which a new
// transaction may get past.
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
	// A wrapper that explains lock errors (dbtest's LockError) says so.
	var lc interface{ LockConflict() bool }
	return errors.As(err, &lc) && lc.LockConflict()
}

// isHopeless reports whether a lock conflict cannot clear while Append
// waits: a wrapper (dbtest's LockError) found the lock held by the caller's
// own transaction.
func isHopeless(err error) bool {
	var sd interface{ SelfDeadlock() bool }
	return errors.As(err, &sd) && sd.SelfDeadlock()
}

// retryPolicy is exponential backoff with full jitter.
type retryPolicy struct {
	attempts  int
	base, max time.Duration
}

var defaultRetry = retryPolicy{attempts: DefaultRetryAttempts, base: DefaultRetryBase, max: DefaultRetryMax}

// bound is the longest wait before attempt n+1 (n ≥ 1):
// min(max, base·2^(n-1)).
func (p retryPolicy) bound(n int) time.Duration {
	d := p.base << min(n-1, 40)
	if d > p.max || d <= 0 {
		d = p.max
	}
	return d
}

// wait sleeps a random time in [0, bound(n)], or returns the context's
// error when it ends first.
func (p retryPolicy) wait(ctx context.Context, n int) error {
	t := time.NewTimer(time.Duration(rand.Int64N(int64(p.bound(n)) + 1)))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
