package registry_test

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/internal/leakcheck"
	"github.com/easyautoml/dbharness/registry"
)

// TestMain checks, after the tests, that no goroutine and no server
// connection remains (leakcheck), and drops dbtest's databases.
func TestMain(m *testing.M) { leakcheck.Main(m) }

// t0 has a nanosecond part, so that tests see it cut to microseconds.
var t0 = time.Date(2024, 3, 1, 12, 34, 56, 123456789, time.UTC)

// A clock is a fake time source that tests move by hand. It is safe for
// concurrent use.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// stored is a time as the registry stores it: UTC, to the microsecond.
func stored(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// newRepo returns a repository over the test's database and the clock it
// runs on.
func newRepo(t *testing.T, db *dbtest.DB) (*registry.Repo, *clock) {
	t.Helper()
	c := newClock()
	r, err := registry.New(db, db.Dialect(), registry.WithClock(c.Now))
	if err != nil {
		t.Fatal(err)
	}
	return r, c
}

// savepoint runs fn on a repository bound to a savepoint that is rolled
// back afterwards, and returns fn's error. A statement that fails on
// PostgreSQL spoils only the savepoint, not the test's transaction.
func savepoint(t *testing.T, db *dbtest.DB, r *registry.Repo, fn func(r *registry.Repo) error) error {
	t.Helper()
	tx, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := tx.Rollback(); err != nil {
			t.Errorf("rolling back the savepoint: %v", err)
		}
	}()
	return fn(r.WithTx(tx))
}

// mustErr fails the test unless err matches target, and (when they are
// given) unless its message holds every one of words.
func mustErr(t *testing.T, what string, err, target error, words ...string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error = %v, want %v", what, err, target)
		return
	}
	if !strings.HasPrefix(err.Error(), "registry: ") {
		t.Errorf("%s: error %q lacks the package prefix", what, err)
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: error %q does not mention %q", what, err, w)
		}
	}
}

func mustUser(t *testing.T, r *registry.Repo, name string) registry.User {
	t.Helper()
	u, err := r.CreateUser(t.Context(), registry.User{Username: name, Email: name + "@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func mustMachine(t *testing.T, r *registry.Repo, owner registry.User, team *registry.Team, name string) registry.Machine {
	t.Helper()
	m := registry.Machine{OwnerUserID: owner.ID, Name: name, DataTableName: "machine_" + name}
	if team != nil {
		m.OwnerTeamID = new(team.ID)
	}
	got, err := r.CreateMachine(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// count runs a COUNT(*) query written with ? placeholders.
func count(t *testing.T, db *dbtest.DB, query string, args ...any) int {
	t.Helper()
	if db.Dialect() == "postgres" {
		for i := 1; strings.Contains(query, "?"); i++ {
			query = strings.Replace(query, "?", fmt.Sprintf("$%d", i), 1)
		}
	}
	var n int
	if err := db.QueryRowContext(t.Context(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestNew(t *testing.T) {
	db := new(sql.DB) // never used: New does not touch the database
	for _, name := range []string{"sqlite", "sqlite3", "postgres", "pgx", "mysql", "mariadb"} {
		r, err := registry.New(db, name)
		if err != nil {
			t.Errorf("New(%q): %v", name, err)
			continue
		}
		want := map[string]string{"sqlite3": "sqlite", "pgx": "postgres", "mariadb": "mysql"}[name]
		if want == "" {
			want = name
		}
		if r.Dialect() != want {
			t.Errorf("New(%q).Dialect() = %q, want %q", name, r.Dialect(), want)
		}
	}
	bad := []struct {
		reason  string
		q       registry.DBTX
		dialect string
		opts    []registry.Option
		words   []string
	}{
		{"an unknown dialect is named", db, "oracle", nil, []string{`"oracle"`}},
		{"dialect names are exact", db, "Postgres", nil, []string{`"Postgres"`}},
		{"a nil handle is refused", nil, "sqlite", nil, []string{"nil"}},
		{"a nil clock is refused", db, "sqlite", []registry.Option{registry.WithClock(nil)}, []string{"WithClock"}},
		{"a clock given twice is refused", db, "sqlite", []registry.Option{registry.WithClock(time.Now), registry.WithClock(time.Now)}, []string{"twice"}},
		{"a zero option is refused", db, "sqlite", []registry.Option{{}}, []string{"zero Option"}},
	}
	for _, c := range bad {
		_, err := registry.New(c.q, c.dialect, c.opts...)
		mustErr(t, c.reason, err, registry.ErrInvalid, c.words...)
	}
}

func TestCheckTableName(t *testing.T) {
	cases := []struct {
		name   string
		ok     bool
		reason string
	}{
		{"machine_1", true, "letters, digits and underscores"},
		{"_staging", true, "a leading underscore is fine"},
		{"Salaries2024", true, "upper case is fine"},
		{strings.Repeat("a", 63), true, "63 bytes is the limit"},
		{strings.Repeat("a", 64), false, "64 bytes is over PostgreSQL's limit"},
		{"", false, "empty"},
		{"1machine", false, "a leading digit needs quoting on PostgreSQL"},
		{"machine-1", false, "a hyphen"},
		{"machine 1", false, "a space"},
		{`machine"; DROP TABLE users; --`, false, "an injection attempt"},
		{"machine`1", false, "a MySQL quote"},
		{"mächine", false, "non-ASCII letters"},
		{"users", false, "a registry table"},
		{"USERS", false, "a registry table in another case, the same table on SQLite"},
		{"goose_db_version", false, "the migrations' table"},
		{"sqlite_master", false, "SQLite's reserved prefix"},
		{"pg_class", false, "PostgreSQL's reserved prefix"},
		{"machine_1_predictions", false, "another machine's predictions table"},
		{"machine_1_PREDICTIONS", false, "the predictions suffix in another case"},
	}
	for _, c := range cases {
		err := registry.CheckTableName(c.name)
		if c.ok && err != nil {
			t.Errorf("CheckTableName(%q) = %v, want nil: %s", c.name, err, c.reason)
		}
		if !c.ok {
			mustErr(t, fmt.Sprintf("CheckTableName(%q) (%s)", c.name, c.reason), err, registry.ErrInvalid)
		}
	}
}

func FuzzCheckTableName(f *testing.F) {
	for _, s := range []string{"machine_1", "users", "a-b", "", "x_predictions", "\x00", "Ω"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if registry.CheckTableName(name) != nil {
			return
		}
		if len(name) == 0 || len(name) > registry.MaxTableNameLen {
			t.Fatalf("accepted %q of %d bytes", name, len(name))
		}
		if name[0] >= '0' && name[0] <= '9' {
			t.Fatalf("accepted %q, which starts with a digit", name)
		}
		for i := 0; i < len(name); i++ {
			c := name[i]
			if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
				t.Fatalf("accepted %q, with byte %q", name, c)
			}
		}
	})
}
