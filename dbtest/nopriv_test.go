package dbtest_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/internal/testserver"
)

// The role of TestDeadlockWithoutPrivilege: it may log in and create
// databases, and may not set deadlock_timeout.
const (
	noPrivRole    = "dbtest_no_deadlock_timeout"
	childDeadlock = "deadlock-without-privilege"
)

// TestDeadlockWithoutPrivilege runs, as a role that may not lower
// deadlock_timeout, a test binary that provokes a deadlock between two
// separate connections. The server keeps its own deadlock_timeout, and the
// lock timeout ends the wait before the server looks for the deadlock; the
// report must still call it a deadlock, with both statements, say why the
// server did not, and what to grant. The test's log says once that
// deadlock_timeout could not be lowered.
func TestDeadlockWithoutPrivilege(t *testing.T) {
	server := dbtest.Open(t, dbtest.Postgres, itemsSchema()) // skips or fails like every test
	secret := strings.ReplaceAll(server.DatabaseName(), "_", "x")
	dsn := testserver.PostgresRole(t, server.RawDSN(), noPrivRole, secret, nil)
	cmd := exec.Command(os.Args[0], "-test.run=^TestDeadlockWithoutPrivilegeChild$", "-test.count=1", "-test.v")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, dbtest.EnvPostgresDSN+"=") && !strings.HasPrefix(kv, dbtest.EnvRequire+"=") && !strings.HasPrefix(kv, envChild+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, dbtest.EnvPostgresDSN+"="+dsn, dbtest.EnvRequire+"=postgres", envChild+"="+childDeadlock)
	out, err := cmd.CombinedOutput()
	t.Logf("the child, as role %s:\n%s", noPrivRole, strings.ReplaceAll(string(out), secret, "<password>"))
	if err != nil || !strings.Contains(string(out), "--- PASS: TestDeadlockWithoutPrivilegeChild") {
		t.Fatalf("the child failed (%v)", err)
	}
}

// TestDeadlockWithoutPrivilegeChild is not a test of its own:
// TestDeadlockWithoutPrivilege runs the test binary again with it, as a
// role that may not set deadlock_timeout.
func TestDeadlockWithoutPrivilegeChild(t *testing.T) {
	if os.Getenv(envChild) != childDeadlock {
		t.Skip("runs only as a child process")
	}
	var mu sync.Mutex
	var logged []string
	logf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		logged = append(logged, fmt.Sprintf(format, args...))
		t.Logf(format, args...)
	}
	probe := dbtest.Open(t, dbtest.Postgres, itemsSchema(), dbtest.WithLogf(logf))
	var ms int64
	var timeout string
	err := rawConn(t, probe).QueryRowContext(t.Context(), `SELECT current_setting('deadlock_timeout'),
		(extract(epoch FROM current_setting('deadlock_timeout')::interval) * 1000)::bigint`).Scan(&timeout, &ms)
	if err != nil {
		t.Fatal(err)
	}
	if timeout == "100ms" {
		t.Fatal("deadlock_timeout is 100ms on dbtest's database: the role could set it, and there is nothing to test")
	}
	// The lock timeout is not below deadlock_timeout: dbtest's default,
	// or the server's deadlock_timeout when that is shorter. When both
	// are equal, PostgreSQL reports the lock timeout.
	lockTimeout := min(dbtest.DefaultLockTimeout, time.Duration(ms)*time.Millisecond)
	db := dbtest.Open(t, dbtest.Postgres, itemsSchema(), dbtest.WithLogf(logf), dbtest.WithLockTimeout(lockTimeout)) // says nothing more
	mu.Lock()
	notes := 0
	for _, l := range logged {
		if strings.Contains(l, "could not lower deadlock_timeout") {
			notes++
		}
	}
	mu.Unlock()
	if notes != 1 {
		t.Errorf("the log says %d times that deadlock_timeout could not be lowered, want once:\n%s", notes, strings.Join(logged, "\n"))
	}

	erra, errc := deadlockPair(t, db)
	// a waited first: its wait ends first.
	var le *dbtest.LockError
	if !errors.As(erra, &le) {
		t.Fatalf("a's update: %v; want a lock error (c's: %v)", erra, errc)
	}
	if sqlState(le) == "40P01" {
		t.Fatalf("the server reported the deadlock itself: the lock timeout did not end the wait first:\n%v", le)
	}
	r := le.Report
	detail := r.ServerDetail
	switch {
	case !r.Deadlock:
		t.Errorf("the report does not call it a deadlock:\n%v", le)
	case !strings.Contains(detail, "UPDATE items SET qty = 1 WHERE id = 2") || !strings.Contains(detail, "UPDATE items SET qty = 2 WHERE id = 1"):
		t.Errorf("the report lacks one of the two statements:\n%v", le)
	case !strings.Contains(detail, "deadlock_timeout on dbtest's databases ("+timeout+")"):
		t.Errorf("the report does not give the server's deadlock_timeout (%s):\n%v", timeout, le)
	case !strings.Contains(detail, "GRANT SET ON PARAMETER deadlock_timeout TO") && !strings.Contains(detail, "ALTER ROLE"):
		t.Errorf("the report does not say what to grant:\n%v", le)
	}
	t.Logf("the report:\n%v", le)
}
