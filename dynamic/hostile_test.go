package dynamic_test

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/easyautoml/dbharness/dynamic"
)

// TestReadCSVHostile: each hostile input gets a *dynamic.CSVError of the
// right kind, naming the line and the column (by header name) or field
// where the trouble is.
func TestReadCSVHostile(t *testing.T) {
	long := strings.Repeat("x", 1025)
	cases := []struct {
		reason, in string
		opts       []dynamic.FrameOption
		kind       error
		line       int
		field      int    // 1-based; 0 when the error is about the record
		column     string // the header name of field, when it has one
		char       int    // 0 when not checked
	}{
		// Ragged rows.
		{"a row with too few fields", "a,b,c\n1,2,3\n4,5\n", nil, dynamic.ErrCSVFieldCount, 3, 0, "", 0},
		{"a row with too many fields", "a,b\n1,2\n3,4,5\n", nil, dynamic.ErrCSVFieldCount, 3, 0, "", 0},
		{"a row of one empty field under a wider header", "a,b\n1,2\n\"\"\n", nil, dynamic.ErrCSVFieldCount, 3, 0, "", 0},
		{"a ragged record named at its first line", "a,b\n\"multi\nline\"\n", nil, dynamic.ErrCSVFieldCount, 2, 0, "", 0},
		{"a trailing comma adds a field", "a,b\n1,2,\n", nil, dynamic.ErrCSVFieldCount, 2, 0, "", 0},

		// Byte order marks.
		{"a second UTF-8 BOM would be part of the first name", "\ufeff\ufeffid,x\n1,2\n", nil, dynamic.ErrCSVHeader, 1, 1, "", 0},
		{"a BOM inside the header, as when files are joined", "a,\ufeffb\n1,2\n", nil, dynamic.ErrCSVHeader, 1, 2, "", 0},
		{"a UTF-16 little-endian BOM", "\xff\xfea\x00,\x00b\x00\n\x00", nil, dynamic.ErrCSVEncoding, 1, 0, "", 0},
		{"a UTF-16 big-endian BOM", "\xfe\xff\x00a\x00,\x00b\x00\n", nil, dynamic.ErrCSVEncoding, 1, 0, "", 0},

		// Huge fields, against a limit of 1024 bytes.
		{"a bare field over the limit", "a,b\n1,2\n3," + long + "\n", []dynamic.FrameOption{dynamic.WithMaxFieldBytes(1024)}, dynamic.ErrCSVFieldTooLong, 3, 2, "b", 0},
		{"a quoted field over the limit, counted across its lines", "a,b\n\"" + strings.Repeat("x\n", 600) + "\",1\n", []dynamic.FrameOption{dynamic.WithMaxFieldBytes(1024)}, dynamic.ErrCSVFieldTooLong, 514, 1, "a", 0},
		{"doubled quotes count once, and still add up", "a\n\"" + strings.Repeat(`""`, 1025) + "\"\n", []dynamic.FrameOption{dynamic.WithMaxFieldBytes(1024)}, dynamic.ErrCSVFieldTooLong, 2, 1, "a", 0},
		{"a header name over the limit", long + ",b\n1,2\n", []dynamic.FrameOption{dynamic.WithMaxFieldBytes(1024)}, dynamic.ErrCSVFieldTooLong, 1, 1, "", 0},
		{"a field over the limit on a line of many fields", "a,b,c\n" + strings.Repeat("1,", 2) + long + "\n", []dynamic.FrameOption{dynamic.WithMaxFieldBytes(1024)}, dynamic.ErrCSVFieldTooLong, 2, 3, "c", 0},

		// Invalid UTF-8.
		{"a stray continuation byte", "a,b\n1,x\x80y\n", nil, dynamic.ErrCSVEncoding, 2, 2, "b", 4},
		{"a truncated sequence at the end of a field", "a,b\n1,\xc3\n", nil, dynamic.ErrCSVEncoding, 2, 2, "b", 3},
		{"an overlong encoding of /", "a,b\n\xc0\xaf,1\n", nil, dynamic.ErrCSVEncoding, 2, 1, "a", 1},
		{"a UTF-16 surrogate encoded in UTF-8", "a,b\n1,\xed\xa0\x80\n", nil, dynamic.ErrCSVEncoding, 2, 2, "b", 3},
		{"invalid UTF-8 in a quoted field, on its own line", "a,b\n1,\"ok\nbad \xff\"\n", nil, dynamic.ErrCSVEncoding, 3, 2, "b", 5},
		{"invalid UTF-8 in a quoted field, after the quote", "a,b\n1,\"\xff\"\n", nil, dynamic.ErrCSVEncoding, 2, 2, "b", 4},
		{"invalid UTF-8 in the header", "a,b\xfe\n1,2\n", nil, dynamic.ErrCSVEncoding, 1, 2, "", 0},

		// Malformed quotes and header names.
		{"a bare quote in a field", "a,b\n1,x\"y\n", nil, dynamic.ErrCSVSyntax, 2, 2, "b", 4},
		{"a quote never closed, named at the end of the input", "a,b\n1,\"open\n2,3\n", nil, dynamic.ErrCSVSyntax, 3, 2, "b", 0},
		{"text after a closing quote", "a,b\n\"x\"y,1\n", nil, dynamic.ErrCSVSyntax, 2, 1, "a", 3},
		{"no input at all", "", nil, dynamic.ErrCSVHeader, 1, 0, "", 0},
		{"a BOM and nothing else", "\ufeff", nil, dynamic.ErrCSVHeader, 1, 0, "", 0},
		{"a NUL byte in a header name", "a,b\x00c\n1,2\n", nil, dynamic.ErrCSVHeader, 1, 2, "", 0},
		{"names equal under Unicode case folding (K and the Kelvin sign)", "k,\u212a\n1,2\n", nil, dynamic.ErrCSVHeader, 1, 0, "", 0},
		{"the reserved row-order column", "x,_ROW_ID\n1,2\n", nil, dynamic.ErrCSVHeader, 1, 2, "", 0},
		{"an empty header name", "a,,c\n1,2,3\n", nil, dynamic.ErrCSVHeader, 1, 2, "", 0},

		// A cell that does not fit a forced type.
		{"text in a column forced to integer", "n\n1\n=1+1\n", []dynamic.FrameOption{dynamic.WithType("n", dynamic.Integer)}, dynamic.ErrCSVValue, 3, 1, "n", 0},
	}
	for _, c := range cases {
		t.Run(c.reason, func(t *testing.T) {
			f, err := dynamic.ReadCSV(strings.NewReader(c.in), c.opts...)
			if err == nil {
				t.Fatalf("ReadCSV accepted it (%d rows); want a %v error", f.Len(), c.kind)
			}
			if !errors.Is(err, c.kind) {
				t.Errorf("err = %v; want errors.Is(err, %v)", err, c.kind)
			}
			var ce *dynamic.CSVError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v (%T); want a *dynamic.CSVError", err, err)
			}
			got := [3]any{ce.Line, ce.Field, ce.Column}
			if want := [3]any{c.line, c.field, c.column}; got != want {
				t.Errorf("err = %v\nat line, field, column %v; want %v", err, got, want)
			}
			if c.char != 0 && ce.Char != c.char {
				t.Errorf("err = %v: character %d, want %d", err, ce.Char, c.char)
			}
			if !strings.HasPrefix(err.Error(), "dynamic: CSV line ") {
				t.Errorf("err = %v: want it to begin with the package and the line", err)
			}
			if len(err.Error()) > 2000 {
				t.Errorf("the message is %d bytes long: it quotes too much of the input", len(err.Error()))
			}
		})
	}
}

// TestReadCSVKeptAsText: hostile cells that are not errors are kept
// exactly as written, as text: formulas are not evaluated nor stripped,
// spaces are not trimmed, a BOM inside a cell stays.
func TestReadCSVKeptAsText(t *testing.T) {
	in := "\ufeffformula,padded,bom,signed\n" +
		"=1+1, 1,\ufeffx,-2\n" +
		"+cmd|' /C calc'!A0,2 ,y,+3\n" +
		"-2+3,\t3,z,-0\n" +
		"@SUM(A1:A2),,,\n" +
		"\"=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",x,,\n"
	f, err := dynamic.ReadCSV(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.Names(), []string{"formula", "padded", "bom", "signed"}; !cmp.Equal(got, want) {
		t.Errorf("names %q, want %q: the leading BOM is not part of the first name", got, want)
	}
	want := []dynamic.Column{
		{Name: "formula", Type: dynamic.Text, Values: []any{"=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)", `=HYPERLINK("http://x","y")`}},
		{Name: "padded", Type: dynamic.Text, Values: []any{" 1", "2 ", "\t3", nil, "x"}},
		{Name: "bom", Type: dynamic.Text, Values: []any{"\ufeffx", "y", "z", nil, nil}},
		// Signed numbers are numbers, as in any CSV reader: not formulas.
		{Name: "signed", Type: dynamic.Integer, Values: []any{int64(-2), int64(3), int64(0), nil, nil}},
	}
	if diff := cmp.Diff(want, f.Columns()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestReadCSVFieldLimit: a field of exactly the limit is read; the default
// limit stops an endless field after reading little more than the limit,
// so memory stays bounded whatever the input.
func TestReadCSVFieldLimit(t *testing.T) {
	f, err := dynamic.ReadCSV(strings.NewReader("a\n"+strings.Repeat("x", 64)+"\n"), dynamic.WithMaxFieldBytes(64))
	if err != nil || f.Len() != 1 {
		t.Fatalf("a field of exactly the limit: %v", err)
	}
	for _, bad := range []int{0, -1} {
		if _, err := dynamic.ReadCSV(strings.NewReader("a\n1\n"), dynamic.WithMaxFieldBytes(bad)); err == nil {
			t.Errorf("WithMaxFieldBytes(%d) accepted", bad)
		}
	}
	if _, err := dynamic.ReadCSV(strings.NewReader("a\n1\n"), dynamic.WithMaxFieldBytes(1), dynamic.WithMaxFieldBytes(2)); err == nil {
		t.Error("WithMaxFieldBytes given twice accepted")
	}

	// An endless field: "a\n" and then 'x' for ever (4 GiB at most).
	src := &endless{header: "a\n", limit: 4 << 30}
	_, err = dynamic.ReadCSV(src)
	if !errors.Is(err, dynamic.ErrCSVFieldTooLong) {
		t.Fatalf("err = %v; want ErrCSVFieldTooLong", err)
	}
	if src.read > 2*dynamic.DefaultMaxFieldBytes {
		t.Errorf("read %d bytes of an endless field before refusing it; the limit is %d", src.read, dynamic.DefaultMaxFieldBytes)
	}
	t.Logf("%v (after reading %d bytes)", err, src.read)
}

// endless is a header and then 'x' up to limit bytes, counting what is
// read.
type endless struct {
	header      string
	read, limit int64
}

func (e *endless) Read(p []byte) (int, error) {
	if e.read >= e.limit {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && e.read < e.limit {
		if e.read < int64(len(e.header)) {
			p[n] = e.header[e.read]
		} else {
			p[n] = 'x'
		}
		n++
		e.read++
	}
	return n, nil
}
