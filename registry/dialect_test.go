package registry

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/migrations"
)

// The registry accepts exactly the dialect names that package migrations
// accepts, and they mean the same database.
func TestDialectNamesMatchMigrations(t *testing.T) {
	for name, d := range dialects {
		if _, err := migrations.FS(name); err != nil {
			t.Errorf("registry accepts %q, migrations does not: %v", name, err)
		}
		want, _ := migrations.GooseDialect(d.name)
		if got, _ := migrations.GooseDialect(name); got != want {
			t.Errorf("%q is %s to the registry but %s to migrations", name, d.name, got)
		}
	}
	for _, name := range []string{"sqlite", "sqlite3", "postgres", "pgx", "mysql", "mariadb"} {
		if _, ok := dialects[name]; !ok {
			t.Errorf("migrations accepts %q, the registry does not", name)
		}
	}
}

func TestRebind(t *testing.T) {
	cases := []struct {
		query, postgres string
	}{
		{"SELECT 1", "SELECT 1"},
		{"SELECT a FROM t WHERE id = ?", "SELECT a FROM t WHERE id = $1"},
		{"INSERT INTO t (a, b, c) VALUES (?, ?, ?)", "INSERT INTO t (a, b, c) VALUES ($1, $2, $3)"},
		{"SELECT 'é' FROM t WHERE a = ? AND b = ?", "SELECT 'é' FROM t WHERE a = $1 AND b = $2"},
	}
	for _, c := range cases {
		if got := postgresDialect.rebind(c.query); got != c.postgres {
			t.Errorf("postgres rebind(%q) = %q, want %q", c.query, got, c.postgres)
		}
		for _, d := range []*dialect{sqliteDialect, mysqlDialect} {
			if got := d.rebind(c.query); got != c.query {
				t.Errorf("%s rebind(%q) = %q, want it unchanged", d.name, c.query, got)
			}
		}
	}
}

// unquote reverses dialect.quote, and reports whether s was well quoted.
func unquote(q, s string) (string, bool) {
	if len(s) < 2 || !strings.HasPrefix(s, q) || !strings.HasSuffix(s, q) {
		return "", false
	}
	inner := s[1 : len(s)-1]
	if strings.Count(inner, q)%2 != 0 || strings.Contains(strings.ReplaceAll(inner, q+q, ""), q) {
		return "", false
	}
	return strings.ReplaceAll(inner, q+q, q), true
}

func FuzzQuote(f *testing.F) {
	for _, s := range []string{"machine_1", `a"b`, "a`b", `""`, "``", "", "x; DROP TABLE users; --", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		for _, d := range []*dialect{sqliteDialect, postgresDialect, mysqlDialect} {
			q := d.quote(name)
			got, ok := unquote(d.quoteChar, q)
			if !ok || got != name {
				t.Fatalf("%s: quote(%q) = %s, which reads back as %q (well quoted: %v)", d.name, name, q, got, ok)
			}
		}
	})
}

// TestQuoteOnServers: names that need quoting are created, found and
// dropped by the dialect's own quoting, on every backend.
func TestQuoteOnServers(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		r, err := New(db, db.Dialect())
		if err != nil {
			t.Fatal(err)
		}
		ctx := t.Context()
		for _, name := range []string{`we"ird`, "back`tick", "spa ce", "MiXed", "select"} {
			if _, err := db.ExecContext(ctx, "CREATE TABLE "+r.d.quote(name)+" (x INTEGER)"); err != nil {
				t.Fatalf("creating %q: %v", name, err)
			}
			if n := countTables(t, r, name); n != 1 {
				t.Fatalf("table %q created, but %d found", name, n)
			}
			if err := r.dropTableIfExists(ctx, name); err != nil {
				t.Fatal(err)
			}
			if n := countTables(t, r, name); n != 0 {
				t.Errorf("table %q survived dropTableIfExists", name)
			}
		}
		// Nothing to drop is no error, and issues no DDL.
		if err := r.dropTableIfExists(ctx, "never_created"); err != nil {
			t.Error(err)
		}
	})
}

func countTables(t *testing.T, r *Repo, name string) int {
	t.Helper()
	arg := name
	if r.d.quotedExists {
		arg = r.d.quote(name)
	}
	var n int
	if err := r.queryRow(t.Context(), r.d.tableExists, arg).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestParseTime(t *testing.T) {
	want := time.Date(2024, 3, 1, 12, 34, 56, 123456000, time.UTC)
	for _, src := range []any{
		want,
		want.In(time.FixedZone("X", -5*3600)),
		"2024-03-01T12:34:56.123456Z",
		[]byte("2024-03-01T12:34:56.123456Z"),
		"2024-03-01 12:34:56.123456",
		"2024-03-01T12:34:56.123456",
		"2024-03-01T14:34:56.123456+02:00",
		"2024-03-01 14:34:56.123456+02:00",
	} {
		got, err := parseTime(src)
		if err != nil {
			t.Errorf("parseTime(%v): %v", src, err)
			continue
		}
		if !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("parseTime(%v) = %v, want %v in UTC", src, got, want)
		}
	}
	for _, src := range []any{"yesterday", int64(5), 3.5, ""} {
		if _, err := parseTime(src); err == nil {
			t.Errorf("parseTime(%#v) succeeded", src)
		}
	}
	var nt *time.Time
	if err := (nullTimeDest{&nt}).Scan(nil); err != nil || nt != nil {
		t.Errorf("nullTimeDest.Scan(nil) = %v, %v", nt, err)
	}
	var tt time.Time
	if err := (timeDest{&tt}).Scan(nil); err == nil {
		t.Error("timeDest.Scan(nil) succeeded")
	}
	// The SQLite layout is fixed-width, so that text order is time order.
	a := sqliteDialect.timeArg(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)).(string)
	b := sqliteDialect.timeArg(time.Date(2024, 1, 1, 0, 0, 0, 500000000, time.UTC)).(string)
	if len(a) != len(b) || !(a < b) {
		t.Errorf("SQLite times %q and %q do not sort as text", a, b)
	}
}

// An operation that begins its own transaction joins the caller's when
// handed a *sql.Tx, and leaves nothing behind when that is rolled back.
func TestInTxJoinsCallersTransaction(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		r, err := New(db, db.Dialect())
		if err != nil {
			t.Fatal(err)
		}
		u, err := r.CreateUser(ctx, User{Username: "ada"})
		if err != nil {
			t.Fatal(err)
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := r.WithTx(tx).RecordOperation(ctx, Operation{UserID: u.ID, Kind: "train"}, 5, "USD"); err != nil {
			t.Fatal(err)
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		bills, err := r.ListBillings(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]Billing(nil), bills); diff != "" {
			t.Errorf("billings after rolling back the caller's transaction (-want +got):\n%s", diff)
		}
	})
}
