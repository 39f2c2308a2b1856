package dynamic

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/google/go-cmp/cmp"

	"github.com/easyautoml/dbharness/dbtest"
)

// TestInfileText: the text LOAD DATA receives escapes what would end a
// field or a row, and writes NULL as \N, whatever the size of the reads.
func TestInfileText(t *testing.T) {
	vals := [][]any{
		{int64(-7), nil, int64(1 << 62)},
		{1.5, 1e300, nil},
		{true, false, nil},
		{"a\tb\nc\\d\re\x00f", `\N`, ""},
	}
	want := "-7\t1.5\t1\ta\\tb\\nc\\\\d\\re\\0f\n" +
		"\\N\t1e+300\t0\t\\\\N\n" +
		"4611686018427387904\t\\N\t\\N\t\n"
	for _, size := range []int{1, 3, 16 << 10} {
		src := &infileSource{vals: vals, rows: 3}
		var b strings.Builder
		buf := make([]byte, size)
		for {
			n, err := src.Read(buf)
			b.Write(buf[:n])
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if diff := cmp.Diff(want, b.String()); diff != "" {
			t.Errorf("reads of %d bytes (-want +got):\n%s", size, diff)
		}
	}
}

// TestInfileRefused: the errors of a server that does not take LOAD DATA
// LOCAL send the append down the INSERT path; others do not.
func TestInfileRefused(t *testing.T) {
	for _, n := range []uint16{3948, 1148, 2068, 1295} {
		if !infileRefused(fmt.Errorf("x: %w", &mysql.MySQLError{Number: n})) {
			t.Errorf("error %d not taken as a refusal", n)
		}
	}
	for _, err := range []error{&mysql.MySQLError{Number: 1062}, errors.New("3948"), context.Canceled} {
		if infileRefused(err) {
			t.Errorf("%v taken as a refusal", err)
		}
	}
}

// TestInfile: on MySQL, appends go through LOAD DATA LOCAL INFILE on every
// path (owned, on a connection, in a transaction); a server that refuses
// it sends them through INSERT, every row still in; a value the server
// would only truncate with a warning fails the append, naming the row,
// and leaves nothing.
func TestInfile(t *testing.T) {
	db := dbtest.Open(t, dbtest.MySQL, dbtest.WithoutMigrations())
	ctx := context.Background()
	d := db.Dialect()
	f := frameOf(t, []string{"n", "s", "t", "u"}, 25, "tab\there", nil)
	for _, p := range appendPaths[1:] {
		t.Run(p.name, func(t *testing.T) {
			q := p.q(t, db)
			res, err := Append(ctx, q, d, "loaded", f)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Bulk || res.Rows != 25 {
				t.Errorf("Result = %+v, want 25 rows through LOAD DATA", res)
			}
			refused := Option{"beforeLoad", func(o *appendOpts) error {
				o.beforeLoad = func() error { return &mysql.MySQLError{Number: 3948, Message: "Loading local data is disabled"} }
				return nil
			}}
			res, err = Append(ctx, q, d, "loaded", f, refused)
			if err != nil {
				t.Fatal(err)
			}
			if res.Bulk || res.Rows != 25 {
				t.Errorf("Result = %+v after a refusal, want 25 rows through INSERT", res)
			}
			got, err := Read(ctx, q, d, "loaded")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(append(f.Rows(), f.Rows()...), got.Rows()); diff != "" {
				t.Errorf("read back (-want +got):\n%s", diff)
			}
			if _, err := q.ExecContext(ctx, "DROP TABLE loaded"); err != nil {
				t.Fatal(err)
			}
		})
	}

	// A table the append did not create, whose column is narrower than
	// the values: INSERT fails in strict mode, LOAD DATA LOCAL only warns.
	if _, err := db.ExecContext(ctx, "CREATE TABLE narrow (n BIGINT, s VARCHAR(5))"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS narrow") })
	rows := [][]any{{1, "short"}, {2, "short"}, {3, "too long"}, {4, "ok"}}
	nf, err := FromRows([]string{"n", "s"}, rows)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Append(ctx, db, d, "narrow", nf)
	if !errors.Is(err, ErrLoadWarning) || !strings.Contains(err.Error(), "row 3") {
		t.Fatalf("err = %v, want a load warning naming row 3", err)
	}
	t.Log(err)
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM narrow").Scan(&n); err != nil || n != 0 {
		t.Errorf("the failed append left %d rows (%v)", n, err)
	}
}
