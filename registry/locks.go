package registry

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

const lockCols = "id, machine_id, holder, acquired_at, expires_at"

func scanLock(s rowScanner) (MachineTableLockWrite, error) {
	var l MachineTableLockWrite
	err := s.Scan(&l.ID, &l.MachineID, &l.Holder, timeDest{&l.AcquiredAt}, timeDest{&l.ExpiresAt})
	return l, err
}

// acquireAttempts bounds how often AcquireTableLock retries when the lock
// it found held was released before it could read who held it.
const acquireAttempts = 3

// AcquireTableLock takes the write lock on the machine's data table for
// holder, until ttl from now by the repository's clock (see [WithClock]).
//
// The lock is a row of machine_table_lock_writes, unique per machine, so
// it excludes across connections, processes and hosts. An expired row is
// deleted first, so a holder that crashed blocks others for ttl at most.
// A live row of another holder gives a [*LockHeldError] ([ErrLockHeld]),
// and so does one of the same holder: the lock is not reentrant. An unknown
// machine gives [ErrNotFound].
//
// No statement fails on contention, so AcquireTableLock may run inside a
// PostgreSQL transaction without aborting it. A concurrent acquirer's
// uncommitted row makes it wait for that transaction, up to the database's
// lock timeout. On MySQL, InnoDB may resolve contention for the row as a
// deadlock: on a pool (*sql.DB), where each statement is a transaction of
// its own, AcquireTableLock then tries again; inside a transaction, which
// the deadlock rolled back, it returns the error (MySQL's 1213).
func (r *Repo) AcquireTableLock(ctx context.Context, machineID int64, holder string, ttl time.Duration) (MachineTableLockWrite, error) {
	if err := checkText("table lock: holder", holder, 255); err != nil {
		return MachineTableLockWrite{}, err
	}
	if ttl <= 0 {
		return MachineTableLockWrite{}, invalid("table lock: ttl %v is not positive", ttl)
	}
	if _, err := r.GetMachine(ctx, machineID); err != nil {
		return MachineTableLockWrite{}, err
	}
	for range acquireAttempts {
		now := r.now()
		l, err := r.tryLock(ctx, machineID, holder, now, now.Add(ttl).Truncate(time.Microsecond))
		if errors.Is(err, errLockVanished) || r.aloneInDeadlock(err) {
			continue
		}
		return l, err
	}
	return MachineTableLockWrite{}, fmt.Errorf("registry: machine %d: table lock: contended for %d attempts: %w",
		machineID, acquireAttempts, ErrLockHeld)
}

// aloneInDeadlock reports whether err is a deadlock that rolled back
// nothing but the statement that met it, so that trying again is safe:
// InnoDB resolves some contention on the lock row as a deadlock (inserts
// that wait on a row being deleted), and on a pool each statement is a
// transaction of its own. Inside a transaction the deadlock rolled back
// all of it, and only its owner may try again.
func (r *Repo) aloneInDeadlock(err error) bool {
	_, pool := r.q.(*sql.DB)
	return pool && r.d.deadlock != nil && r.d.deadlock(err)
}

// errLockVanished: the lock row that stood in the way was gone when read.
var errLockVanished = errors.New("lock row vanished")

func (r *Repo) tryLock(ctx context.Context, machineID int64, holder string, now, expires time.Time) (MachineTableLockWrite, error) {
	// Expired: whoever held it is taken to be gone. A live row, even one
	// committed an instant ago by another acquirer, is left alone.
	if _, err := r.exec(ctx,
		"DELETE FROM machine_table_lock_writes WHERE machine_id = ? AND expires_at <= ?",
		machineID, r.t(now)); err != nil {
		return MachineTableLockWrite{}, r.wrap(err, "machine %d: clearing an expired table lock", machineID)
	}
	id, err := r.insertLock(ctx, machineID, holder, now, expires)
	if err != nil {
		return MachineTableLockWrite{}, r.wrap(err, "machine %d: table lock", machineID)
	}
	// Whatever the insert said, the row in the table decides who holds
	// the lock.
	l, err := scanLock(r.queryRow(ctx,
		"SELECT "+lockCols+" FROM machine_table_lock_writes WHERE machine_id = ?", machineID))
	if errors.Is(err, sql.ErrNoRows) {
		return MachineTableLockWrite{}, errLockVanished
	}
	if err != nil {
		return MachineTableLockWrite{}, r.wrap(err, "machine %d: reading the table lock", machineID)
	}
	if id != 0 && l.ID == id && l.Holder == holder {
		return l, nil
	}
	return MachineTableLockWrite{}, &LockHeldError{MachineID: machineID, Holder: l.Holder, ExpiresAt: l.ExpiresAt}
}

// insertLock inserts the lock row unless the machine has one, and returns
// its id, or 0 when a row was there already.
func (r *Repo) insertLock(ctx context.Context, machineID int64, holder string, now, expires time.Time) (int64, error) {
	args := []any{machineID, holder, r.t(now), r.t(expires)}
	if r.d.returning {
		var id int64
		err := r.queryRow(ctx, r.d.insertLock+" RETURNING id", args...).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, nil
		}
		return id, err
	}
	res, err := r.exec(ctx, r.d.insertLock, args...)
	if err != nil && r.d.lockDupFails && r.d.duplicate(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil || n == 0 {
		return 0, err
	}
	return res.LastInsertId()
}

// ReleaseTableLock gives the lock back. It answers [ErrLockNotHeld] when
// the lock is no longer the caller's: released already, or expired and
// taken over.
func (r *Repo) ReleaseTableLock(ctx context.Context, lock MachineTableLockWrite) error {
	res, err := r.exec(ctx,
		"DELETE FROM machine_table_lock_writes WHERE id = ? AND machine_id = ? AND holder = ?",
		lock.ID, lock.MachineID, lock.Holder)
	if err != nil {
		return r.wrap(err, "machine %d: releasing the table lock of %q", lock.MachineID, lock.Holder)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return r.wrap(err, "machine %d: releasing the table lock of %q", lock.MachineID, lock.Holder)
	}
	if n == 0 {
		return fmt.Errorf("registry: machine %d: releasing the table lock of %q: %w", lock.MachineID, lock.Holder, ErrLockNotHeld)
	}
	return nil
}

// RefreshTableLock extends the lock to ttl from now and returns it. It
// answers [ErrLockNotHeld] when the lock is no longer the caller's. A lock
// that expired but that nobody took over is still the caller's, and is
// extended.
func (r *Repo) RefreshTableLock(ctx context.Context, lock MachineTableLockWrite, ttl time.Duration) (MachineTableLockWrite, error) {
	if ttl <= 0 {
		return MachineTableLockWrite{}, invalid("table lock: ttl %v is not positive", ttl)
	}
	expires := r.now().Add(ttl)
	// Read back rather than trust RowsAffected: MySQL counts a row whose
	// values did not change as unaffected.
	if _, err := r.exec(ctx,
		"UPDATE machine_table_lock_writes SET expires_at = ? WHERE id = ? AND machine_id = ? AND holder = ?",
		r.t(expires), lock.ID, lock.MachineID, lock.Holder); err != nil {
		return MachineTableLockWrite{}, r.wrap(err, "machine %d: refreshing the table lock of %q", lock.MachineID, lock.Holder)
	}
	l, err := scanLock(r.queryRow(ctx,
		"SELECT "+lockCols+" FROM machine_table_lock_writes WHERE id = ? AND machine_id = ? AND holder = ?",
		lock.ID, lock.MachineID, lock.Holder))
	if errors.Is(err, sql.ErrNoRows) {
		return MachineTableLockWrite{}, fmt.Errorf("registry: machine %d: refreshing the table lock of %q: %w", lock.MachineID, lock.Holder, ErrLockNotHeld)
	}
	return l, r.wrap(err, "machine %d: refreshing the table lock of %q", lock.MachineID, lock.Holder)
}

// GetTableLock returns the machine's table lock row, expired or not, or
// [ErrNotFound] when there is none.
func (r *Repo) GetTableLock(ctx context.Context, machineID int64) (MachineTableLockWrite, error) {
	l, err := scanLock(r.queryRow(ctx,
		"SELECT "+lockCols+" FROM machine_table_lock_writes WHERE machine_id = ?", machineID))
	return l, r.wrap(err, "machine %d: table lock", machineID)
}
