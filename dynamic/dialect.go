package dynamic

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// rowIDColumn is the column that records insertion order in tables that
// Append creates. Read orders by it and does not return it; frames may not
// use the name.
const rowIDColumn = "_row_id"

// dialect is what differs between the databases. Each database has one
// value in the dialects table; callers ask it, never test its name.
type dialect interface {
	// name is the canonical dialect name: "sqlite", "postgres" or "mysql".
	name() string
	// checkIdent reports why name cannot be an identifier of the database.
	checkIdent(name string) error
	// quoteChar is the identifier quote; a quote inside a name is doubled.
	quoteChar() string
	// columnType is the declared type of a new column of frame type t.
	columnType(t Type) string
	// rowIDDef is the column definition of rowIDColumn.
	rowIDDef() string
	// tableOptions follows the closing parenthesis of CREATE TABLE.
	tableOptions() string
	// placeholder returns the i-th (1-based) bound parameter.
	placeholder(i int) string
	// maxParams is the database's limit on bound parameters per statement.
	maxParams() int
	// batchRows is the measured best number of rows per INSERT.
	batchRows() int
	// maxStatementBytes bounds the bytes of values one INSERT carries
	// (0: no bound), below the server's packet limit.
	maxStatementBytes() int
	// ddlCommits reports whether DDL ends the current transaction.
	ddlCommits() bool
	// txOptions are the options of the transactions Append owns.
	txOptions() *sql.TxOptions
	// columnsQuery lists a table's columns in order: name, data type and
	// full column type, for one bound parameter, the table name.
	columnsQuery() string
	// typeFromDB maps a column's database type back to a frame type.
	typeFromDB(dataType, columnType string) Type
	// encodeTime is the value bound for a timestamp (already in UTC).
	encodeTime(t time.Time) any
	// decodeTime turns what the driver scanned from a timestamp column
	// into a time in UTC.
	decodeTime(v any) (time.Time, bool)
}

// bulkLoader is the optional fast path of a dialect: writing rows through
// the driver connection of a *sql.Conn. It returns errBulkUnsupported when
// that driver connection offers no bulk path.
type bulkLoader interface {
	bulkLoad(ctx context.Context, conn *sql.Conn, table string, columns []string, src *rowSource) (int64, error)
}

var errBulkUnsupported = errors.New("dynamic: no bulk path on this connection")

var dialects = map[string]dialect{
	"sqlite":     sqliteDialect{},
	"sqlite3":    sqliteDialect{},
	"postgres":   postgresDialect{},
	"postgresql": postgresDialect{},
	"pgx":        postgresDialect{},
	"mysql":      mysqlDialect{},
	"mariadb":    mysqlDialect{},
}

// lookupDialect accepts "sqlite", "postgres" and "mysql", and the aliases
// "sqlite3", "postgresql", "pgx" and "mariadb", in any case.
func lookupDialect(name string) (dialect, error) {
	if d, ok := dialects[strings.ToLower(name)]; ok {
		return d, nil
	}
	return nil, fmt.Errorf("dynamic: unknown dialect %q (want sqlite, postgres or mysql)", name)
}

// QuoteIdent quotes name as an identifier of the dialect ("sqlite",
// "postgres" or "mysql", or an alias), or says why it cannot be one. The
// quote character ('"', or '`' on MySQL) is doubled inside the name, so no
// name can break out of its quotes.
//
// Rejected: empty names; names holding a NUL byte or invalid UTF-8; names
// too long for the database (PostgreSQL 63 bytes, MySQL 64 characters,
// SQLite 255 bytes, a limit dynamic sets since SQLite has none); on MySQL,
// names ending with a space or holding characters outside the Basic
// Multilingual Plane (MySQL identifiers are utf8mb3).
func QuoteIdent(dialectName, name string) (string, error) {
	d, err := lookupDialect(dialectName)
	if err != nil {
		return "", err
	}
	return quoteIdent(d, name)
}

func quoteIdent(d dialect, name string) (string, error) {
	if err := d.checkIdent(name); err != nil {
		return "", fmt.Errorf("dynamic: %s: %w", d.name(), err)
	}
	q := d.quoteChar()
	return q + strings.ReplaceAll(name, q, q+q) + q, nil
}

// mustQuote quotes a name already checked.
func mustQuote(d dialect, name string) string {
	q := d.quoteChar()
	return q + strings.ReplaceAll(name, q, q+q) + q
}

// checkCommon rejects what no database holds: empty names, NUL bytes and
// invalid UTF-8.
func checkCommon(name string) error {
	switch {
	case name == "":
		return errors.New("empty identifier")
	case strings.IndexByte(name, 0) >= 0:
		return fmt.Errorf("identifier %q holds a NUL byte", name)
	case !utf8.ValidString(name):
		return fmt.Errorf("identifier %q is not valid UTF-8", name)
	}
	return nil
}

func checkBytes(name string, limit int) error {
	if len(name) > limit {
		return fmt.Errorf("identifier %s is %d bytes long; the limit is %d", quoteShort(name), len(name), limit)
	}
	return nil
}

// quoteShort quotes name for a message, cut after its first 40 bytes (at a
// character boundary) so that a name hundreds of bytes long does not drown
// the message.
func quoteShort(name string) string {
	const keep = 40
	if len(name) <= keep+10 {
		return strconv.Quote(name)
	}
	cut := keep
	for cut > 0 && !utf8.RuneStart(name[cut]) {
		cut--
	}
	return strconv.Quote(name[:cut]) + "…"
}

// foldKey maps a name to a key that is equal for names equal under Unicode
// simple case folding (what strings.EqualFold compares): "Age", "AGE" and
// "age" share a key. Two columns whose keys are equal collide.
func foldKey(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	for _, r := range name {
		min := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < min {
				min = f
			}
		}
		b.WriteRune(min)
	}
	return b.String()
}

// dbColumn is a column of an existing table.
type dbColumn struct {
	name string
	typ  Type
	decl string // the database's type, for messages
}

// tableColumns returns the columns of table in order, or nil when the
// table does not exist.
func tableColumns(ctx context.Context, q Querier, d dialect, table string) ([]dbColumn, error) {
	rows, err := q.QueryContext(ctx, d.columnsQuery(), table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols []dbColumn
	for rows.Next() {
		var name, dataType, colType string
		if err := rows.Scan(&name, &dataType, &colType); err != nil {
			return nil, err
		}
		decl := colType
		if decl == "" {
			decl = dataType
		}
		cols = append(cols, dbColumn{name: name, typ: d.typeFromDB(dataType, colType), decl: decl})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return cols, nil
}
