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
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/dynamic"
)

func empty() dbtest.Option { return dbtest.WithoutMigrations() }

func mustFrame(t testing.TB, cols []string, rows [][]any, opts ...dynamic.FrameOption) *dynamic.Frame {
	t.Helper()
	f, err := dynamic.FromRows(cols, rows, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func mustAppend(t testing.TB, q dynamic.Querier, dialect, table string, f *dynamic.Frame, opts ...dynamic.Option) dynamic.Result {
	t.Helper()
	res, err := dynamic.Append(context.Background(), q, dialect, table, f, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func count(t testing.TB, q dynamic.Querier, dialect, table string) int64 {
	t.Helper()
	n, err := dynamic.Count(context.Background(), q, dialect, table)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// frameRows returns the frame's rows, for comparisons.
func frameRows(f *dynamic.Frame) [][]any {
	rows := make([][]any, f.Len())
	for i := range rows {
		rows[i] = f.Row(i)
	}
	return rows
}

// TestRoundTrip writes every kind of value and reads it back equal, to the
// last bit, on every backend.
func TestRoundTrip(t *testing.T) {
	ts := time.Date(2024, 2, 29, 13, 14, 15, 123456000, time.FixedZone("CEST", 2*3600))
	long := strings.Repeat("long text ✓ ", 20000)
	cols := []string{"i", "f", "b", "ts", "s"}
	rows := [][]any{
		{int64(math.MaxInt64), 0.1, true, ts, "emoji 🦫🚀 and ünïcødé"},
		{int64(math.MinInt64), math.MaxFloat64, false, ts.Add(-48 * time.Hour), long},
		{int64(0), math.SmallestNonzeroFloat64, nil, nil, ""},
		{nil, -1.0 / 3.0, true, time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), nil},
		{int64(42), 1e-300, false, time.Date(2038, 1, 19, 3, 14, 8, 1000, time.UTC), "'; DROP TABLE users; --"},
	}
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		f := mustFrame(t, cols, rows)
		res := mustAppend(t, db, db.Dialect(), "roundtrip", f)
		if res.Rows != int64(len(rows)) || !res.Created {
			t.Fatalf("Result = %+v, want %d rows written into a created table", res, len(rows))
		}
		got, err := dynamic.Read(context.Background(), db, db.Dialect(), "roundtrip")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(cols, got.Names()); diff != "" {
			t.Fatalf("columns (-want +got):\n%s", diff)
		}
		for _, c := range got.Columns() {
			want, _ := f.Column(c.Name)
			if c.Type != want.Type {
				t.Errorf("column %s reads back as %s, want %s", c.Name, c.Type, want.Type)
			}
		}
		if diff := cmp.Diff(frameRows(f), frameRows(got), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("rows (-want +got):\n%s", diff)
		}
	}, empty())
}

func TestNonFiniteBecomeNull(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		f := mustFrame(t, []string{"x"}, [][]any{{math.NaN()}, {math.Inf(1)}, {math.Inf(-1)}, {1.5}})
		res := mustAppend(t, db, db.Dialect(), "nonfinite", f)
		if res.NonFinite["x"] != 3 {
			t.Errorf("NonFinite = %v, want x: 3", res.NonFinite)
		}
		got, err := dynamic.Read(context.Background(), db, db.Dialect(), "nonfinite")
		if err != nil {
			t.Fatal(err)
		}
		want := [][]any{{nil}, {nil}, {nil}, {1.5}}
		if diff := cmp.Diff(want, frameRows(got)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		// The caller's frame is untouched.
		if c, _ := f.Column("x"); !math.IsNaN(c.Values[0].(float64)) {
			t.Error("Append changed the caller's frame")
		}
	}, empty())
}

// TestSchemaEvolution: a later frame brings a new column; earlier rows
// read NULL there. A type conflict names the column and both types.
func TestSchemaEvolution(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		mustAppend(t, db, db.Dialect(), "evolve", mustFrame(t, []string{"a", "b"}, [][]any{{1, "x"}, {2, "y"}}))
		res := mustAppend(t, db, db.Dialect(), "evolve", mustFrame(t, []string{"a", "b", "c"}, [][]any{{3, "z", 1.5}}))
		if diff := cmp.Diff([]string{"c"}, res.AddedColumns); diff != "" || res.Created {
			t.Errorf("Result = %+v, want column c added to the existing table", res)
		}
		got, err := dynamic.Read(ctx, db, db.Dialect(), "evolve")
		if err != nil {
			t.Fatal(err)
		}
		want := [][]any{{int64(1), "x", nil}, {int64(2), "y", nil}, {int64(3), "z", 1.5}}
		if diff := cmp.Diff(want, frameRows(got)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		// Integers widen into the float column.
		mustAppend(t, db, db.Dialect(), "evolve", mustFrame(t, []string{"c"}, [][]any{{7}}))

		_, err = dynamic.Append(ctx, db, db.Dialect(), "evolve", mustFrame(t, []string{"a"}, [][]any{{"not a number"}}))
		if err == nil || !strings.Contains(err.Error(), `column "a" is integer in the table but text in the frame`) {
			t.Fatalf("type conflict: err = %v", err)
		}
		_, err = dynamic.Append(ctx, db, db.Dialect(), "evolve", mustFrame(t, []string{"A"}, [][]any{{1}}))
		if err == nil || !strings.Contains(err.Error(), `collides`) {
			t.Fatalf("case collision with an existing column: err = %v", err)
		}
		if n := count(t, db, db.Dialect(), "evolve"); n != 4 {
			t.Fatalf("%d rows after the failed appends, want 4", n)
		}
	}, empty())
}

func TestEmptyFrame(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		f := mustFrame(t, []string{"a", "b"}, nil, dynamic.WithType("a", dynamic.Integer), dynamic.WithType("b", dynamic.Text))
		res := mustAppend(t, db, db.Dialect(), "empty_chunk", f)
		if res.Rows != 0 || !res.Created {
			t.Fatalf("Result = %+v, want a created table and no rows", res)
		}
		if n := count(t, db, db.Dialect(), "empty_chunk"); n != 0 {
			t.Fatalf("%d rows", n)
		}
	}, empty())
}

// TestBatches crosses batch boundaries with small batches, on every path.
func TestBatches(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		const n = 2503
		rows := make([][]any, n)
		for i := range rows {
			rows[i] = []any{i, float64(i) / 7, i%3 == 0}
		}
		f := mustFrame(t, []string{"i", "f", "b"}, rows)
		for _, opts := range [][]dynamic.Option{
			{dynamic.WithBatchRows(100), dynamic.WithoutCopy()},
			{dynamic.WithBatchRows(1), dynamic.WithoutCopy()},
			nil, // the default: COPY on PostgreSQL
		} {
			table := "batches"
			res := mustAppend(t, db, db.Dialect(), table, f, opts...)
			if res.Rows != n {
				t.Fatalf("%d rows written, want %d", res.Rows, n)
			}
		}
		got, err := dynamic.Read(context.Background(), db, db.Dialect(), "batches")
		if err != nil {
			t.Fatal(err)
		}
		want := append(append(frameRows(f), frameRows(f)...), frameRows(f)...)
		if diff := cmp.Diff(want, frameRows(got)); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
	}, empty())
}

func TestCopyUsedOnPostgres(t *testing.T) {
	db := dbtest.Open(t, dbtest.Postgres, empty())
	res := mustAppend(t, db, db.Dialect(), "bulk", mustFrame(t, []string{"x"}, [][]any{{1}, {2}}))
	if !res.Bulk {
		t.Fatal("the append through a dbtest handle did not use COPY")
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	res = mustAppend(t, tx, db.Dialect(), "bulk", mustFrame(t, []string{"x"}, [][]any{{3}}))
	if res.Bulk {
		t.Fatal("an append in a *sql.Tx claims COPY, which database/sql cannot reach there")
	}
}

func TestIdentifiers(t *testing.T) {
	hostile := []string{`we"ird`, "back`tick", "semi; DROP TABLE x; --", "spa ce", "ünïcødé ✓", "select", "Mixed_Case"}
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		for _, name := range hostile {
			f := mustFrame(t, []string{name, "v"}, [][]any{{1, "a"}})
			mustAppend(t, db, db.Dialect(), name, f)
			got, err := dynamic.Read(context.Background(), db, db.Dialect(), name)
			if err != nil {
				t.Fatalf("%q: %v", name, err)
			}
			if diff := cmp.Diff([]string{name, "v"}, got.Names()); diff != "" {
				t.Errorf("%q: columns (-want +got):\n%s", name, diff)
			}
		}
		ctx := context.Background()
		long := strings.Repeat("x", 256)
		bad := []struct{ table, col, want string }{
			{"", "a", "empty identifier"},
			{long, "a", "long"},
			{"ok", long, "long"},
			{"nul\x00", "a", "NUL"},
			{"ok", "bad\xff", "UTF-8"},
		}
		if db.Dialect() == "mysql" {
			bad = append(bad, struct{ table, col, want string }{"beaver 🦫", "a", "Basic Multilingual Plane"},
				struct{ table, col, want string }{"trailing ", "a", "ends with a space"})
		} else {
			f := mustFrame(t, []string{"beaver 🦫"}, [][]any{{1}})
			mustAppend(t, db, db.Dialect(), "emoji 🦫", f)
		}
		for _, b := range bad {
			f := &dynamic.Frame{}
			if b.col != "" {
				var err error
				f, err = dynamic.NewFrame(dynamic.Column{Name: b.col, Type: dynamic.Integer, Values: []any{int64(1)}})
				if err != nil {
					if !strings.Contains(err.Error(), b.want) {
						t.Errorf("NewFrame(%q): %v, want %q", b.col, err, b.want)
					}
					continue
				}
			}
			_, err := dynamic.Append(ctx, db, db.Dialect(), b.table, f)
			if err == nil || !strings.Contains(err.Error(), b.want) {
				t.Errorf("Append(table %q, column %q) = %v, want an error about %q", b.table, b.col, err, b.want)
			}
		}
	}, empty())
}

func TestFrameCaseCollision(t *testing.T) {
	_, err := dynamic.FromRows([]string{"Age", "age"}, [][]any{{1, 2}})
	if err == nil || !strings.Contains(err.Error(), "collide") {
		t.Fatalf("err = %v, want a collision of Age and age", err)
	}
}

// TestRetryOwnedTransaction: a separate connection holds the table's write
// lock and commits shortly after; an append that owns its transaction
// retries and succeeds.
func TestRetryOwnedTransaction(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		writer, err := sql.Open(db.RawDriverName(), db.RawDSN())
		if err != nil {
			t.Fatal(err)
		}
		defer writer.Close()
		appender, err := sql.Open(db.RawDriverName(), db.RawDSN())
		if err != nil {
			t.Fatal(err)
		}
		defer appender.Close()
		mustAppend(t, writer, db.Dialect(), "contended", mustFrame(t, []string{"x"}, [][]any{{0}}))
		defer writer.Exec("DROP TABLE contended")

		release := holdWriteLock(t, db, writer, "contended")
		hold := 300 * time.Millisecond
		if db.Dialect() == "mysql" {
			hold = 1500 * time.Millisecond // MySQL waits whole seconds, one at least
		}
		time.AfterFunc(hold, release)
		res, err := dynamic.Append(ctx, appender, db.Dialect(), "contended",
			mustFrame(t, []string{"x"}, [][]any{{1}, {2}}), dynamic.WithRetry(20, 50*time.Millisecond, 200*time.Millisecond))
		if err != nil {
			t.Fatalf("the bounded retry did not get past the writer: %v", err)
		}
		if res.Attempts < 2 {
			t.Errorf("Attempts = %d, want a retry", res.Attempts)
		}
		if n := count(t, appender, db.Dialect(), "contended"); n != 3 {
			t.Errorf("%d rows, want 3", n)
		}
		t.Logf("succeeded after %d attempts", res.Attempts)
	}, empty(), dbtest.WithLockTimeout(100*time.Millisecond))
}

// TestLockedInsideCallersTransaction: inside the caller's transaction a
// lock conflict comes back at once, typed, after one attempt.
func TestLockedInsideCallersTransaction(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		writer, err := sql.Open(db.RawDriverName(), db.RawDSN())
		if err != nil {
			t.Fatal(err)
		}
		defer writer.Close()
		other, err := sql.Open(db.RawDriverName(), db.RawDSN())
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		mustAppend(t, writer, db.Dialect(), "contended_tx", mustFrame(t, []string{"x"}, [][]any{{0}}))
		defer writer.Exec("DROP TABLE contended_tx")
		release := holdWriteLock(t, db, writer, "contended_tx")
		defer release()

		tx, err := other.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		res, err := dynamic.Append(ctx, tx, db.Dialect(), "contended_tx", mustFrame(t, []string{"x"}, [][]any{{1}}))
		if !errors.Is(err, dynamic.ErrLocked) {
			t.Fatalf("err = %v, want ErrLocked", err)
		}
		var le *dynamic.LockedError
		if !errors.As(err, &le) || le.Attempts != 1 || res.Attempts != 1 {
			t.Fatalf("err = %v, Result = %+v: want one attempt", err, res)
		}
	}, empty(), dbtest.WithLockTimeout(100*time.Millisecond))
}

// holdWriteLock makes conn hold a lock that keeps others from writing to
// table, until the returned function is called.
func holdWriteLock(t *testing.T, db *dbtest.DB, pool *sql.DB, table string) func() {
	t.Helper()
	ctx := context.Background()
	conn, err := pool.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var lock, unlock []string
	switch db.Dialect() {
	case "sqlite":
		lock, unlock = []string{"BEGIN IMMEDIATE"}, []string{"COMMIT"}
	case "postgres":
		lock, unlock = []string{"BEGIN", "LOCK TABLE " + table + " IN EXCLUSIVE MODE"}, []string{"COMMIT"}
	case "mysql":
		lock, unlock = []string{"LOCK TABLES " + table + " WRITE"}, []string{"UNLOCK TABLES"}
	}
	for _, q := range lock {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	var once bool
	return func() {
		if once {
			return
		}
		once = true
		for _, q := range unlock {
			conn.ExecContext(ctx, q)
		}
		conn.Close()
	}
}
