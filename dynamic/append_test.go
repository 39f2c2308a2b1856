package dynamic_test

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/dynamic"
)

func empty() dbtest.Option { return dbtest.WithoutMigrations() }

func mustFrame(tb testing.TB, cols []string, rows [][]any, opts ...dynamic.FrameOption) *dynamic.Frame {
	tb.Helper()
	f, err := dynamic.FromRows(cols, rows, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

func mustAppend(tb testing.TB, q dynamic.Querier, dialect, table string, f *dynamic.Frame, opts ...dynamic.Option) dynamic.Result {
	tb.Helper()
	res, err := dynamic.Append(context.Background(), q, dialect, table, f, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return res
}

func mustRead(tb testing.TB, q dynamic.Querier, dialect, table string) *dynamic.Frame {
	tb.Helper()
	f, err := dynamic.Read(context.Background(), q, dialect, table)
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

func count(tb testing.TB, q dynamic.Querier, dialect, table string) int64 {
	tb.Helper()
	n, err := dynamic.Count(context.Background(), q, dialect, table)
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// openRaw opens a pool of genuinely separate connections to the test's
// database, closed at cleanup.
func openRaw(tb testing.TB, db *dbtest.DB) *sql.DB {
	tb.Helper()
	raw, err := sql.Open(db.RawDriverName(), db.RawDSN())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { raw.Close() })
	return raw
}

// dropRaw drops a table that a separate connection committed, at cleanup,
// so that the test's database is left as dbtest gave it.
func dropRaw(tb testing.TB, raw *sql.DB, dialect, table string) {
	tb.Helper()
	q, err := dynamic.QuoteIdent(dialect, table)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if _, err := raw.ExecContext(context.Background(), "DROP TABLE IF EXISTS "+q); err != nil {
			tb.Errorf("dropping %s: %v", table, err)
		}
	})
}

// TestRoundTrip writes every kind of value and reads it back equal, to the
// last bit, on every backend.
func TestRoundTrip(t *testing.T) {
	ts := time.Date(2024, 2, 29, 13, 14, 15, 123456000, time.FixedZone("CEST", 2*3600))
	long := strings.Repeat("long text ✓ ", 30000) // 420 kB: beyond TEXT's 64 kB on MySQL
	cols := []string{"i", "f", "b", "ts", "s"}
	rows := [][]any{
		{int64(math.MaxInt64), 0.1, true, ts, "emoji 🦫🚀 and ünïcødé, 中文"},
		{int64(math.MinInt64), math.MaxFloat64, false, ts.Add(-48 * time.Hour), long},
		{int64(0), math.SmallestNonzeroFloat64, nil, nil, ""},
		{nil, -1.0 / 3.0, true, time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), nil},
		{int64(42), 1e-300, false, time.Date(2038, 1, 19, 3, 14, 8, 1000, time.UTC), "'; DROP TABLE users; --"},
		{int64(-1), -math.MaxFloat64, nil, time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC), "line\nbreak\ttab \\ backslash \x01"},
		{nil, nil, nil, nil, nil},
	}
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		f := mustFrame(t, cols, rows)
		res := mustAppend(t, db, db.Dialect(), "roundtrip", f)
		if res.Rows != int64(len(rows)) || !res.Created || res.Attempts != 1 || res.NonFinite != nil {
			t.Fatalf("Result = %+v, want %d rows written into a created table in one attempt", res, len(rows))
		}
		got := mustRead(t, db, db.Dialect(), "roundtrip")
		if diff := cmp.Diff(f.Columns(), got.Columns()); diff != "" {
			t.Errorf("read back (-want +got):\n%s", diff)
		}
	}, empty())
}

// TestTimestampPrecision: PostgreSQL and MySQL keep microseconds and cut
// the rest, SQLite keeps nanoseconds; every backend stores UTC.
func TestTimestampPrecision(t *testing.T) {
	ts := time.Date(2024, 2, 29, 13, 14, 15, 123456789, time.FixedZone("X", -7*3600-1800))
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		mustAppend(t, db, db.Dialect(), "ts", mustFrame(t, []string{"t"}, [][]any{{ts}}))
		got := mustRead(t, db, db.Dialect(), "ts").Row(0)[0].(time.Time)
		want := ts.UTC()
		if db.Dialect() != "sqlite" {
			want = want.Truncate(time.Microsecond)
		}
		if !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("read back %v, want %v in UTC", got, want)
		}
		// The stored value is UTC wall-clock time, whatever the session's zone.
		var text string
		q := map[string]string{
			"sqlite":   `SELECT t FROM ts`,
			"postgres": `SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') FROM ts`,
			"mysql":    `SELECT DATE_FORMAT(t, '%Y-%m-%d %H:%i:%s') FROM ts`,
		}[db.Dialect()]
		if err := db.QueryRow(q).Scan(&text); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(strings.Replace(text, "T", " ", 1), "2024-02-29 20:44:15") {
			t.Errorf("stored as %q, want UTC 2024-02-29 20:44:15", text)
		}
	}, empty())
}

func TestRoundTripCSV(t *testing.T) {
	in := "id,salary,senior,hired,city\n" +
		"1,52000.5,true,2019-03-01,Lyon\n" +
		"2,,false,2020-11-15 08:30:00,Zürich\n" +
		"3,61000,true,,\n"
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		f, err := dynamic.ReadCSV(strings.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		mustAppend(t, db, db.Dialect(), "salaries", f)
		got := mustRead(t, db, db.Dialect(), "salaries")
		if diff := cmp.Diff(f.Columns(), got.Columns()); diff != "" {
			t.Errorf("read back (-want +got):\n%s", diff)
		}
	}, empty())
}

func TestNonFiniteBecomeNull(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		f := mustFrame(t, []string{"x", "y"}, [][]any{{math.NaN(), 1.0}, {math.Inf(1), math.Inf(-1)}, {math.Inf(-1), 2.0}, {1.5, 3.0}})
		res := mustAppend(t, db, db.Dialect(), "nonfinite", f)
		if diff := cmp.Diff(map[string]int{"x": 3, "y": 1}, res.NonFinite); diff != "" {
			t.Errorf("NonFinite (-want +got):\n%s", diff)
		}
		want := [][]any{{nil, 1.0}, {nil, nil}, {nil, 2.0}, {1.5, 3.0}}
		if diff := cmp.Diff(want, mustRead(t, db, db.Dialect(), "nonfinite").Rows()); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if c, _ := f.Column("x"); !math.IsNaN(c.Values[0].(float64)) {
			t.Error("Append changed the caller's frame")
		}
	}, empty())
}

// TestSchemaEvolution: a later frame brings new columns (earlier rows read
// NULL there) or lacks some (its rows get NULL); types convert only where
// the package documentation says.
func TestSchemaEvolution(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		d := db.Dialect()
		mustAppend(t, db, d, "evolve", mustFrame(t, []string{"a", "b"}, [][]any{{1, "x"}, {2, "y"}}))
		res := mustAppend(t, db, d, "evolve", mustFrame(t, []string{"c", "a", "b", "d"}, [][]any{{1.5, 3, "z", true}}))
		if diff := cmp.Diff([]string{"c", "d"}, res.AddedColumns); diff != "" || res.Created {
			t.Errorf("Result = %+v, want columns c and d added to the existing table", res)
		}
		// A frame without some columns; integers into the float column c;
		// numbers and booleans into the text column b; an all-NULL column.
		mustAppend(t, db, d, "evolve", mustFrame(t, []string{"c", "b", "d"}, [][]any{{7, 8, nil}}))
		mustAppend(t, db, d, "evolve", mustFrame(t, []string{"b"}, [][]any{{true}, {2.5}}))
		got := mustRead(t, db, d, "evolve")
		if diff := cmp.Diff([]string{"a", "b", "c", "d"}, got.Names()); diff != "" {
			t.Errorf("columns (-want +got):\n%s", diff)
		}
		want := [][]any{
			{int64(1), "x", nil, nil},
			{int64(2), "y", nil, nil},
			{int64(3), "z", 1.5, true},
			{nil, "8", 7.0, nil},
			{nil, "true", nil, nil},
			{nil, "2.5", nil, nil},
		}
		if diff := cmp.Diff(want, got.Rows()); diff != "" {
			t.Errorf("rows (-want +got):\n%s", diff)
		}

		for _, c := range []struct {
			reason string
			f      *dynamic.Frame
			want   string
		}{
			{"text into an integer column", mustFrame(t, []string{"a"}, [][]any{{"not a number"}}),
				`appending to evolve: column "a" is integer in the table (`},
			{"floats into an integer column: no silent change of type", mustFrame(t, []string{"a"}, [][]any{{1.0}}),
				`column "a" is integer in the table (`},
			{"a boolean column is not a float column", mustFrame(t, []string{"c"}, [][]any{{true}}),
				`column "c" is float in the table (`},
			{"an integer a float column cannot hold exactly", mustFrame(t, []string{"c"}, [][]any{{1}, {int64(1)<<53 + 1}}),
				`column "c", row 2: integer 9007199254740993 cannot be a float exactly`},
			{"a name equal to a table column but for case", mustFrame(t, []string{"A"}, [][]any{{1}}),
				`column "A" collides with the table's column "a"`},
		} {
			_, err := dynamic.Append(ctx, db, d, "evolve", c.f)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: err = %v, want it to contain %q", c.reason, err, c.want)
			}
		}
		if strings.Contains(errString(dynamic.Append(ctx, db, d, "evolve", mustFrame(t, []string{"a"}, [][]any{{1.0}}))), "WithType(\"a\", Integer)") == false {
			t.Error("the float-into-integer error does not say how to fix it")
		}
		if n := count(t, db, d, "evolve"); n != 6 {
			t.Fatalf("%d rows after the failed appends, want 6", n)
		}
	}, empty())
}

func errString(_ dynamic.Result, err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestEmptyFrame(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		f := mustFrame(t, []string{"a", "b"}, nil, dynamic.WithType("a", dynamic.Integer), dynamic.WithType("b", dynamic.Text))
		res := mustAppend(t, db, db.Dialect(), "empty_chunk", f)
		if res.Rows != 0 || !res.Created {
			t.Fatalf("Result = %+v, want a created table and no rows", res)
		}
		got := mustRead(t, db, db.Dialect(), "empty_chunk")
		if got.Len() != 0 || got.Columns()[0].Type != dynamic.Integer {
			t.Fatalf("read back %d rows, columns %+v", got.Len(), got.Columns())
		}
	}, empty())
}

// TestBatches crosses batch boundaries on every path.
func TestBatches(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		const n = 1203
		rows := make([][]any, n)
		for i := range rows {
			rows[i] = []any{i, float64(i) / 7, i%3 == 0, time.Unix(int64(i)*3600, 0)}
		}
		f := mustFrame(t, []string{"i", "f", "b", "t"}, rows)
		paths := []struct {
			f    *dynamic.Frame
			opts []dynamic.Option
		}{
			{f, []dynamic.Option{dynamic.WithBatchRows(100), dynamic.WithoutCopy()}},
			{f.Slice(0, 37), []dynamic.Option{dynamic.WithBatchRows(1), dynamic.WithoutCopy()}},
			{f, []dynamic.Option{dynamic.WithBatchRows(1 << 20)}}, // lowered to the parameter limit
			{f, nil}, // the default: COPY on PostgreSQL
		}
		var want [][]any
		for _, p := range paths {
			if res := mustAppend(t, db, db.Dialect(), "batches", p.f, p.opts...); res.Rows != int64(p.f.Len()) {
				t.Fatalf("%d rows written, want %d", res.Rows, p.f.Len())
			}
			want = append(want, p.f.Rows()...)
		}
		if diff := cmp.Diff(want, mustRead(t, db, db.Dialect(), "batches").Rows()); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
	}, empty())
}

// TestLargeValues: rows of large text are cut into statements small
// enough for MySQL's max_allowed_packet, and every byte arrives.
func TestLargeValues(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		rows := make([][]any, 12)
		for i := range rows {
			rows[i] = []any{i, strings.Repeat(string(rune('a'+i)), 700<<10)}
		}
		f := mustFrame(t, []string{"i", "s"}, rows)
		if res := mustAppend(t, db, db.Dialect(), "large", f, dynamic.WithoutCopy()); res.Rows != 12 {
			t.Fatalf("%d rows", res.Rows)
		}
		if diff := cmp.Diff(f.Rows(), mustRead(t, db, db.Dialect(), "large").Rows()); diff != "" {
			t.Fatal("large values did not read back equal")
		}
	}, empty())
}

// TestCopy: on PostgreSQL, COPY runs through dbtest's connection (its
// CopyFrom method) and through pgx's stdlib connection; never in a
// *sql.Tx, which cannot reach its driver connection, nor with WithoutCopy.
func TestCopy(t *testing.T) {
	db := dbtest.Open(t, dbtest.Postgres, empty())
	ctx := context.Background()
	f := mustFrame(t, []string{"x"}, [][]any{{1}, {2}})
	if res := mustAppend(t, db, db.Dialect(), "bulk", f); !res.Bulk {
		t.Error("an append through a dbtest handle did not use COPY")
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res := mustAppend(t, conn, db.Dialect(), "bulk", f); !res.Bulk {
		t.Error("an append on a *sql.Conn did not use COPY")
	}
	conn.Close()
	if res := mustAppend(t, db, db.Dialect(), "bulk", f, dynamic.WithoutCopy()); res.Bulk {
		t.Error("WithoutCopy did not turn COPY off")
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if res := mustAppend(t, tx, db.Dialect(), "bulk", f); res.Bulk {
		t.Error("an append in a *sql.Tx claims COPY")
	}
	if n := count(t, tx, db.Dialect(), "bulk"); n != 8 {
		t.Errorf("%d rows, want 8", n)
	}

	raw, err := sql.Open("pgx", db.RawDSN()) // pgx/v5/stdlib itself
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() }) // after dropRaw's cleanup
	dropRaw(t, raw, db.Dialect(), "bulk_raw")
	if res := mustAppend(t, raw, db.Dialect(), "bulk_raw", f); !res.Bulk || res.Rows != 2 {
		t.Errorf("Result %+v: an append through pgx's stdlib did not use COPY", res)
	}
}

// TestRunsOnCallersConnection: with a *sql.Tx or a *sql.Conn, Append runs
// on the caller's connection: on a pool of one connection, held by the
// caller, it still succeeds, and the rows are the caller's to commit or
// roll back.
func TestRunsOnCallersConnection(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		raw := openRaw(t, db)
		raw.SetMaxOpenConns(1)
		d := db.Dialect()
		dropRaw(t, raw, d, "callers_tx")
		dropRaw(t, raw, d, "callers_conn")
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		f := mustFrame(t, []string{"x"}, [][]any{{1}, {2}, {3}})

		tx, err := raw.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res, err := dynamic.Append(ctx, tx, d, "callers_tx", f); err != nil || res.Rows != 3 {
			t.Fatalf("Append in the caller's transaction: %+v, %v", res, err)
		}
		if n := count(t, tx, d, "callers_tx"); n != 3 {
			t.Fatalf("the caller's transaction sees %d rows, want 3", n)
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		// The caller's rollback undoes the append. On MySQL the CREATE
		// TABLE committed, but the rows were in the transaction that
		// Append reopened after it, which the rollback ended.
		n, err := dynamic.Count(ctx, raw, d, "callers_tx")
		switch {
		case d == "mysql" && (err != nil || n != 0):
			t.Errorf("after the rollback: %d rows, %v; want the table empty", n, err)
		case d != "mysql" && !errors.Is(err, dynamic.ErrNoTable):
			t.Errorf("after the rollback: %d rows, %v; want no table", n, err)
		}

		conn, err := raw.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if res, err := dynamic.Append(ctx, conn, d, "callers_conn", f); err != nil || res.Rows != 3 {
			t.Fatalf("Append on the caller's connection: %+v, %v", res, err)
		}
		if n := count(t, conn, d, "callers_conn"); n != 3 {
			t.Fatalf("%d rows, want 3", n)
		}
	}, empty())
}

// TestInSavepoint: inside a transaction of the caller's (a savepoint under
// dbtest), Append's own savepoint leaves the caller's work alone when the
// append fails.
func TestInSavepoint(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		d := db.Dialect()
		mustAppend(t, db, d, "sp", mustFrame(t, []string{"a"}, [][]any{{1}}))
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		mustAppend(t, tx, d, "sp", mustFrame(t, []string{"a"}, [][]any{{2}}))
		if _, err := dynamic.Append(ctx, tx, d, "sp", mustFrame(t, []string{"a"}, [][]any{{"x"}})); err == nil {
			t.Fatal("a text value went into an integer column")
		}
		// The transaction is still usable, and holds the caller's rows.
		mustAppend(t, tx, d, "sp", mustFrame(t, []string{"a"}, [][]any{{3}}))
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		want := [][]any{{int64(1)}, {int64(2)}, {int64(3)}}
		if diff := cmp.Diff(want, mustRead(t, db, d, "sp").Rows()); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	}, empty())
}

// TestIdentifiers: hostile names are tables and columns like any other on
// every backend; impossible ones are refused before anything runs.
func TestIdentifiers(t *testing.T) {
	hostile := []string{`we"ird`, "back`tick", "semi; DROP TABLE x; --", "spa ce", "ünïcødé ✓", "select", "Mixed_Case", "a.b", "$1", "?", "--"}
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		d := db.Dialect()
		for _, name := range hostile {
			f := mustFrame(t, []string{name, "v"}, [][]any{{1, "a"}, {2, "b"}})
			mustAppend(t, db, d, name, f)
			mustAppend(t, db, d, name, f, dynamic.WithoutCopy())
			got := mustRead(t, db, d, name)
			if diff := cmp.Diff(append(f.Rows(), f.Rows()...), got.Rows()); diff != "" || !cmp.Equal(f.Names(), got.Names()) {
				t.Errorf("%q: read back %v (-want +got):\n%s", name, got.Names(), diff)
			}
		}
		if d != "mysql" {
			mustAppend(t, db, d, "emoji 🦫", mustFrame(t, []string{"beaver 🦫"}, [][]any{{1}}))
		}
		long := strings.Repeat("x", 256)
		bad := []struct{ reason, table, col, want string }{
			{"empty table name", "", "a", "table name: dynamic: " + d + ": empty identifier"},
			{"long table name", long, "a", "the limit is"},
			{"long column name", "ok", long, `column "` + long[:40] + `"…`},
			{"NUL in a table name", "nul\x00", "a", "NUL byte"},
		}
		if d == "mysql" {
			bad = append(bad,
				struct{ reason, table, col, want string }{"emoji in a MySQL name", "beaver 🦫", "a", "Basic Multilingual Plane"},
				struct{ reason, table, col, want string }{"MySQL: trailing space", "trailing ", "a", "ends with a space"},
				struct{ reason, table, col, want string }{"MySQL: trailing space in a column", "ok", "col ", "ends with a space"})
		}
		for _, b := range bad {
			f := mustFrame(t, []string{b.col}, [][]any{{1}})
			_, err := dynamic.Append(ctx, db, d, b.table, f)
			if err == nil || !strings.Contains(err.Error(), b.want) {
				t.Errorf("%s: err = %v, want it to contain %q", b.reason, err, b.want)
			}
		}
		if _, err := dynamic.Count(ctx, db, d, "ok"); !errors.Is(err, dynamic.ErrNoTable) {
			t.Errorf("a refused append created its table: %v", err)
		}
	}, empty())
}

func TestAppendErrors(t *testing.T) {
	db := openMemSQLite(t)
	ctx := context.Background()
	f := mustFrame(t, []string{"a"}, [][]any{{1}})
	for _, c := range []struct {
		reason string
		q      dynamic.Querier
		d      string
		f      *dynamic.Frame
		opts   []dynamic.Option
		want   string
	}{
		{"unknown dialect", db, "oracle", f, nil, `dynamic: unknown dialect "oracle"`},
		{"nil frame", db, "sqlite", nil, nil, "the frame has no columns"},
		{"frame without columns", db, "sqlite", &dynamic.Frame{}, nil, "the frame has no columns"},
		{"nil Querier", nil, "sqlite", f, nil, "nil Querier"},
		{"zero Option", db, "sqlite", f, []dynamic.Option{{}}, "zero Option"},
		{"option given twice", db, "sqlite", f, []dynamic.Option{dynamic.WithoutCopy(), dynamic.WithoutCopy()}, "option WithoutCopy given twice"},
		{"WithRetry given twice", db, "sqlite", f, []dynamic.Option{dynamic.WithRetry(2, time.Millisecond, time.Second), dynamic.WithRetry(3, time.Millisecond, time.Second)}, "option WithRetry given twice"},
		{"no attempts", db, "sqlite", f, []dynamic.Option{dynamic.WithRetry(0, time.Millisecond, time.Second)}, "WithRetry(0, 1ms, 1s): want maxAttempts ≥ 1"},
		{"zero base", db, "sqlite", f, []dynamic.Option{dynamic.WithRetry(3, 0, time.Second)}, "0 < base ≤ max"},
		{"negative base", db, "sqlite", f, []dynamic.Option{dynamic.WithRetry(3, -time.Second, time.Second)}, "0 < base ≤ max"},
		{"max below base", db, "sqlite", f, []dynamic.Option{dynamic.WithRetry(3, time.Second, time.Millisecond)}, "0 < base ≤ max"},
		{"zero batch", db, "sqlite", f, []dynamic.Option{dynamic.WithBatchRows(0)}, "WithBatchRows(0): want at least 1"},
	} {
		t.Run(c.reason, func(t *testing.T) {
			_, err := dynamic.Append(ctx, c.q, c.d, "t", c.f, c.opts...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to contain %q", err, c.want)
			}
		})
	}
	if _, err := dynamic.Count(ctx, db, "sqlite", "t"); !errors.Is(err, dynamic.ErrNoTable) {
		t.Errorf("a refused append created its table: %v", err)
	}
	if _, err := dynamic.Read(ctx, db, "sqlite", "t"); !errors.Is(err, dynamic.ErrNoTable) {
		t.Errorf("Read of a missing table: %v, want ErrNoTable", err)
	}
}

// TestReadForeignTable: Read maps the types of a table that Append did not
// create.
func TestReadForeignTable(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ddl := map[string]string{
			"sqlite":   `CREATE TABLE foreign_t (a INT, b DOUBLE, c VARCHAR(10), d DATETIME, e BOOLEAN, f NUMERIC(8,2), g DECIMAL(8,2))`,
			"postgres": `CREATE TABLE foreign_t (a INTEGER, b NUMERIC(10,2), c VARCHAR(10), d TIMESTAMP, e BOOLEAN, f NUMERIC(8,2), g DECIMAL(8,2))`,
			"mysql":    `CREATE TABLE foreign_t (a INT, b DECIMAL(10,2), c VARCHAR(10), d DATETIME, e TINYINT(1), f NUMERIC(8,2), g DECIMAL(8,2))`,
		}[db.Dialect()]
		if _, err := db.Exec(ddl); err != nil {
			t.Fatal(err)
		}
		// SQLite stores 8.00 in a NUMERIC column as the integer 8.
		if _, err := db.Exec(`INSERT INTO foreign_t VALUES (1, 2.5, 'x', '2024-01-02 03:04:05', true, 8.00, 9.99)`); err != nil {
			t.Fatal(err)
		}
		got := mustRead(t, db, db.Dialect(), "foreign_t")
		want := []dynamic.Column{
			{Name: "a", Type: dynamic.Integer, Values: []any{int64(1)}},
			{Name: "b", Type: dynamic.Float, Values: []any{2.5}},
			{Name: "c", Type: dynamic.Text, Values: []any{"x"}},
			{Name: "d", Type: dynamic.Timestamp, Values: []any{time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}},
			{Name: "e", Type: dynamic.Boolean, Values: []any{true}},
			{Name: "f", Type: dynamic.Float, Values: []any{8.0}},
			{Name: "g", Type: dynamic.Float, Values: []any{9.99}},
		}
		if diff := cmp.Diff(want, got.Columns()); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	}, empty())
}
