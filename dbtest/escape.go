package dbtest

import (
	"context"
	"database/sql/driver"
	"fmt"
	"sort"
	"strings"

	"github.com/ncruces/go-sqlite3"
	sqlitedriver "github.com/ncruces/go-sqlite3/driver"
	"github.com/ncruces/go-sqlite3/util/vfsutil"
	"github.com/ncruces/go-sqlite3/vfs"
)

// Escaped writes. A write committed by a connection other than the test's
// transaction is not undone by the rollback. dbtest notices it at cleanup:
// on SQLite through the data version of its pager (a commit by another
// connection since the test began, or since the database was last
// released, changes it), on the servers when raw connections were
// opened to the test's database; it then compares the row count of every
// table with the counts the database had when it was made, and names the
// tables that differ.

// tableCounts maps each table of a database to its row count.
type tableCounts map[string]int64

func listTablesSQL(b Backend) string {
	switch b {
	case Postgres:
		return `SELECT table_name FROM information_schema.tables
			WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`
	case MySQL:
		return `SELECT table_name FROM information_schema.tables
			WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY table_name`
	}
	return `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`
}

func quoteIdent(b Backend, name string) string {
	if b == MySQL {
		return myQuote(name)
	}
	return pgQuote(name)
}

// countTables counts the rows of every table, on a connection outside any
// transaction.
func countTables(ctx context.Context, b Backend, c driver.Conn) (tableCounts, error) {
	names, err := queryStrings(ctx, c, listTablesSQL(b))
	if err != nil {
		return nil, err
	}
	counts := tableCounts{}
	if len(names) == 0 {
		return counts, nil
	}
	var q strings.Builder
	for i, n := range names {
		if i > 0 {
			q.WriteString(" UNION ALL ")
		}
		fmt.Fprintf(&q, "SELECT %d, COUNT(*) FROM %s", i, quoteIdent(b, n))
	}
	err = eachRow(ctx, c, q.String(), nil, func(dest []driver.Value) {
		i, n := asInt(dest[0]), asInt(dest[1])
		if int(i) < len(names) {
			counts[names[i]] = n
		}
	})
	if err != nil {
		return nil, err
	}
	return counts, nil
}

func queryStrings(ctx context.Context, c driver.Conn, query string) ([]string, error) {
	var out []string
	err := eachRow(ctx, c, query, nil, func(dest []driver.Value) {
		switch v := dest[0].(type) {
		case string:
			out = append(out, v)
		case []byte:
			out = append(out, string(v))
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func asInt(v driver.Value) int64 {
	switch v := v.(type) {
	case int64:
		return v
	case int32:
		return int64(v)
	case uint64:
		return int64(v)
	case float64:
		return int64(v)
	case []byte:
		var n int64
		fmt.Sscan(string(v), &n)
		return n
	case string:
		var n int64
		fmt.Sscan(v, &n)
		return n
	}
	return 0
}

// diffCounts describes how now differs from base, table by table, and
// names the tables that differ; both sorted.
func diffCounts(base, now tableCounts) (diffs, tables []string) {
	for name, n := range now {
		b, ok := base[name]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s (a new table with %d %s)", name, n, rowNoun(n)))
		case n != b:
			diffs = append(diffs, fmt.Sprintf("%s (%+d %s)", name, n-b, rowNoun(n-b)))
		default:
			continue
		}
		tables = append(tables, name)
	}
	for name := range base {
		if _, ok := now[name]; !ok {
			diffs = append(diffs, name+" (dropped)")
			tables = append(tables, name)
		}
	}
	sort.Strings(diffs)
	sort.Strings(tables)
	return diffs, tables
}

// CleanupError is what [DB.Release] found wrong at cleanup, and what a test
// fails with: statements that ended, or tried to end, the test's
// transaction, and writes that escaped its rollback. Its message is the
// report; its fields are for programs, such as a test that reproduces such
// a bug on purpose (see [WithCleanupCheck]).
type CleanupError struct {
	Backend Backend
	// Statements are the COMMIT, ROLLBACK and BEGIN statements run on the
	// handle, each with where it came from ("COMMIT at export.go:41"):
	// refused, or let through by [WithTransactionControl].
	Statements []string
	// Ended is true when the test's transaction was no longer open.
	Ended bool
	// Tables are the tables whose rows other connections, or the test's
	// own statements after its transaction ended, left changed.
	Tables []string

	problems []string
}

// Error returns the report: "dbtest: <backend>: <problem>; <problem>".
func (e *CleanupError) Error() string {
	return fmt.Sprintf("dbtest: %s: %s", e.Backend, strings.Join(e.problems, "; "))
}

// sqliteFileMoved reports whether the file of an SQLite connection's main
// database was removed or replaced since the connection opened it. SQLite
// itself notices only in rollback-journal mode, when a write begins; in
// WAL mode the connection goes on writing to the file it has open.
func sqliteFileMoved(c driver.Conn) bool {
	raw, ok := c.(sqlitedriver.Conn)
	if !ok {
		return false
	}
	f, err := raw.Raw().FileControl("main", sqlite3.FCNTL_FILE_POINTER)
	if err != nil {
		return false
	}
	// SQLite's own wrappers (its checksum layer) may hide the method.
	vf, ok := f.(vfs.File)
	if !ok {
		return false
	}
	hm, ok := vfsutil.UnwrapFile[vfs.FileHasMoved](vf)
	if !ok {
		return false
	}
	moved, err := hm.HasMoved()
	return err == nil && moved
}

// rowNoun is "row" for one row (either way) and "rows" otherwise.
func rowNoun[N int | int64](n N) string {
	if n == 1 || n == -1 {
		return "row"
	}
	return "rows"
}
