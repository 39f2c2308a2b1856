package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/harness"
	"github.com/easyautoml/dbharness/internal/leakcheck"
	"github.com/easyautoml/dbharness/migrations"
	"github.com/easyautoml/dbharness/scenarios"
)

// TestMain checks, after the tests, that no goroutine and no server
// connection remains (leakcheck), and drops dbtest's databases.
func TestMain(m *testing.M) { leakcheck.Main(m) }

// builtIn returns the names of the scenarios built into the command.
func builtIn(t *testing.T) []string {
	t.Helper()
	all, err := harness.ParseFS(scenarios.FS)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sc := range all {
		names = append(names, sc.Name)
	}
	return names
}

func runArgs(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestRunDefault(t *testing.T) {
	code, out, errs := runArgs(t, "run")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	n := len(builtIn(t))
	for _, want := range []string{"── machine_1 on sqlite", "step  1 create_machine", "SCENARIO", "machine_1", fmt.Sprintf("%d passed, 0 failed", n)} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestRunFailingScenario(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "wrong.yaml"), []byte(`
name: wrong_count
fixtures: [base]
steps:
  - expect_count: {table: users, rows: 99}
`), 0o644)
	junit := filepath.Join(dir, "junit.xml")
	code, out, _ := runArgs(t, "run", "--report", junit, filepath.Join(dir, "*.yaml"))
	if code != 1 {
		t.Fatalf("exit %d, want 1 for a failing scenario:\n%s", code, out)
	}
	if !strings.Contains(out, "users has 5 rows, want 99") || !strings.Contains(out, "0 passed, 1 failed") {
		t.Errorf("output does not explain the failure:\n%s", out)
	}
	b, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var suites struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &suites); err != nil {
		t.Fatalf("JUnit report: %v\n%s", err, b)
	}
	if suites.Tests != 1 || suites.Failures != 1 || suites.Suites[0].Cases[0].Failure == nil ||
		!strings.Contains(suites.Suites[0].Cases[0].Failure.Message, "step 1 (expect_count, line 5)") {
		t.Errorf("JUnit report: %+v\n%s", suites, b)
	}
}

func TestRunJSON(t *testing.T) {
	code, out, errs := runArgs(t, "run", "--json", "-", "-q")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var doc struct {
		Results []struct {
			Scenario string `json:"scenario"`
			Backend  string `json:"backend"`
			Passed   bool   `json:"passed"`
			Steps    []struct {
				Kind string `json:"kind"`
			} `json:"steps"`
		} `json:"results"`
		Passed int `json:"passed"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("standard output is not JSON: %v\n%s", err, out)
	}
	n := len(builtIn(t))
	if doc.Passed != n || len(doc.Results) != n || doc.Results[0].Backend != "sqlite" || len(doc.Results[0].Steps) == 0 {
		t.Errorf("JSON: %+v", doc)
	}
	if !strings.Contains(errs, fmt.Sprintf("%d passed", n)) {
		t.Errorf("the summary should go to standard error when JSON goes to standard output:\n%s", errs)
	}
}

// TestShards: the shards of n cover every scenario exactly once, and a
// shard's content does not depend on the run.
func TestShards(t *testing.T) {
	seen := map[string]int{}
	for _, shard := range []string{"1/3", "2/3", "3/3"} {
		code, out, errs := runArgs(t, "run", "-q", "--shard", shard)
		if code != 0 {
			t.Fatalf("shard %s: exit %d: %s", shard, code, errs)
		}
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) >= 3 && f[1] == "sqlite" {
				seen[f[0]]++
			}
		}
	}
	if all := builtIn(t); len(seen) != len(all) {
		t.Fatalf("the shards ran %v, want every one of %v", seen, all)
	}
	for name, n := range seen {
		if n != 1 {
			t.Errorf("%s ran in %d shards", name, n)
		}
	}
	for _, bad := range []string{"0/3", "4/3", "x", "1/0"} {
		if code, _, _ := runArgs(t, "run", "--shard", bad); code != 2 {
			t.Errorf("--shard %s: exit %d, want 2", bad, code)
		}
	}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	fix := filepath.Join(dir, "fix.yml")
	os.WriteFile(good, []byte("name: g\nsteps:\n  - sql: {query: SELECT 1}\n"), 0o644)
	os.WriteFile(bad, []byte("name: b\nsteps:\n  - sqll: {query: SELECT 1}\n"), 0o644)
	os.WriteFile(fix, []byte("users:\n  a: &x {username: a}\n"), 0o644)
	// A scenario whose steps key is misspelt is still a scenario, not a
	// fixture file with a table "name".
	typo := filepath.Join(dir, "typo.yaml")
	os.WriteFile(typo, []byte("name: t\nstpes:\n  - sql: {query: SELECT 1}\n"), 0o644)
	code, out, errs := runArgs(t, "validate", good, bad, fix, typo)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(out, "ok  "+good) {
		t.Errorf("the good file is not reported ok:\n%s", out)
	}
	for _, want := range []string{`bad.yaml:3:5: step 1 (sqll): unknown step "sqll"`, "fix.yml:2:6: YAML anchors and aliases are not allowed",
		`typo.yaml:2:1: unknown key "stpes" (did you mean steps?)`, "3 file(s) with errors"} {
		if !strings.Contains(errs, want) {
			t.Errorf("errors lack %q:\n%s", want, errs)
		}
	}
}

// TestValidateLikeRun: validate reads a scenario as run does, rooted at
// the working directory, so that a fixture file beside the scenario's
// directory (../fixtures/set.yml) is found by both.
func TestValidateLikeRun(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "testdata", "scenarios"), 0o755)
	os.MkdirAll(filepath.Join(dir, "testdata", "fixtures"), 0o755)
	os.WriteFile(filepath.Join(dir, "testdata", "fixtures", "teams.yml"), []byte("teams:\n  qa: {name: qa}\n"), 0o644)
	sc := filepath.Join("testdata", "scenarios", "teams.yaml")
	os.WriteFile(filepath.Join(dir, sc), []byte("name: teams\nfixtures: [../fixtures/teams.yml]\nsteps:\n  - expect_count: {table: teams, rows: 1}\n"), 0o644)
	t.Chdir(dir)
	if code, out, errs := runArgs(t, "validate", sc); code != 0 {
		t.Errorf("validate: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := runArgs(t, "run", "-q", sc); code != 0 {
		t.Errorf("run: exit %d\n%s%s", code, out, errs)
	}
}

func TestUsageAndVersion(t *testing.T) {
	if code, _, errs := runArgs(t, "frobnicate"); code != 2 || !strings.Contains(errs, "unknown command") {
		t.Errorf("unknown command: exit %d: %s", code, errs)
	}
	if code, out, _ := runArgs(t, "version"); code != 0 || !strings.HasPrefix(out, "dbharness ") {
		t.Errorf("version: exit %d: %q", code, out)
	}
	for _, cmd := range [][]string{{"run", "--help"}, {"validate", "--help"}, {"migrate", "--help"}, {"fixtures", "--help"}} {
		code, _, errs := runArgs(t, cmd...)
		if code != 0 || !strings.Contains(errs, "Example") {
			t.Errorf("%v: exit %d, help without examples:\n%s", cmd, code, errs)
		}
	}
}

func TestMigrateAndFixturesOnAFile(t *testing.T) {
	dsn := "file:" + filepath.Join(t.TempDir(), "dev.db")
	if code, out, errs := runArgs(t, "migrate", "up", "--dsn", dsn); code != 0 {
		t.Fatalf("migrate up: exit %d\n%s%s", code, out, errs)
	}
	if code, out, _ := runArgs(t, "migrate", "up", "--dsn", dsn); code != 0 || !strings.Contains(out, "up to date") {
		t.Fatalf("migrate up twice: exit %d\n%s", code, out)
	}
	code, out, errs := runArgs(t, "fixtures", "load", "--dsn", dsn, "base")
	// Every row counts, those of team_members (keyed by two columns) too.
	if code != 0 || !strings.Contains(out, "users                    5 rows") || !strings.Contains(out, "loaded 14 rows into 4 tables") {
		t.Fatalf("fixtures load: exit %d\n%s%s", code, out, errs)
	}
	if code, out, _ := runArgs(t, "migrate", "status", "--dsn", dsn); code != 0 || !strings.Contains(out, "applied") {
		t.Fatalf("migrate status: exit %d\n%s", code, out)
	}
}

// TestMigrationsDirLikeDialectFS: --migrations picks, for each backend,
// the files dbtest.WithMigrations would (migrations.DialectFS): the
// top-level .sql files of a directory that also has dialect folders, and
// the dialect's folder of one that has no top-level files.
func TestMigrationsDirLikeDialectFS(t *testing.T) {
	write := func(path, table string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("-- +goose Up\nCREATE TABLE "+table+" (id INTEGER PRIMARY KEY);\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	both := filepath.Join(t.TempDir(), "both")
	write(filepath.Join(both, "00001_top.sql"), "top")
	for _, b := range []string{"sqlite", "postgres", "mysql"} {
		write(filepath.Join(both, b, "00001_"+b+".sql"), b)
	}
	folders := filepath.Join(t.TempDir(), "folders")
	for _, b := range []string{"sqlite", "postgres", "mysql"} {
		write(filepath.Join(folders, b, "00001_"+b+".sql"), b)
	}
	for _, c := range []struct{ dir, want string }{{both, "00001_top.sql"}, {folders, ""}} {
		for _, b := range []dbtest.Backend{dbtest.SQLite, dbtest.Postgres, dbtest.MySQL} {
			want := c.want
			if want == "" {
				want = "00001_" + string(b) + ".sql"
			}
			fsys, err := migrationsDir(c.dir, b)
			if err != nil {
				t.Fatalf("%s, %s: %v", c.dir, b, err)
			}
			got, err := fs.Glob(fsys, "*.sql")
			if err != nil || len(got) != 1 || got[0] != want {
				t.Errorf("--migrations %s for %s picks %v, %v; want [%s]", c.dir, b, got, err, want)
			}
			lib, err := migrations.DialectFS(os.DirFS(c.dir), string(b))
			if err != nil {
				t.Fatal(err)
			}
			if libGot, _ := fs.Glob(lib, "*.sql"); fmt.Sprint(libGot) != fmt.Sprint(got) {
				t.Errorf("--migrations %s for %s picks %v; migrations.DialectFS picks %v", c.dir, b, got, libGot)
			}
		}
	}
	db := filepath.Join(t.TempDir(), "dev.db")
	if code, out, errs := runArgs(t, "migrate", "up", "--migrations", both, "--dsn", "file:"+db); code != 0 || !strings.Contains(out, "00001_top.sql") || strings.Contains(out, "00001_sqlite.sql") {
		t.Errorf("migrate up: exit %d; want the top-level file applied, not sqlite/'s\n%s%s", code, out, errs)
	}
}

// TestMigrateOwnSchema: migrate --migrations applies the goose files of a
// directory of one's own (its sqlite/ subdirectory here), and an unknown
// action or a directory without migrations is refused before anything
// is opened.
func TestMigrateOwnSchema(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "migrations", "sqlite"), 0o755)
	os.WriteFile(filepath.Join(dir, "migrations", "sqlite", "00001_parts.sql"), []byte(
		"-- +goose Up\nCREATE TABLE parts (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n-- +goose Down\nDROP TABLE parts;\n"), 0o644)
	db := filepath.Join(dir, "dev.db")
	mig := filepath.Join(dir, "migrations")
	if code, out, errs := runArgs(t, "migrate", "up", "--migrations", mig, "--dsn", "file:"+db); code != 0 || !strings.Contains(out, "00001_parts.sql") {
		t.Fatalf("migrate up: exit %d\n%s%s", code, out, errs)
	}
	os.WriteFile(filepath.Join(dir, "parts.yml"), []byte("parts:\n  bolt: {name: bolt}\n"), 0o644)
	if code, out, errs := runArgs(t, "fixtures", "load", "--dsn", "file:"+db, filepath.Join(dir, "parts.yml")); code != 0 || !strings.Contains(out, "loaded 1 row into 1 table") {
		t.Fatalf("fixtures load into the schema: exit %d\n%s%s", code, out, errs)
	}
	if code, out, _ := runArgs(t, "migrate", "status", "--migrations", mig, "--dsn", "file:"+db); code != 0 || !strings.Contains(out, "applied") {
		t.Errorf("migrate status: exit %d\n%s", code, out)
	}
	if code, _, errs := runArgs(t, "migrate", "up", "--migrations", dir, "--dsn", "file:"+db); code != 1 || !strings.Contains(errs, "no goose migrations (*.sql) for sqlite in "+dir) {
		t.Errorf("a directory without migrations: exit %d: %s", code, errs)
	}
	os.WriteFile(filepath.Join(dir, "migrations", "sqlite", "00002_bad.sql"), []byte(
		"-- +goose Up\nCREATE TABLE bolts (id INTEGER);\nINSERT INTO nuts VALUES (1);\n"), 0o644)
	if code, _, errs := runArgs(t, "migrate", "up", "--migrations", mig, "--dsn", "file:"+db); code != 1 || !strings.Contains(errs, "00002_bad.sql:3") || !strings.Contains(errs, "INSERT INTO nuts") {
		t.Errorf("a failing migration: exit %d, want the file, line and statement named: %s", code, errs)
	}
	nowhere := filepath.Join(dir, "nowhere", "x.db")
	if code, _, errs := runArgs(t, "migrate", "upp", "--dsn", "file:"+nowhere); code != 2 || !strings.Contains(errs, `unknown action "upp"`) {
		t.Errorf("an unknown action: exit %d: %s", code, errs)
	}
}

func TestDSNPasswordHidden(t *testing.T) {
	code, _, errs := runArgs(t, "migrate", "status", "--dsn", "postgres://app:hunter2@127.0.0.1:1/x?sslmode=disable&connect_timeout=2")
	if code == 0 {
		t.Fatal("migrate on a closed port succeeded")
	}
	if strings.Contains(errs, "hunter2") {
		t.Fatalf("the password shows:\n%s", errs)
	}
}

func TestReproLock(t *testing.T) {
	code, out, errs := runArgs(t, "repro", "lock", "--pattern", "1")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"pattern 1 on sqlite", "expected:", "happened:", "timeline:", "fix:", "as documented"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if code, _, _ := runArgs(t, "repro", "lock", "--pattern", "9"); code != 2 {
		t.Errorf("--pattern 9: exit %d, want 2", code)
	}
}

// TestRunAllWithoutServers runs the command in a child process with no
// server configured: --db all skips PostgreSQL and MySQL and passes on
// SQLite, as go test does, unless DBTEST_REQUIRE names them; --db postgres
// fails.
func TestRunAllWithoutServers(t *testing.T) {
	if os.Getenv("DBHARNESS_CHILD") != "" {
		os.Exit(run(strings.Fields(os.Getenv("DBHARNESS_CHILD")), os.Stdout, os.Stderr))
	}
	child := func(args, require string) (int, string) {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^TestRunAllWithoutServers$")
		cmd.Env = append(os.Environ(), "DBHARNESS_CHILD="+args, dbtest.EnvPostgresDSN+"=", dbtest.EnvMySQLDSN+"=",
			dbtest.EnvContainers+"=off", dbtest.EnvRequire+"="+require)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return cmd.ProcessState.ExitCode(), string(out)
	}
	n := len(builtIn(t))
	code, out := child("run -q --db all", "")
	if code != 0 {
		t.Fatalf("--db all without servers: exit %d\n%s", code, out)
	}
	for _, want := range []string{"── postgres skipped: ", "── mysql skipped: ", fmt.Sprintf("%d passed, 0 failed", n), fmt.Sprintf("sqlite    %d/%d passed in ", n, n)} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if code, out := child("run -q --db all", "postgres"); code != 1 || !strings.Contains(out, "── postgres unavailable: ") || !strings.Contains(out, "── mysql skipped: ") {
		t.Errorf("--db all with postgres required: exit %d, want 1\n%s", code, out)
	}
	if code, out := child("run -q --db postgres", ""); code != 1 || !strings.Contains(out, fmt.Sprintf("0 passed, %d failed", n)) {
		t.Errorf("--db postgres without a server: exit %d, want 1\n%s", code, out)
	}
	// repro lock finds servers the same way: a missing one is skipped,
	// not a pattern that did not behave as documented.
	code, out = child("repro lock --db all --pattern 2", "")
	if code != 0 || !strings.Contains(out, "── postgres skipped: ") || !strings.Contains(out, "── mysql skipped: ") || strings.Contains(out, "NOT AS DOCUMENTED") {
		t.Errorf("repro lock --db all without servers: exit %d, want 0\n%s", code, out)
	}
	code, out = child("repro lock --db all --pattern 2", "mysql")
	if code != 1 || !strings.Contains(out, "── mysql unavailable: ") || !strings.Contains(out, "not run: mysql unavailable") || strings.Contains(out, "NOT AS DOCUMENTED") {
		t.Errorf("repro lock --db all with mysql required: exit %d, want 1\n%s", code, out)
	}
}

// TestRunPrintsLockReports: a step that fails on a lock, as expected, is
// followed by the lock report that explains it.
func TestRunPrintsLockReports(t *testing.T) {
	code, out, errs := runArgs(t, "run", filepath.Join("..", "..", "scenarios", "lock_bug_second_connection.yaml"))
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{
		"failed as expected (locked): ",
		"        dbtest lock report (sqlite, ",
		"separate connection) wanted RESERVED",
		"        fix: ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestRedact(t *testing.T) {
	cases := []struct{ dsn, password string }{
		{"postgres://app:hunter2@db:5432/x?sslmode=disable", "hunter2"},
		{"app:hunter2@tcp(db:3306)/x", "hunter2"},
		{"host=db user=app password=hunter2 dbname=x", "hunter2"},
		{"host=db user=app password='hunter 2' dbname=x", "hunter 2"},
		{"postgres://app@db/x", ""},
		{"root@tcp(127.0.0.1:3306)/test", ""},
		{"file:dev.db", ""},
	}
	for _, c := range cases {
		if got := passwordOf(c.dsn); got != c.password {
			t.Errorf("passwordOf(%q) = %q, want %q", c.dsn, got, c.password)
		}
		if c.password != "" {
			if got := redact("cannot connect to "+c.dsn, c.dsn); strings.Contains(got, c.password) {
				t.Errorf("redact left the password in %q", got)
			}
		}
	}
}

func TestMigrateDBFlag(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "dev.sqlite3") // a name whose form says nothing
	if code, _, errs := runArgs(t, "migrate", "up", "--dsn", dsn); code != 1 || !strings.Contains(errs, "cannot tell the database of this DSN") {
		t.Errorf("without --db: exit %d: %s", code, errs)
	}
	if code, out, errs := runArgs(t, "migrate", "up", "--db", "sqlite", "--dsn", dsn); code != 0 || !strings.Contains(out, "up ") {
		t.Errorf("with --db sqlite: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := runArgs(t, "migrate", "up", "--db", "oracle", "--dsn", dsn); code != 1 || !strings.Contains(errs, `unknown backend "oracle"`) {
		t.Errorf("--db oracle: exit %d: %s", code, errs)
	}
}

// TestRunDSNFlag: --dsn names the server of the one server backend of
// --db, in place of its environment variable, and its password never
// shows.
func TestRunDSNFlag(t *testing.T) {
	pg := os.Getenv(dbtest.EnvPostgresDSN)
	if pg == "" {
		t.Skipf("%s is not set", dbtest.EnvPostgresDSN)
	}
	child := func(args ...string) (int, string) {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^TestRunAllWithoutServers$")
		cmd.Env = append(os.Environ(), "DBHARNESS_CHILD="+strings.Join(args, " "), dbtest.EnvPostgresDSN+"=", dbtest.EnvMySQLDSN+"=",
			dbtest.EnvContainers+"=off", dbtest.EnvRequire+"=")
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return cmd.ProcessState.ExitCode(), string(out)
	}
	n := len(builtIn(t))
	if code, out := child("run", "-q", "--db", "postgres", "--dsn", pg); code != 0 || !strings.Contains(out, fmt.Sprintf("postgres  %d/%d passed in ", n, n)) {
		t.Errorf("--db postgres --dsn: exit %d\n%s", code, out)
	}
	code, out := child("run", "-q", "--db", "postgres", "--dsn", "postgres://app:hunter2@127.0.0.1:1/x?sslmode=disable&connect_timeout=2")
	if code != 1 || !strings.Contains(out, "── postgres unavailable: ") || strings.Contains(out, "hunter2") {
		t.Errorf("a server that does not answer: exit %d, want 1, and no password:\n%s", code, out)
	}
	if code, out := child("run", "--db", "all", "--dsn", pg); code != 2 || !strings.Contains(out, "--dsn needs exactly one server backend") {
		t.Errorf("--db all --dsn: exit %d, want 2\n%s", code, out)
	}
}
