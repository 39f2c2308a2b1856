package dynamic_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	_ "github.com/ncruces/go-sqlite3/driver"
	_ "github.com/ncruces/go-sqlite3/embed"

	"github.com/easyautoml/dbharness/dynamic"
)

func TestReadCSVInference(t *testing.T) {
	in := "\ufeffid,score,ok,when,name,mixed,empty,big\n" +
		"1,2.5,true,2024-01-02,alice,1,,9223372036854775808\n" +
		"2,3,FALSE,2024-01-02 03:04:05,=SUM(A1:A2),x,,1\n" +
		"3,,True,2024-01-02T03:04:05+02:00,,2.5,,2\n"
	f, err := dynamic.ReadCSV(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]dynamic.Type{}
	for _, c := range f.Columns() {
		types[c.Name] = c.Type
	}
	want := map[string]dynamic.Type{
		"id": dynamic.Integer, "score": dynamic.Float, "ok": dynamic.Boolean, "when": dynamic.Timestamp,
		"name": dynamic.Text, "mixed": dynamic.Text, "empty": dynamic.Text, "big": dynamic.Text,
	}
	if diff := cmp.Diff(want, types); diff != "" {
		t.Errorf("types (-want +got):\n%s", diff)
	}
	wantRows := [][]any{
		{int64(1), 2.5, true, time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC), "alice", "1", nil, "9223372036854775808"},
		{int64(2), 3.0, false, time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), "=SUM(A1:A2)", "x", nil, "1"},
		{int64(3), nil, true, time.Date(2024, 1, 2, 1, 4, 5, 0, time.UTC), nil, "2.5", nil, "2"},
	}
	if diff := cmp.Diff(wantRows, frameRows(f)); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

func TestReadCSVOverride(t *testing.T) {
	f, err := dynamic.ReadCSV(strings.NewReader("zip\n01234\n98765\n"), dynamic.WithType("zip", dynamic.Text))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]any{{"01234"}, {"98765"}}, frameRows(f)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestReadCSVErrors(t *testing.T) {
	cases := []struct {
		name, in, want string
		opts           []dynamic.FrameOption
	}{
		{"ragged row", "a,b\n1,2\n3\n", "line 3: wrong number of fields", nil},
		{"duplicate header", "a,A\n1,2\n", "columns 1 (\"a\") and 2 (\"A\") have the same name", nil},
		{"empty header", "a,\n1,2\n", "line 1, column 2: empty name", nil},
		{"invalid UTF-8", "a\n\xff\n", "line 2, column \"a\": invalid UTF-8", nil},
		{"bad forced type", "a\n1\nx\n", "line 3, column \"a\": \"x\" is not a 64-bit integer", []dynamic.FrameOption{dynamic.WithType("a", dynamic.Integer)}},
		{"forced unknown column", "a\n1\n", `WithType("b"): the CSV has no such column`, []dynamic.FrameOption{dynamic.WithType("b", dynamic.Integer)}},
		{"no header", "", "no header line", nil},
		{"bare quote", "a\n\"x\"y\n", "line 2", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := dynamic.ReadCSV(strings.NewReader(c.in), c.opts...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to contain %q", err, c.want)
			}
		})
	}
}

func FuzzReadCSV(f *testing.F) {
	for _, s := range []string{"a,b\n1,2\n", "x\n\"q\"\"\"\n", "\ufeffa\n2024-01-01\n", "a,b\n1\n", "t\ntrue\nFALSE\n", "n\nNaN\n1e309\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		fr, err := dynamic.ReadCSV(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, c := range fr.Columns() {
			if len(c.Values) != fr.Len() {
				t.Fatalf("column %q has %d values, frame %d rows", c.Name, len(c.Values), fr.Len())
			}
			for _, v := range c.Values {
				if v == nil {
					continue
				}
				if _, err := dynamic.NewFrame(dynamic.Column{Name: c.Name, Type: c.Type, Values: []any{v}}); err != nil {
					t.Fatalf("column %q of type %s holds %T: %v", c.Name, c.Type, v, err)
				}
			}
		}
	})
}

// FuzzQuoteIdent checks that no name breaks out of its quotes: a table and
// a column of any accepted name are created on SQLite, and the names read
// back from the schema are exactly the ones given.
func FuzzQuoteIdent(f *testing.F) {
	for _, s := range []string{`x`, `a"b`, `"; DROP TABLE t; --`, "é 🦫", "`", `""`, "[x]", "a b"} {
		f.Add(s)
	}
	db, err := sql.Open("sqlite3", ":memory:")
	if err != nil {
		f.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	f.Cleanup(func() { db.Close() })
	f.Fuzz(func(t *testing.T, name string) {
		for _, d := range []string{"postgres", "mysql", "sqlite"} {
			q, err := dynamic.QuoteIdent(d, name)
			if err != nil {
				continue
			}
			quote := q[:1]
			inner := q[1 : len(q)-1]
			if strings.ReplaceAll(strings.ReplaceAll(inner, quote+quote, ""), quote, "X") != strings.ReplaceAll(inner, quote+quote, "") {
				t.Fatalf("%s: %q quotes to %q, with a lone quote inside", d, name, q)
			}
		}
		q, err := dynamic.QuoteIdent("sqlite", name)
		if err != nil || strings.EqualFold(name, "_row_id") {
			return
		}
		ctx := context.Background()
		if _, err := db.ExecContext(ctx, "CREATE TABLE "+q+" ("+q+" INTEGER)"); err != nil {
			// SQLite refuses some names (sqlite_ prefixes): never by breaking out.
			if strings.HasPrefix(strings.ToLower(name), "sqlite_") {
				return
			}
			t.Fatalf("CREATE TABLE %s: %v", q, err)
		}
		defer db.ExecContext(ctx, "DROP TABLE "+q)
		var got string
		if err := db.QueryRowContext(ctx, "SELECT name FROM pragma_table_info(?)", name).Scan(&got); err != nil {
			t.Fatalf("table %q: %v", name, err)
		}
		if got != name {
			t.Fatalf("column created as %q, want %q", got, name)
		}
		var n int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'").Scan(&n); err != nil || n != 1 {
			t.Fatalf("%d tables after creating %q (err %v): something else ran", n, name, err)
		}
	})
}
