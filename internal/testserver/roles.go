package testserver

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // the admin connection's driver
)

// roleLockKey is the advisory lock that PostgresRole holds.
const roleLockKey = 0x64626870 // "dbhp"

// PostgresRole creates role name, with password, on the PostgreSQL server
// of adminDSN (a superuser's): it may log in and create databases, and
// nothing more, unless setup, which runs next on the admin's connection,
// grants it more. It returns a DSN of the admin's database for the role.
//
// Tests that make roles wait for each other, in any process: an advisory
// lock is held until cleanup. At cleanup, once the
// databases the role owns are gone (a test binary's companion drops them
// after it exits; what is left after 30 s is dropped), the role goes, with
// everything it was granted.
func PostgresRole(t testing.TB, adminDSN, name, password string, setup func(ctx context.Context, admin *sql.DB) error) string {
	t.Helper()
	ctx := context.Background()
	if strings.ContainsAny(password, `'\`) || strings.ContainsAny(name, `'"\ `) {
		t.Fatal("testserver: the role's name or password would need quoting")
	}
	pc, err := pgconn.ParseConfig(adminDSN)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := sql.Open("pgx", adminDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	lock, err := admin.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.ExecContext(ctx, "SELECT pg_advisory_lock($1)", roleLockKey); err != nil {
		t.Fatalf("testserver: waiting for the lock on role %s: %v", name, err)
	}
	t.Cleanup(func() {
		deadline := time.Now().Add(30 * time.Second)
		for {
			var names []string
			rows, err := admin.QueryContext(ctx, "SELECT d.datname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba WHERE r.rolname = $1", name)
			if err == nil {
				for rows.Next() {
					var n string
					if rows.Scan(&n) == nil {
						names = append(names, n)
					}
				}
				rows.Close()
			}
			if len(names) == 0 || time.Now().After(deadline) {
				for _, n := range names {
					admin.ExecContext(ctx, `DROP DATABASE IF EXISTS "`+strings.ReplaceAll(n, `"`, `""`)+`" WITH (FORCE)`)
				}
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		// Its grants go first, or the role cannot be dropped.
		admin.ExecContext(ctx, "DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = '"+name+"') THEN EXECUTE 'DROP OWNED BY "+name+"'; END IF; END $$")
		if _, err := admin.ExecContext(ctx, "DROP ROLE IF EXISTS "+name); err != nil {
			t.Errorf("testserver: dropping role %s: %v", name, err)
		}
		lock.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", roleLockKey)
		lock.Close()
	})
	for _, q := range []string{
		"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '" + name + "') THEN CREATE ROLE " + name + "; END IF; END $$",
		// As it was made, when a killed run left it.
		"ALTER ROLE " + name + " LOGIN CREATEDB NOSUPERUSER PASSWORD '" + password + "'",
		"ALTER ROLE " + name + " RESET ALL",
		"DROP OWNED BY " + name,
	} {
		if _, err := admin.ExecContext(ctx, q); err != nil {
			t.Fatalf("testserver: %s: %v", strings.ReplaceAll(q, password, "<password>"), err)
		}
	}
	if setup != nil {
		if err := setup(ctx, admin); err != nil {
			t.Fatalf("testserver: setting up role %s: %v", name, err)
		}
	}
	u := url.URL{Scheme: "postgres", User: url.UserPassword(name, password),
		Host: fmt.Sprintf("%s:%d", pc.Host, pc.Port), Path: "/" + pc.Database, RawQuery: "sslmode=disable"}
	return u.String()
}
