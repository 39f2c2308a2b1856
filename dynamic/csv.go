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
// frame. Header names must be non-empty, valid UTF-8, and distinct even
// ignoring case.
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
// Empty cells are NULL; a column of empty cells only is [Unknown]. Text is
// kept exactly as written: no space is trimmed, and cells that look like
// spreadsheet formulas (=SUM(A1:A2), +cmd, @SUM(A1)) are text, never
// evaluated nor altered.
//
// # Hostile input
//
// One UTF-8 byte order mark at the very start is skipped. A byte order
// mark left in a header name (a second one, or one in the middle of a
// line, as when files are joined) is an error rather than an invisible
// part of a column's name; in a cell it is text. Input that starts with a
// UTF-16 byte order mark, or holds invalid UTF-8, is an error naming the
// line and column. A field longer than [DefaultMaxFieldBytes] (see
// [WithMaxFieldBytes]) is an error as soon as the limit is passed, so
// that memory stays bounded whatever the input.
//
// Every error about the input is a [*CSVError] naming the line, and the
// column by its header name where there is one, and wrapping one of the
// ErrCSV* kinds: a row with the wrong number of fields, invalid UTF-8, a
// malformed quote, a field too long, a cell that does not fit a forced
// type.
func ReadCSV(r io.Reader, opts ...FrameOption) (*Frame, error) {
	cfg, err := frameConfig(opts)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReader(r)
	if bom, err := br.Peek(3); err == nil && string(bom) == "\ufeff" {
		br.Discard(3)
	} else if bom, err := br.Peek(2); err == nil && (string(bom) == "\xff\xfe" || string(bom) == "\xfe\xff") {
		return nil, csvErr(ErrCSVEncoding, 1, -1, nil, "the input starts with a UTF-16 byte order mark: ReadCSV reads UTF-8")
	}
	lines := &lineRecorder{r: br, recent: map[int]string{}, line: 1, maxField: cfg.maxFieldBytes}
	cr := csv.NewReader(lines)
	cr.FieldsPerRecord = -1 // checked here, to say more
	header, err := cr.Read()
	if err == io.EOF {
		return nil, csvErr(ErrCSVHeader, 1, -1, nil, "no header line")
	}
	if err != nil {
		return nil, csvError(err, nil, lines)
	}
	seen := map[string]int{}
	for i, h := range header {
		if err := checkName(h); err != nil {
			kind := ErrCSVHeader
			if !utf8.ValidString(h) {
				kind = ErrCSVEncoding
			}
			return nil, csvErr(kind, 1, i, nil, "%v", err)
		}
		if strings.ContainsRune(h, '\ufeff') {
			return nil, csvErr(ErrCSVHeader, 1, i, nil, "name %q holds a byte order mark (U+FEFF), which would be an invisible part of the column's name", h)
		}
		key := foldKey(h)
		if j, dup := seen[key]; dup {
			return nil, csvErr(ErrCSVHeader, 1, -1, nil, "columns %d (%q) and %d (%q) have the same name, up to case", j+1, header[j], i+1, h)
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
			return nil, csvErr(ErrCSVFieldCount, line, -1, nil, "%d fields, but the header has %d", len(rec), len(header))
		}
		for i, v := range rec {
			if !utf8.ValidString(v) {
				fl, fc := cr.FieldPos(i)
				e := csvErr(ErrCSVEncoding, fl, i, header, "invalid UTF-8")
				e.Line, e.Char = lines.place(fl, fc, v, invalidUTF8At(v))
				return nil, e
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
				return nil, csvErr(ErrCSVValue, recLines[r], i, header, "%v", err)
			}
			values[r] = v
		}
		cols[i] = Column{Name: name, Type: t, Values: values}
	}
	return NewFrame(cols...)
}

// place returns the line and character (1-based) of byte off of field
// value v, which begins at character col of line.
func (l *lineRecorder) place(line, col int, v string, off int) (int, int) {
	if text, ok := l.recent[line]; ok && col-1 < len(text) && text[col-1] == '"' {
		col++ // the opening quote
	}
	if nl := strings.LastIndexByte(v[:off], '\n'); nl >= 0 {
		return line + strings.Count(v[:off], "\n"), off - nl
	}
	return line, col + off
}

// invalidUTF8At returns the 0-based byte offset of the first invalid
// UTF-8 sequence in s.
func invalidUTF8At(s string) int {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size <= 1 {
				return i
			}
		}
	}
	return 0
}

// csvError turns an error of encoding/csv, or of the lineRecorder under
// it, into a *CSVError naming the line and, when the lines are still at
// hand, the column (by its header name) and the character.
func csvError(err error, header []string, lines *lineRecorder) error {
	var ce *CSVError
	if errors.As(err, &ce) {
		if ce.Field > 0 && ce.Field <= len(header) {
			ce.Column = header[ce.Field-1]
		}
		return ce
	}
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		return fmt.Errorf("dynamic: CSV: %w", err)
	}
	e := &CSVError{Line: pe.Line, Char: pe.Column, Msg: pe.Err.Error(), Err: ErrCSVSyntax}
	if field, ok := lines.field(pe.StartLine, pe.Line, pe.Column); ok {
		e.Field = field + 1
		if field < len(header) {
			e.Column = header[field]
		}
	}
	return e
}

// lineRecorder passes its reader's bytes on and keeps the most recent
// lines, so that a CSV error can be placed in its field. It follows the
// fields as encoding/csv will read them, and fails as soon as one grows
// past maxField bytes: encoding/csv would hold the whole of it in memory.
type lineRecorder struct {
	r      io.Reader
	recent map[int]string // line number (1-based) to its text, without "\n"
	line   int            // the line being read
	cur    []byte

	maxField int       // the longest field allowed, in bytes
	state    scanState // where the scan is in the current field
	fieldAt  int       // 0-based field of the current record
	fieldLen int       // bytes of the current field so far
	err      error     // a field too long, once found
}

// scanState is the state of lineRecorder's scan of the fields.
type scanState int

const (
	atFieldStart scanState = iota
	inBareField
	inQuotes
	afterQuote // a quote inside quotes: the end of the field, or the first of two
)

// keepLines bounds how many lines a lineRecorder keeps: a record that
// spans more lines is placed by line and character only.
const keepLines = 64

func (l *lineRecorder) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.r.Read(p)
	for i, b := range p[:n] {
		if l.scan(b) {
			l.err = csvErr(ErrCSVFieldTooLong, l.line, l.fieldAt, nil,
				"a field longer than %d bytes (WithMaxFieldBytes sets the limit)", l.maxField)
			l.recent[l.line] = string(l.cur)
			return i, l.err
		}
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

// scan moves the field scan past byte b, as encoding/csv reads fields
// (comma separator, no comments, quotes as RFC 4180), and reports whether
// the current field has grown past the limit.
func (l *lineRecorder) scan(b byte) bool {
	next := func() { l.fieldAt, l.fieldLen, l.state = l.fieldAt+1, 0, atFieldStart }
	end := func() { l.fieldAt, l.fieldLen, l.state = 0, 0, atFieldStart }
	switch l.state {
	case atFieldStart, inBareField, afterQuote:
		switch {
		case b == ',':
			next()
			return false
		case b == '\n':
			end()
			return false
		case b == '"' && l.state == atFieldStart:
			l.state = inQuotes
			return false
		case b == '"' && l.state == afterQuote:
			l.state = inQuotes // a doubled quote: one quote of text
		case b == '\r':
			return false // of "\r\n", or dropped by encoding/csv
		default:
			l.state = inBareField
		}
	case inQuotes:
		if b == '"' {
			l.state = afterQuote
			return false
		}
	}
	l.fieldLen++
	return l.maxField > 0 && l.fieldLen > l.maxField
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
