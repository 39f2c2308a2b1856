package harness

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/easyautoml/dbharness/dynamic"
	"github.com/easyautoml/dbharness/fixtures"
	"github.com/easyautoml/dbharness/registry"
)

// The expect_* steps and sql: checks of what the database holds.

// table returns the data table (or predictions table) of a machine step.
func (r *run) table(s *Step) (string, error) {
	if s.has("table") {
		return s.str("table"), nil
	}
	mid, err := r.machine(s.str("machine"))
	if err != nil {
		return "", err
	}
	table := r.tableNames[mid]
	if m, err := r.repo.GetMachine(r.ctx, mid); err == nil {
		table = m.DataTableName
	} else if table == "" {
		return "", err
	}
	var pred bool
	s.decode("predictions", &pred)
	if pred {
		return table + registry.PredictionsSuffix, nil
	}
	return table, nil
}

func (r *run) expectCount(s *Step) error {
	t, err := r.table(s)
	if err != nil {
		return err
	}
	var want int64
	s.decode("rows", &want)
	q, err := r.conn(s)
	if err != nil {
		return err
	}
	got, err := dynamic.Count(r.ctx, q, r.db.Dialect(), t)
	if err != nil {
		return err
	}
	if got != want {
		return &mismatch{fmt.Sprintf("%s has %s, want %d", t, plural(int(got), "row"), want)}
	}
	r.detail = fmt.Sprintf("%s: %s", t, plural(int(got), "row"))
	return nil
}

func (r *run) expectTable(s *Step) error {
	mid, err := r.machine(s.str("machine"))
	if err != nil {
		return err
	}
	var table string
	if m, err := r.repo.GetMachine(r.ctx, mid); err == nil {
		table = m.DataTableName
	} else if created, ok := r.tableNames[mid]; ok {
		table = created
	} else {
		return err
	}
	var want bool
	s.decode("exists", &want)
	_, err = dynamic.Count(r.ctx, r.q, r.db.Dialect(), table)
	exists := err == nil
	if err != nil && !errors.Is(err, dynamic.ErrNoTable) {
		return err
	}
	if exists != want {
		return &mismatch{fmt.Sprintf("table %s exists: %v, want %v", table, exists, want)}
	}
	r.detail = fmt.Sprintf("table %s exists: %v", table, exists)
	return nil
}

func (r *run) expectMetric(s *Step) error {
	m, ok := r.models[s.str("model")]
	if !ok {
		return fmt.Errorf("no model %q", s.str("model"))
	}
	v := m.R2
	if s.str("metric") == "rmse" {
		v = m.RMSE
	}
	r.detail = fmt.Sprintf("%s = %.4f", s.str("metric"), v)
	if s.has("min") {
		var min float64
		s.decode("min", &min)
		if !(v >= min) {
			return &mismatch{fmt.Sprintf("%s = %.4f, want at least %v", s.str("metric"), v, min)}
		}
	}
	if s.has("max") {
		var max float64
		s.decode("max", &max)
		if !(v <= max) {
			return &mismatch{fmt.Sprintf("%s = %.4f, want at most %v", s.str("metric"), v, max)}
		}
	}
	return nil
}

func (r *run) expectLog(s *Step) error {
	var f registry.LogFilter
	var err error
	if s.has("user") {
		if f.UserID, err = r.user(s.str("user")); err != nil {
			return err
		}
	}
	if s.has("machine") {
		if f.MachineID, err = r.machine(s.str("machine")); err != nil {
			return err
		}
	}
	if s.has("work") {
		m, ok := r.models[s.str("work")]
		if !ok {
			return fmt.Errorf("no model %q", s.str("work"))
		}
		f.WorkID = m.WorkID
	}
	entries, err := r.repo.ListLogs(r.ctx, f)
	if err != nil {
		return err
	}
	var found []registry.LogEntry
	for _, e := range entries {
		if strings.Contains(e.Message, s.str("contains")) && (!s.has("level") || string(e.Level) == s.str("level")) {
			found = append(found, e)
		}
	}
	what := fmt.Sprintf("log entries containing %q", s.str("contains"))
	if s.has("level") {
		what = fmt.Sprintf("%s log entries containing %q", s.str("level"), s.str("contains"))
	}
	if s.has("count") {
		var want int
		s.decode("count", &want)
		if len(found) != want {
			return &mismatch{fmt.Sprintf("%d %s, want %d%s", len(found), what, want, logTail(entries))}
		}
	} else if len(found) == 0 {
		return &mismatch{fmt.Sprintf("no %s among %d%s", what, len(entries), logTail(entries))}
	}
	r.detail = fmt.Sprintf("%d %s", len(found), what)
	if len(found) > 0 {
		r.detail += ", the last: " + found[len(found)-1].Message
	}
	return nil
}

// logTail lists the last entries of a log, for a failed expectation.
func logTail(entries []registry.LogEntry) string {
	if len(entries) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("; the log ends with:")
	for _, e := range entries[max(0, len(entries)-5):] {
		fmt.Fprintf(&b, "\n  [%s] %s", e.Level, e.Message)
	}
	return b.String()
}

func (r *run) sql(s *Step) error {
	q, err := r.conn(s)
	if err != nil {
		return err
	}
	if !s.has("rows") {
		res, err := q.ExecContext(r.ctx, s.str("query"))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err == nil {
			r.detail = fmt.Sprintf("%s affected", plural(int(n), "row"))
		}
		return nil
	}
	got, err := fixtures.Query(r.ctx, q, s.str("query"))
	if err != nil {
		return err
	}
	var want [][]any
	s.decode("rows", &want)
	for _, row := range want {
		for i, v := range row {
			switch x := v.(type) {
			case int:
				row[i] = int64(x)
			case uint64:
				row[i] = int64(x)
			}
		}
	}
	var tol float64
	s.decode("tolerance", &tol)
	opts := []cmp.Option{cmpopts.EquateEmpty(), cmp.Comparer(func(a, b float64) bool {
		return a == b || math.Abs(a-b) <= tol*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
	})}
	if diff := cmp.Diff(want, numeric(got.Values, want), opts...); diff != "" {
		return &mismatch{"rows differ (-want +got):\n" + diff}
	}
	r.detail = fmt.Sprintf("%s as expected", plural(len(want), "row"))
	return nil
}

// numeric turns integer-valued floats, and numbers that drivers return as
// text (DECIMAL sums), into the forms YAML gives expectations, where the
// expectation is a number: a sum is 2002 on every driver.
func numeric(rows, want [][]any) [][]any {
	for r, row := range rows {
		for i, v := range row {
			if s, ok := v.(string); ok && r < len(want) && i < len(want[r]) {
				switch want[r][i].(type) {
				case int64, float64:
					if f, err := strconv.ParseFloat(s, 64); err == nil {
						v = f
					}
				}
			}
			if f, ok := v.(float64); ok && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
				if _, wantFloat := cell(want, r, i).(float64); !wantFloat {
					v = int64(f)
				}
			}
			row[i] = v
		}
	}
	return rows
}

func cell(rows [][]any, r, i int) any {
	if r < len(rows) && i < len(rows[r]) {
		return rows[r][i]
	}
	return nil
}

// mismatch is a failed expectation, as opposed to an error of the system
// under test.
type mismatch struct{ msg string }

func (m *mismatch) Error() string { return m.msg }

// expectRows compares rows of a table, read in insertion order, with the
// expected ones: from row offset on, in the columns named; with all, the
// table must hold exactly those rows.
func (r *run) expectRows(s *Step) error {
	t, err := r.table(s)
	if err != nil {
		return err
	}
	q, err := r.conn(s)
	if err != nil {
		return err
	}
	f, err := dynamic.Read(r.ctx, q, r.db.Dialect(), t)
	if err != nil {
		return err
	}
	var columns []string
	var want [][]any
	var offset int
	var all bool
	var tol float64
	s.decode("columns", &columns)
	s.decode("rows", &want)
	s.decode("offset", &offset)
	s.decode("all", &all)
	s.decode("tolerance", &tol)
	cols := make([]dynamic.Column, len(columns))
	for j, name := range columns {
		c, ok := f.Column(name)
		if !ok {
			return &mismatch{fmt.Sprintf("%s has no column %q (it has %s)", t, name, strings.Join(f.Names(), ", "))}
		}
		cols[j] = c
	}
	for i, row := range want {
		if len(row) != len(columns) {
			return fmt.Errorf("expected row %d has %d values for %d columns", i+1, len(row), len(columns))
		}
	}
	if offset < 0 || offset > f.Len() {
		return &mismatch{fmt.Sprintf("%s has %s; want rows %d to %d", t, plural(f.Len(), "row"), offset+1, offset+len(want))}
	}
	// The rows read: those compared with want, or with all, every row.
	end := min(offset+len(want), f.Len())
	if all {
		end = f.Len()
	}
	got := make([][]any, end-offset)
	for i := range got {
		got[i] = make([]any, len(cols))
		for j, c := range cols {
			got[i][j] = c.Values[offset+i]
		}
	}
	same := func(w, g any) bool { return sameValue(w, g, tol) }
	var head string
	switch {
	case all && (offset != 0 || len(want) != f.Len()):
		head = fmt.Sprintf("%s has %s, want exactly the %d given", t, plural(f.Len(), "row"), len(want))
	case offset+len(want) > f.Len():
		head = fmt.Sprintf("%s has %s; want rows %d to %d", t, plural(f.Len(), "row"), offset+1, offset+len(want))
	default:
	cells:
		for i, row := range want {
			for j, w := range row {
				if g := got[i][j]; !same(w, g) {
					head = fmt.Sprintf("%s row %d, column %s: got %s, want %s", t, offset+i+1, columns[j], show(g), show(w))
					break cells
				}
			}
		}
	}
	if head != "" {
		return &mismatch{head + "; the rows (-want +got):\n" + rowDiff(columns, want, got, offset+1, same)}
	}
	r.detail = fmt.Sprintf("%s: %s as expected", t, plural(len(want), "row"))
	return nil
}

// sameValue compares an expected value from YAML with a value read back:
// numbers as numbers (floats within the relative tolerance tol), times
// with text in the forms the CSV reader accepts, everything else exactly.
func sameValue(want, got any, tol float64) bool {
	if want == nil || got == nil {
		return want == nil && got == nil
	}
	if w, ok := toFloat(want); ok {
		g, ok := toFloat(got)
		return ok && (w == g || math.Abs(w-g) <= tol*math.Max(1, math.Max(math.Abs(w), math.Abs(g))))
	}
	if g, ok := got.(time.Time); ok {
		switch w := want.(type) {
		case time.Time:
			return w.Equal(g)
		case string:
			for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02"} {
				if t, err := time.ParseInLocation(layout, w, time.UTC); err == nil {
					return t.Equal(g)
				}
			}
		}
		return false
	}
	return want == got
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// show prints a value for a failed expectation.
func show(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case string:
		return strconv.Quote(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return fmt.Sprint(v)
}
