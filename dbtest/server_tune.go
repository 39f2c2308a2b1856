package dbtest

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"
)

// The tuning of dbtest's server databases for lock diagnosis (tuneSQL):
// on PostgreSQL, a deadlock_timeout below the lock timeout, so that the
// server reports a deadlock as one before the lock timeout ends the wait.
// It takes a privilege the role may not have; then the server's own value
// stays, dbtest says so once in a test's log, and finds deadlocks itself
// (see waitCycle).

// tuneState is what dbtest knows of the tuning of its databases.
type tuneState struct {
	mu     sync.Mutex
	failed error           // the first tuning statement the server refused; nil while none was
	got    deadlockSetting // what the databases have instead, once failed is set
	logged bool            // a test's log said so
}

// deadlockSetting is how the server looks for deadlocks on dbtest's
// databases, and what would let dbtest change it.
type deadlockSetting struct {
	timeout time.Duration // deadlock_timeout; 0 when unknown
	advice  string        // what gives the role the privilege
}

// A deadlockTuner is a server whose deadlock detection dbtest tunes.
type deadlockTuner interface {
	// tunedDeadlockTimeout is the deadlock_timeout that tuneSQL sets.
	tunedDeadlockTimeout() time.Duration
	// deadlockSetting reads, on db (a database tuneSQL could not tune),
	// its deadlock_timeout, and the advice on granting the privilege to
	// the role.
	deadlockSetting(ctx context.Context, db *sql.DB) deadlockSetting
}

// tuneLocked tunes the new database name; p.mu is held. A refusal is
// recorded, not returned: the database works all the same.
func (p *serverProvider) tuneLocked(ctx context.Context, name string) {
	for _, q := range p.d.tuneSQL(name) {
		_, err := p.ctl.ExecContext(ctx, q)
		if err == nil {
			continue
		}
		t := &p.tuning
		t.mu.Lock()
		if t.failed == nil {
			t.failed = err
			if dt, ok := p.d.(deadlockTuner); ok {
				t.got = p.readDeadlockSetting(ctx, dt, name)
			}
		}
		t.mu.Unlock()
	}
}

// readDeadlockSetting reads the deadlock settings of database name, on a
// connection of its own: the control connection's database may have
// settings of its own.
func (p *serverProvider) readDeadlockSetting(ctx context.Context, dt deadlockTuner, name string) deadlockSetting {
	dsn, err := p.d.dsn(p.base, name, DefaultLockTimeout, "dbtest")
	if err != nil {
		return deadlockSetting{}
	}
	conn, err := p.d.connector(dsn)
	if err != nil {
		return deadlockSetting{}
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	return dt.deadlockSetting(ctx, db)
}

// noteTuning says, once per process, in the log of the test that opens a
// handle, that dbtest could not tune its databases, and what follows.
func (p *serverProvider) noteTuning(logf func(format string, args ...any)) {
	t := &p.tuning
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.failed == nil || t.logged || logf == nil {
		return
	}
	t.logged = true
	dt, ok := p.d.(deadlockTuner)
	if ok && t.got.timeout > 0 && t.got.timeout <= dt.tunedDeadlockTimeout() {
		return // set low enough for the role already
	}
	if !ok {
		logf("dbtest: %s: tuning dbtest's databases for lock diagnosis failed: %v", p.b, firstLine(t.failed))
		return
	}
	have := "the server's own"
	if t.got.timeout > 0 {
		have = fmt.Sprintf("the server's %v", t.got.timeout)
	}
	logf("dbtest: %s: could not lower deadlock_timeout to %v on dbtest's databases (%v): they keep %s, "+
		"and a deadlock whose wait reaches the lock timeout first (%v by default) ends as a lock timeout; "+
		"dbtest then finds the deadlock in pg_blocking_pids itself. %s",
		p.b, dt.tunedDeadlockTimeout(), firstLine(t.failed), have, DefaultLockTimeout, t.got.advice)
}

// deadlockTimeout returns the deadlock_timeout of dbtest's databases, and
// the advice on lowering it when dbtest could not; 0 when unknown.
func (p *serverProvider) deadlockTimeout() (time.Duration, string) {
	dt, ok := p.d.(deadlockTuner)
	if !ok {
		return 0, ""
	}
	t := &p.tuning
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.failed != nil {
		return t.got.timeout, t.got.advice
	}
	return dt.tunedDeadlockTimeout(), ""
}
