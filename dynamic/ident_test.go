package dynamic_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	_ "github.com/ncruces/go-sqlite3/driver"
	_ "github.com/ncruces/go-sqlite3/embed"
	_ "github.com/ncruces/go-sqlite3/vfs/memdb"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/dynamic"
)

func TestQuoteIdent(t *testing.T) {
	cases := []struct {
		reason, dialect, name, want, wantErr string
	}{
		{"plain name", "postgres", "age", `"age"`, ""},
		{"double quotes are doubled", "postgres", `a"b`, `"a""b"`, ""},
		{"a name that tries to close the quotes", "sqlite", `x"; DROP TABLE t; --`, `"x""; DROP TABLE t; --"`, ""},
		{"backticks are doubled on MySQL", "mysql", "a`b", "`a``b`", ""},
		{"double quotes need nothing on MySQL", "mysql", `a"b`, "`a\"b`", ""},
		{"aliases name the same dialect", "mariadb", "x", "`x`", ""},
		{"aliases name the same dialect", "pgx", "x", `"x"`, ""},
		{"aliases name the same dialect", "sqlite3", "x", `"x"`, ""},
		{"unicode is kept", "postgres", "âge 🦫", `"âge 🦫"`, ""},
		{"63 bytes fit PostgreSQL", "postgres", strings.Repeat("é", 31) + "x", `"` + strings.Repeat("é", 31) + `x"`, ""},
		{"64 bytes do not: PostgreSQL would cut the name", "postgres", strings.Repeat("é", 32), "", "64 bytes long; the limit is 63"},
		{"MySQL counts characters", "mysql", strings.Repeat("é", 64), "`" + strings.Repeat("é", 64) + "`", ""},
		{"65 characters are too many on MySQL", "mysql", strings.Repeat("a", 65), "", "65 characters long; the limit is 64"},
		{"SQLite: dynamic's limit", "sqlite", strings.Repeat("a", 256), "", "256 bytes long; the limit is 255"},
		{"empty", "sqlite", "", "", "empty identifier"},
		{"NUL byte", "postgres", "a\x00", "", "NUL byte"},
		{"invalid UTF-8", "mysql", "a\xc3", "", "not valid UTF-8"},
		{"MySQL refuses a trailing space", "mysql", "a ", "", "ends with a space"},
		{"a trailing space is fine elsewhere", "postgres", "a ", `"a "`, ""},
		{"MySQL identifiers are utf8mb3", "mysql", "🦫", "", "outside the Basic Multilingual Plane"},
		{"unknown dialect", "oracle", "x", "", `unknown dialect "oracle"`},
	}
	for _, c := range cases {
		t.Run(c.reason, func(t *testing.T) {
			got, err := dynamic.QuoteIdent(c.dialect, c.name)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) || !strings.HasPrefix(err.Error(), "dynamic: ") {
					t.Fatalf("QuoteIdent(%s, %q) = %q, %v; want an error about %q", c.dialect, c.name, got, err, c.wantErr)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("QuoteIdent(%s, %q) = %q, %v; want %q", c.dialect, c.name, got, err, c.want)
			}
		})
	}
}

// openMemSQLite opens a private in-memory SQLite database (memdb VFS) on
// one connection, connected already. SQLite is compiled through dbtest's
// compilation cache: a fuzzing worker's first input would otherwise wait
// for the compiler, in an instrumented binary, past the fuzzer's 10-second
// limit on an input.
func openMemSQLite(tb testing.TB) *sql.DB {
	tb.Helper()
	if _, err := dbtest.InitSQLite(); err != nil {
		tb.Fatal(err)
	}
	db, err := sql.Open("sqlite3", fmt.Sprintf("file:/%s_%d?vfs=memdb", strings.ReplaceAll(tb.Name(), "/", "_"), memSeq.Add(1)))
	if err != nil {
		tb.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	tb.Cleanup(func() { db.Close() })
	if err := db.Ping(); err != nil {
		tb.Fatal(err)
	}
	return db
}

var memSeq atomic.Int64

// FuzzQuoteIdent: no name breaks out of its quotes. On every dialect the
// quoted name is the quote, the name with its quotes doubled, the quote;
// on SQLite a table and a column of that name are created, written and
// read, and the schema holds exactly that name and nothing else.
func FuzzQuoteIdent(f *testing.F) {
	db := openMemSQLite(f)
	f.Fuzz(func(t *testing.T, name string) {
		for _, d := range []string{"postgres", "mysql", "sqlite"} {
			q, err := dynamic.QuoteIdent(d, name)
			if err != nil {
				continue
			}
			quote := q[:1]
			inner := q[1 : len(q)-1]
			if q[len(q)-1:] != quote || strings.Contains(strings.ReplaceAll(inner, quote+quote, ""), quote) ||
				strings.ReplaceAll(inner, quote+quote, quote) != name {
				t.Fatalf("%s: %q quotes to %q", d, name, q)
			}
		}
		q, err := dynamic.QuoteIdent("sqlite", name)
		if err != nil {
			return
		}
		ctx := context.Background()
		if _, err := db.ExecContext(ctx, "CREATE TABLE "+q+" ("+q+" INTEGER)"); err != nil {
			// SQLite keeps sqlite_ table names for itself; nothing else may fail.
			if strings.HasPrefix(strings.ToLower(name), "sqlite_") {
				return
			}
			t.Fatalf("CREATE TABLE %s: %v", q, err)
		}
		defer db.ExecContext(ctx, "DROP TABLE "+q)
		if _, err := db.ExecContext(ctx, "INSERT INTO "+q+" ("+q+") VALUES (42)"); err != nil {
			t.Fatalf("INSERT INTO %s: %v", q, err)
		}
		var v int
		if err := db.QueryRowContext(ctx, "SELECT "+q+" FROM "+q).Scan(&v); err != nil || v != 42 {
			t.Fatalf("SELECT %s FROM %s = %d, %v; want 42", q, q, v, err)
		}
		var col string
		if err := db.QueryRowContext(ctx, "SELECT name FROM pragma_table_info(?)", name).Scan(&col); err != nil || col != name {
			t.Fatalf("PRAGMA table_info(%q): column %q, %v; want %q", name, col, err, name)
		}
		var tables int
		var table string
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*), MAX(name) FROM sqlite_schema").Scan(&tables, &table); err != nil || tables != 1 || table != name {
			t.Fatalf("after CREATE TABLE %s the schema has %d objects (%q), %v: something else ran", q, tables, table, err)
		}
	})
}
