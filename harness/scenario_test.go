package harness_test

import (
	"strings"
	"testing"

	"github.com/easyautoml/dbharness/harness"
)

// TestMalformed: every malformed scenario gets its precise error, naming the
// file, the line and the step.
func TestMalformed(t *testing.T) {
	cases := []struct {
		name, yaml, want string
	}{
		{"no name", "steps:\n  - sql: {query: SELECT 1}\n", "bad.yaml:1:1: missing name"},
		{"no steps", "name: x\n", "bad.yaml:1:1: steps: want a non-empty list of steps"},
		{"unknown key", "name: x\nstepz: []\n", `bad.yaml:2:1: unknown key "stepz"`},
		{"unknown step", "name: x\nsteps:\n  - sql: {query: SELECT 1}\n  - apend: {machine: m}\n", `bad.yaml:4:5: step 2 (apend): unknown step "apend" (want one of append, bill,`},
		{"missing field", "name: x\nsteps:\n  - create_user: {as: u}\n", `bad.yaml:3:5: step 1 (create_user): missing field "username"`},
		{"unknown field", "name: x\nsteps:\n  - create_user: {as: u, username: u, colour: red}\n", `bad.yaml:3:39: step 1 (create_user): unknown field "colour" (want as, username, email, staff)`},
		{"wrong type", "name: x\nsteps:\n  - expect_count: {table: t, rows: many}\n", `bad.yaml:3:36: step 1 (expect_count): field "rows": want an integer`},
		{"wrong list", "name: x\nsteps:\n  - create_team: {as: t, name: t, members: alice}\n", `bad.yaml:3:44: step 1 (create_team): field "members": want a list of strings`},
		{"not created", "name: x\nsteps:\n  - append: {machine: m1, dataset: salaries}\n", `bad.yaml:3:23: step 1 (append): field "machine": machine "m1" was not created by an earlier step`},
		{"created later", "name: x\nsteps:\n  - read_machine: {machine: m, as_user: u}\n  - create_user: {as: u, username: u}\n", `step 1 (read_machine): field "machine": machine "m" was not created`},
		{"two sources", "name: x\nsteps:\n  - create_user: {as: u, username: u}\n  - create_machine: {as: m, owner: u, name: m, table: t}\n  - append: {machine: m, dataset: salaries, csv: a.csv}\n", `bad.yaml:5:5: step 3 (append): want exactly one of csv, dataset, table (got 2)`},
		{"bad mode", "name: x\nsteps:\n  - create_user: {as: u, username: u}\n  - create_machine: {as: m, owner: u, name: m, table: t}\n  - append: {machine: m, dataset: salaries, mode: sideways}\n", `field "mode": "sideways" is not one of test, shared, separate`},
		{"bad expect_error", "name: x\nsteps:\n  - sql: {query: SELECT 1, expect_error: oops}\n", `step 1 (sql): expect_error: want one of any, duplicate,`},
		{"bad backend", "name: x\nsteps:\n  - sql: {query: SELECT 1, backends: [oracle]}\n", `step 1 (sql): backends: dbtest: unknown backend "oracle"`},
		{"step not a mapping", "name: x\nsteps:\n  - just text\n", "bad.yaml:3:5: step 1 (?): want a mapping with one key"},
		{"bad range", "name: x\nsteps:\n  - create_user: {as: u, username: u}\n  - create_machine: {as: m, owner: u, name: m, table: t}\n  - append: {machine: m, dataset: salaries, rows: [5, 1]}\n", `field "rows": want a range [from, to]`},
		{"alias", "name: x\nsteps:\n  - sql: &q {query: SELECT 1}\n  - sql: *q\n", "anchors and aliases are not allowed"},
		{"field twice", "name: x\nsteps:\n  - sql: {query: SELECT 1, query: SELECT 2}\n", `bad.yaml:3:28: step 1 (sql): field "query" given twice`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := harness.Parse("bad.yaml", []byte(c.yaml))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v\nwant it to contain %q", err, c.want)
			}
		})
	}
}

func TestValidScenarioParses(t *testing.T) {
	sc, err := harness.Parse("ok.yaml", []byte(`
name: ok
fixtures: [base]
steps:
  - create_user: {as: u, username: u}
  - create_machine: {as: m, owner: u, team: teams.research, name: m, table: t1}
  - append: {machine: m, table: {columns: [a], rows: [[1]]}, backends: [sqlite, mysql]}
  - read_machine: {machine: m, as_user: users.carol, expect_error: not_found}
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Steps) != 4 || sc.Steps[2].Backends[1] != "mysql" || sc.Steps[3].Expect != "not_found" {
		t.Fatalf("parsed %+v", sc.Steps)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"name: x\nsteps:\n  - sql: {query: SELECT 1}\n",
		"name: x\nsteps:\n  - create_user: {as: u, username: u}\n  - read_machine: {machine: m, as_user: u}\n",
		"name: x\nsteps: [{append: {machine: m.x, dataset: salaries}}]\n",
		"- 1\n",
		"name: x\nsteps:\n  - sql: &a {query: x}\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		sc, err := harness.Parse("fuzz.yaml", []byte(in))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "harness: fuzz.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if sc.Name == "" || len(sc.Steps) == 0 {
			t.Fatalf("accepted a scenario without name or steps: %+v", sc)
		}
	})
}
