package dynamic

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Type is the type of a column.
type Type int

// The column types, from the narrowest to the widest for inference.
const (
	Unknown   Type = iota // a column with no value yet: every cell empty
	Integer               // int64
	Float                 // float64
	Boolean               // bool
	Timestamp             // time.Time, stored in UTC
	Text                  // string
)

func (t Type) String() string {
	switch t {
	case Integer:
		return "integer"
	case Float:
		return "float"
	case Boolean:
		return "boolean"
	case Timestamp:
		return "timestamp"
	case Text:
		return "text"
	}
	return "unknown"
}

// ParseType turns "integer", "float", "boolean", "timestamp" or "text" (or
// the usual aliases: int, double, bool, datetime, string) into a Type.
func ParseType(s string) (Type, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "integer", "int", "int64", "bigint":
		return Integer, nil
	case "float", "double", "float64", "real":
		return Float, nil
	case "boolean", "bool":
		return Boolean, nil
	case "timestamp", "datetime", "time":
		return Timestamp, nil
	case "text", "string", "str":
		return Text, nil
	}
	return Unknown, fmt.Errorf("dynamic: unknown type %q (want integer, float, boolean, timestamp or text)", s)
}

// Column is a named, typed column. Values holds one value per row: nil for
// NULL, or an int64, float64, bool, time.Time or string according to Type.
type Column struct {
	Name   string
	Type   Type
	Values []any
}

// Frame is a table of named, typed columns of equal length: what Append
// writes and Read returns.
type Frame struct {
	cols []Column
	rows int
}

// NewFrame returns a frame of the given columns. Every column must hold
// values of its type (or nil), and all columns the same number of rows.
func NewFrame(cols ...Column) (*Frame, error) {
	f := &Frame{cols: cols}
	if len(cols) > 0 {
		f.rows = len(cols[0].Values)
	}
	seen := map[string]string{}
	for i, c := range cols {
		if err := checkName(c.Name); err != nil {
			return nil, fmt.Errorf("dynamic: column %d: %w", i+1, err)
		}
		if prev, ok := seen[strings.ToLower(c.Name)]; ok {
			return nil, fmt.Errorf("dynamic: columns %q and %q collide: names must differ in more than case", prev, c.Name)
		}
		seen[strings.ToLower(c.Name)] = c.Name
		if len(c.Values) != f.rows {
			return nil, fmt.Errorf("dynamic: column %q has %d values, column %q has %d", c.Name, len(c.Values), cols[0].Name, f.rows)
		}
		for r, v := range c.Values {
			if v != nil && typeOf(v) != c.Type {
				return nil, fmt.Errorf("dynamic: column %q (%s), row %d: a %T", c.Name, c.Type, r+1, v)
			}
		}
	}
	return f, nil
}

// checkName rejects names no database can hold the same way: empty, NUL
// bytes, invalid UTF-8.
func checkName(name string) error {
	switch {
	case name == "":
		return errors.New("empty name")
	case strings.IndexByte(name, 0) >= 0:
		return fmt.Errorf("name %q holds a NUL byte", name)
	case !utf8.ValidString(name):
		return fmt.Errorf("name %q is not valid UTF-8", name)
	case strings.EqualFold(name, rowIDColumn):
		return fmt.Errorf("name %q is reserved for the row order", name)
	}
	return nil
}

func typeOf(v any) Type {
	switch v.(type) {
	case int64:
		return Integer
	case float64:
		return Float
	case bool:
		return Boolean
	case time.Time:
		return Timestamp
	case string:
		return Text
	}
	return Unknown
}

// FromRows builds a frame from rows of Go values, inferring each column's
// type from its values: int, int8..int64, uint8..uint32 become Integer;
// float32, float64 Float; bool Boolean; time.Time Timestamp; string Text;
// nil NULL. A column mixing integers and floats is Float; any other mix is
// Text. Use [WithType] to force a column's type.
func FromRows(columns []string, rows [][]any, opts ...FrameOption) (*Frame, error) {
	cfg, err := frameConfig(opts)
	if err != nil {
		return nil, err
	}
	cols := make([]Column, len(columns))
	for i, name := range columns {
		cols[i] = Column{Name: name, Values: make([]any, len(rows))}
	}
	for r, row := range rows {
		if len(row) != len(columns) {
			return nil, fmt.Errorf("dynamic: row %d has %d values, want %d", r+1, len(row), len(columns))
		}
		for c, v := range row {
			nv, err := normalize(v)
			if err != nil {
				return nil, fmt.Errorf("dynamic: row %d, column %q: %w", r+1, columns[c], err)
			}
			cols[c].Values[r] = nv
		}
	}
	for i := range cols {
		if err := settle(&cols[i], cfg.types[cols[i].Name]); err != nil {
			return nil, err
		}
	}
	return NewFrame(cols...)
}

// FromRecords builds a frame from records (one map per row). Columns are
// the union of the records' keys, in sorted order; a key a record lacks is
// NULL there. Types are inferred as in [FromRows].
func FromRecords(records []map[string]any, opts ...FrameOption) (*Frame, error) {
	keys := map[string]bool{}
	for _, r := range records {
		for k := range r {
			keys[k] = true
		}
	}
	columns := make([]string, 0, len(keys))
	for k := range keys {
		columns = append(columns, k)
	}
	sort.Strings(columns)
	rows := make([][]any, len(records))
	for i, r := range records {
		row := make([]any, len(columns))
		for c, k := range columns {
			row[c] = r[k]
		}
		rows[i] = row
	}
	return FromRows(columns, rows, opts...)
}

// normalize maps a Go value to one of the frame's value types.
func normalize(v any) (any, error) {
	switch x := v.(type) {
	case nil, int64, float64, bool, string:
		return x, nil
	case time.Time:
		return x.UTC(), nil
	case int:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case uint8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case uint64:
		if x > math.MaxInt64 {
			return nil, fmt.Errorf("%d does not fit in a 64-bit signed integer", x)
		}
		return int64(x), nil
	case float32:
		return float64(x), nil
	case []byte:
		return string(x), nil
	case *time.Time:
		if x == nil {
			return nil, nil
		}
		return x.UTC(), nil
	}
	return nil, fmt.Errorf("unsupported value of type %T", v)
}

// settle sets a column's type from its values (or to force), converting
// the values: integers become floats in a Float column, and everything
// becomes text in a Text column.
func settle(c *Column, force Type) error {
	t := force
	if t == Unknown {
		t = Unknown
		for _, v := range c.Values {
			if v != nil {
				t = widen(t, typeOf(v))
			}
		}
	}
	c.Type = t
	for r, v := range c.Values {
		if v == nil {
			continue
		}
		nv, err := convert(v, t)
		if err != nil {
			return fmt.Errorf("dynamic: column %q, row %d: %w", c.Name, r+1, err)
		}
		c.Values[r] = nv
	}
	return nil
}

// widen returns the type of a column holding values of types a and b.
func widen(a, b Type) Type {
	switch {
	case a == Unknown:
		return b
	case a == b:
		return a
	case a == Integer && b == Float, a == Float && b == Integer:
		return Float
	}
	return Text
}

// convert turns v into a value of type t.
func convert(v any, t Type) (any, error) {
	if typeOf(v) == t {
		return v, nil
	}
	switch t {
	case Float:
		if i, ok := v.(int64); ok {
			return float64(i), nil
		}
	case Text:
		return formatValue(v), nil
	case Integer:
		if f, ok := v.(float64); ok && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int64(f), nil
		}
	}
	return nil, fmt.Errorf("a %s value (%v) cannot be a %s", typeOf(v), v, t)
}

// formatValue writes a value as text, the way ReadCSV would read it back.
func formatValue(v any) string {
	switch x := v.(type) {
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case string:
		return x
	}
	return fmt.Sprint(v)
}

// Len returns the number of rows.
func (f *Frame) Len() int { return f.rows }

// Columns returns the frame's columns. The slice and the columns' values
// belong to the frame: do not modify them.
func (f *Frame) Columns() []Column { return f.cols }

// Names returns the column names in order.
func (f *Frame) Names() []string {
	names := make([]string, len(f.cols))
	for i, c := range f.cols {
		names[i] = c.Name
	}
	return names
}

// Column returns the column named name, if any.
func (f *Frame) Column(name string) (Column, bool) {
	for _, c := range f.cols {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}

// Row returns the values of row i (0-based), in column order.
func (f *Frame) Row(i int) []any {
	row := make([]any, len(f.cols))
	for c := range f.cols {
		row[c] = f.cols[c].Values[i]
	}
	return row
}

// Slice returns rows [from, to) as a new frame sharing no values' storage
// with f beyond the values themselves.
func (f *Frame) Slice(from, to int) *Frame {
	cols := make([]Column, len(f.cols))
	for i, c := range f.cols {
		cols[i] = Column{Name: c.Name, Type: c.Type, Values: append([]any(nil), c.Values[from:to]...)}
	}
	return &Frame{cols: cols, rows: to - from}
}

// FrameOption configures how a frame is built.
type FrameOption func(*frameOpts) error

type frameOpts struct {
	types map[string]Type
}

func frameConfig(opts []FrameOption) (*frameOpts, error) {
	c := &frameOpts{types: map[string]Type{}}
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("dynamic: nil FrameOption")
		}
		if err := o(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// WithType forces the type of column name instead of inferring it. A value
// that cannot be that type is an error naming the row and the column.
func WithType(name string, t Type) FrameOption {
	return func(c *frameOpts) error {
		if t < Integer || t > Text {
			return fmt.Errorf("dynamic: WithType(%q): invalid type %d", name, t)
		}
		if _, dup := c.types[name]; dup {
			return fmt.Errorf("dynamic: WithType(%q) given twice", name)
		}
		c.types[name] = t
		return nil
	}
}
