package dynamic

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Type is the type of a column.
type Type int

// The column types.
const (
	// Unknown is the type of a column whose every value is NULL: nothing
	// says what it holds. It fits a table column of any type, and a new
	// table column for it is Text.
	Unknown   Type = iota
	Integer        // int64
	Float          // float64
	Boolean        // bool
	Timestamp      // time.Time, in UTC
	Text           // string
)

// String returns the type's name, as ParseType reads it.
func (t Type) String() string {
	switch t {
	case Unknown:
		return "unknown"
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
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// ParseType turns "integer", "float", "boolean", "timestamp" or "text" (or
// the aliases int, int64, bigint, double, float64, real, bool, datetime,
// time, string, str), in any case, into a Type.
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
// NULL, else an int64, float64, bool, time.Time or string as Type says.
type Column struct {
	Name   string
	Type   Type
	Values []any
}

// Frame is a table of named, typed columns of equal length: what [Append]
// writes and [Read] returns. Build one with [NewFrame], [FromRows],
// [FromRecords] or [ReadCSV]. A Frame is not modified by dynamic once
// built, and may be read from several goroutines.
type Frame struct {
	cols []Column
	rows int
}

// NewFrame returns a frame of the given columns, checked: names non-empty,
// valid UTF-8, without NUL bytes, distinct even ignoring case, and not
// "_row_id" (Append's own column); every value nil or of its column's Go
// type (int64, float64, bool, time.Time or string); all columns of one
// length. The frame keeps the columns' Values slices.
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
		key := foldKey(c.Name)
		if prev, ok := seen[key]; ok {
			return nil, fmt.Errorf("dynamic: columns %q and %q collide: names must differ in more than case", prev, c.Name)
		}
		seen[key] = c.Name
		if c.Type < Unknown || c.Type > Text {
			return nil, fmt.Errorf("dynamic: column %q: invalid type %v", c.Name, c.Type)
		}
		if len(c.Values) != f.rows {
			return nil, fmt.Errorf("dynamic: column %q has %d values, column %q has %d", c.Name, len(c.Values), cols[0].Name, f.rows)
		}
		for r, v := range c.Values {
			if v != nil && typeOf(v) != c.Type {
				return nil, fmt.Errorf("dynamic: column %q (%s), row %d: a %T value", c.Name, c.Type, r+1, v)
			}
		}
	}
	return f, nil
}

// checkName rejects column names that no database holds the same way, and
// the name of Append's row-order column.
func checkName(name string) error {
	if err := checkCommon(name); err != nil {
		return err
	}
	if foldKey(name) == foldKey(rowIDColumn) {
		return fmt.Errorf("name %q is reserved for the row order of the tables Append creates", name)
	}
	return nil
}

// typeOf returns the frame type of a normalized value.
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

// FromRows builds a frame from rows of Go values, one value per column in
// each row. Accepted values: nil (NULL); int, int8 to int64, uint, uint8
// to uint64 (up to the largest int64) as Integer; float32, float64 as
// Float; bool as Boolean; time.Time and *time.Time as Timestamp (in UTC);
// string and []byte as Text.
//
// Each column's type is that of its values. A column mixing integers and
// floats is Float (an integer that a float64 cannot hold exactly is then
// an error); any other mix is Text, each value written as ReadCSV would
// read it back. [WithType] forces a column's type: integral floats become
// integers, and text is parsed as ReadCSV parses cells.
func FromRows(columns []string, rows [][]any, opts ...FrameOption) (*Frame, error) {
	cfg, err := frameConfig(opts)
	if err != nil {
		return nil, err
	}
	if err := cfg.checkNames(columns); err != nil {
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

// FromRecords builds a frame from records, one map per row. The columns
// are the union of the records' keys, in sorted order; a key that a record
// lacks is NULL there. Values and types are as in [FromRows].
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
	case *time.Time:
		if x == nil {
			return nil, nil
		}
		return x.UTC(), nil
	case int:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case uint:
		if uint64(x) > math.MaxInt64 {
			return nil, fmt.Errorf("%d does not fit in a 64-bit signed integer", x)
		}
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
	}
	return nil, fmt.Errorf("unsupported value of type %T", v)
}

// settle sets a column's type from its values, or to force, and converts
// the values to it.
func settle(c *Column, force Type) error {
	t := force
	if t == Unknown {
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

// maxExactFloatInt is 2^53: integers up to it in magnitude are exact as
// float64.
const maxExactFloatInt = 1 << 53

// convert turns the normalized value v into a value of type t, or says why
// it cannot be one.
func convert(v any, t Type) (any, error) {
	if typeOf(v) == t {
		return v, nil
	}
	switch t {
	case Float:
		if i, ok := v.(int64); ok {
			if i > maxExactFloatInt || i < -maxExactFloatInt {
				return nil, fmt.Errorf("integer %d cannot be a float exactly", i)
			}
			return float64(i), nil
		}
	case Integer:
		if f, ok := v.(float64); ok && f == math.Trunc(f) && math.Abs(f) <= maxExactFloatInt {
			return int64(f), nil
		}
	case Text:
		return formatValue(v), nil
	}
	if s, ok := v.(string); ok && t != Unknown {
		return parseCell(s, t)
	}
	return nil, fmt.Errorf("a %s value (%v) cannot be %s", typeOf(v), v, t)
}

// formatValue writes a value as text, the way ReadCSV reads it back.
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

// Columns returns the frame's columns. The slice and the values belong to
// the frame: do not modify them.
func (f *Frame) Columns() []Column { return f.cols }

// Names returns the column names in order.
func (f *Frame) Names() []string {
	names := make([]string, len(f.cols))
	for i, c := range f.cols {
		names[i] = c.Name
	}
	return names
}

// Column returns the column named name (exactly), if any.
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

// Rows returns every row, as [Frame.Row] does: handy for comparisons.
func (f *Frame) Rows() [][]any {
	rows := make([][]any, f.rows)
	for i := range rows {
		rows[i] = f.Row(i)
	}
	return rows
}

// Slice returns rows [from, to) as a new frame with the same columns, for
// appending a large frame in chunks. It panics if the bounds are out of
// range, as slicing does.
func (f *Frame) Slice(from, to int) *Frame {
	if from < 0 || to < from || to > f.rows {
		panic(fmt.Sprintf("dynamic: Frame.Slice(%d, %d) of %d rows", from, to, f.rows))
	}
	cols := make([]Column, len(f.cols))
	for i, c := range f.cols {
		cols[i] = Column{Name: c.Name, Type: c.Type, Values: append([]any(nil), c.Values[from:to]...)}
	}
	return &Frame{cols: cols, rows: to - from}
}
