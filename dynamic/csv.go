package dynamic

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ReadCSV reads CSV (RFC 4180, comma-separated, with a header line) into a
// frame. A UTF-8 byte order mark is skipped. Header names must be
// non-empty, valid UTF-8, and distinct even ignoring case.
//
// Each column's type is inferred from its non-empty cells, unless
// [WithType] sets it:
//
//   - Integer: every cell a base-10 64-bit integer;
//   - Float: every cell a decimal number, integers and floats mixed, with
//     at least one finite (NaN and Inf alone do not make a number column);
//   - Boolean: every cell true or false, in any case;
//   - Timestamp: every cell RFC 3339 (2024-05-01T13:45:00Z, or with an
//     offset), YYYY-MM-DD, or YYYY-MM-DD HH:MM:SS with an optional
//     fraction and offset; without an offset the time is UTC;
//   - Text: anything else, including integers too large for 64 bits (no
//     digit is lost) and any other mix of types.
//
// Empty cells are NULL; a column of empty cells only is [Unknown]. Cells
// that look like spreadsheet formulas (=SUM(A1:A2)) are text, never
// evaluated.
//
// Errors name the line, and the column by its header name where there is
// one: a row with the wrong number of fields, invalid UTF-8, a malformed
// quote, a cell that does not fit a forced type.
func ReadCSV(r io.Reader, opts ...FrameOption) (*Frame, error) {
	cfg, err := frameConfig(opts)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReader(r)
	if bom, err := br.Peek(3); err == nil && string(bom) == "\ufeff" {
		br.Discard(3)
	}
	lines := &lineRecorder{r: br, recent: map[int]string{}, line: 1}
	cr := csv.NewReader(lines)
	cr.FieldsPerRecord = -1 // checked here, to say more
	header, err := cr.Read()
	if err == io.EOF {
		return nil, errors.New("dynamic: CSV: no header line")
	}
	if err != nil {
		return nil, csvError(err, nil, lines)
	}
	seen := map[string]int{}
	for i, h := range header {
		if err := checkName(h); err != nil {
			return nil, fmt.Errorf("dynamic: CSV line 1, column %d: %w", i+1, err)
		}
		key := foldKey(h)
		if j, dup := seen[key]; dup {
			return nil, fmt.Errorf("dynamic: CSV line 1: columns %d (%q) and %d (%q) have the same name, up to case", j+1, header[j], i+1, h)
		}
		seen[key] = i
	}
	if err := cfg.checkNames(header); err != nil {
		return nil, err
	}
	cells := make([][]string, len(header)) // by column
	var recLines []int
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvError(err, header, lines)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(header) {
			return nil, fmt.Errorf("dynamic: CSV line %d: %d fields, but the header has %d", line, len(rec), len(header))
		}
		for i, v := range rec {
			if !utf8.ValidString(v) {
				return nil, fmt.Errorf("dynamic: CSV line %d, column %q: invalid UTF-8", line, header[i])
			}
			cells[i] = append(cells[i], v)
		}
		recLines = append(recLines, line)
	}
	cols := make([]Column, len(header))
	for i, name := range header {
		t, forced := cfg.types[name]
		if !forced {
			t = inferCells(cells[i])
		}
		values := make([]any, len(recLines))
		for r, s := range cells[i] {
			if s == "" {
				continue
			}
			v, err := parseCell(s, t)
			if err != nil {
				return nil, fmt.Errorf("dynamic: CSV line %d, column %q: %w", recLines[r], name, err)
			}
			values[r] = v
		}
		cols[i] = Column{Name: name, Type: t, Values: values}
	}
	return NewFrame(cols...)
}

// csvError names the line of malformed CSV and, when the lines are still
// at hand, the column (by its header name) and the character.
func csvError(err error, header []string, lines *lineRecorder) error {
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		return fmt.Errorf("dynamic: CSV: %w", err)
	}
	where := fmt.Sprintf("line %d", pe.Line)
	if field, ok := lines.field(pe.StartLine, pe.Line, pe.Column); ok {
		if field < len(header) {
			where += fmt.Sprintf(", column %q", header[field])
		} else {
			where += fmt.Sprintf(", field %d", field+1)
		}
	}
	return fmt.Errorf("dynamic: CSV %s (character %d): %v", where, pe.Column, pe.Err)
}

// lineRecorder passes its reader's bytes on and keeps the most recent
// lines, so that a CSV error can be placed in its field.
type lineRecorder struct {
	r      io.Reader
	recent map[int]string // line number (1-based) to its text, without "\n"
	line   int            // the line being read
	cur    []byte
}

// keepLines bounds how many lines a lineRecorder keeps: a record that
// spans more lines is placed by line and character only.
const keepLines = 64

func (l *lineRecorder) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	for _, b := range p[:n] {
		if b != '\n' {
			l.cur = append(l.cur, b)
			continue
		}
		l.recent[l.line] = string(l.cur)
		delete(l.recent, l.line-keepLines)
		l.line++
		l.cur = l.cur[:0]
	}
	if err != nil {
		l.recent[l.line] = string(l.cur)
	}
	return n, err
}

// field returns the 0-based index of the field in which the byte at
// column (1-based) of line lies, reading the record from its first line,
// start, as encoding/csv does.
func (l *lineRecorder) field(start, line, column int) (int, bool) {
	field, quoted, fieldStart := 0, false, true
	for n := start; n <= line; n++ {
		text, ok := l.recent[n]
		if !ok {
			return 0, false
		}
		end := len(text)
		if n == line {
			end = min(column-1, len(text))
		}
		for i := 0; i < end; i++ {
			switch c := text[i]; {
			case quoted && c == '"' && i+1 < len(text) && text[i+1] == '"':
				i++
			case quoted && c == '"':
				quoted = false
			case quoted:
			case c == ',':
				field, fieldStart = field+1, true
				continue
			case c == '"' && fieldStart:
				quoted = true
			}
			fieldStart = false
		}
	}
	return field, true
}

// inferCells returns the narrowest type that every non-empty cell fits,
// or Unknown when every cell is empty.
func inferCells(cells []string) Type {
	canInt, canFloat, canBool, canTime := true, true, true, true
	some, finite := false, false
	for _, s := range cells {
		if s == "" {
			continue
		}
		some = true
		if canInt {
			if _, err := strconv.ParseInt(s, 10, 64); err != nil {
				canInt = false
			}
		}
		if canFloat {
			f, ok := parseNumber(s)
			canFloat = ok
			finite = finite || ok && !math.IsNaN(f) && !math.IsInf(f, 0)
		}
		if canBool {
			_, canBool = parseBool(s)
		}
		if canTime {
			_, canTime = parseTime(s)
		}
		if !canInt && !canFloat && !canBool && !canTime {
			return Text
		}
	}
	switch {
	case !some:
		return Unknown
	case canInt:
		return Integer
	case canFloat && finite:
		return Float
	case canBool:
		return Boolean
	case canTime:
		return Timestamp
	}
	return Text
}

// parseNumber accepts decimal numbers, NaN and infinities, but neither hex
// floats nor integers too large for int64 written without a fraction or an
// exponent: those are text, so that no digit is lost.
func parseNumber(s string) (float64, bool) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false
	}
	digits := strings.TrimLeft(s, "+-")
	if len(digits) > 1 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X') {
		return 0, false
	}
	if isDigits(digits) {
		if _, err := strconv.ParseInt(s, 10, 64); err != nil {
			return 0, false
		}
	}
	return f, true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// timeLayouts are the timestamp forms ReadCSV recognizes. Parsing accepts
// a fraction after the seconds even where a layout has none.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05Z07:00",
}

// parseTime reads s in one of timeLayouts, as UTC.
func parseTime(s string) (time.Time, bool) {
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return time.Time{}, false
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// parseCell reads a non-empty cell as type t.
func parseCell(s string, t Type) (any, error) {
	switch t {
	case Integer:
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a 64-bit integer", s)
		}
		return v, nil
	case Float:
		v, ok := parseNumber(s)
		if !ok {
			return nil, fmt.Errorf("%q is not a number", s)
		}
		return v, nil
	case Boolean:
		v, ok := parseBool(s)
		if !ok {
			return nil, fmt.Errorf("%q is not true or false", s)
		}
		return v, nil
	case Timestamp:
		v, ok := parseTime(s)
		if !ok {
			return nil, fmt.Errorf("%q is not a timestamp (RFC 3339, YYYY-MM-DD or YYYY-MM-DD HH:MM:SS)", s)
		}
		return v, nil
	}
	return s, nil
}
