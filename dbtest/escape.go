package dbtest

import (
	"context"
	"database/sql/driver"
	"fmt"
	"sort"
	"strings"
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
	rows, st, err := queryConn(ctx, c, q.String(), nil)
	if err != nil {
		return nil, err
	}
	defer func() {
		rows.Close()
		if st != nil {
			st.Close()
		}
	}()
	dest := make([]driver.Value, len(rows.Columns()))
	for rows.Next(dest) == nil {
		i, n := asInt(dest[0]), asInt(dest[1])
		if int(i) < len(names) {
			counts[names[i]] = n
		}
	}
	return counts, nil
}

func queryStrings(ctx context.Context, c driver.Conn, query string) ([]string, error) {
	rows, st, err := queryConn(ctx, c, query, nil)
	if err != nil {
		return nil, err
	}
	defer func() {
		rows.Close()
		if st != nil {
			st.Close()
		}
	}()
	var out []string
	dest := make([]driver.Value, len(rows.Columns()))
	for rows.Next(dest) == nil {
		switch v := dest[0].(type) {
		case string:
			out = append(out, v)
		case []byte:
			out = append(out, string(v))
		}
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

// diffCounts describes how now differs from base, table by table.
func diffCounts(base, now tableCounts) []string {
	var out []string
	for name, n := range now {
		b, ok := base[name]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%s (a new table with %d rows)", name, n))
		case n != b:
			out = append(out, fmt.Sprintf("%s (%+d rows)", name, n-b))
		}
	}
	for name := range base {
		if _, ok := now[name]; !ok {
			out = append(out, name+" (dropped)")
		}
	}
	sort.Strings(out)
	return out
}
