package registry

import "strings"

// MaxTableNameLen is the longest data table name, in bytes: PostgreSQL's
// identifier limit.
const MaxTableNameLen = 63

// PredictionsSuffix names a machine's predictions table:
// DataTableName + PredictionsSuffix.
const PredictionsSuffix = "_predictions"

// reservedTables are names a data table may never take, because dropping
// it would drop part of the registry.
var reservedTables = map[string]bool{
	"users": true, "teams": true, "team_members": true, "machines": true,
	"data_lines_operations": true, "machine_table_lock_writes": true,
	"operations": true, "billings": true, "graphs": true, "works": true,
	"nn_models": true, "servers": true, "consulting_requests": true,
	"log_entries": true, "goose_db_version": true,
}

// CheckTableName reports whether name may be a machine's data table: ASCII
// letters, digits and underscores, not starting with a digit, at most
// [MaxTableNameLen] bytes. It also refuses the registry's own tables,
// names the databases reserve (prefixes "sqlite_" and "pg_"), and names
// ending in [PredictionsSuffix], which would collide with another machine's
// predictions table. Comparisons ignore case, as SQLite's do. The error
// wraps [ErrInvalid].
func CheckTableName(name string) error {
	if name == "" {
		return invalid("data table name: empty")
	}
	if len(name) > MaxTableNameLen {
		return invalid("data table name %q: %d bytes, more than %d", name, len(name), MaxTableNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case c >= '0' && c <= '9':
			if i == 0 {
				return invalid("data table name %q: starts with a digit", name)
			}
		default:
			return invalid("data table name %q: byte %d (%q) is not a letter, digit or underscore", name, i, c)
		}
	}
	lower := strings.ToLower(name)
	switch {
	case reservedTables[lower]:
		return invalid("data table name %q: a registry table", name)
	case strings.HasPrefix(lower, "sqlite_"), strings.HasPrefix(lower, "pg_"):
		return invalid("data table name %q: a prefix reserved by the database", name)
	case strings.HasSuffix(lower, PredictionsSuffix):
		return invalid("data table name %q: ends in %q, reserved for predictions tables", name, PredictionsSuffix)
	}
	return nil
}

// checkText refuses an empty (or all-blank) required field, or one longer
// than max bytes.
func checkText(field, v string, max int) error {
	if strings.TrimSpace(v) == "" {
		return invalid("%s: empty", field)
	}
	return checkLen(field, v, max)
}

// checkLen refuses a field longer than max bytes.
func checkLen(field, v string, max int) error {
	if len(v) > max {
		return invalid("%s: %d bytes, more than %d", field, len(v), max)
	}
	return nil
}

// checkID refuses a reference that cannot name a row.
func checkID(field string, id int64) error {
	if id <= 0 {
		return invalid("%s: %d is not a row id", field, id)
	}
	return nil
}

// checkOptionalID refuses an optional reference that is set but cannot
// name a row.
func checkOptionalID(field string, id *int64) error {
	if id == nil {
		return nil
	}
	return checkID(field, *id)
}
