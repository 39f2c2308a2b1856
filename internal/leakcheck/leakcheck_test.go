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

func TestMain(m *testing.M) { leakcheck.Main(m) }

// TestServerConnsFindsOpenConnection leaves a connection open on each
// server: the check must name it, from what the server says of it, and
// must pass once it is closed. This test binary opens no other connection.
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
			dsn := os.Getenv(c.env)
			if dsn == "" {
				if dbtest.Required(c.b) {
					t.Fatalf("%s is required by %s but %s is not set", c.b, dbtest.EnvRequire, c.env)
				}
				t.Skipf("%s not set", c.env)
			}
			ctx := context.Background()
			if err := leakcheck.ServerConns(ctx); err != nil {
				t.Fatalf("before opening anything: %v", err)
			}
			db, err := sql.Open(c.driver, dsn)
			if err != nil {
				t.Fatal(err)
			}
			conn, err := db.Conn(ctx)
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
			db.Close()
			if err := leakcheck.ServerConns(ctx); err != nil {
				t.Errorf("after closing it: %v", err)
			}
		})
	}
}
