package dbtest

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrLocked is matched by errors.Is for every lock error under dbtest:
// SQLITE_BUSY and SQLITE_LOCKED, PostgreSQL's lock timeouts and
// deadlocks, MySQL's lock-wait timeouts and deadlocks. errors.As with a
// *[LockError] gives the report.
var ErrLocked = errors.New("dbtest: lock conflict")

// LockError is a lock error of the database, explained. It wraps the
// driver's error, so errors.Is(err, sqlite3.BUSY) and errors.As to
// *pgconn.PgError or *mysql.MySQLError keep working.
type LockError struct {
	Err    error       // the driver's error
	Report *LockReport // who held what
}

// Error returns the driver's message followed by the report.
func (e *LockError) Error() string {
	return e.Err.Error() + "\n" + e.Report.String()
}

// Unwrap returns [ErrLocked] and the driver's error.
func (e *LockError) Unwrap() []error { return []error{ErrLocked, e.Err} }

// LockConflict reports true: code that retries on lock conflicts, such as
// package dynamic, recognises dbtest's explained errors by this method.
func (e *LockError) LockConflict() bool { return true }

// SelfDeadlock reports whether the lock is held by the test's own
// transaction, so that retrying cannot help while the test waits.
func (e *LockError) SelfDeadlock() bool { return e.Report != nil && e.Report.SelfDeadlock }

// ConnRole says who opened a connection.
type ConnRole int

const (
	// RoleUnknown is a connection dbtest did not open.
	RoleUnknown ConnRole = iota
	// RoleTestTx is the connection of the test's transaction: the handle
	// from [Open], and every pool opened with [DB.DSN].
	RoleTestTx
	// RoleRaw is a separate connection opened with [DB.RawDSN].
	RoleRaw
)

// String says who opened the connection, as a report words it.
func (r ConnRole) String() string {
	switch r {
	case RoleTestTx:
		return "the test transaction"
	case RoleRaw:
		return "separate connection"
	}
	return "connection not opened by dbtest"
}

// ConnInfo identifies a connection in a report.
type ConnInfo struct {
	ID       int      // dbtest's number for the connection (SQLite) or the server's id (PID, thread id)
	Role     ConnRole // who opened it
	Location string   // file:line of the code that opened it
	Test     string   // the test it belongs to, when known
}

// String names the connection as a report does: its number, and who
// opened it where.
func (c ConnInfo) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "connection #%d (", c.ID)
	switch c.Role {
	case RoleTestTx:
		fmt.Fprintf(&b, "the test transaction, opened by dbtest.Open at %s", c.Location)
	case RoleRaw:
		fmt.Fprintf(&b, "opened at %s, separate connection", c.Location)
	default:
		b.WriteString(c.Role.String())
	}
	b.WriteString(")")
	return b.String()
}

// LockHolder is a connection that held a lock the waiter wanted.
type LockHolder struct {
	Conn      ConnInfo
	Lock      string        // the lock it holds, e.g. RESERVED or "RowExclusiveLock on users"
	Since     time.Duration // when it took the lock, from the start of the timeline; negative when unknown
	HeldFor   time.Duration // how long it has held it
	Statement string        // the statement that took the lock, when known
	Running   string        // what it is running now, if anything
}

// LockEvent is one step of a SQLite lock timeline.
type LockEvent struct {
	At        time.Duration // from the start of the test
	Conn      int
	Action    string // "acquired", "released to", "denied"
	Lock      string
	Statement string
}

// LockReport explains a lock error: who waited for what, who held it, and
// what to do about it.
type LockReport struct {
	Backend      Backend
	Database     string
	Waiter       ConnInfo
	Statement    string        // the statement that waited
	Wanted       string        // the lock it wanted
	Waited       time.Duration // how long it waited
	LockTimeout  time.Duration
	Holders      []LockHolder
	SelfDeadlock bool // the waiter waited on the test's own transaction
	// Deadlock: the waiter was in a cycle of waits. The server found it
	// and chose the waiter as its victim or, on PostgreSQL, the lock
	// timeout ended the wait first and dbtest found the cycle in
	// pg_blocking_pids (ServerDetail says which, and why).
	Deadlock     bool
	Timeline     []LockEvent
	ServerDetail string // the server's own account, such as its deadlock report
	Remedy       string

	// inferred: the server did not name the holders; they are the
	// transactions that can hold the lock (see server_locks_innodb.go).
	inferred bool
	// untraced: the test ran without lock diagnosis (WithoutLockTrace).
	untraced bool
	// cycle is the cycle of waits dbtest found, from the waiter's blocker
	// back to the waiter, when the server did not report it.
	cycle []cycleMember
}

// String formats the report for a terminal: a summary, the holders, the
// timeline in time order, and the remedy.
func (r *LockReport) String() string {
	if r == nil {
		return ""
	}
	var b strings.Builder
	ms := func(d time.Duration) string { return fmt.Sprintf("+%.1fms", float64(d)/float64(time.Millisecond)) }
	round := func(d time.Duration) time.Duration {
		if d < 10*time.Millisecond {
			return d.Round(10 * time.Microsecond)
		}
		return d.Round(time.Millisecond)
	}
	fmt.Fprintf(&b, "dbtest lock report (%s, database %s):\n", r.Backend, r.Database)
	wanted := r.Wanted
	if wanted == "" {
		wanted = "a lock"
	}
	what := "wanted " + wanted
	if r.Statement != "" {
		what += " for " + r.Statement
	}
	fmt.Fprintf(&b, "  %s %s", r.Waiter, what)
	switch {
	case r.Deadlock && r.cycle != nil:
		fmt.Fprintf(&b, "; gave up after %v (lock timeout %v) in a deadlock, which the server did not report", round(r.Waited), r.LockTimeout)
	case r.Deadlock:
		b.WriteString(" and was chosen as the deadlock victim")
	case r.SelfDeadlock:
		fmt.Fprintf(&b, "; gave up after %v without waiting out the %v lock timeout: it waits on the test's own transaction (a self-deadlock)", round(r.Waited), r.LockTimeout)
	default:
		fmt.Fprintf(&b, "; gave up after %v (lock timeout %v)", round(r.Waited), r.LockTimeout)
	}
	b.WriteString("\n")
	switch {
	case r.untraced:
		b.WriteString("  lock tracing was off (dbtest.WithoutLockTrace or DBTEST_LOCK_TRACE=off): no holder or timeline was recorded\n")
	case len(r.Holders) == 0:
		b.WriteString("  no holder was named: the server did not say, or the lock was released as the waiter gave up\n")
	}
	for _, h := range r.Holders {
		fmt.Fprintf(&b, "  %s has held %s", h.Conn, h.Lock)
		switch {
		case h.Statement != "" && h.Since >= 0:
			fmt.Fprintf(&b, " since its %s at %s", h.Statement, ms(h.Since))
		case h.Statement != "":
			fmt.Fprintf(&b, " since its %s", h.Statement)
		case h.Since >= 0:
			fmt.Fprintf(&b, " since %s", ms(h.Since))
		}
		fmt.Fprintf(&b, " (%v)", round(h.HeldFor))
		if h.Running != "" && h.Running != h.Statement {
			fmt.Fprintf(&b, "; now running %s", h.Running)
		}
		b.WriteString("\n")
	}
	if len(r.Timeline) > 0 {
		b.WriteString("  timeline:\n")
		last := map[int]string{} // statement last shown per connection
		for _, e := range r.Timeline {
			stmt := ""
			if e.Statement != "" && e.Statement != last[e.Conn] {
				stmt = "  " + e.Statement
			}
			last[e.Conn] = e.Statement
			fmt.Fprintf(&b, "    %9s  conn #%-3d %-22s %-9s%s\n", ms(e.At), e.Conn, e.Action, e.Lock, stmt)
		}
	}
	if r.ServerDetail != "" {
		b.WriteString("  the server reports:\n")
		for _, line := range strings.Split(strings.TrimSpace(r.ServerDetail), "\n") {
			fmt.Fprintf(&b, "    %s\n", line)
		}
	}
	if r.Remedy != "" {
		fmt.Fprintf(&b, "  fix: %s\n", r.Remedy)
	}
	return trimLineEnds(b.String())
}

// trimLineEnds removes the spaces and tabs that end each line of s: the
// padding of an empty last column, or a server's own.
func trimLineEnds(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	return strings.Join(lines, "\n")
}
