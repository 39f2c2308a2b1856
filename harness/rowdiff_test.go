package harness_test

import (
	"strings"
	"testing"

	"github.com/easyautoml/dbharness/dbtest"
)

// TestExpectRowsDiff: a failed expect_rows shows every row that differs as
// a -want and a +got line, aligned in columns, with the equal rows around
// them for context and longer runs of equal rows counted.
func TestExpectRowsDiff(t *testing.T) {
	const setup = `
name: rows
fixtures: [base]
steps:
  - create_machine: {as: m, owner: users.alice, name: m, table: machine_diff}
  - append:
      machine: m
      table:
        columns: [n, label, score]
        rows: [[1, a, 0.5], [2, b, 1.5], [3, c, 2.5], [4, d, 3.5], [5, e, 4.5], [6, f, 5.5], [7, g, 6.5]]
`
	for _, c := range []struct{ reason, step, want string }{
		{"one value differs, far from the start",
			"  - expect_rows: {machine: m, columns: [n, label, score], all: true, rows: [[1, a, 0.5], [2, b, 1.5], [3, c, 2.5], [4, d, 3.5], [5, E, 4.5], [6, f, 5.5], [7, g, 6.5]]}\n",
			`machine_diff row 5, column label: got "e", want "E"; the rows (-want +got):
   row  n  label  score
   … 3 rows equal
   4    4  "d"    3.5
-  5    5  "E"    4.5
+  5    5  "e"    4.5
   6    6  "f"    5.5
   7    7  "g"    6.5`},
		{"a row missing and a row too many",
			"  - expect_rows: {machine: m, offset: 5, columns: [n, label], all: false, rows: [[6, f], [7, g], [8, h]]}\n",
			`machine_diff has 7 rows; want rows 6 to 8; the rows (-want +got):
   row  n  label
   6    6  "f"
   7    7  "g"
-  8    8  "h"`},
		{"fewer rows expected than the table has",
			"  - expect_rows: {machine: m, columns: [label], all: true, rows: [[a], [b], [c], [d], [e], [f]]}\n",
			`machine_diff has 7 rows, want exactly the 6 given; the rows (-want +got):
   row  label
   … 5 rows equal
   6    "f"
+  7    "g"`},
	} {
		t.Run(c.reason, func(t *testing.T) {
			res := run(t, dbtest.Open(t, dbtest.SQLite), setup+c.step)
			if res.Passed || len(res.Steps) != 3 {
				t.Fatalf("passed %v, %d steps: %s", res.Passed, len(res.Steps), failure(res))
			}
			got := strings.TrimRight(res.Steps[2].Error, "\n")
			if got != c.want {
				t.Errorf("error:\n%s\nwant:\n%s", got, c.want)
			}
		})
	}
}
