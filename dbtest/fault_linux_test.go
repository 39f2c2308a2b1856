package dbtest_test

import (
	"bufio"
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/easyautoml/dbharness/dbtest"
)

// TestLeftoversDroppedByNextRun kills a test binary together with its
// companion, the process that would have dropped its databases: they stay
// on the servers; the next test binary to use a server drops them when it
// starts, once the killed one's claim (a control connection) is gone.
// (Containers left by a killed run are the container tier's business:
// TestContainerTierKilledRun.)
func TestLeftoversDroppedByNextRun(t *testing.T) {
	servers := openServers(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envChild+"=wait")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	names := map[dbtest.Backend]string{}
	lines := bufio.NewScanner(stdout)
	for len(names) < 2 && lines.Scan() {
		if f := strings.Fields(lines.Text()); len(f) == 3 && f[0] == "DB" {
			names[dbtest.Backend(f[1])] = f[2]
		}
	}
	if len(names) != 2 {
		t.Fatalf("the child did not report its databases (%v)", lines.Err())
	}

	companion := childWithEnv(t, cmd.Process.Pid, "DBTEST_CLEANUP=1")
	if err := syscall.Kill(companion, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(t, companion) // the child reaps it
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	for b, name := range names {
		if !databaseExists(t, servers[b], name) {
			t.Fatalf("%s: database %s is gone although its process and companion were killed", b, name)
		}
	}

	for b, name := range names {
		token := strings.Split(name, "_")[1]
		deadline := time.Now().Add(30 * time.Second)
		for claimed(t, servers[b], token) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: the killed process's claim dbtest:%s is still held after 30s", b, token)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// The next run: a test binary that uses both servers and exits.
	next := exec.Command(os.Args[0], "-test.run=^TestHelperChild$", "-test.count=1")
	next.Env = append(os.Environ(), envChild+"=exit")
	if out, err := next.CombinedOutput(); err != nil {
		t.Fatalf("the next run: %v\n%s", err, out)
	}
	for b, name := range names {
		if databaseExists(t, servers[b], name) {
			t.Errorf("%s: database %s left by the killed run survived the next run", b, name)
		}
	}
}

// childWithEnv returns the pid of the child of parent whose environment
// holds env, waiting for it a little.
func childWithEnv(t *testing.T, parent int, env string) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		stats, _ := filepath.Glob("/proc/[0-9]*/stat")
		for _, st := range stats {
			b, err := os.ReadFile(st)
			if err != nil {
				continue
			}
			// pid (comm) state ppid ...: comm may hold spaces, not ')'.
			rest := string(b[strings.LastIndexByte(string(b), ')')+1:])
			f := strings.Fields(rest)
			if len(f) < 2 || f[1] != strconv.Itoa(parent) {
				continue
			}
			environ, err := os.ReadFile(filepath.Join(filepath.Dir(st), "environ"))
			if err != nil {
				continue
			}
			for _, kv := range strings.Split(string(environ), "\x00") {
				if kv == env {
					pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(st)))
					return pid
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no child of %d with %s", parent, env)
	return 0
}

// waitGone waits until process pid has exited and been reaped.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := syscall.Kill(pid, 0)
		if err == syscall.ESRCH {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d still exists 30s after SIGKILL (%v)", pid, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// claimed reports whether a live process still claims token on the server
// of db: its control connection's application_name on PostgreSQL, its
// named lock on MySQL.
func claimed(t *testing.T, db *dbtest.DB, token string) bool {
	t.Helper()
	if db.Backend() == dbtest.Postgres {
		var held bool
		serverQuery(t, db, "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = $1)", "dbtest:"+token, &held)
		return held
	}
	var free sql.NullInt64
	serverQuery(t, db, "SELECT IS_FREE_LOCK(?)", "dbtest:"+token, &free)
	return free.Int64 != 1
}
