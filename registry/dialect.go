package registry

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/ncruces/go-sqlite3"
)

// A dialect holds everything the repository writes differently per
// database. The repository asks it; it never tests the dialect's name.
type dialect struct {
	name string // canonical: "sqlite", "postgres" or "mysql"

	// dollar: placeholders are $1, $2, ... instead of ?.
	dollar bool
	// returning: new ids come back through INSERT ... RETURNING id rather
	// than LastInsertId.
	returning bool
	// maxIdent is the longest table name in bytes (0: no limit). A longer
	// name is refused (MySQL) or silently truncated (PostgreSQL).
	maxIdent int
	// quoteChar quotes identifiers; it is doubled inside them.
	quoteChar string
	// timeArg turns a UTC time into a bind argument.
	timeArg func(time.Time) any
	// insertLock inserts a machine_table_lock_writes row (machine_id,
	// holder, acquired_at, expires_at) unless the machine has one already,
	// without failing (a failed statement would abort a PostgreSQL
	// transaction), or, when lockDupFails is set, failing with a duplicate
	// key error.
	insertLock   string
	lockDupFails bool
	// tableExists counts tables named by its one argument: the table name
	// as given, or quoted when quotedExists is set.
	tableExists  string
	quotedExists bool
	// duplicate reports whether err is a unique-key violation.
	duplicate func(error) bool
	// deadlock reports whether err is a deadlock that the database
	// resolved by rolling back the statement's transaction; nil where
	// taking the table lock cannot deadlock.
	deadlock func(error) bool
}

// sqliteTimeLayout is fixed-width, so that text comparison is time
// comparison, and decodes as a time in the driver.
const sqliteTimeLayout = "2006-01-02T15:04:05.000000Z"

const lockInsertPrefix = "INSERT INTO machine_table_lock_writes (machine_id, holder, acquired_at, expires_at) VALUES (?, ?, ?, ?)"

var (
	sqliteDialect = &dialect{
		name:      "sqlite",
		quoteChar: `"`,
		timeArg:   func(t time.Time) any { return t.Format(sqliteTimeLayout) },
		insertLock: lockInsertPrefix +
			" ON CONFLICT (machine_id) DO NOTHING",
		// SQLite table names are case-insensitive.
		tableExists: "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND lower(name) = lower(?)",
		duplicate: func(err error) bool {
			return errors.Is(err, sqlite3.CONSTRAINT_UNIQUE) || errors.Is(err, sqlite3.CONSTRAINT_PRIMARYKEY)
		},
	}
	postgresDialect = &dialect{
		name:      "postgres",
		dollar:    true,
		returning: true,
		maxIdent:  63,
		quoteChar: `"`,
		timeArg:   func(t time.Time) any { return t },
		insertLock: lockInsertPrefix +
			" ON CONFLICT (machine_id) DO NOTHING",
		// to_regclass resolves the quoted name through search_path, as
		// DROP TABLE will.
		tableExists:  "SELECT COUNT(*) FROM (SELECT to_regclass(?) AS t) r WHERE r.t IS NOT NULL",
		quotedExists: true,
		duplicate: func(err error) bool {
			var pe *pgconn.PgError
			return errors.As(err, &pe) && pe.Code == "23505"
		},
	}
	mysqlDialect = &dialect{
		name:      "mysql",
		maxIdent:  64,
		quoteChar: "`",
		timeArg:   func(t time.Time) any { return t },
		// A plain INSERT, whose duplicate key error means "held": a failed
		// statement does not abort a MySQL transaction. Not ON DUPLICATE
		// KEY UPDATE: two of them on a held lock both take a shared lock on
		// the row and then both want it exclusive, and InnoDB kills one as
		// a deadlock. (Plain INSERTs still deadlock when a third session
		// deletes the row they wait on: see AcquireTableLock.) Not INSERT
		// IGNORE: it would also hide foreign key and truncation errors.
		insertLock:   lockInsertPrefix,
		lockDupFails: true,
		tableExists:  "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?",
		duplicate: func(err error) bool {
			var me *mysql.MySQLError
			return errors.As(err, &me) && me.Number == 1062 // ER_DUP_ENTRY
		},
		deadlock: func(err error) bool {
			var me *mysql.MySQLError
			return errors.As(err, &me) && me.Number == 1213 // ER_LOCK_DEADLOCK
		},
	}
)

// dialects maps every accepted name, aliases included (the same as package
// migrations accepts), to its dialect.
var dialects = map[string]*dialect{
	"sqlite":   sqliteDialect,
	"sqlite3":  sqliteDialect,
	"postgres": postgresDialect,
	"pgx":      postgresDialect,
	"mysql":    mysqlDialect,
	"mariadb":  mysqlDialect,
}

func lookupDialect(name string) (*dialect, error) {
	d, ok := dialects[name]
	if !ok {
		return nil, fmt.Errorf("registry: unknown dialect %q (want sqlite, postgres or mysql): %w", name, ErrInvalid)
	}
	return d, nil
}

// quote returns name as a quoted identifier.
func (d *dialect) quote(name string) string {
	return d.quoteChar + strings.ReplaceAll(name, d.quoteChar, d.quoteChar+d.quoteChar) + d.quoteChar
}

// rebind rewrites ? placeholders for the dialect. The repository's queries
// hold no ? inside literals.
func (d *dialect) rebind(query string) string {
	if !d.dollar || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
