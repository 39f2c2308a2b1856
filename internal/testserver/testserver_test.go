//go:build linux

package testserver_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/internal/leakcheck"
	"github.com/easyautoml/dbharness/internal/testserver"
)

// The private servers of this test binary, started once by TestMain. dbtest
// is pointed at them, never at the shared servers that other test binaries
// use at the same time: these tests stop and restart them.
var (
	servers   = map[dbtest.Backend]*testserver.Server{}
	startErrs = map[dbtest.Backend]error{}
)

// hangLimit is how long an operation may take before the tests call it a
// hang: far beyond what any of them needs, even on a loaded machine.
const hangLimit = 90 * time.Second

// envChild makes the test binary act as another test binary that uses the
// private servers named by the DSN variables: it opens a handle on each
// (which sweeps the databases of processes it finds gone), releases them,
// and exits.
const envChild = "TESTSERVER_TEST_CHILD"

func TestMain(m *testing.M) {
	ctx := context.Background()
	if os.Getenv(envChild) != "" {
		os.Exit(runChild(ctx))
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for b, start := range map[dbtest.Backend]func(context.Context) (*testserver.Server, error){
		dbtest.Postgres: testserver.StartPostgres,
		dbtest.MySQL:    testserver.StartMariaDB,
	} {
		wg.Go(func() {
			s, err := start(ctx)
			mu.Lock()
			defer mu.Unlock()
			servers[b], startErrs[b] = s, err
		})
	}
	wg.Wait()
	for b, env := range map[dbtest.Backend]string{dbtest.Postgres: dbtest.EnvPostgresDSN, dbtest.MySQL: dbtest.EnvMySQLDSN} {
		if s := servers[b]; s != nil {
			os.Setenv(env, s.DSN())
		} else {
			os.Unsetenv(env) // the tests of b fail or skip before they reach dbtest
		}
	}
	// dbtest drops its databases, the leak check looks at the private
	// servers' sessions, then the servers stop; goleak checks last.
	goleak.VerifyTestMain(stopAfter{leakcheck.Wrap(dbtest.WrapMain(m))})
}

func runChild(ctx context.Context) int {
	for _, b := range []dbtest.Backend{dbtest.Postgres, dbtest.MySQL} {
		if os.Getenv(map[dbtest.Backend]string{dbtest.Postgres: dbtest.EnvPostgresDSN, dbtest.MySQL: dbtest.EnvMySQLDSN}[b]) == "" {
			continue
		}
		db, err := dbtest.Connect(ctx, b)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		db.Release(ctx)
	}
	return dbtest.WrapMain(noTests{}).Run()
}

type noTests struct{}

func (noTests) Run() int { return 0 }

type stopAfter struct{ r dbtest.Runner }

func (s stopAfter) Run() int {
	code := s.r.Run()
	for b, srv := range servers {
		if srv == nil {
			continue
		}
		if err := srv.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", b, err)
			code = 1
		}
	}
	return code
}

// need returns the private server of backend b. When it could not start,
// the test fails if DBTEST_REQUIRE names b, and skips otherwise.
func need(t *testing.T, b dbtest.Backend) *testserver.Server {
	t.Helper()
	if err := startErrs[b]; err != nil {
		if dbtest.Required(b) {
			t.Fatalf("%s is required by %s, but its private server did not start: %v", b, dbtest.EnvRequire, err)
		}
		t.Skipf("no private %s server: %v", b, err)
	}
	return servers[b]
}

// within runs fn and fails the test if it has not returned after limit:
// the fault made it hang.
func within[T any](t *testing.T, what string, limit time.Duration, fn func(ctx context.Context) T) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	done := make(chan T, 1)
	go func() { done <- fn(ctx) }()
	select {
	case v := <-done:
		return v
	case <-time.After(limit + 5*time.Second):
		t.Fatalf("%s hung: no answer after %v", what, limit)
	}
	panic("unreachable")
}

type opened struct {
	db  *dbtest.DB
	err error
}

// connect opens a handle with dbtest.Connect under the hang limit, and
// releases it at cleanup.
func connect(t *testing.T, b dbtest.Backend) (*dbtest.DB, error) {
	t.Helper()
	o := within(t, "dbtest.Connect", hangLimit, func(ctx context.Context) opened {
		db, err := dbtest.Connect(ctx, b, dbtest.WithLogf(t.Logf))
		return opened{db, err}
	})
	if o.err == nil {
		t.Cleanup(func() {
			if err := within(t, "Release", hangLimit, o.db.Release); err != nil {
				t.Error(err)
			}
		})
	}
	return o.db, o.err
}

func plainDriver(b dbtest.Backend) string {
	if b == dbtest.Postgres {
		return "pgx"
	}
	return "mysql"
}

func insertUser(t *testing.T, db *dbtest.DB, name string) {
	t.Helper()
	q := "INSERT INTO users (username, email, is_staff, created_at, updated_at) VALUES (?, ?, false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
	if db.Backend() == dbtest.Postgres {
		q = strings.NewReplacer("?, ?", "$1, $2").Replace(q)
	}
	if _, err := db.Exec(q, name, name+"@example.com"); err != nil {
		t.Fatal(err)
	}
}

func countUsers(t *testing.T, db *dbtest.DB, name string) int {
	t.Helper()
	q := "SELECT COUNT(*) FROM users WHERE username = ?"
	if db.Backend() == dbtest.Postgres {
		q = "SELECT COUNT(*) FROM users WHERE username = $1"
	}
	var n int
	if err := db.QueryRow(q, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// askPlain queries a pool opened outside dbtest until it answers: the
// first query after a restart may meet the dead connection and fail (with
// a connection error, not a hang); the next must get a new one.
func askPlain(t *testing.T, pool *sql.DB) {
	t.Helper()
	var errs []error
	for range 3 {
		err := within(t, "a query on a plain pool", hangLimit, func(ctx context.Context) error {
			var one int
			return pool.QueryRowContext(ctx, "SELECT 1").Scan(&one)
		})
		if err == nil {
			if len(errs) > 0 {
				t.Logf("the plain pool reconnected after: %v", errors.Join(errs...))
			}
			return
		}
		errs = append(errs, err)
	}
	t.Fatalf("the plain pool did not reconnect in 3 queries: %v", errors.Join(errs...))
}

// TestRestartBetweenTests restarts the server between two tests: the
// second gets a working handle (dbtest replaces the pooled connection that
// the restart cut), sees nothing of the first (the server rolled it back),
// and a plain pool of the code under test reconnects too.
func TestRestartBetweenTests(t *testing.T) {
	for _, b := range []dbtest.Backend{dbtest.Postgres, dbtest.MySQL} {
		t.Run(string(b), func(t *testing.T) {
			srv := need(t, b)
			pool, err := sql.Open(plainDriver(b), srv.DSN())
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			askPlain(t, pool)
			t.Run("first", func(t *testing.T) {
				db := dbtest.Open(t, b)
				insertUser(t, db, "before_restart")
				if n := countUsers(t, db, "before_restart"); n != 1 {
					t.Fatalf("%d rows of the test's own write", n)
				}
			})
			if err := within(t, "the restart", hangLimit, srv.Restart); err != nil {
				t.Fatal(err)
			}
			t.Run("second", func(t *testing.T) {
				db, err := connect(t, b)
				if err != nil {
					t.Fatalf("the first test after the restart: %v", err)
				}
				if n := countUsers(t, db, "before_restart"); n != 0 {
					t.Errorf("the test after the restart sees %d rows of the one before", n)
				}
				insertUser(t, db, "after_restart")
				if n := countUsers(t, db, "after_restart"); n != 1 {
					t.Errorf("%d rows of the test's own write", n)
				}
			})
			askPlain(t, pool)
		})
	}
}

// TestRestartDuringTest restarts the server under a running test: its next
// statement fails with a connection error instead of hanging, its cleanup
// ends, and the test after it gets a working handle.
func TestRestartDuringTest(t *testing.T) {
	for _, b := range []dbtest.Backend{dbtest.Postgres, dbtest.MySQL} {
		t.Run(string(b), func(t *testing.T) {
			srv := need(t, b)
			t.Run("cut", func(t *testing.T) {
				db, err := connect(t, b)
				if err != nil {
					t.Fatal(err)
				}
				insertUser(t, db, "during_restart")
				if err := within(t, "the restart", hangLimit, srv.Restart); err != nil {
					t.Fatal(err)
				}
				err = within(t, "a statement after the restart", hangLimit, func(ctx context.Context) error {
					_, err := db.ExecContext(ctx, "DELETE FROM users")
					return err
				})
				if err == nil {
					t.Fatal("a statement ran on the test's transaction after the server restarted")
				}
				t.Logf("the statement after the restart failed: %v", err)
			})
			t.Run("next", func(t *testing.T) {
				db, err := connect(t, b)
				if err != nil {
					t.Fatalf("the test after the cut one: %v", err)
				}
				if n := countUsers(t, db, "during_restart"); n != 0 {
					t.Errorf("the next test sees %d rows of the cut one", n)
				}
			})
		})
	}
}

// TestServerDown: with the server stopped, a test fails at once with an
// error that names the backend and the refused connection, both when it
// takes a pooled database (whose connection the stop cut) and when it
// needs a new one; once the server is back, tests work again.
func TestServerDown(t *testing.T) {
	for _, b := range []dbtest.Backend{dbtest.Postgres, dbtest.MySQL} {
		t.Run(string(b), func(t *testing.T) {
			srv := need(t, b)
			t.Run("pool a database", func(t *testing.T) {
				if _, err := connect(t, b); err != nil {
					t.Fatal(err)
				}
			})
			if err := within(t, "the stop", hangLimit, srv.Stop); err != nil {
				t.Fatal(err)
			}
			restarted := false
			defer func() {
				if !restarted {
					srv.Start(context.Background())
				}
			}()
			for _, path := range []string{"the pooled database", "a new database"} {
				_, err := connect(t, b)
				if err == nil {
					t.Fatalf("%s: dbtest.Connect succeeded with the server stopped", path)
				}
				if !errors.Is(err, syscall.ECONNREFUSED) || !strings.HasPrefix(err.Error(), "dbtest: "+string(b)+": ") {
					t.Errorf("%s: error = %v; want one that starts with %q and matches ECONNREFUSED", path, err, "dbtest: "+string(b)+": ")
				}
				t.Logf("%s, with the server down: %v", path, err)
			}
			if err := within(t, "the start", hangLimit, srv.Start); err != nil {
				t.Fatal(err)
			}
			restarted = true
			db, err := connect(t, b)
			if err != nil {
				t.Fatalf("once the server is back: %v", err)
			}
			insertUser(t, db, "back_again")
		})
	}
}

// TestRestartThenAnotherProcess: after a restart, this process's claim on
// its databases (a control connection) is gone until it reconnects, and
// another test binary that starts in between takes them for abandoned and
// drops them. This process's next test must still get a working handle.
func TestRestartThenAnotherProcess(t *testing.T) {
	for _, b := range []dbtest.Backend{dbtest.Postgres, dbtest.MySQL} {
		t.Run(string(b), func(t *testing.T) {
			srv := need(t, b)
			var pooled string
			t.Run("before", func(t *testing.T) {
				pooled = dbtest.Open(t, b).DatabaseName()
			})
			if err := within(t, "the restart", hangLimit, srv.Restart); err != nil {
				t.Fatal(err)
			}
			child := exec.Command(os.Args[0], "-test.run=^$")
			child.Env = append(os.Environ(), envChild+"=1")
			if out, err := child.CombinedOutput(); err != nil {
				t.Fatalf("the other process: %v\n%s", err, out)
			}
			if databaseExists(t, b, srv, pooled) {
				t.Logf("the other process left %s alone", pooled)
			} else {
				t.Logf("the other process dropped %s, pooled by this one", pooled)
			}
			db, err := connect(t, b)
			if err != nil {
				t.Fatalf("the first test after the restart and the other process: %v", err)
			}
			insertUser(t, db, "after_the_other")
		})
	}
}

func databaseExists(t *testing.T, b dbtest.Backend, srv *testserver.Server, name string) bool {
	t.Helper()
	pool, err := sql.Open(plainDriver(b), srv.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	q := "SELECT COUNT(*) FROM pg_database WHERE datname = $1"
	if b == dbtest.MySQL {
		q = "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?"
	}
	var n int
	if err := pool.QueryRow(q, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}
