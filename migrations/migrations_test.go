package migrations_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/ncruces/go-sqlite3/vfs/memdb"
	"github.com/pressly/goose/v3"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/internal/leakcheck"
	"github.com/easyautoml/dbharness/migrations"
)

// TestMain checks, after the tests, that no goroutine and no server
// connection remains (leakcheck), and drops dbtest's databases.
func TestMain(m *testing.M) { leakcheck.Main(m) }

// schema is the contract other packages rely on: every table and column of
// the registry, by name.
var schema = map[string][]string{
	"users":                     {"id", "username", "email", "is_staff", "created_at", "updated_at"},
	"teams":                     {"id", "name", "created_at", "updated_at"},
	"team_members":              {"team_id", "user_id", "role", "created_at"},
	"machines":                  {"id", "owner_user_id", "owner_team_id", "name", "description", "status", "data_table_name", "created_at", "updated_at"},
	"data_lines_operations":     {"id", "machine_id", "user_id", "rows_count", "columns_count", "column_names", "created_at"},
	"machine_table_lock_writes": {"id", "machine_id", "holder", "acquired_at", "expires_at"},
	"operations":                {"id", "user_id", "machine_id", "kind", "created_at"},
	"billings":                  {"id", "operation_id", "user_id", "machine_id", "cost_cents", "currency", "created_at"},
	"graphs":                    {"id", "machine_id", "user_id", "kind", "spec", "created_at", "updated_at"},
	"works":                     {"id", "machine_id", "user_id", "kind", "status", "error", "queued_at", "started_at", "finished_at", "created_at", "updated_at"},
	"nn_models":                 {"id", "machine_id", "work_id", "kind", "parameters", "metrics", "created_at", "updated_at"},
	"servers":                   {"id", "name", "address", "status", "created_at", "updated_at"},
	"consulting_requests":       {"id", "user_id", "machine_id", "subject", "message", "status", "created_at", "updated_at"},
	"log_entries":               {"id", "user_id", "machine_id", "work_id", "level", "message", "created_at"},
}

func sqlFiles(t *testing.T, fsys fs.FS) []string {
	t.Helper()
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestFS(t *testing.T) {
	want := map[string]string{
		"sqlite": "sqlite", "sqlite3": "sqlite",
		"postgres": "postgres", "pgx": "postgres",
		"mysql": "mysql", "mariadb": "mysql",
	}
	var first []string
	for name, canonical := range want {
		fsys, err := migrations.FS(name)
		if err != nil {
			t.Fatalf("FS(%q): %v", name, err)
		}
		files := sqlFiles(t, fsys)
		if len(files) == 0 {
			t.Fatalf("FS(%q) has no .sql files", name)
		}
		if first == nil {
			first = files
		} else if diff := cmp.Diff(first, files); diff != "" {
			t.Errorf("FS(%q): the dialects have different migration files (-first +got):\n%s", name, diff)
		}
		// The alias serves the very files of its dialect.
		canon, err := migrations.FS(canonical)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			a, _ := fs.ReadFile(fsys, f)
			b, _ := fs.ReadFile(canon, f)
			if string(a) != string(b) {
				t.Errorf("FS(%q) file %s differs from FS(%q)", name, f, canonical)
			}
		}
	}
}

func TestUnknownDialect(t *testing.T) {
	for _, name := range []string{"oracle", "", "SQLite", "postgresql"} {
		if _, err := migrations.FS(name); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", name)) {
			t.Errorf("FS(%q) error = %v, want one naming the dialect", name, err)
		}
		if _, err := migrations.GooseDialect(name); err == nil {
			t.Errorf("GooseDialect(%q) error = nil", name)
		}
		if _, err := migrations.NewProvider(name, nil); err == nil {
			t.Errorf("NewProvider(%q) error = nil", name)
		}
	}
}

func TestGooseDialect(t *testing.T) {
	for name, want := range map[string]goose.Dialect{
		"sqlite": goose.DialectSQLite3, "sqlite3": goose.DialectSQLite3,
		"postgres": goose.DialectPostgres, "pgx": goose.DialectPostgres,
		"mysql": goose.DialectMySQL, "mariadb": goose.DialectMySQL,
	} {
		got, err := migrations.GooseDialect(name)
		if err != nil || got != want {
			t.Errorf("GooseDialect(%q) = %q, %v; want %q", name, got, err, want)
		}
	}
}

// rawDatabase returns a separate connection pool to an empty database of
// db's backend, where goose may commit as it pleases: on a server, the
// test's own database (left as empty as it was found); on SQLite, which
// would see such commits as escaping the test, a fresh in-memory database.
func rawDatabase(t *testing.T, db *dbtest.DB) *sql.DB {
	t.Helper()
	dsn := db.RawDSN()
	if db.Dialect() == "sqlite" {
		dsn = memdb.TestDB(t, url.Values{"_pragma": {"foreign_keys(1)"}})
	}
	raw, err := sql.Open(db.RawDriverName(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		p, err := migrations.NewProvider(db.Dialect(), raw)
		if err == nil {
			_, err = p.DownTo(ctx, 0)
		}
		if err != nil {
			t.Errorf("cleanup: migrating down: %v", err)
		}
		if _, err := raw.ExecContext(ctx, "DROP TABLE IF EXISTS goose_db_version"); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		if err := raw.Close(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return raw
}

// tables returns which registry tables exist in db, and checks that those
// that do have every column of the contract.
func tables(t *testing.T, db *sql.DB) []string {
	t.Helper()
	var got []string
	for table, cols := range schema {
		q := fmt.Sprintf("SELECT %s FROM %s WHERE 1 = 0", strings.Join(cols, ", "), table)
		rows, err := db.QueryContext(t.Context(), q)
		if err != nil {
			// Tell "no such table" from "no such column".
			if _, terr := db.ExecContext(t.Context(), "SELECT 1 FROM "+table+" WHERE 1 = 0"); terr == nil {
				t.Errorf("table %s lacks a column of the contract: %v", table, err)
			}
			continue
		}
		rows.Close()
		got = append(got, table)
	}
	return got
}

func allTables() []string {
	var all []string
	for table := range schema {
		all = append(all, table)
	}
	return all
}

var sortStrings = cmpopts.SortSlices(func(a, b string) bool { return a < b })

func TestUpDown(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		raw := rawDatabase(t, db)
		p, err := migrations.NewProvider(db.Dialect(), raw)
		if err != nil {
			t.Fatal(err)
		}
		sources := p.ListSources()
		if len(sources) == 0 {
			t.Fatal("no migrations")
		}
		latest := sources[len(sources)-1].Version

		if got := tables(t, raw); len(got) != 0 {
			t.Fatalf("before Up, tables %v exist", got)
		}
		res, err := p.Up(ctx)
		if err != nil {
			t.Fatalf("Up: %v", err)
		}
		if len(res) != len(sources) {
			t.Errorf("Up applied %d migrations, want %d", len(res), len(sources))
		}
		if diff := cmp.Diff(allTables(), tables(t, raw), sortStrings); diff != "" {
			t.Errorf("after Up, tables (-want +got):\n%s", diff)
		}

		res, err = p.Up(ctx)
		if err != nil {
			t.Fatalf("second Up: %v", err)
		}
		if len(res) != 0 {
			t.Errorf("second Up applied %d migrations, want none", len(res))
		}
		if v, err := p.GetDBVersion(ctx); err != nil || v != latest {
			t.Errorf("version after Up = %d, %v; want %d", v, err, latest)
		}

		// Down one step at a time: each step removes exactly its tables, and
		// the schema left behind is still whole.
		for i := len(sources) - 1; i >= 0; i-- {
			before := tables(t, raw)
			r, err := p.Down(ctx)
			if err != nil {
				t.Fatalf("Down from version %d: %v", sources[i].Version, err)
			}
			if r.Source.Version != sources[i].Version {
				t.Errorf("Down rolled back version %d, want %d", r.Source.Version, sources[i].Version)
			}
			after := tables(t, raw)
			if len(after) >= len(before) {
				t.Errorf("Down from version %d dropped no table (before %v, after %v)", sources[i].Version, before, after)
			}
		}
		if got := tables(t, raw); len(got) != 0 {
			t.Errorf("after Down to 0, tables %v remain", got)
		}
		if _, err := p.Down(ctx); !errors.Is(err, goose.ErrNoNextVersion) {
			t.Errorf("Down at version 0: error = %v, want goose.ErrNoNextVersion", err)
		}

		// And up again, as a fresh database would be.
		if _, err := p.Up(ctx); err != nil {
			t.Fatalf("Up after Down: %v", err)
		}
		if diff := cmp.Diff(allTables(), tables(t, raw), sortStrings); diff != "" {
			t.Errorf("after Up again, tables (-want +got):\n%s", diff)
		}
	}, dbtest.WithoutMigrations())
}
