package dbtest_test

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/easyautoml/dbharness/dbtest"
)

// schemaChange is DDL a test without a transaction runs, and a query that
// counts what it made, which must be 0 for the next test.
type schemaChange struct {
	name   string
	ddl    []string
	counts string
}

func schemaChanges(b dbtest.Backend) []schemaChange {
	defaultSet := func(schemaFn string) schemaChange {
		return schemaChange{"column default",
			[]string{"ALTER TABLE things ALTER COLUMN name SET DEFAULT 'unnamed'"},
			"SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = " + schemaFn +
				" AND table_name = 'things' AND column_name = 'name' AND column_default IS NOT NULL"}
	}
	switch b {
	case dbtest.Postgres:
		return []schemaChange{
			{"trigger", []string{
				"CREATE FUNCTION keep_row() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$",
				"CREATE TRIGGER audit_things BEFORE INSERT ON things FOR EACH ROW EXECUTE FUNCTION keep_row()",
			}, "SELECT COUNT(*) FROM pg_trigger WHERE tgname = 'audit_things'"},
			{"function", []string{"CREATE FUNCTION answer() RETURNS integer LANGUAGE sql AS 'SELECT 42'"},
				"SELECT COUNT(*) FROM pg_proc WHERE proname = 'answer'"},
			{"check constraint", []string{"ALTER TABLE things ADD CONSTRAINT short_name CHECK (length(name) < 10)"},
				"SELECT COUNT(*) FROM pg_constraint WHERE conname = 'short_name'"},
			{"dropped foreign key", []string{"ALTER TABLE things DROP CONSTRAINT things_kind_id_fkey"},
				"SELECT 1 - COUNT(*) FROM pg_constraint WHERE conname = 'things_kind_id_fkey'"},
			{"sequence", []string{"CREATE SEQUENCE tickets"},
				"SELECT COUNT(*) FROM pg_class WHERE relname = 'tickets'"},
			{"enum type", []string{"CREATE TYPE mood AS ENUM ('ok')"},
				"SELECT COUNT(*) FROM pg_type WHERE typname = 'mood'"},
			{"schema", []string{"CREATE SCHEMA side"},
				"SELECT COUNT(*) FROM pg_namespace WHERE nspname = 'side'"},
			defaultSet("current_schema()"),
		}
	case dbtest.MySQL:
		return []schemaChange{
			{"trigger", []string{"CREATE TRIGGER audit_things BEFORE INSERT ON things FOR EACH ROW SET NEW.name = UPPER(NEW.name)"},
				"SELECT COUNT(*) FROM information_schema.triggers WHERE trigger_schema = DATABASE() AND trigger_name = 'audit_things'"},
			{"procedure", []string{"CREATE PROCEDURE answer() SELECT 42"},
				"SELECT COUNT(*) FROM information_schema.routines WHERE routine_schema = DATABASE() AND routine_name = 'answer'"},
			{"check constraint", []string{"ALTER TABLE things ADD CONSTRAINT short_name CHECK (CHAR_LENGTH(name) < 10)"},
				"SELECT COUNT(*) FROM information_schema.table_constraints WHERE constraint_schema = DATABASE() AND constraint_name = 'short_name'"},
			{"collation", []string{"ALTER TABLE things MODIFY name VARCHAR(50) COLLATE utf8mb4_bin NOT NULL"},
				"SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'things' AND column_name = 'name' AND collation_name = 'utf8mb4_bin'"},
			defaultSet("DATABASE()"),
		}
	}
	return []schemaChange{
		{"trigger", []string{"CREATE TRIGGER audit_things AFTER INSERT ON things BEGIN UPDATE kinds SET name = name; END"},
			"SELECT COUNT(*) FROM sqlite_master WHERE name = 'audit_things'"},
	}
}

// TestWithoutTransactionSchemaObjectsGone: schema objects a test adds or
// changes beyond its tables (triggers, routines, constraints, defaults,
// collations, sequences, types, schemas) do not reach the next test: it
// gets a new database, or the same one without them.
func TestWithoutTransactionSchemaObjectsGone(t *testing.T) {
	for _, b := range dbtest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			for _, c := range schemaChanges(b) {
				t.Run(c.name, func(t *testing.T) {
					ctx := context.Background()
					db := connectNoTx(t, b)
					for _, q := range c.ddl {
						mustExec(t, db, q)
					}
					if n := count(t, db, c.counts); n != 1 {
						t.Fatalf("%s: %d before cleanup, want 1", c.counts, n)
					}
					if err := db.Release(ctx); err != nil {
						t.Fatalf("Release: %v", err)
					}
					next, err := dbtest.Connect(ctx, b, seededSchema(), dbtest.WithoutTransaction())
					if err != nil {
						t.Fatal(err)
					}
					defer next.Release(ctx)
					if n := count(t, next, c.counts); n != 0 {
						t.Errorf("the next test (database %s, the first had %s) still sees the %s", next.DatabaseName(), db.DatabaseName(), c.name)
					}
				})
			}
		})
	}
}

// auditedSchema is seededSchema plus a table of deleted things that a
// trigger on DELETE fills.
func auditedSchema() dbtest.Option {
	trigger := map[string]string{
		"sqlite": `-- +goose StatementBegin
CREATE TRIGGER things_deleted AFTER DELETE ON things BEGIN INSERT INTO audit (what) VALUES (old.name); END;
-- +goose StatementEnd`,
		"postgres": `-- +goose StatementBegin
CREATE FUNCTION note_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO audit (what) VALUES (OLD.name);
	RETURN OLD;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER things_deleted AFTER DELETE ON things FOR EACH ROW EXECUTE FUNCTION note_deleted();`,
		"mysql": "CREATE TRIGGER things_deleted AFTER DELETE ON things FOR EACH ROW INSERT INTO audit (what) VALUES (OLD.name);",
	}
	return dbtest.WithDialectMigrations(func(dialect string) (fs.FS, error) {
		fsys, err := seededFS(dialect)
		if err != nil {
			return nil, err
		}
		fsys["002_audit.sql"] = &fstest.MapFile{Data: []byte(`-- +goose Up
CREATE TABLE audit (what VARCHAR(50));
` + trigger[dialect] + `
-- +goose Down
DROP TABLE audit;
`)}
		return fsys, nil
	})
}

// TestWithoutTransactionDeleteTrigger: a trigger of the migrations that
// writes a row for every deleted one does not fire while the restore
// empties the tables: the database is restored, audit table empty.
func TestWithoutTransactionDeleteTrigger(t *testing.T) {
	for _, b := range dbtest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			ctx := context.Background()
			db := connectOrSkip(t, b, auditedSchema(), dbtest.WithoutTransaction())
			insertID(t, db.DB, db.Dialect(), "a")
			insertID(t, db.DB, db.Dialect(), "b")
			if err := db.Release(ctx); err != nil {
				t.Fatalf("Release: %v", err)
			}
			next, err := dbtest.Connect(ctx, b, auditedSchema(), dbtest.WithoutTransaction())
			if err != nil {
				t.Fatal(err)
			}
			defer next.Release(ctx)
			if next.DatabaseName() != db.DatabaseName() {
				t.Errorf("the next handle got %s, want the restored %s", next.DatabaseName(), db.DatabaseName())
			}
			for _, table := range []string{"things", "audit"} {
				if n := count(t, next, "SELECT COUNT(*) FROM "+table); n != 0 {
					t.Errorf("%s has %d rows after the restore, want 0", table, n)
				}
			}
			// The trigger still works.
			insertID(t, next.DB, next.Dialect(), "c")
			mustExec(t, next, "DELETE FROM things")
			if n := count(t, next, "SELECT COUNT(*) FROM audit"); n != 1 {
				t.Errorf("audit has %d rows after a DELETE, want 1", n)
			}
		})
	}
}

// generatedSchema seeds rows into tables with generated columns (an
// identity column GENERATED ALWAYS on PostgreSQL, a stored expression on
// every dialect), and more rows into another than one INSERT can bind.
func generatedSchema() dbtest.Option {
	sizes := map[string]string{
		"sqlite":   "CREATE TABLE sizes (id INTEGER PRIMARY KEY, w INTEGER NOT NULL, area INTEGER GENERATED ALWAYS AS (w * w) STORED, half INTEGER AS (w / 2) VIRTUAL);",
		"postgres": "CREATE TABLE sizes (id INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY, w INTEGER NOT NULL, area INTEGER GENERATED ALWAYS AS (w * w) STORED);",
		"mysql":    "CREATE TABLE sizes (id INTEGER AUTO_INCREMENT PRIMARY KEY, w INTEGER NOT NULL, area INTEGER AS (w * w) STORED, half INTEGER AS (w DIV 2) VIRTUAL);",
	}
	return dbtest.WithDialectMigrations(func(dialect string) (fs.FS, error) {
		return fstest.MapFS{"001_generated.sql": {Data: []byte(`-- +goose Up
` + sizes[dialect] + `
INSERT INTO sizes (w) VALUES (2), (3);
CREATE TABLE digits (d INTEGER NOT NULL);
INSERT INTO digits (d) VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9);
CREATE TABLE many (a INTEGER NOT NULL, b INTEGER NOT NULL);
INSERT INTO many (a, b) SELECT n, n FROM (
	SELECT d1.d + 10 * d2.d + 100 * d3.d + 1000 * d4.d + 10000 * d5.d AS n
	FROM digits d1, digits d2, digits d3, digits d4, digits d5) x
WHERE n < 40000;
-- +goose Down
DROP TABLE many;
DROP TABLE digits;
DROP TABLE sizes;
`)}}, nil
	})
}

// TestWithoutTransactionGeneratedColumns: the seeded rows of tables with
// generated columns, and 40,000 seeded rows of two columns (80,000
// values, more than one statement can bind), go back after a test that
// emptied them, into the same database.
func TestWithoutTransactionGeneratedColumns(t *testing.T) {
	for _, b := range dbtest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			ctx := context.Background()
			db := connectOrSkip(t, b, generatedSchema(), dbtest.WithoutTransaction())
			mustExec(t, db, "DELETE FROM sizes")
			mustExec(t, db, "DELETE FROM many")
			if err := db.Release(ctx); err != nil {
				t.Fatalf("Release: %v", err)
			}
			next, err := dbtest.Connect(ctx, b, generatedSchema(), dbtest.WithoutTransaction())
			if err != nil {
				t.Fatal(err)
			}
			defer next.Release(ctx)
			if next.DatabaseName() != db.DatabaseName() {
				t.Errorf("the next handle got %s, want the restored %s", next.DatabaseName(), db.DatabaseName())
			}
			if n := count(t, next, "SELECT COUNT(*) FROM sizes WHERE area = w * w AND id IN (1, 2)"); n != 2 {
				t.Errorf("%d seeded sizes with their ids and areas, want 2", n)
			}
			if n := count(t, next, "SELECT COUNT(*) FROM many"); n != 40000 {
				t.Errorf("many has %d rows, want the 40000 seeded", n)
			}
		})
	}
}

// countersSchema has two tables whose identity counters the migrations
// moved without leaving rows: tickets, whose migration inserted a row and
// deleted it (the next id is 2), and desks, whose counter starts at 100.
func countersSchema() dbtest.Option {
	ddl := map[string]string{
		"sqlite": `CREATE TABLE tickets (id INTEGER PRIMARY KEY AUTOINCREMENT, x INTEGER);
CREATE TABLE desks (id INTEGER PRIMARY KEY AUTOINCREMENT, x INTEGER);
INSERT INTO sqlite_sequence (name, seq) VALUES ('desks', 99);`,
		"postgres": `CREATE TABLE tickets (id SERIAL PRIMARY KEY, x INTEGER);
CREATE TABLE desks (id SERIAL PRIMARY KEY, x INTEGER);
SELECT setval('desks_id_seq', 100, false);`,
		"mysql": `CREATE TABLE tickets (id INTEGER AUTO_INCREMENT PRIMARY KEY, x INTEGER);
CREATE TABLE desks (id INTEGER AUTO_INCREMENT PRIMARY KEY, x INTEGER) AUTO_INCREMENT = 100;`,
	}
	return dbtest.WithDialectMigrations(func(dialect string) (fs.FS, error) {
		return fstest.MapFS{"001_counters.sql": {Data: []byte(`-- +goose Up
` + ddl[dialect] + `
INSERT INTO tickets (x) VALUES (0);
DELETE FROM tickets;
-- +goose Down
DROP TABLE desks;
DROP TABLE tickets;
`)}}, nil
	})
}

// insertRow inserts a row into table (id, x) and returns its id.
func insertRow(t *testing.T, db *dbtest.DB, table string) int64 {
	t.Helper()
	ctx := context.Background()
	q := "INSERT INTO " + table + " (x) VALUES (1)"
	if db.Dialect() == "postgres" {
		var id int64
		if err := db.QueryRowContext(ctx, q+" RETURNING id").Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	res, err := db.ExecContext(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestWithoutTransactionCountersRestored: identity counters that the
// migrations moved without leaving rows (no seeded row to restart them
// after) are as the migrations left them in the next test, in the same
// database: its ids are the first test's.
func TestWithoutTransactionCountersRestored(t *testing.T) {
	for _, b := range dbtest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			ctx := context.Background()
			db := connectOrSkip(t, b, countersSchema(), dbtest.WithoutTransaction())
			want := map[string]int64{"tickets": 2, "desks": 100}
			for table, id := range want {
				if got := insertRow(t, db, table); got != id {
					t.Errorf("the first id in %s is %d, want %d", table, got, id)
				}
				insertRow(t, db, table)
			}
			if err := db.Release(ctx); err != nil {
				t.Fatalf("Release: %v", err)
			}
			next, err := dbtest.Connect(ctx, b, countersSchema(), dbtest.WithoutTransaction())
			if err != nil {
				t.Fatal(err)
			}
			defer next.Release(ctx)
			if next.DatabaseName() != db.DatabaseName() {
				t.Errorf("the next handle got %s, want the restored %s", next.DatabaseName(), db.DatabaseName())
			}
			for table, id := range want {
				if got := insertRow(t, next, table); got != id {
					t.Errorf("the first id in %s after the restore is %d, want %d", table, got, id)
				}
			}
		})
	}
}

// TestWithoutTransactionLeakedPool: a pool the test left open, connected
// to its database, must not reach the next test's: cleanup drops the
// database, which ends the pool's connections, and says why in the log.
// The next test gets a new database.
func TestWithoutTransactionLeakedPool(t *testing.T) {
	for _, b := range []dbtest.Backend{dbtest.Postgres, dbtest.MySQL} {
		t.Run(string(b), func(t *testing.T) {
			ctx := context.Background()
			var mu sync.Mutex
			var logged []string
			logf := dbtest.WithLogf(func(format string, args ...any) {
				mu.Lock()
				logged = append(logged, fmt.Sprintf(format, args...))
				mu.Unlock()
			})
			db := connectNoTx(t, b, logf)
			name := db.DatabaseName()
			leaked, err := sql.Open(db.DriverName(), db.DSN())
			if err != nil {
				t.Fatal(err)
			}
			defer leaked.Close()
			if err := leaked.PingContext(ctx); err != nil {
				t.Fatal(err)
			}
			if err := db.Release(ctx); err != nil {
				t.Fatalf("Release: %v", err)
			}
			mu.Lock()
			report := strings.Join(logged, "\n")
			mu.Unlock()
			if !strings.Contains(report, "1 other connection is still attached") {
				t.Errorf("the log says %q; want the leaked connection named", report)
			}
			next, err := dbtest.Connect(ctx, b, seededSchema(), dbtest.WithoutTransaction())
			if err != nil {
				t.Fatal(err)
			}
			defer next.Release(ctx)
			if next.DatabaseName() == name {
				t.Errorf("the next handle got %s, to which the leaked pool was connected", name)
			}
			if _, err := leaked.ExecContext(ctx, "INSERT INTO things (kind_id, name) VALUES (1, 'late')"); err == nil {
				t.Error("the leaked pool still writes to the test's database")
			}
		})
	}
}

// TestEscapedTableStatementsForgotten: a test reads a table that a
// separate connection created and filled; cleanup reports the escaped
// writes and the restore drops the table. The next test on the same
// database creates a table of that name with another column type: the
// same query reads it, rather than failing on a statement prepared for
// the dropped table ("cached plan must not change result type").
func TestEscapedTableStatementsForgotten(t *testing.T) {
	ctx := context.Background()
	db := connectOrSkip(t, dbtest.Postgres, seededSchema())
	raw, err := sql.Open(db.RawDriverName(), db.RawDSN())
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, raw, "CREATE TABLE extra (v INTEGER)")
	mustExec(t, raw, "INSERT INTO extra VALUES (1)")
	raw.Close()
	var n int
	if err := db.QueryRowContext(ctx, "SELECT * FROM extra").Scan(&n); err != nil || n != 1 {
		t.Fatalf("SELECT * FROM extra: %d, %v", n, err)
	}
	if err := db.Release(ctx); err == nil || !strings.Contains(err.Error(), "extra (a new table") {
		t.Fatalf("Release = %v; want the escaped table reported", err)
	}
	next, err := dbtest.Connect(ctx, dbtest.Postgres, seededSchema())
	if err != nil {
		t.Fatal(err)
	}
	defer next.Release(ctx)
	if next.DatabaseName() != db.DatabaseName() {
		t.Errorf("the next handle got %s, want the restored %s", next.DatabaseName(), db.DatabaseName())
	}
	mustExec(t, next, "CREATE TABLE extra (v TEXT)")
	mustExec(t, next, "INSERT INTO extra VALUES ('x')")
	var s string
	if err := next.QueryRowContext(ctx, "SELECT * FROM extra").Scan(&s); err != nil || s != "x" {
		t.Errorf("SELECT * FROM extra in the next test: %q, %v; want x", s, err)
	}
}
