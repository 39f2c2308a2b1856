package leakcheck_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/internal/leakcheck"
)

// TestMain runs the check on this package too: once the test below has
// closed its connection and dbtest has closed its own, none may remain.
func TestMain(m *testing.M) { leakcheck.Main(m) }

// TestServerConnsFindsOpenConnection leaves a connection open on each
// server: the check must name it, from what the server says of it, and
// must no longer name it once it is closed.
func TestServerConnsFindsOpenConnection(t *testing.T) {
	for _, c := range []struct {
		b      dbtest.Backend
		env    string
		driver string
	}{
		{dbtest.Postgres, dbtest.EnvPostgresDSN, "pgx"},
		{dbtest.MySQL, dbtest.EnvMySQLDSN, "mysql"},
	} {
		t.Run(string(c.b), func(t *testing.T) {
			db := dbtest.Open(t, c.b, dbtest.WithoutMigrations()) // skips or fails like any test
			if os.Getenv(c.env) == "" {
				t.Setenv(c.env, db.RawDSN()) // a container: check it
			}
			ctx := context.Background()
			pool, err := sql.Open(c.driver, db.RawDSN())
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			conn, err := pool.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// Something the server shows of this session and of no other.
			var marker string
			if c.b == dbtest.Postgres {
				marker = `application_name "leakcheck-probe"`
				_, err = conn.ExecContext(ctx, "SET application_name = 'leakcheck-probe'")
			} else {
				var id int64
				err = conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id)
				marker = fmt.Sprintf("id %d,", id)
			}
			if err != nil {
				t.Fatal(err)
			}
			err = leakcheck.ServerConns(ctx)
			if !errors.Is(err, leakcheck.ErrLeak) || !strings.Contains(err.Error(), marker) {
				t.Errorf("with a connection open: %v; want ErrLeak naming %s", err, marker)
			}
			t.Log(err)
			conn.Close()
			pool.Close()
			if err := leakcheck.ServerConns(ctx); err != nil && strings.Contains(err.Error(), marker) {
				t.Errorf("after closing it: %v", err)
			}
		})
	}
}
