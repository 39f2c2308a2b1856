package harness_test

import (
	"errors"
	"testing"
	"testing/fstest"

	"github.com/easyautoml/dbharness/harness"
)

// TestMalformed: every malformed scenario gets its precise error, naming
// the file, the line (and column) and the step.
func TestMalformed(t *testing.T) {
	const (
		user    = "  - create_user: {as: u, username: u}\n"
		machine = "  - create_machine: {as: m, owner: u, name: m, table: t}\n"
	)
	cases := []struct {
		reason, yaml, want string
	}{
		{"a scenario has a name",
			"steps:\n  - sql: {query: SELECT 1}\n",
			"harness: bad.yaml:1:1: missing name"},
		{"a scenario has steps",
			"name: x\n",
			"harness: bad.yaml:1:1: steps: want a non-empty list of steps"},
		{"steps is a list",
			"name: x\nsteps: {a: 1}\n",
			"harness: bad.yaml:2:8: steps: want a non-empty list of steps"},
		{"the name is a string",
			"name: [x]\nsteps:\n  - sql: {query: SELECT 1}\n",
			"harness: bad.yaml:1:7: name: want a non-empty string"},
		{"fixtures is a list",
			"name: x\nfixtures: base\nsteps:\n  - sql: {query: SELECT 1}\n",
			"harness: bad.yaml:2:11: fixtures: want a list of fixture sets (base, or files)"},
		{"top-level keys are known",
			"name: x\nstepz: []\n",
			`harness: bad.yaml:2:1: unknown key "stepz" (did you mean steps?) (want name, description, fixtures, steps, sqlite_journal, lock_timeout, transaction, transaction_control, expect_cleanup)`},
		{"a top-level key is given once",
			"name: x\nname: y\nsteps:\n  - sql: {query: SELECT 1}\n",
			`harness: bad.yaml:2:1: "name" given twice (first at line 1)`},
		{"an empty file is no scenario",
			"",
			"harness: bad.yaml:1:1: empty scenario file"},
		{"the file is a mapping",
			"- a\n",
			"harness: bad.yaml:1:1: want a mapping with name, fixtures and steps"},
		{"one document per file",
			"name: x\nsteps:\n  - sql: {query: SELECT 1}\n---\nname: y\n",
			"harness: bad.yaml:4:1: a second YAML document: a scenario file holds one"},
		{"YAML syntax errors name the line",
			"name: x\nsteps:\n  - sql: {query: [SELECT 1}\n",
			"harness: bad.yaml:2: YAML: did not find expected ',' or ']'"},
		{"anchors and aliases are refused",
			"name: x\nsteps:\n  - sql: &q {query: SELECT 1}\n  - sql: *q\n",
			"harness: bad.yaml:3:10: YAML anchors and aliases are not allowed in scenarios"},
		{"a step is a mapping",
			"name: x\nsteps:\n  - just text\n",
			"harness: bad.yaml:3:5: step 1 (?): want a mapping with one key, the step's kind (one of append, begin, bill, commit, concurrently, create_machine, create_team, create_user, delete_machine, expect_count, expect_log, expect_metric, expect_rows, expect_table, lock, predict, read_machine, rollback, sql, train, unlock)"},
		{"unknown steps are named, with a suggestion",
			"name: x\nsteps:\n  - sql: {query: SELECT 1}\n  - apend: {machine: m}\n",
			`harness: bad.yaml:4:5: step 2 (apend): unknown step "apend" (did you mean append?) (want one of append, begin, bill, commit, concurrently, create_machine, create_team, create_user, delete_machine, expect_count, expect_log, expect_metric, expect_rows, expect_table, lock, predict, read_machine, rollback, sql, train, unlock)`},
		{"fields go under the kind",
			"name: x\nsteps:\n  - sql:\n    query: SELECT 1\n",
			`harness: bad.yaml:4:5: step 1 (sql): "query" is level with the step's kind: indent the step's fields under sql:`},
		{"a step's fields are a mapping",
			"name: x\nsteps:\n  - create_user: [as, u]\n",
			"harness: bad.yaml:3:18: step 1 (create_user): want a mapping of fields"},
		{"a required field is missing",
			"name: x\nsteps:\n  - create_user: {as: u}\n",
			`harness: bad.yaml:3:5: step 1 (create_user): missing field "username"`},
		{"an unknown field points at its name",
			"name: x\nsteps:\n  - create_user: {as: u, username: u, colour: red}\n",
			`harness: bad.yaml:3:39: step 1 (create_user): unknown field "colour" (want as, username, email, staff, mode, conn)`},
		{"the first of two unknown fields is reported, every time",
			"name: x\nsteps:\n  - create_user: {as: u, username: u, size: xl, colour: red}\n",
			`harness: bad.yaml:3:39: step 1 (create_user): unknown field "size" (want as, username, email, staff, mode, conn)`},
		{"a misspelt field gets a suggestion",
			"name: x\nsteps:\n  - create_user: {as: u, usrname: u}\n",
			`harness: bad.yaml:3:26: step 1 (create_user): unknown field "usrname" (did you mean username?) (want as, username, email, staff, mode, conn)`},
		{"a field is given once",
			"name: x\nsteps:\n  - sql: {query: SELECT 1, query: SELECT 2}\n",
			`harness: bad.yaml:3:28: step 1 (sql): field "query" given twice`},
		{"an integer field",
			"name: x\nsteps:\n  - expect_count: {table: t, rows: many}\n",
			`harness: bad.yaml:3:36: step 1 (expect_count): field "rows": want an integer`},
		{"a list field",
			"name: x\nsteps:\n  - create_team: {as: t, name: t, members: alice}\n",
			`harness: bad.yaml:3:44: step 1 (create_team): field "members": want a list of strings`},
		{"a range field",
			"name: x\nsteps:\n" + user + machine + "  - append: {machine: m, dataset: salaries, rows: [5, 1]}\n",
			`harness: bad.yaml:5:51: step 3 (append): field "rows": want a range [from, to]`},
		{"a choice field",
			"name: x\nsteps:\n" + user + machine + "  - append: {machine: m, dataset: salaries, mode: sideways}\n",
			`harness: bad.yaml:5:51: step 3 (append): field "mode": "sideways" is not one of test, shared, separate`},
		{"one data source per append",
			"name: x\nsteps:\n" + user + machine + "  - append: {machine: m, dataset: salaries, csv: a.csv}\n",
			"harness: bad.yaml:5:5: step 3 (append): want exactly one of csv, dataset, table (got 2)"},
		{"a reference to something never created",
			"name: x\nsteps:\n  - append: {machine: m1, dataset: salaries}\n",
			`harness: bad.yaml:3:23: step 1 (append): field "machine": machine "m1" was not created by an earlier step (create it with as: m1, or name a fixture row as machines.<label>)`},
		{"a reference to something created later",
			"name: x\nsteps:\n  - read_machine: {machine: m, as_user: u}\n  - create_user: {as: u, username: u}\n",
			`harness: bad.yaml:3:29: step 1 (read_machine): field "machine": machine "m" was not created by an earlier step (create it with as: m, or name a fixture row as machines.<label>)`},
		{"a name is created once",
			"name: x\nsteps:\n" + user + "  - create_user: {as: u, username: v}\n",
			`harness: bad.yaml:4:23: step 2 (create_user): field "as": user "u" was already created by step 1`},
		{"a name has no dot",
			"name: x\nsteps:\n  - create_user: {as: a.b, username: u}\n",
			`harness: bad.yaml:3:23: step 1 (create_user): field "as": "a.b": a name may not contain a dot, which marks fixture rows (table.label)`},
		{"a fixture row of the wrong table",
			"name: x\nfixtures: [base]\nsteps:\n  - create_machine: {as: m, owner: teams.research, name: m, table: t}\n",
			`harness: bad.yaml:4:36: step 1 (create_machine): field "owner": "teams.research" is a row of teams, want a row of users`},
		{"a fixture row without fixtures",
			"name: x\nsteps:\n  - create_machine: {as: m, owner: users.alice, name: m, table: t}\n",
			`harness: bad.yaml:3:36: step 1 (create_machine): field "owner": "users.alice" names a fixture row, and the scenario loads no fixtures`},
		{"error kinds are known",
			"name: x\nsteps:\n  - sql: {query: SELECT 1, expect_error: oops}\n",
			"harness: bad.yaml:3:42: step 1 (sql): expect_error: want one of any, deadlock, duplicate, foreign_key, invalid, invalid_transition, lock_held, lock_not_held, locked, no_table, not_found, self_deadlock, transaction_control"},
		{"sqlite_journal is rollback or wal",
			"name: x\nsqlite_journal: memory\nsteps:\n  - sql: {query: SELECT 1}\n",
			"harness: bad.yaml:2:17: sqlite_journal: want rollback or wal"},
		{"lock_timeout is a duration in range",
			"name: x\nlock_timeout: 2h\nsteps:\n  - sql: {query: SELECT 1}\n",
			"harness: bad.yaml:2:15: lock_timeout: want a duration between 1ms and 10m, such as 100ms"},
		{"transaction_control is refuse or pass",
			"name: x\ntransaction_control: allow\nsteps:\n  - sql: {query: SELECT 1}\n",
			"harness: bad.yaml:2:22: transaction_control: want refuse (dbtest's default) or pass"},
		{"expect_cleanup names transaction-control statements",
			"name: x\nexpect_cleanup: {statements: [COMMIT, DELETE]}\nsteps:\n  - sql: {query: SELECT 1}\n",
			`harness: bad.yaml:2:39: expect_cleanup: statements: "DELETE": want COMMIT, ROLLBACK or BEGIN`},
		{"expect_cleanup has known keys",
			"name: x\nexpect_cleanup: {tabels: [teams]}\nsteps:\n  - sql: {query: SELECT 1}\n",
			`harness: bad.yaml:2:18: expect_cleanup: unknown key "tabels" (want statements, tables)`},
		{"expect_cleanup expects something",
			"name: x\nexpect_cleanup: {}\nsteps:\n  - sql: {query: SELECT 1}\n",
			"harness: bad.yaml:2:17: expect_cleanup: want statements or tables: what cleanup must find"},
		{"a connection is begun before it is used",
			"name: x\nsteps:\n  - sql: {query: SELECT 1, conn: a}\n",
			`harness: bad.yaml:3:34: step 1 (sql): field "conn": connection "a" was not begun by an earlier step, or was ended since (begin it with begin: {as: a})`},
		{"a connection ended is gone",
			"name: x\nsteps:\n  - begin: {as: a}\n  - commit: {conn: a}\n  - sql: {query: SELECT 1, conn: a}\n",
			`harness: bad.yaml:5:34: step 3 (sql): field "conn": connection "a" was not begun by an earlier step, or was ended since (begin it with begin: {as: a})`},
		{"mode or conn, not both",
			"name: x\nsteps:\n  - begin: {as: a}\n  - sql: {query: SELECT 1, mode: separate, conn: a}\n",
			`harness: bad.yaml:4:44: step 2 (sql): give mode or conn, not both: conn names a connection of its own, begun by a begin step`},
		{"after is a duration",
			"name: x\nsteps:\n  - begin: {as: a}\n  - commit: {conn: a, after: soon}\n",
			`harness: bad.yaml:4:30: step 2 (commit): field "after": want a duration such as 300ms or 1.5s`},
		{"concurrently runs two statements or more",
			"name: x\nsteps:\n  - begin: {as: a}\n  - concurrently: {statements: [{conn: a, query: SELECT 1}]}\n",
			`harness: bad.yaml:4:32: step 2 (concurrently): field "statements": want two statements or more, to run at once`},
		{"a concurrent statement has conn and query",
			"name: x\nsteps:\n  - begin: {as: a}\n  - begin: {as: b}\n  - concurrently:\n      statements:\n        - {conn: a, query: SELECT 1}\n        - {conn: b}\n",
			`harness: bad.yaml:8:11: step 3 (concurrently): field "statements": statement 2: want {conn: NAME, query: SQL}`},
		{"a concurrent statement has nothing else",
			"name: x\nsteps:\n  - begin: {as: a}\n  - begin: {as: b}\n  - concurrently:\n      statements:\n        - {conn: a, query: SELECT 1, wait: 1s}\n        - {conn: b, query: SELECT 1}\n",
			`harness: bad.yaml:7:38: step 3 (concurrently): field "statements": statement 1: unexpected "wait" (want conn and query)`},
		{"a concurrent statement's connection exists",
			"name: x\nsteps:\n  - begin: {as: a}\n  - concurrently:\n      statements:\n        - {conn: a, query: SELECT 1}\n        - {conn: c, query: SELECT 1}\n",
			`harness: bad.yaml:7:18: step 2 (concurrently): field "statements": connection "c" was not begun by an earlier step, or was ended since (begin it with begin: {as: c})`},
		{"append goes into a machine or a table",
			"name: x\nsteps:\n" + user + machine + "  - append: {machine: m, into: t2, table: {columns: [a], rows: [[1]]}}\n",
			"harness: bad.yaml:5:5: step 3 (append): want exactly one of machine, into (got 2)"},
		{"a failing step creates nothing",
			"name: x\nsteps:\n" + user + "  - create_machine: {as: m, owner: u, name: m, table: t, mode: separate, expect_error: locked}\n  - expect_count: {machine: m, rows: 0}\n",
			`harness: bad.yaml:5:29: step 3 (expect_count): field "machine": machine "m" was not created by an earlier step (create it with as: m, or name a fixture row as machines.<label>)`},
		{"backends are known",
			"name: x\nsteps:\n  - sql: {query: SELECT 1, backends: [oracle]}\n",
			`harness: bad.yaml:3:38: step 1 (sql): backends: dbtest: unknown backend "oracle" (want sqlite, postgres or mysql)`},
	}
	for _, c := range cases {
		t.Run(c.reason, func(t *testing.T) {
			_, err := harness.Parse("bad.yaml", []byte(c.yaml))
			if err == nil {
				t.Fatalf("parsed; want %s", c.want)
			}
			if err.Error() != c.want {
				t.Errorf("error:\n got %s\nwant %s", err, c.want)
			}
			var he *harness.Error
			if !errors.As(err, &he) || he.File != "bad.yaml" || he.Line < 1 {
				t.Errorf("error %#v: want a *harness.Error naming the file and line", err)
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
			var he *harness.Error
			if !errors.As(err, &he) || he.File != "fuzz.yaml" || he.Line < 1 {
				t.Fatalf("error %q is not a *harness.Error naming the file and a line", err)
			}
			kinds := 0
			for _, k := range []error{harness.ErrSyntax, harness.ErrAlias, harness.ErrUnknownStep, harness.ErrUnknownField, harness.ErrInvalid} {
				if errors.Is(err, k) {
					kinds++
				}
			}
			if kinds != 1 {
				t.Fatalf("error %q is of %d kinds, want 1", err, kinds)
			}
			if he.Field != "" && !errors.Is(err, harness.ErrUnknownField) {
				t.Fatalf("error %q names field %q but is no unknown field", err, he.Field)
			}
			return
		}
		if sc.Name == "" || len(sc.Steps) == 0 {
			t.Fatalf("accepted a scenario without name or steps: %+v", sc)
		}
		for i, st := range sc.Steps {
			if st.Index != i+1 || st.Line < 1 || st.Kind == "" {
				t.Fatalf("step %d parsed as %+v", i+1, st)
			}
		}
	})
}

// TestParseFileChecksFiles: ParseFile checks the files a scenario names,
// relative to it: fixture sets must parse, CSV files must exist.
func TestParseFileChecksFiles(t *testing.T) {
	fsys := fstest.MapFS{
		"sc/data/rows.csv":   {Data: []byte("x\n1\n")},
		"sc/extra.yml":       {Data: []byte("teams:\n  t: {name: t}\n")},
		"sc/broken.yml":      {Data: []byte("teams:\n  t: [name]\n")},
		"sc/good.yaml":       {Data: []byte("name: good\nfixtures: [base, extra.yml]\nsteps:\n  - create_user: {as: u, username: u}\n  - create_machine: {as: m, owner: u, name: m, table: t}\n  - append: {machine: m, csv: data/rows.csv}\n")},
		"sc/no_csv.yaml":     {Data: []byte("name: no_csv\nsteps:\n  - create_user: {as: u, username: u}\n  - create_machine: {as: m, owner: u, name: m, table: t}\n  - append: {machine: m, csv: data/none.csv}\n")},
		"sc/no_set.yaml":     {Data: []byte("name: no_set\nfixtures: [base, missing.yml]\nsteps:\n  - sql: {query: SELECT 1}\n")},
		"sc/broken_set.yaml": {Data: []byte("name: broken_set\nfixtures:\n  - broken.yml\nsteps:\n  - sql: {query: SELECT 1}\n")},
	}
	if _, err := harness.ParseFile(fsys, "sc/good.yaml"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ file, want string }{
		{"sc/no_csv.yaml", `harness: sc/no_csv.yaml:5:31: step 3 (append): field "csv": open sc/data/none.csv: file does not exist`},
		{"sc/no_set.yaml", `harness: sc/no_set.yaml:2:18: fixture set "missing.yml": fixtures: no file matches ["sc/missing.yml"]`},
		{"sc/broken_set.yaml", `harness: sc/broken_set.yaml:3:5: fixture set "broken.yml": fixtures: sc/broken.yml:2:6: teams.t: want a mapping of columns to values`},
	} {
		_, err := harness.ParseFile(fsys, c.file)
		if err == nil || err.Error() != c.want {
			t.Errorf("%s:\n got %v\nwant %s", c.file, err, c.want)
		}
	}
}
