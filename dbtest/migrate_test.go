package dbtest_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/pressly/goose/v3"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/migrations"
)

// connectErr returns the error of Connect with opts on b, skipping (or
// failing, when b is required) like Open when b is unavailable.
func connectErr(t *testing.T, b dbtest.Backend, opts ...dbtest.Option) error {
	t.Helper()
	dbtest.Open(t, b, dbtest.WithoutMigrations())
	db, err := dbtest.Connect(context.Background(), b, opts...)
	if err == nil {
		db.Release(context.Background())
		t.Fatal("Connect succeeded; want a migration error")
	}
	return err
}

func TestMigrationErrorNamesFileAndStatement(t *testing.T) {
	bad := fstest.MapFS{
		"00001_ok.sql": {Data: []byte("-- +goose Up\nCREATE TABLE mig_ok (id INTEGER PRIMARY KEY);\n")},
		"00002_bad.sql": {Data: []byte("-- +goose Up\n" +
			"CREATE TABLE mig_fine (id INTEGER PRIMARY KEY);\n" +
			"\n" +
			"INSERT INTO mig_missing (id)\n" +
			"VALUES (1);\n")},
	}
	for _, b := range dbtest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			err := connectErr(t, b, dbtest.WithMigrations(bad))
			t.Log(err)
			var me *migrations.MigrationError
			if !errors.As(err, &me) {
				t.Fatalf("error %q is not a *migrations.MigrationError", err)
			}
			if me.File != "00002_bad.sql" || me.Line != 4 || !strings.HasPrefix(me.Statement, "INSERT INTO mig_missing") {
				t.Errorf("MigrationError names %s:%d %q; want 00002_bad.sql:4 and the INSERT", me.File, me.Line, me.Statement)
			}
			var pe *goose.PartialError
			if !errors.As(err, &pe) {
				t.Errorf("error %q does not unwrap to goose's PartialError", err)
			}
			for _, want := range []string{"00002_bad.sql:4", "INSERT INTO mig_missing"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}

// TestMigrationErrorLineOfRepeatedStatement: of two identical statements,
// the second fails, and the error names its line, not the first one's.
func TestMigrationErrorLineOfRepeatedStatement(t *testing.T) {
	repeated := fstest.MapFS{
		"00001_twice.sql": {Data: []byte("-- +goose Up\n" +
			"CREATE TABLE mig_once (id INTEGER PRIMARY KEY);\n" +
			"INSERT INTO mig_once (id) VALUES (1);\n" +
			"-- the same row again\n" +
			"INSERT INTO mig_once (id) VALUES (1);\n")},
	}
	for _, b := range dbtest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			err := connectErr(t, b, dbtest.WithMigrations(repeated))
			var me *migrations.MigrationError
			if !errors.As(err, &me) {
				t.Fatalf("error %q is not a *migrations.MigrationError", err)
			}
			if me.File != "00001_twice.sql" || me.Line != 5 || me.Statement != "INSERT INTO mig_once (id) VALUES (1);" {
				t.Errorf("MigrationError names %s:%d %q; want 00001_twice.sql:5 and the second INSERT", me.File, me.Line, me.Statement)
			}
			if !strings.Contains(err.Error(), "00001_twice.sql:5 ") {
				t.Errorf("error %q does not say 00001_twice.sql:5", err)
			}
		})
	}
}

// TestMigrationErrorAfterStatements: a migration whose statements all ran
// but that failed when goose recorded its version (the migration dropped
// goose's table) names no statement and no line, and says when it failed,
// instead of blaming its last statement.
func TestMigrationErrorAfterStatements(t *testing.T) {
	dropsVersions := fstest.MapFS{
		"00001_ok.sql": {Data: []byte("-- +goose Up\nCREATE TABLE mig_ok (id INTEGER PRIMARY KEY);\n")},
		"00002_drop.sql": {Data: []byte("-- +goose Up\n" +
			"CREATE TABLE mig_fine (id INTEGER PRIMARY KEY);\n" +
			"DROP TABLE goose_db_version;\n")},
	}
	for _, b := range dbtest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			err := connectErr(t, b, dbtest.WithMigrations(dropsVersions))
			var me *migrations.MigrationError
			if !errors.As(err, &me) {
				t.Fatalf("error %q is not a *migrations.MigrationError", err)
			}
			if me.File != "00002_drop.sql" || me.Line != 0 || me.Statement != "" {
				t.Errorf("MigrationError names %s:%d %q; want 00002_drop.sql and no line or statement", me.File, me.Line, me.Statement)
			}
			if !strings.Contains(err.Error(), "after its statements ran") || strings.Contains(err.Error(), "statement \"DROP") {
				t.Errorf("error %q; want it to say the failure came after the statements, not at the DROP", err)
			}
		})
	}
}

// TestMigrationErrorAtCommit: a deferred foreign key fails at the commit
// of the migration's transaction, after its last statement ran; the error
// does not blame that statement.
func TestMigrationErrorAtCommit(t *testing.T) {
	deferred := fstest.MapFS{
		"00001_deferred.sql": {Data: []byte("-- +goose Up\n" +
			"CREATE TABLE mig_parent (id INTEGER PRIMARY KEY);\n" +
			"CREATE TABLE mig_child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES mig_parent (id) DEFERRABLE INITIALLY DEFERRED);\n" +
			"INSERT INTO mig_child (id, parent_id) VALUES (1, 42);\n")},
	}
	for _, b := range []dbtest.Backend{dbtest.SQLite, dbtest.Postgres} { // MySQL has no deferred constraints
		t.Run(string(b), func(t *testing.T) {
			err := connectErr(t, b, dbtest.WithMigrations(deferred))
			var me *migrations.MigrationError
			if !errors.As(err, &me) {
				t.Fatalf("error %q is not a *migrations.MigrationError", err)
			}
			if me.File != "00001_deferred.sql" || me.Line != 0 || me.Statement != "" {
				t.Errorf("MigrationError names %s:%d %q; want 00001_deferred.sql and no line or statement", me.File, me.Line, me.Statement)
			}
			if !strings.Contains(err.Error(), "after its statements ran") {
				t.Errorf("error %q; want it to say the failure came after the statements", err)
			}
		})
	}
}

func TestNoMigrationsFoundHint(t *testing.T) {
	misnamed := fstest.MapFS{"create_items.sql": {Data: []byte("-- +goose Up\nSELECT 1;\n")}}
	err := connectErr(t, dbtest.SQLite, dbtest.WithMigrations(misnamed))
	if !errors.Is(err, goose.ErrNoMigrations) {
		t.Fatalf("error %q does not wrap goose.ErrNoMigrations", err)
	}
	for _, want := range []string{"create_items.sql", "00001_create_items.sql"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestMissingMigrationsDirectoryNamed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "no-such-migrations")
	err := connectErr(t, dbtest.SQLite, dbtest.WithMigrations(os.DirFS(dir)))
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("error %q does not say that %s does not exist", err, dir)
	}
}

func TestWithMigrationsDialectFolders(t *testing.T) {
	fsys := fstest.MapFS{
		"sqlite/00001_t.sql":   {Data: []byte("-- +goose Up\nCREATE TABLE t_sqlite (id INTEGER);\n")},
		"postgres/00001_t.sql": {Data: []byte("-- +goose Up\nCREATE TABLE t_postgres (id INTEGER);\n")},
		"mysql/00001_t.sql":    {Data: []byte("-- +goose Up\nCREATE TABLE t_mysql (id INTEGER);\n")},
	}
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		if n := count(t, db, "SELECT COUNT(*) FROM t_"+db.Dialect()); n != 0 {
			t.Fatalf("t_%s has %d rows, want 0", db.Dialect(), n)
		}
	}, dbtest.WithMigrations(fsys))
}
