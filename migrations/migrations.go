// Package migrations holds the goose migrations of the registry schema, one
// set of SQL files per dialect, embedded in the binary.
//
// # Dialects
//
// Three sets exist: "sqlite" (also "sqlite3"), "postgres" (also "pgx") and
// "mysql" (also "mariadb"). The MySQL set keeps to SQL that both MySQL 8
// and MariaDB 10.11 accept. Every set creates the same tables with the same
// column names; only types and table options differ.
//
// # Running them
//
// [NewProvider] returns a [goose.Provider] over the files of a dialect; its Up, Down, UpTo and DownTo methods do the work:
//
//	p, err := migrations.NewProvider("postgres", db)
//	if err != nil {
//		return err
//	}
//	_, err = p.Up(ctx)
//
// [FS] and [GooseDialect] give the pieces separately, for callers that build
// their own provider or hash the files.
//
// # Schema conventions
//
// Every id is a 64-bit auto-increment integer. Timestamps are stored in UTC:
// TIMESTAMPTZ on PostgreSQL, DATETIME(6) on MySQL, and on SQLite DATETIME
// text in the fixed-width form 2006-01-02T15:04:05.000000Z so that text
// comparison is time comparison. Rows that belong to a machine are deleted
// with it (ON DELETE CASCADE); history (operations, billings, logs) keeps
// its user (ON DELETE RESTRICT) and outlives its machine (ON DELETE SET
// NULL). On SQLite foreign keys are enforced only on connections that
// enable PRAGMA foreign_keys.
//
// # Rationale
//
//   - SQLite ids are plain INTEGER PRIMARY KEY, except on
//     machine_table_lock_writes, which is AUTOINCREMENT: a lock's id names
//     one tenure of the lock and must never be handed out again, while a
//     plain rowid reuses the highest id once its row is deleted.
//   - SQLite timestamps are text of one fixed width, with defaults in the
//     same shape, because SQLite compares them as text: RFC 3339 with a
//     variable number of fractional digits sorts 12:00:00.5Z before
//     12:00:00Z.
//   - data_table_name is unique regardless of case on every backend
//     (COLLATE NOCASE on SQLite, a unique index on lower() on PostgreSQL,
//     the case-insensitive collation on MySQL), because SQLite table names
//     ignore case: two machines must never share a table.
//   - MySQL TEXT columns take their defaults as parenthesised expressions,
//     the only form MySQL 8 accepts for TEXT, and one MariaDB accepts too.
//   - Every column has a default where a sensible one exists, so that
//     fixtures may leave it out, identically on all three backends.
package migrations

import (
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
)

//go:embed sqlite/*.sql postgres/*.sql mysql/*.sql
var files embed.FS

// A set is the migrations of one dialect.
type set struct {
	dir   string
	goose goose.Dialect
}

// sets maps every accepted dialect name, aliases included, to its set.
var sets = map[string]set{
	"sqlite":   {"sqlite", goose.DialectSQLite3},
	"sqlite3":  {"sqlite", goose.DialectSQLite3},
	"postgres": {"postgres", goose.DialectPostgres},
	"pgx":      {"postgres", goose.DialectPostgres},
	"mysql":    {"mysql", goose.DialectMySQL},
	"mariadb":  {"mysql", goose.DialectMySQL},
}

func lookup(dialect string) (set, error) {
	s, ok := sets[dialect]
	if !ok {
		return set{}, fmt.Errorf("migrations: unknown dialect %q (want sqlite, postgres or mysql)", dialect)
	}
	return s, nil
}

// FS returns the migration files of dialect, at the root of the returned
// file system. An unknown dialect is an error that names it.
func FS(dialect string) (fs.FS, error) {
	s, err := lookup(dialect)
	if err != nil {
		return nil, err
	}
	return fs.Sub(files, s.dir)
}

// GooseDialect returns the goose dialect that runs the migrations of
// dialect.
func GooseDialect(dialect string) (goose.Dialect, error) {
	s, err := lookup(dialect)
	if err != nil {
		return "", err
	}
	return s.goose, nil
}

// NewProvider returns a goose provider that migrates db with the files of
// dialect. The options are passed to [goose.NewProvider] unchanged.
func NewProvider(dialect string, db *sql.DB, opts ...goose.ProviderOption) (*goose.Provider, error) {
	s, err := lookup(dialect)
	if err != nil {
		return nil, err
	}
	fsys, err := fs.Sub(files, s.dir)
	if err != nil {
		return nil, fmt.Errorf("migrations: %s: %w", dialect, err)
	}
	p, err := goose.NewProvider(s.goose, db, fsys, opts...)
	if err != nil {
		return nil, fmt.Errorf("migrations: %s: %w", dialect, err)
	}
	return p, nil
}
