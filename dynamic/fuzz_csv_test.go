package dynamic_test

import (
	"encoding/csv"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/easyautoml/dbharness/dynamic"
)

// fuzzFieldLimit is the field limit FuzzReadCSV tries besides the default.
const fuzzFieldLimit = 8

// checkReadCSV holds FuzzReadCSV's checks of one input beyond the round
// trip: errors are *CSVErrors naming a line; a small field limit changes
// nothing but to refuse long fields; the inferred types agree with an
// independent reading of the cells; and the frame survives FromRows.
func checkReadCSV(t *testing.T, in string, fr *dynamic.Frame, err error) {
	t.Helper()
	limited, lerr := dynamic.ReadCSV(strings.NewReader(in), dynamic.WithMaxFieldBytes(fuzzFieldLimit))
	if err != nil {
		var ce *dynamic.CSVError
		if !errors.As(err, &ce) || ce.Line < 1 || ce.Err == nil || !errors.Is(err, ce.Err) {
			t.Fatalf("error %v (%T) is not a *CSVError of a kind naming a line", err, err)
		}
		if lerr == nil {
			t.Fatalf("refused (%v), yet accepted with a field limit", err)
		}
		if !errors.Is(lerr, dynamic.ErrCSVFieldTooLong) && lerr.Error() != err.Error() {
			t.Fatalf("a field limit changed the error:\n%v\n%v", err, lerr)
		}
		return
	}
	records := independentRecords(t, in)
	if lerr != nil {
		if !errors.Is(lerr, dynamic.ErrCSVFieldTooLong) {
			t.Fatalf("a field limit gave another error: %v", lerr)
		}
		if longest(records) <= fuzzFieldLimit {
			t.Fatalf("no field is over %d bytes, yet: %v", fuzzFieldLimit, lerr)
		}
	} else if diff := cmp.Diff(fr.Columns(), limited.Columns(), cmpopts.EquateNaNs()); diff != "" {
		t.Fatalf("a field limit changed the frame (-without +with):\n%s", diff)
	}

	if len(records)-1 != fr.Len() || len(records[0]) != len(fr.Names()) {
		t.Fatalf("%d records of %d fields read independently; the frame has %d rows of %d columns",
			len(records), len(records[0]), fr.Len(), len(fr.Names()))
	}
	for i, col := range fr.Columns() {
		cells := make([]string, fr.Len())
		for r := range cells {
			cells[r] = records[r+1][i]
		}
		checkInferred(t, col, cells)
	}

	again, err := dynamic.FromRows(fr.Names(), fr.Rows())
	if err != nil {
		t.Fatalf("FromRows of the frame's own rows: %v", err)
	}
	if diff := cmp.Diff(fr.Columns(), again.Columns(), cmpopts.EquateNaNs()); diff != "" {
		t.Fatalf("FromRows of the frame's own rows (-ReadCSV +FromRows):\n%s", diff)
	}
}

// independentRecords reads in with encoding/csv alone, after one leading
// byte order mark, as ReadCSV documents.
func independentRecords(t *testing.T, in string) [][]string {
	t.Helper()
	cr := csv.NewReader(strings.NewReader(strings.TrimPrefix(in, "\ufeff")))
	cr.FieldsPerRecord = -1
	records, err := cr.ReadAll()
	if err != nil || len(records) == 0 {
		t.Fatalf("ReadCSV accepted what encoding/csv refuses: %v", err)
	}
	return records
}

// longest returns the most bytes a field of records takes to read: its
// length, with each newline counted twice, as it may have been "\r\n".
func longest(records [][]string) int {
	n := 0
	for _, rec := range records {
		for _, f := range rec {
			n = max(n, len(f)+strings.Count(f, "\n"))
		}
	}
	return n
}

// checkInferred checks one column against its cells as written: every
// non-empty cell reads as the column's type, by strconv and time rather
// than by dynamic, to the value the column holds; empty cells are NULL;
// and no narrower type would have fit every cell.
func checkInferred(t *testing.T, col dynamic.Column, cells []string) {
	t.Helper()
	allInt, allBool, some := true, true, false
	for r, s := range cells {
		v := col.Values[r]
		if s == "" {
			if v != nil {
				t.Fatalf("column %q row %d: empty cell read as %#v", col.Name, r+1, v)
			}
			continue
		}
		some = true
		if _, err := strconv.ParseInt(s, 10, 64); err != nil {
			allInt = false
		}
		if !strings.EqualFold(s, "true") && !strings.EqualFold(s, "false") {
			allBool = false
		}
		ok := false
		switch col.Type {
		case dynamic.Integer:
			n, err := strconv.ParseInt(s, 10, 64)
			ok = err == nil && v == n
		case dynamic.Float:
			f, err := strconv.ParseFloat(s, 64)
			x, isFloat := v.(float64)
			ok = err == nil && isFloat && (x == f || math.IsNaN(x) && math.IsNaN(f)) &&
				!strings.ContainsAny(s, "xX")
		case dynamic.Boolean:
			ok = v == strings.EqualFold(s, "true") && (strings.EqualFold(s, "true") || strings.EqualFold(s, "false"))
		case dynamic.Timestamp:
			ts, isTime := v.(time.Time)
			ok = isTime && ts.Location() == time.UTC && parsesAs(s, ts)
		case dynamic.Text:
			ok = v == s // exactly as written
		}
		if !ok {
			t.Fatalf("column %q (%s) row %d: cell %q read as %#v", col.Name, col.Type, r+1, s, v)
		}
	}
	switch {
	case !some && col.Type != dynamic.Unknown:
		t.Fatalf("column %q has no value but is %s", col.Name, col.Type)
	case some && allInt && col.Type != dynamic.Integer:
		t.Fatalf("column %q: every cell is an int64, yet it is %s", col.Name, col.Type)
	case some && allBool && col.Type != dynamic.Boolean:
		t.Fatalf("column %q: every cell is true or false, yet it is %s", col.Name, col.Type)
	}
	if col.Type == dynamic.Float {
		finite := false
		for _, v := range col.Values {
			if x, ok := v.(float64); ok && !math.IsNaN(x) && !math.IsInf(x, 0) {
				finite = true
			}
		}
		if !finite {
			t.Fatalf("column %q is float without a finite value", col.Name)
		}
	}
}

// parsesAs reports whether s, in one of the forms ReadCSV documents, is
// the instant ts.
func parsesAs(s string, ts time.Time) bool {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02", "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04:05Z07:00"} {
		if p, err := time.Parse(layout, s); err == nil && p.Equal(ts) {
			return true
		}
	}
	return false
}
