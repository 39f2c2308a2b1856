package harness_test

import (
	"context"
	"fmt"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/harness"
)

// A scenario run on the embedded SQLite, outside of a test: RunOn takes a
// database from dbtest, runs the steps in its transaction and rolls it back.
func Example() {
	sc, err := harness.Parse("uploads.yaml", []byte(`
name: alice_uploads
fixtures: [base]
steps:
  - create_machine: {as: m, owner: users.alice, name: uploads, table: machine_uploads}
  - append:
      machine: m
      table: {columns: [x, y], rows: [[1, 0.5], [2, 1.5], [3, 2.5]]}
  - expect_count: {machine: m, rows: 3}
  - expect_rows: {machine: m, offset: 2, columns: [x, y], rows: [[3, 2.5]]}
  - read_machine: {machine: m, as_user: users.carol, expect_error: not_found}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	res := harness.RunOn(context.Background(), dbtest.SQLite, sc, nil)
	for _, s := range res.Steps {
		fmt.Println(s.Index, s.Kind, s.Passed)
	}
	fmt.Println("passed:", res.Passed)
	// Output:
	// 1 create_machine true
	// 2 append true
	// 3 expect_count true
	// 4 expect_rows true
	// 5 read_machine true
	// passed: true
}

// Errors in a scenario file name the file, the line and column, and the
// step.
func ExampleParse() {
	_, err := harness.Parse("typo.yaml", []byte(`
name: typo
steps:
  - create_user: {as: ada, username: ada}
  - create_machine: {as: m, owner: ada, name: m, tabel: machine_m}
`))
	fmt.Println(err)
	// Output:
	// harness: typo.yaml:5:50: step 2 (create_machine): unknown field "tabel" (did you mean table?) (want as, owner, team, name, table, description, mode, conn)
}
