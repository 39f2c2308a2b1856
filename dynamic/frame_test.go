package dynamic_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/easyautoml/dbharness/dynamic"
)

func TestFromRowsInference(t *testing.T) {
	ts := time.Date(2024, 5, 1, 13, 45, 0, 0, time.FixedZone("CEST", 2*3600))
	cases := []struct {
		reason   string
		values   []any
		wantType dynamic.Type
		want     []any
	}{
		{"Go integer kinds are Integer", []any{1, int8(-2), int16(3), int32(4), int64(5), uint(6), uint8(7), uint16(8), uint32(9), uint64(10)},
			dynamic.Integer, []any{int64(1), int64(-2), int64(3), int64(4), int64(5), int64(6), int64(7), int64(8), int64(9), int64(10)}},
		{"float32 widens to float64", []any{float32(0.5), 1.25}, dynamic.Float, []any{0.5, 1.25}},
		{"integers and floats mix to Float", []any{1, 2.5, nil}, dynamic.Float, []any{1.0, 2.5, nil}},
		{"booleans", []any{true, false, nil}, dynamic.Boolean, []any{true, false, nil}},
		{"times go to UTC", []any{ts, &ts, (*time.Time)(nil)}, dynamic.Timestamp, []any{ts.UTC(), ts.UTC(), nil}},
		{"[]byte is text", []any{[]byte("a"), "b"}, dynamic.Text, []any{"a", "b"}},
		{"any other mix is text, written as ReadCSV reads it", []any{1, true, 2.5, ts}, dynamic.Text,
			[]any{"1", "true", "2.5", "2024-05-01T11:45:00Z"}},
		{"only NULLs: no type yet", []any{nil, nil}, dynamic.Unknown, []any{nil, nil}},
	}
	for _, c := range cases {
		t.Run(c.reason, func(t *testing.T) {
			rows := make([][]any, len(c.values))
			for i, v := range c.values {
				rows[i] = []any{v}
			}
			f, err := dynamic.FromRows([]string{"x"}, rows)
			if err != nil {
				t.Fatal(err)
			}
			col := f.Columns()[0]
			if col.Type != c.wantType {
				t.Errorf("type %s, want %s", col.Type, c.wantType)
			}
			if diff := cmp.Diff(c.want, col.Values); diff != "" {
				t.Errorf("values (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFromRowsWithType(t *testing.T) {
	f, err := dynamic.FromRows([]string{"zip", "n", "when", "flag"},
		[][]any{{1234, 2.0, "2024-01-02", "TRUE"}, {98765, -3.0, "2024-01-02 03:04:05", nil}},
		dynamic.WithType("zip", dynamic.Text), dynamic.WithType("n", dynamic.Integer),
		dynamic.WithType("when", dynamic.Timestamp), dynamic.WithType("flag", dynamic.Boolean))
	if err != nil {
		t.Fatal(err)
	}
	want := [][]any{
		{"1234", int64(2), time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC), true},
		{"98765", int64(-3), time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), nil},
	}
	if diff := cmp.Diff(want, f.Rows()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestFrameErrors(t *testing.T) {
	cases := []struct {
		reason string
		build  func() error
		want   string
	}{
		{"names differing only in case collide", func() error {
			_, err := dynamic.FromRows([]string{"Age", "AGE"}, nil)
			return err
		}, `columns "Age" and "AGE" collide`},
		{"case folding is Unicode's, not ASCII's", func() error {
			_, err := dynamic.FromRows([]string{"Ärger", "äRGER"}, nil)
			return err
		}, "collide"},
		{"empty name", func() error {
			_, err := dynamic.FromRows([]string{"a", ""}, nil)
			return err
		}, "column 2: empty identifier"},
		{"NUL byte", func() error {
			_, err := dynamic.FromRows([]string{"a\x00b"}, nil)
			return err
		}, "NUL byte"},
		{"invalid UTF-8", func() error {
			_, err := dynamic.FromRows([]string{"a\xffb"}, nil)
			return err
		}, "not valid UTF-8"},
		{"the row-order column is reserved", func() error {
			_, err := dynamic.FromRows([]string{"_ROW_ID"}, nil)
			return err
		}, "reserved"},
		{"ragged row", func() error {
			_, err := dynamic.FromRows([]string{"a", "b"}, [][]any{{1, 2}, {3}})
			return err
		}, "row 2 has 1 values, want 2"},
		{"unsupported Go type", func() error {
			_, err := dynamic.FromRows([]string{"a"}, [][]any{{1}, {struct{}{}}})
			return err
		}, `row 2, column "a": unsupported value of type struct {}`},
		{"uint64 beyond int64", func() error {
			_, err := dynamic.FromRows([]string{"a"}, [][]any{{uint64(math.MaxUint64)}})
			return err
		}, "does not fit in a 64-bit signed integer"},
		{"an integer a float64 cannot hold, mixed with floats", func() error {
			_, err := dynamic.FromRows([]string{"a"}, [][]any{{0.5}, {int64(1)<<53 + 1}})
			return err
		}, `column "a", row 2: integer 9007199254740993 cannot be a float exactly`},
		{"forced type that a value cannot be", func() error {
			_, err := dynamic.FromRows([]string{"a"}, [][]any{{1.5}}, dynamic.WithType("a", dynamic.Integer))
			return err
		}, `column "a", row 1: a float value (1.5) cannot be integer`},
		{"forced type of a missing column", func() error {
			_, err := dynamic.FromRows([]string{"a"}, nil, dynamic.WithType("b", dynamic.Integer))
			return err
		}, `WithType("b"): no such column`},
		{"forced type given twice", func() error {
			_, err := dynamic.FromRows([]string{"a"}, nil, dynamic.WithType("a", dynamic.Integer), dynamic.WithType("a", dynamic.Text))
			return err
		}, "given twice"},
		{"forced to Unknown", func() error {
			_, err := dynamic.FromRows([]string{"a"}, nil, dynamic.WithType("a", dynamic.Unknown))
			return err
		}, "want Integer, Float, Boolean, Timestamp or Text"},
		{"zero FrameOption", func() error {
			_, err := dynamic.FromRows([]string{"a"}, nil, dynamic.FrameOption{})
			return err
		}, "zero FrameOption"},
		{"NewFrame: value of the wrong type", func() error {
			_, err := dynamic.NewFrame(dynamic.Column{Name: "a", Type: dynamic.Integer, Values: []any{int64(1), "2"}})
			return err
		}, `column "a" (integer), row 2: a string value`},
		{"NewFrame: int instead of int64", func() error {
			_, err := dynamic.NewFrame(dynamic.Column{Name: "a", Type: dynamic.Integer, Values: []any{1}})
			return err
		}, "a int value"},
		{"NewFrame: columns of different lengths", func() error {
			_, err := dynamic.NewFrame(dynamic.Column{Name: "a", Type: dynamic.Text, Values: []any{"x"}},
				dynamic.Column{Name: "b", Type: dynamic.Text, Values: []any{}})
			return err
		}, `column "b" has 0 values, column "a" has 1`},
		{"NewFrame: invalid type", func() error {
			_, err := dynamic.NewFrame(dynamic.Column{Name: "a", Type: dynamic.Type(42)})
			return err
		}, "invalid type Type(42)"},
	}
	for _, c := range cases {
		t.Run(c.reason, func(t *testing.T) {
			err := c.build()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to contain %q", err, c.want)
			}
			if !strings.HasPrefix(err.Error(), "dynamic: ") {
				t.Errorf("err = %v, want the dynamic: prefix", err)
			}
		})
	}
}

func TestFromRecords(t *testing.T) {
	f, err := dynamic.FromRecords([]map[string]any{
		{"b": "x", "a": 1},
		{"a": 2, "c": true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "b", "c"}, f.Names()); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	want := [][]any{{int64(1), "x", nil}, {int64(2), nil, true}}
	if diff := cmp.Diff(want, f.Rows()); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

func TestSlice(t *testing.T) {
	f, err := dynamic.FromRows([]string{"a"}, [][]any{{1}, {2}, {3}})
	if err != nil {
		t.Fatal(err)
	}
	s := f.Slice(1, 3)
	if diff := cmp.Diff([][]any{{int64(2)}, {int64(3)}}, s.Rows()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	defer func() {
		if recover() == nil {
			t.Error("Slice(2, 4) of 3 rows did not panic")
		}
	}()
	f.Slice(2, 4)
}

func TestParseType(t *testing.T) {
	for in, want := range map[string]dynamic.Type{
		"integer": dynamic.Integer, " INT ": dynamic.Integer, "double": dynamic.Float, "bool": dynamic.Boolean,
		"datetime": dynamic.Timestamp, "String": dynamic.Text,
	} {
		got, err := dynamic.ParseType(in)
		if err != nil || got != want {
			t.Errorf("ParseType(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := dynamic.ParseType("decimal"); err == nil || !strings.Contains(err.Error(), `unknown type "decimal"`) {
		t.Errorf("ParseType(decimal): err = %v", err)
	}
}
