package dbtest_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/easyautoml/dbharness/dbtest"
)

const envChild = "DBTEST_TEST_CHILD"

// TestHelperChild is not a test: TestServerDatabasesDroppedAfterExit runs
// the test binary again with it, as a process that makes server databases
// and ends without any cleanup of its own.
func TestHelperChild(t *testing.T) {
	mode := os.Getenv(envChild)
	if mode == "" {
		t.Skip("runs only as a child process")
	}
	for _, b := range []dbtest.Backend{dbtest.Postgres, dbtest.MySQL} {
		db, err := dbtest.Connect(context.Background(), b, itemsSchema())
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(3)
		}
		fmt.Println("DB", b, db.DatabaseName())
	}
	os.Stdout.Sync()
	switch mode {
	case "kill":
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
	case "wait": // until the parent kills it
		io.Copy(io.Discard, os.Stdin)
	}
	os.Exit(0) // no Release, no Main: only the companion can clean up
}

// TestServerDatabasesDroppedAfterExit checks that no database outlives the
// test binary that made it, whether it exits without cleaning up or is
// killed.
func TestServerDatabasesDroppedAfterExit(t *testing.T) {
	servers := openServers(t)
	for _, mode := range []string{"exit", "kill"} {
		t.Run(mode, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), envChild+"="+mode)
			out, _ := cmd.Output()
			names := map[dbtest.Backend]string{}
			sc := bufio.NewScanner(strings.NewReader(string(out)))
			for sc.Scan() {
				f := strings.Fields(sc.Text())
				if len(f) == 3 && f[0] == "DB" {
					names[dbtest.Backend(f[1])] = f[2]
				}
			}
			if len(names) != 2 {
				t.Fatalf("the child did not report its databases:\n%s", out)
			}
			for b, name := range names {
				deadline := time.Now().Add(30 * time.Second)
				for databaseExists(t, servers[b], name) {
					if time.Now().After(deadline) {
						t.Fatalf("%s: database %s still exists 30s after its process ended", b, name)
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
		})
	}
}

// openServers opens a handle on each server backend, skipping or failing
// like any test when one is unavailable, and returns them: their raw DSNs
// reach the server wherever it is (a DSN in the environment, a container).
func openServers(t *testing.T) map[dbtest.Backend]*dbtest.DB {
	t.Helper()
	return map[dbtest.Backend]*dbtest.DB{
		dbtest.Postgres: dbtest.Open(t, dbtest.Postgres, itemsSchema()),
		dbtest.MySQL:    dbtest.Open(t, dbtest.MySQL, itemsSchema()),
	}
}

// serverQuery runs a one-value query on the server of db, through a
// connection of the backend's own driver.
func serverQuery(t *testing.T, db *dbtest.DB, query string, arg any, dest any) {
	t.Helper()
	pool, err := sql.Open(plainDriver(db.Backend()), db.RawDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := pool.QueryRow(query, arg).Scan(dest); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func databaseExists(t *testing.T, server *dbtest.DB, name string) bool {
	t.Helper()
	query := "SELECT COUNT(*) FROM pg_database WHERE datname = $1"
	if server.Backend() == dbtest.MySQL {
		query = "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?"
	}
	var n int
	serverQuery(t, server, query, name, &n)
	return n > 0
}
