// Package leakcheck checks, once a test binary's tests have run, that they
// left nothing open: no goroutine (go.uber.org/goleak) and no connection to
// the database servers named by DBTEST_POSTGRES_DSN and DBTEST_MYSQL_DSN.
//
//	func TestMain(m *testing.M) { leakcheck.Main(m) }
//
// runs the tests, drops dbtest's databases and closes its connections
// ([dbtest.WrapMain]), then fails the run if a connection or a goroutine
// remains.
//
// # Whose connections
//
// Several test binaries of one "go test ./..." run at once, against the
// same servers, so the check must look at this process's connections only.
// It lists the TCP sockets the process holds (Linux: /proc/self/fd and
// /proc/self/net/tcp) to each server's port, then asks the server which of
// its sessions come from those client ports: pg_stat_activity.client_port
// on PostgreSQL, the processlist's host on MySQL and MariaDB. Each leftover
// is reported with what the server says of it (session id, database,
// application name, state, last statement), which usually names the test
// that forgot to close it. On other systems only goroutines are checked.
package leakcheck

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/easyautoml/dbharness/dbtest"
)

// Main runs the package's tests, releases dbtest's databases, checks that
// no server connection and no goroutine remains, and exits.
func Main(m *testing.M, opts ...goleak.Option) {
	goleak.VerifyTestMain(Wrap(dbtest.WrapMain(m)), opts...)
}

// Wrap returns a Runner that runs r and then fails the run (exit code 1)
// when the process still holds a connection to a configured server. Give
// it a Runner that closes what it owns first, such as [dbtest.WrapMain].
func Wrap(r dbtest.Runner) dbtest.Runner { return wrapped{r} }

type wrapped struct{ r dbtest.Runner }

func (w wrapped) Run() int {
	code := w.r.Run()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := ServerConns(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "after the tests:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// ErrLeak is matched by the error of [ServerConns] when connections
// remain.
var ErrLeak = errors.New("leakcheck: connections left open")

// ServerConns returns an error matching [ErrLeak] that lists this
// process's open connections to the servers named by DBTEST_POSTGRES_DSN
// and DBTEST_MYSQL_DSN, as the servers describe them; nil when there are
// none. Servers that are not configured are not checked.
func ServerConns(ctx context.Context) error {
	var found []string
	var errs []error
	for _, s := range configured() {
		conns, err := s.open(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("leakcheck: %s: %w", s.backend, err))
			continue
		}
		found = append(found, conns...)
	}
	if len(found) > 0 {
		msg := fmt.Sprintf("%v: %d:", ErrLeak, len(found))
		for _, f := range found {
			msg += "\n  " + f
		}
		errs = append(errs, &leakError{msg: msg})
	}
	return errors.Join(errs...)
}

type leakError struct{ msg string }

func (e *leakError) Error() string { return e.msg }
func (e *leakError) Unwrap() error { return ErrLeak }
