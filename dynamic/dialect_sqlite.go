package dynamic

import (
	"database/sql"
	"strings"
	"time"

	"github.com/ncruces/go-sqlite3"
)

// sqliteDialect is SQLite through github.com/ncruces/go-sqlite3's
// database/sql driver.
type sqliteDialect struct{}

// sqliteMaxIdent is dynamic's limit on SQLite identifiers, which SQLite
// itself does not bound: long enough for any sensible header, short
// enough for every tool that shows a schema.
const sqliteMaxIdent = 255

// sqliteTimeLayout is how timestamps are stored on SQLite: RFC 3339 in UTC
// with nine fraction digits, so that text order is time order and
// nanoseconds survive. The driver decodes it back to a time.Time in columns
// declared TIMESTAMP, whatever its _timefmt, and SQLite's date functions
// read it.
const sqliteTimeLayout = "2006-01-02T15:04:05.000000000Z"

func (sqliteDialect) name() string { return "sqlite" }

func (sqliteDialect) checkIdent(name string) error {
	if err := checkCommon(name); err != nil {
		return err
	}
	return checkBytes(name, sqliteMaxIdent)
}

func (sqliteDialect) quoteChar() string { return `"` }

func (sqliteDialect) columnType(t Type) string {
	switch t {
	case Integer:
		return "INTEGER"
	case Float:
		return "REAL"
	case Boolean:
		return "BOOLEAN"
	case Timestamp:
		return "TIMESTAMP"
	}
	return "TEXT"
}

// rowIDDef makes _row_id the table's rowid: appends take the largest plus
// one, so the order of insertion is the order of _row_id.
func (sqliteDialect) rowIDDef() string     { return "INTEGER PRIMARY KEY" }
func (sqliteDialect) tableOptions() string { return "" }
func (sqliteDialect) placeholder(int) string {
	return "?"
}
func (sqliteDialect) maxParams() int { return 32766 }

// batchRows: BenchmarkBatchRows (8 columns) finds a plateau from 50 to 250
// rows and a decline from 1000.
func (sqliteDialect) batchRows() int         { return 100 }
func (sqliteDialect) maxStatementBytes() int { return 0 }
func (sqliteDialect) ddlCommits() bool       { return false }

// txOptions asks for a serializable transaction, which the driver begins
// as BEGIN IMMEDIATE: the write lock is taken (or waited for) at the start,
// instead of failing when a reader upgrades to a writer half way.
func (sqliteDialect) txOptions() *sql.TxOptions {
	return &sql.TxOptions{Isolation: sql.LevelSerializable}
}

func (sqliteDialect) columnsQuery() string {
	return "SELECT name, type, '' FROM pragma_table_info(?) ORDER BY cid"
}

// typeFromDB follows SQLite's affinity rules, with the names dynamic
// declares (BOOLEAN, TIMESTAMP) first. NUMERIC and DECIMAL columns, of
// NUMERIC affinity, are Float, as they are on the servers.
func (sqliteDialect) typeFromDB(dataType, _ string) Type {
	t := strings.ToUpper(dataType)
	switch {
	case strings.Contains(t, "BOOL"):
		return Boolean
	case strings.Contains(t, "TIMESTAMP") || strings.Contains(t, "DATETIME") || t == "DATE":
		return Timestamp
	case strings.Contains(t, "INT"):
		return Integer
	case strings.Contains(t, "REAL") || strings.Contains(t, "FLOA") || strings.Contains(t, "DOUB"),
		strings.Contains(t, "NUMERIC") || strings.Contains(t, "DECIMAL"):
		return Float
	}
	return Text
}

func (sqliteDialect) encodeTime(t time.Time) any {
	return string(appendTime(nil, t, sqliteTimeLayout, 'T', 9, "Z"))
}

func (sqliteDialect) decodeTime(v any) (time.Time, bool) {
	if b, ok := v.([]byte); ok {
		v = string(b)
	}
	t, err := sqlite3.TimeFormatAuto.Decode(v)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}
