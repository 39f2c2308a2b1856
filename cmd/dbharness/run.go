package main

import (
	"context"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/harness"
	"github.com/easyautoml/dbharness/migrations"
	"github.com/easyautoml/dbharness/scenarios"
)

const runHelp = `usage: dbharness run [flags] [files or globs...]

Runs scenarios and prints each step as it goes, then a summary table and
each backend's time. Without files, it runs every scenario built into
dbharness (the scenarios package); files, globs and the files they name are
read from disk. Each scenario runs in a transaction of its own, rolled back
at its end.

Servers come from DBTEST_POSTGRES_DSN and DBTEST_MYSQL_DSN, as for go test,
or from --dsn. With --db all, a server that is not available is skipped,
unless DBTEST_REQUIRE names it; a backend named by --db must be available.

On a terminal, each scenario shows one line, rewritten in place as its
steps run ("▸ machine_1 on sqlite  step 7/16 expect_count") and replaced by
its outcome; a failure is printed in full, with the step's error, the diff
of the rows expected and read, and its lock report. When the output is not
a terminal (CI logs, pipes), or with --no-progress, every step is printed
on a line of its own. NO_COLOR turns colours off.

--html writes a self-contained HTML report: the summary, each scenario's
steps, and every lock report of the run drawn as a timeline (one lane per
connection, the locks it held as bars). --json - writes the results to
standard output, and then the progress and the summary go to standard
error. Exits 1 when any scenario fails, 2 on bad usage.

Flags:
`

const runExamples = `
Examples:
  dbharness run                                   every scenario on the embedded SQLite
  dbharness run --db all                          on SQLite, PostgreSQL and MySQL
  dbharness run --db postgres --dsn 'postgres://app:secret@db:5432/app?sslmode=disable'
  dbharness run --shard 2/4 --report junit.xml    the second quarter, with a JUnit report
  dbharness run --db all --html report.html       and an HTML report with the lock timelines
  dbharness run --json - scenarios/machine_1.yaml > results.json
  dbharness run --db all --migrations ./migrations testdata/scenarios/*.yaml   your schema, your scenarios
`

func runCmd(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("run", flag.ContinueOnError)
	fl.SetOutput(stderr)
	dbFlag := fl.String("db", "sqlite", "backends: sqlite, postgres, mysql, a comma-separated list, or all")
	dsn := fl.String("dsn", "", "server DSN for the one server backend of --db (instead of its DBTEST_*_DSN)")
	shard := fl.String("shard", "", "run only share i of n of the scenarios, as i/n (stable across runs)")
	junit := fl.String("report", "", "write a JUnit XML report to this file")
	jsonOut := fl.String("json", "", "write results as JSON to this file (- for standard output)")
	quiet := fl.Bool("q", false, "print the summary only, not each step")
	htmlOut := fl.String("html", "", "write a self-contained HTML report, with the lock timelines, to this file")
	noProgress := fl.Bool("no-progress", false, "print a plain line per step even on a terminal")
	migDir := fl.String("migrations", "", "migrate with the goose migrations of this directory, or of its sqlite/, postgres/ and mysql/ subdirectories, instead of the registry schema")
	fl.Usage = func() {
		fmt.Fprint(stderr, runHelp)
		fl.PrintDefaults()
		fmt.Fprint(stderr, runExamples)
	}
	if err := fl.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	backends, err := parseBackends(*dbFlag)
	if err != nil {
		fmt.Fprintln(stderr, "dbharness run:", err)
		return 2
	}
	if *dsn != "" {
		if err := useDSN(backends, *dsn); err != nil {
			fmt.Fprintln(stderr, "dbharness run:", err)
			return 2
		}
	}
	var opts []dbtest.Option
	if *migDir != "" {
		// With --db all, a server may be skipped: its migrations are
		// looked for when it runs.
		check := backends
		if *dbFlag == "all" {
			check = []dbtest.Backend{dbtest.SQLite}
		}
		o, err := migrationsOption(*migDir, check)
		if err != nil {
			fmt.Fprintln(stderr, "dbharness run:", err)
			return 2
		}
		opts = append(opts, o)
	}
	all, err := loadScenarios(fl.Args())
	if err != nil {
		fmt.Fprintln(stderr, "dbharness run:", err)
		return 1
	}
	if *shard != "" {
		all, err = pickShard(all, *shard)
		if err != nil {
			fmt.Fprintln(stderr, "dbharness run:", err)
			return 2
		}
	}
	progressOut := stdout
	if *jsonOut == "-" {
		progressOut = stderr // keep standard output for the JSON
	}
	prog := newProgress(progressOut, *quiet, *noProgress)
	ctx := context.Background()
	var results []harness.Result
	var times []backendTime
	for _, b := range backends {
		if skip, err := unavailable(ctx, b, *dbFlag == "all"); skip {
			prog.note("── %s skipped: %v (%s=%s makes this a failure)\n", b, err, dbtest.EnvRequire, b)
			times = append(times, backendTime{b: b, skipped: err.Error()})
			continue
		} else if err != nil {
			prog.note("── %s unavailable: %v\n", b, err)
			for _, sc := range all {
				results = append(results, harness.Result{Scenario: sc.Name, File: sc.File, Backend: b, Error: err.Error()})
			}
			continue
		}
		start := time.Now()
		for _, sc := range all {
			prog.start(sc, b)
			res := harness.RunOn(ctx, b, sc, prog.step, opts...)
			prog.end(res)
			results = append(results, res)
		}
		times = append(times, backendTime{b: b, wall: time.Since(start)})
	}
	if !*quiet {
		fmt.Fprintln(progressOut)
	}
	harness.WriteSummary(progressOut, results)
	writeBackendTimes(progressOut, results, times)
	if *htmlOut != "" {
		err := writeFile(*htmlOut, func(w io.Writer) error {
			return harness.WriteHTML(w, harness.HTMLReport{Title: "dbharness run", Results: results})
		})
		if err != nil {
			fmt.Fprintln(stderr, "dbharness run:", err)
			return 1
		}
	}
	if *junit != "" {
		if err := writeFile(*junit, func(w io.Writer) error { return harness.WriteJUnit(w, results) }); err != nil {
			fmt.Fprintln(stderr, "dbharness run:", err)
			return 1
		}
	}
	if *jsonOut != "" {
		write := func(w io.Writer) error { return harness.WriteJSON(w, results) }
		if *jsonOut == "-" {
			err = write(stdout)
		} else {
			err = writeFile(*jsonOut, write)
		}
		if err != nil {
			fmt.Fprintln(stderr, "dbharness run:", err)
			return 1
		}
	}
	for _, r := range results {
		if !r.Passed {
			return 1
		}
	}
	return 0
}

// printStep prints a step as it ends, with its lock report if it has one.
func printStep(w io.Writer, s harness.StepResult) {
	status := "ok  "
	switch {
	case s.Skipped:
		status = "skip"
	case !s.Passed:
		status = "FAIL"
	}
	detail := s.Detail
	if !s.Passed {
		detail = indentLines(s.Error, "        ")
	}
	fmt.Fprintf(w, "   %s step %2d %-15s %8s  %s\n", status, s.Index, s.Kind, harness.FormatDuration(s.Duration), detail)
	if s.LockReport != "" && (s.Passed || !strings.Contains(s.Error, s.LockReport)) {
		fmt.Fprintf(w, "        %s\n", indentLines(strings.TrimRight(s.LockReport, "\n"), "        "))
	}
}

// indentLines indents every line of s but the first.
func indentLines(s, indent string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+indent)
}

// backendTime is how long a backend took, setup included, or why it was
// skipped.
type backendTime struct {
	b       dbtest.Backend
	wall    time.Duration
	skipped string
}

// writeBackendTimes prints one line per backend: its scenarios passed and
// its wall time, connecting and migrating included.
func writeBackendTimes(w io.Writer, results []harness.Result, times []backendTime) {
	if len(times) == 0 {
		return
	}
	fmt.Fprintln(w)
	for _, t := range times {
		if t.skipped != "" {
			fmt.Fprintf(w, "%-9s skipped: %s\n", t.b, t.skipped)
			continue
		}
		n, ok := 0, 0
		for _, r := range results {
			if r.Backend == t.b {
				n++
				if r.Passed {
					ok++
				}
			}
		}
		fmt.Fprintf(w, "%-9s %d/%d passed in %s\n", t.b, ok, n, harness.FormatDuration(t.wall))
	}
}

// unavailable tells why backend b cannot run (err), and whether it is to
// be skipped rather than fail: as under go test, a server that dbtest
// does not find is skipped when --db all found it (all), unless
// DBTEST_REQUIRE names it; one asked for by name fails. SQLite is always
// available.
func unavailable(ctx context.Context, b dbtest.Backend, all bool) (skip bool, err error) {
	if b == dbtest.SQLite {
		return false, nil
	}
	if _, err := dbtest.Describe(ctx, b); err != nil {
		return all && !required(b), err
	}
	return false, nil
}

// required reports whether DBTEST_REQUIRE names backend b, as dbtest reads it.
func required(b dbtest.Backend) bool {
	for _, name := range splitList(os.Getenv(dbtest.EnvRequire)) {
		if name == "all" {
			return true
		}
		if r, err := dbtest.ParseBackend(name); err == nil && r == b {
			return true
		}
	}
	return false
}

func writeFile(name string, write func(io.Writer) error) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func parseBackends(s string) ([]dbtest.Backend, error) {
	if s == "all" {
		return dbtest.Backends(), nil
	}
	var out []dbtest.Backend
	for _, name := range splitList(s) {
		b, err := dbtest.ParseBackend(name)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--db: no backend named")
	}
	return out, nil
}

// useDSN points the one server backend of backends at dsn.
func useDSN(backends []dbtest.Backend, dsn string) error {
	var server []dbtest.Backend
	for _, b := range backends {
		if b != dbtest.SQLite {
			server = append(server, b)
		}
	}
	if len(server) != 1 {
		return fmt.Errorf("--dsn needs exactly one server backend in --db (postgres or mysql)")
	}
	env := dbtest.EnvPostgresDSN
	if server[0] == dbtest.MySQL {
		env = dbtest.EnvMySQLDSN
	}
	return os.Setenv(env, dsn)
}

// loadScenarios parses the named files and globs, or the built-in
// scenarios when there are none.
func loadScenarios(args []string) ([]*harness.Scenario, error) {
	if len(args) == 0 {
		return harness.ParseFS(scenarios.FS)
	}
	var out []*harness.Scenario
	seen := map[string]bool{}
	for _, a := range args {
		matches, err := filepath.Glob(a)
		if err != nil {
			return nil, err
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("%s: no such file", a)
		}
		for _, m := range matches {
			abs, _ := filepath.Abs(m)
			if seen[abs] {
				continue
			}
			seen[abs] = true
			sc, err := parseScenarioFile(abs)
			if err != nil {
				return nil, err
			}
			out = append(out, sc)
		}
	}
	return out, nil
}

// parseScenarioFile parses the scenario file at path, rooted at the
// working directory when the file is below it, so that the files it names
// may be in a directory beside its own (fixtures: [../fixtures/set.yml]);
// else at the file's directory. run and validate read it alike.
func parseScenarioFile(path string) (*harness.Scenario, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	root, name := filepath.Dir(abs), filepath.Base(abs)
	if cwd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(cwd, abs); err == nil && filepath.IsLocal(rel) {
			root, name = cwd, filepath.ToSlash(rel)
		}
	}
	return harness.ParseFile(os.DirFS(root), name)
}

// pickShard keeps the scenarios of shard "i/n": those whose name hashes to
// i-1 modulo n, so that a scenario stays in its shard as others come and go.
func pickShard(all []*harness.Scenario, spec string) ([]*harness.Scenario, error) {
	is, ns, ok := strings.Cut(spec, "/")
	i, err1 := strconv.Atoi(is)
	n, err2 := strconv.Atoi(ns)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 1 || i > n {
		return nil, fmt.Errorf("--shard %q: want i/n with 1 ≤ i ≤ n", spec)
	}
	var out []*harness.Scenario
	for _, sc := range all {
		h := fnv.New32a()
		h.Write([]byte(sc.Name))
		if int(h.Sum32()%uint32(n)) == i-1 {
			out = append(out, sc)
		}
	}
	return out, nil
}

// migrationsOption migrates with the goose files of dir (see
// migrationsDir). A backend that finds no SQL migrations there fails,
// naming where they were looked for: at once for those of check (the
// backends that will run), when it is opened for a server that --db all
// finds.
func migrationsOption(dir string, check []dbtest.Backend) (dbtest.Option, error) {
	for _, b := range check {
		if _, err := migrationsDir(dir, b); err != nil {
			return nil, err
		}
	}
	if len(check) == 0 {
		if err := checkDir(dir); err != nil {
			return nil, err
		}
	}
	return dbtest.WithDialectMigrations(func(dialect string) (fs.FS, error) {
		return migrationsDir(dir, dbtest.Backend(dialect))
	}), nil
}

// migrationsDir returns backend b's goose migrations under dir, the value
// of --migrations, picked as [migrations.DialectFS] picks them (and so as
// dbtest.WithMigrations does): dir itself when it holds .sql files, else
// its subdirectory named after the backend. They must be SQL migrations.
func migrationsDir(dir string, b dbtest.Backend) (fs.FS, error) {
	if err := checkDir(dir); err != nil {
		return nil, err
	}
	fsys, err := migrations.DialectFS(os.DirFS(dir), string(b))
	if err != nil {
		return nil, fmt.Errorf("--migrations %s: no goose migrations (*.sql) for %s in %s: %w", dir, b, dir, err)
	}
	sql, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("--migrations %s: %w", dir, err)
	}
	if len(sql) == 0 {
		return nil, fmt.Errorf("--migrations %s: no goose migrations (*.sql) for %s in %s (each backend's are in DIR itself, or in DIR/%s/ when DIR holds no .sql files)", dir, b, migrations.Describe(fsys), b)
	}
	return fsys, nil
}

// checkDir checks that dir, the value of --migrations, is a directory.
func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("--migrations: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("--migrations %s: not a directory", dir)
	}
	return nil
}
