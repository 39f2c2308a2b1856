package dynamic_test

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/easyautoml/dbharness/dynamic"
)

func TestReadCSVInference(t *testing.T) {
	in := "\ufeffid,score,ok,when,name,mixed,empty,big,nan_only,hex\n" +
		"1,2.5,true,2024-01-02,alice,1,,9223372036854775808,NaN,0x1p-2\n" +
		"2,3,FALSE,2024-01-02 03:04:05.25,=SUM(A1:A2),x,,1,Inf,0x10\n" +
		"3,,True,2024-01-02T03:04:05+02:00,,2.5,,2,,1\n"
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
		"name": dynamic.Text, "mixed": dynamic.Text, "empty": dynamic.Unknown, "big": dynamic.Text,
		"nan_only": dynamic.Text, "hex": dynamic.Text,
	}
	if diff := cmp.Diff(want, types); diff != "" {
		t.Errorf("types (-want +got):\n%s", diff)
	}
	wantRows := [][]any{
		{int64(1), 2.5, true, time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC), "alice", "1", nil, "9223372036854775808", "NaN", "0x1p-2"},
		{int64(2), 3.0, false, time.Date(2024, 1, 2, 3, 4, 5, 250e6, time.UTC), "=SUM(A1:A2)", "x", nil, "1", "Inf", "0x10"},
		{int64(3), nil, true, time.Date(2024, 1, 2, 1, 4, 5, 0, time.UTC), nil, "2.5", nil, "2", nil, "1"},
	}
	if diff := cmp.Diff(wantRows, f.Rows()); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

func TestReadCSVNonFinite(t *testing.T) {
	f, err := dynamic.ReadCSV(strings.NewReader("x\n1.5\nNaN\n-Inf\n+Inf\n"))
	if err != nil {
		t.Fatal(err)
	}
	c := f.Columns()[0]
	if c.Type != dynamic.Float {
		t.Fatalf("type %s, want float", c.Type)
	}
	if v := c.Values[1].(float64); !math.IsNaN(v) {
		t.Errorf("NaN read as %v", v)
	}
	if v := c.Values[2].(float64); !math.IsInf(v, -1) {
		t.Errorf("-Inf read as %v", v)
	}
}

func TestReadCSVOverride(t *testing.T) {
	f, err := dynamic.ReadCSV(strings.NewReader("zip,n\n01234,1\n98765,\n"),
		dynamic.WithType("zip", dynamic.Text), dynamic.WithType("n", dynamic.Float))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]any{{"01234", 1.0}, {"98765", nil}}, f.Rows()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestReadCSVErrors(t *testing.T) {
	cases := []struct {
		reason, in, want string
		opts             []dynamic.FrameOption
	}{
		{"a row with too few fields names its line", "a,b\n1,2\n3\n", "line 3: 1 fields, but the header has 2", nil},
		{"a row with too many fields", "a,b\n1,2,3\n", "line 2: 3 fields, but the header has 2", nil},
		{"duplicate header names, up to case", "a,A\n1,2\n", `columns 1 ("a") and 2 ("A") have the same name`, nil},
		{"exact duplicate header names", "x,y,x\n1,2,3\n", `columns 1 ("x") and 3 ("x")`, nil},
		{"empty header name", "a,\n1,2\n", "line 1, field 2: empty identifier", nil},
		{"header that is not UTF-8", "a\xff\n1\n", "line 1, field 1: identifier \"a\\xff\" is not valid UTF-8", nil},
		{"reserved header name", "_row_id\n1\n", "reserved", nil},
		{"a cell that is not UTF-8 names line and column", "a,b\n1,\xff\n", `line 2, column "b" (character 3): invalid UTF-8`, nil},
		{"a cell that does not fit a forced type", "a\n1\nx\n", `line 3, column "a": "x" is not a 64-bit integer`,
			[]dynamic.FrameOption{dynamic.WithType("a", dynamic.Integer)}},
		{"line numbers count the lines of quoted fields", "a,b\n\"multi\nline\",1\n2,x\n", `line 4, column "b": "x" is not a number`,
			[]dynamic.FrameOption{dynamic.WithType("b", dynamic.Float)}},
		{"a forced timestamp", "t\n2024-13-01\n", `line 2, column "t": "2024-13-01" is not a timestamp`,
			[]dynamic.FrameOption{dynamic.WithType("t", dynamic.Timestamp)}},
		{"WithType of a missing column", "a\n1\n", `WithType("b"): no such column`,
			[]dynamic.FrameOption{dynamic.WithType("b", dynamic.Integer)}},
		{"no header", "", "no header line", nil},
		{"a bare quote names line, column and character", "a,b\n1,x\"y\n", `line 2, column "b" (character 4): bare " in non-quoted-field`, nil},
		{"a quote that ends too soon", "a,b,c\n1,\"x\"y,2\n", `line 2, column "b" (character 5)`, nil},
		{"a quote error after a quoted comma and a multi-line field", "a,b,c\n\"1,\n2\",\"q\"\"\",x\"y\n", `line 3, column "c"`, nil},
		{"a field beyond the header", "a\n1,2,x\"y\n", `line 2, field 3`, nil},
		{"an error in the header names the field", "a,b\"c\n", `line 1, field 2 (character 4)`, nil},
	}
	for _, c := range cases {
		t.Run(c.reason, func(t *testing.T) {
			_, err := dynamic.ReadCSV(strings.NewReader(c.in), c.opts...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to contain %q", err, c.want)
			}
			if !strings.HasPrefix(err.Error(), "dynamic: ") {
				t.Errorf("err = %v, want the dynamic: prefix", err)
			}
		})
	}
}

// writeCSV writes a frame as CSV, every field quoted, each value as
// ReadCSV reads it back.
func writeCSV(f *dynamic.Frame) []byte {
	var b bytes.Buffer
	field := func(i int, s string) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + strings.ReplaceAll(s, `"`, `""`) + `"`)
	}
	for i, n := range f.Names() {
		field(i, n)
	}
	b.WriteByte('\n')
	for r := 0; r < f.Len(); r++ {
		for i, v := range f.Row(r) {
			s := ""
			switch x := v.(type) {
			case nil:
			case time.Time:
				s = x.Format(time.RFC3339Nano)
			case float64:
				s = strconv.FormatFloat(x, 'g', -1, 64)
			default:
				s = fmt.Sprint(x)
			}
			field(i, s)
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// FuzzReadCSV: whatever ReadCSV accepts is a valid frame, and writing it
// back as CSV and reading that with the same types gives the same frame;
// checkReadCSV checks the inferred types and the errors.
func FuzzReadCSV(f *testing.F) {
	f.Fuzz(func(t *testing.T, in string) {
		fr, err := dynamic.ReadCSV(strings.NewReader(in))
		checkReadCSV(t, in, fr, err)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "dynamic: ") {
				t.Fatalf("error without the dynamic: prefix: %v", err)
			}
			return
		}
		cols := fr.Columns()
		if _, err := dynamic.NewFrame(cols...); err != nil {
			t.Fatalf("ReadCSV returned an invalid frame: %v", err)
		}
		var opts []dynamic.FrameOption
		for _, c := range cols {
			if c.Type != dynamic.Unknown {
				opts = append(opts, dynamic.WithType(c.Name, c.Type))
			}
		}
		again, err := dynamic.ReadCSV(bytes.NewReader(writeCSV(fr)), opts...)
		if err != nil {
			t.Fatalf("reading back %q: %v", writeCSV(fr), err)
		}
		if diff := cmp.Diff(cols, again.Columns(), cmpopts.EquateNaNs()); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}
