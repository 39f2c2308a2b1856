package registry

import (
	"errors"
	"fmt"
	"time"
)

// Errors returned by the repository, always wrapped with context: test for
// them with [errors.Is].
var (
	// ErrNotFound: the row does not exist, or the user may not see it.
	// Access scoping answers ErrNotFound rather than a permission error, so
	// that a user cannot learn which machine ids exist.
	ErrNotFound = errors.New("not found")

	// ErrInvalid: an argument was refused before reaching the database (an
	// empty name, an unsafe table name, a non-positive duration). The
	// message names the field.
	ErrInvalid = errors.New("invalid argument")

	// ErrDuplicate: a row with the same unique key (username, team name,
	// data table name, server name, team membership) already exists.
	// On PostgreSQL the failed statement also aborts the enclosing
	// transaction, as any failed statement does there.
	ErrDuplicate = errors.New("already exists")

	// ErrLockHeld: another holder has the machine's table lock and it has
	// not expired. The error is a [*LockHeldError] naming the holder.
	ErrLockHeld = errors.New("table lock held")

	// ErrLockNotHeld: the lock being released or refreshed is no longer
	// held by its holder: it was released already, or it expired and
	// another holder took it over.
	ErrLockNotHeld = errors.New("table lock not held")

	// ErrInvalidTransition: a work item cannot move from its current status
	// to the one asked. The error is a [*TransitionError] naming both.
	ErrInvalidTransition = errors.New("invalid work status transition")
)

// A LockHeldError reports that a machine's table lock belongs to another
// holder. It matches [ErrLockHeld] with [errors.Is].
type LockHeldError struct {
	MachineID int64
	Holder    string    // who holds the lock
	ExpiresAt time.Time // when it may be taken over, in UTC
}

// Error names the machine, the holder and the expiry.
func (e *LockHeldError) Error() string {
	return fmt.Sprintf("registry: machine %d: table lock held by %q until %s",
		e.MachineID, e.Holder, e.ExpiresAt.Format(time.RFC3339Nano))
}

// Unwrap returns [ErrLockHeld].
func (e *LockHeldError) Unwrap() error { return ErrLockHeld }

// A TransitionError reports a work status change the state machine does
// not allow. It matches [ErrInvalidTransition] with [errors.Is].
type TransitionError struct {
	WorkID   int64
	From, To WorkStatus
}

// Error names the work and both statuses.
func (e *TransitionError) Error() string {
	return fmt.Sprintf("registry: work %d: cannot go from %q to %q", e.WorkID, e.From, e.To)
}

// Unwrap returns [ErrInvalidTransition].
func (e *TransitionError) Unwrap() error { return ErrInvalidTransition }

// invalid returns an ErrInvalid naming what was refused.
func invalid(format string, args ...any) error {
	return fmt.Errorf("registry: %s: %w", fmt.Sprintf(format, args...), ErrInvalid)
}
