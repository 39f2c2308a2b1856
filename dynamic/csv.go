package dynamic

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ReadCSV reads a CSV file with a header line into a frame. Each column's
// type is inferred from its cells: Integer when every non-empty cell is a
// 64-bit integer, Float when every one is a number (integers and floats
// mixed), Boolean for true/false (any case), Timestamp for RFC 3339 or
// YYYY-MM-DD[ HH:MM:SS[.fraction]] (UTC unless a zone is given), Text
// otherwise. An integer too large for 64 bits makes its column Text, so no
// digit is lost. Empty cells are NULL. [WithType] overrides the inference.
//
// Errors name the line and the column: a row with the wrong number of
// fields, invalid UTF-8, an empty or duplicate header name, or a cell that
// does not fit a forced type. A UTF-8 byte order mark is skipped. Cells
// that look like spreadsheet formulas (=SUM(...)) are kept as text, never
// evaluated.
func ReadCSV(r io.Reader, opts ...FrameOption) (*Frame, error) {
	cfg, err := frameConfig(opts)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("dynamic: reading CSV: %w", err)
	}
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	cr := csv.NewReader(bytes.NewReader(data))
	cr.ReuseRecord = false
	header, err := cr.Read()
	if err == io.EOF {
		return nil, errors.New("dynamic: CSV: no header line")
	}
	if err != nil {
		return nil, csvError(err)
	}
	seen := map[string]int{}
	for i, h := range header {
		if !utf8.ValidString(h) {
			return nil, fmt.Errorf("dynamic: CSV line 1, column %d: header is not valid UTF-8", i+1)
		}
		if err := checkName(h); err != nil {
			return nil, fmt.Errorf("dynamic: CSV line 1, column %d: %w", i+1, err)
		}
		if j, dup := seen[strings.ToLower(h)]; dup {
			return nil, fmt.Errorf("dynamic: CSV line 1: columns %d (%q) and %d (%q) have the same name, up to case", j+1, header[j], i+1, h)
		}
		seen[strings.ToLower(h)] = i
	}
	for name := range cfg.types {
		if _, ok := seen[strings.ToLower(name)]; !ok {
			return nil, fmt.Errorf("dynamic: WithType(%q): the CSV has no such column", name)
		}
	}
	var cells [][]string // by column
	cells = make([][]string, len(header))
	var lines []int
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvError(err)
		}
		line, _ := cr.FieldPos(0)
		for i, v := range rec {
			if !utf8.ValidString(v) {
				return nil, fmt.Errorf("dynamic: CSV line %d, column %q: invalid UTF-8", line, header[i])
			}
			cells[i] = append(cells[i], v)
		}
		lines = append(lines, line)
	}
	cols := make([]Column, len(header))
	for i, name := range header {
		t, forced := cfg.types[name]
		if !forced {
			t = inferCells(cells[i])
		}
		values := make([]any, len(cells[i]))
		for r, s := range cells[i] {
			if s == "" {
				continue
			}
			v, err := parseCell(s, t)
			if err != nil {
				return nil, fmt.Errorf("dynamic: CSV line %d, column %q: %w", lines[r], name, err)
			}
			values[r] = v
		}
		if t == Unknown {
			t = Text // an all-empty column
		}
		cols[i] = Column{Name: name, Type: t, Values: values}
	}
	return NewFrame(cols...)
}

func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			return fmt.Errorf("dynamic: CSV line %d: wrong number of fields (every row needs one per header column)", pe.Line)
		}
		return fmt.Errorf("dynamic: CSV line %d, column %d: %v", pe.Line, pe.Column, pe.Err)
	}
	return fmt.Errorf("dynamic: CSV: %w", err)
}

// inferCells returns the narrowest type that every non-empty cell fits.
func inferCells(cells []string) Type {
	canInt, canFloat, canBool, canTime, any := true, true, true, true, false
	for _, s := range cells {
		if s == "" {
			continue
		}
		any = true
		if canInt {
			if _, err := strconv.ParseInt(s, 10, 64); err != nil {
				canInt = false
			}
		}
		if canFloat {
			if !isNumber(s) {
				canFloat = false
			}
		}
		if canBool {
			if _, ok := parseBool(s); !ok {
				canBool = false
			}
		}
		if canTime {
			if _, ok := parseTime(s); !ok {
				canTime = false
			}
		}
		if !canInt && !canFloat && !canBool && !canTime {
			return Text
		}
	}
	switch {
	case !any:
		return Unknown
	case canInt:
		return Integer
	case canFloat:
		return Float
	case canBool:
		return Boolean
	case canTime:
		return Timestamp
	}
	return Text
}

// isNumber accepts decimal numbers, NaN and infinities, but not integers
// too large for int64 written without a fraction or exponent: those stay
// text so that no digit is lost.
func isNumber(s string) bool {
	if _, err := strconv.ParseFloat(s, 64); err != nil {
		return false
	}
	if _, err := strconv.ParseInt(s, 10, 64); err != nil && isDigits(strings.TrimLeft(s, "+-")) {
		return false // an integer that overflows int64
	}
	return true
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

var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02",
	"2006-01-02 15:04:05",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05.999999999Z07:00",
}

func parseTime(s string) (time.Time, bool) {
	if len(s) < 10 || s[4] != '-' {
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
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
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
			return nil, fmt.Errorf("%q is not a timestamp (RFC 3339 or YYYY-MM-DD[ HH:MM:SS])", s)
		}
		return v, nil
	}
	return s, nil
}
