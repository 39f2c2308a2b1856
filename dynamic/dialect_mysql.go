package dynamic

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-sql-driver/mysql"
)

// mysqlDialect is MySQL 8 and MariaDB 10.6+ through
// github.com/go-sql-driver/mysql. It uses only SQL that both accept.
type mysqlDialect struct{}

// mysqlTimeLayout is how timestamps are bound on MySQL: UTC wall-clock time
// with microseconds, so that what is stored does not depend on the DSN's
// loc parameter.
const mysqlTimeLayout = "2006-01-02 15:04:05.000000"

func (mysqlDialect) name() string { return "mysql" }

func (mysqlDialect) checkIdent(name string) error {
	if err := checkCommon(name); err != nil {
		return err
	}
	if n := utf8.RuneCountInString(name); n > 64 {
		return fmt.Errorf("identifier %q is %d characters long; the limit is 64", name, n)
	}
	if strings.HasSuffix(name, " ") {
		return fmt.Errorf("identifier %q ends with a space, which MySQL does not allow", name)
	}
	for _, r := range name {
		if r > 0xFFFF {
			return fmt.Errorf("identifier %q holds %q, outside the Basic Multilingual Plane, which MySQL identifiers cannot hold", name, r)
		}
	}
	return nil
}

func (mysqlDialect) quoteChar() string { return "`" }

func (mysqlDialect) columnType(t Type) string {
	switch t {
	case Integer:
		return "BIGINT"
	case Float:
		return "DOUBLE"
	case Boolean:
		return "BOOLEAN" // TINYINT(1)
	case Timestamp:
		return "DATETIME(6)"
	}
	// Also on columns added to a table that dynamic did not create.
	return "LONGTEXT CHARACTER SET utf8mb4"
}

func (mysqlDialect) rowIDDef() string { return "BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY" }

// tableOptions: InnoDB, since appends are transactions, and utf8mb4, so
// that text keeps every character, emoji included.
func (mysqlDialect) tableOptions() string   { return " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4" }
func (mysqlDialect) placeholder(int) string { return "?" }
func (mysqlDialect) maxParams() int         { return 65535 }

// batchRows: BenchmarkBatchRows (8 columns) finds a peak at 1000 rows,
// ahead of 500 and 2000.
func (mysqlDialect) batchRows() int { return 1000 }

// maxStatementBytes keeps one INSERT well below max_allowed_packet, whose
// default is 4 MiB on old servers, 16 MiB on MariaDB and 64 MiB on MySQL 8.
func (mysqlDialect) maxStatementBytes() int    { return 2 << 20 }
func (mysqlDialect) ddlCommits() bool          { return true }
func (mysqlDialect) txOptions() *sql.TxOptions { return nil }

func (mysqlDialect) columnsQuery() string {
	return `SELECT column_name, data_type, column_type FROM information_schema.columns
		WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position`
}

func (mysqlDialect) typeFromDB(dataType, columnType string) Type {
	t := strings.ToLower(dataType)
	ct := strings.ToLower(columnType)
	switch {
	case t == "tinyint" && strings.HasPrefix(ct, "tinyint(1)"), ct == "bit(1)":
		return Boolean
	case strings.HasSuffix(t, "int"):
		return Integer
	case t == "double" || t == "float" || t == "decimal" || t == "real":
		return Float
	case t == "datetime" || t == "timestamp" || t == "date":
		return Timestamp
	}
	return Text
}

func (mysqlDialect) encodeTime(t time.Time) any {
	return string(appendTime(nil, t, mysqlTimeLayout, ' ', 6, ""))
}

// decodeTime reads a DATETIME as UTC. With parseTime=true the driver gives
// a time.Time in the DSN's loc: its wall clock is the stored UTC time.
// Without it the driver gives text.
func (mysqlDialect) decodeTime(v any) (time.Time, bool) {
	switch x := v.(type) {
	case time.Time:
		return time.Date(x.Year(), x.Month(), x.Day(), x.Hour(), x.Minute(), x.Second(), x.Nanosecond(), time.UTC), true
	case []byte:
		return parseTime(string(x))
	case string:
		return parseTime(x)
	}
	return time.Time{}, false
}

// isNoSavepoint tells that MySQL forgot a savepoint (error 1305), as it
// does with every savepoint outside a transaction.
func isNoSavepoint(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1305
}
