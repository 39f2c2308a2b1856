package dbtest

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"strings"
	"testing"
)

// failingConn answers every query with rows of two columns: one row, then
// errRead, as a connection lost part-way through a result would.
type failingConn struct{ driver.Conn }

var errRead = errors.New("connection reset while reading rows")

func (failingConn) QueryContext(context.Context, string, []driver.NamedValue) (driver.Rows, error) {
	return &failingRows{}, nil
}

type failingRows struct{ n int }

func (*failingRows) Columns() []string { return []string{"a", "b"} }
func (*failingRows) Close() error      { return nil }
func (r *failingRows) Next(dest []driver.Value) error {
	r.n++
	if r.n > 1 {
		return errRead
	}
	dest[0], dest[1] = "t", int64(1)
	return nil
}

// TestReadErrorsReported: a read that fails after the first row is an
// error for every reader the restore and the escaped-write check use,
// not a short result they would take for the whole.
func TestReadErrorsReported(t *testing.T) {
	ctx := context.Background()
	c := failingConn{}
	for _, tc := range []struct {
		name string
		run  func() error
	}{
		{"queryStrings", func() error { _, err := queryStrings(ctx, c, "SELECT"); return err }},
		{"countTables", func() error { _, err := countTables(ctx, Postgres, c); return err }},
		{"readRows", func() error { _, _, err := readRows(ctx, c, "SELECT"); return err }},
		{"schemaFingerprint", func() error { _, err := schemaFingerprint(ctx, MySQL, c); return err }},
	} {
		if err := tc.run(); !errors.Is(err, errRead) {
			t.Errorf("%s = %v; want the read error", tc.name, err)
		}
	}
}

// TestEachRowCompleteResult: io.EOF after the rows ends a complete
// result, without an error.
func TestEachRowCompleteResult(t *testing.T) {
	var got []string
	err := eachRow(context.Background(), eofConn{}, "SELECT", nil, func(dest []driver.Value) {
		got = append(got, dest[0].(string))
	})
	if err != nil || strings.Join(got, ",") != "x,y" {
		t.Errorf("eachRow = %v, rows %q; want x,y and no error", err, got)
	}
}

type eofConn struct{ driver.Conn }

func (eofConn) QueryContext(context.Context, string, []driver.NamedValue) (driver.Rows, error) {
	return &eofRows{vals: []string{"x", "y"}}, nil
}

type eofRows struct{ vals []string }

func (*eofRows) Columns() []string { return []string{"a"} }
func (*eofRows) Close() error      { return nil }
func (r *eofRows) Next(dest []driver.Value) error {
	if len(r.vals) == 0 {
		return io.EOF
	}
	dest[0], r.vals = r.vals[0], r.vals[1:]
	return nil
}
