package dynamic

import (
	"errors"
	"fmt"
	"strings"
)

// The kinds of CSV errors. Every error [ReadCSV] gives about its input is
// a [*CSVError] that wraps one of them, so that
// errors.Is(err, dynamic.ErrCSVFieldCount) holds for a ragged row.
var (
	// ErrCSVSyntax: a quote out of place (RFC 4180).
	ErrCSVSyntax = errors.New("dynamic: malformed CSV")
	// ErrCSVHeader: no header line, or a header name that cannot be a
	// column: empty, reserved, given twice (up to case), or holding a
	// byte order mark.
	ErrCSVHeader = errors.New("dynamic: bad CSV header")
	// ErrCSVFieldCount: a row with more or fewer fields than the header.
	ErrCSVFieldCount = errors.New("dynamic: CSV row of the wrong length")
	// ErrCSVEncoding: the input is not UTF-8 (invalid bytes, or a UTF-16
	// byte order mark).
	ErrCSVEncoding = errors.New("dynamic: CSV is not UTF-8")
	// ErrCSVFieldTooLong: a field is longer than the limit (see
	// [WithMaxFieldBytes]).
	ErrCSVFieldTooLong = errors.New("dynamic: CSV field too long")
	// ErrCSVValue: a cell does not fit the type [WithType] gives its
	// column.
	ErrCSVValue = errors.New("dynamic: CSV value does not fit its column")
)

// CSVError is an error in CSV input. It names the line, and the field by
// its header name (Column) or, where there is none, by its position
// (Field); Char is the byte of the line where a malformed quote was found.
//
//	dynamic: CSV line 3, column "score": "high" is not a number
type CSVError struct {
	Line   int    // 1-based line of the input
	Field  int    // 1-based field of the record; 0 when the error is about the whole record
	Column string // the header name of Field, when the header has one
	Char   int    // 1-based byte of Line, for quoting errors; 0 otherwise
	Msg    string // what is wrong
	Err    error  // one of the ErrCSV* kinds
}

// Error says what is wrong and where: the line, the field and its column
// name, and the character for quoting errors.
func (e *CSVError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "dynamic: CSV line %d", e.Line)
	switch {
	case e.Column != "":
		fmt.Fprintf(&b, ", column %q", e.Column)
	case e.Field > 0:
		fmt.Fprintf(&b, ", field %d", e.Field)
	}
	if e.Char > 0 {
		fmt.Fprintf(&b, " (character %d)", e.Char)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the kind of the error.
func (e *CSVError) Unwrap() error { return e.Err }

// csvErr makes a *CSVError; field is 0-based, -1 for none, and named by
// header when header has it.
func csvErr(kind error, line, field int, header []string, format string, args ...any) *CSVError {
	e := &CSVError{Line: line, Msg: fmt.Sprintf(format, args...), Err: kind}
	if field >= 0 {
		e.Field = field + 1
		if field < len(header) {
			e.Column = header[field]
		}
	}
	return e
}
