// Command dbharness runs the scenarios of the AutoML platform's workflows
// and lock bugs on the embedded SQLite and on real PostgreSQL and MySQL
// servers, reproduces and explains the lock-bug patterns, checks scenario
// and fixture files, and manages a developer's own database.
//
// # Installing
//
//	go install github.com/easyautoml/dbharness/cmd/dbharness@latest
//
// dbharness version prints the module version it was installed at, or,
// built from a checkout, the commit, its time and whether the tree had
// changes.
//
// # Usage
//
//	dbharness run [--db sqlite|postgres|mysql|all] [--dsn DSN] [--shard i/n]
//	              [--report junit.xml] [--json file|-] [--html report.html]
//	              [--migrations DIR] [-q] [--no-progress] [files or globs...]
//	dbharness validate FILES...
//	dbharness migrate up|down|status --dsn DSN [--db sqlite|postgres|mysql] [--migrations DIR]
//	dbharness fixtures load --dsn DSN [--db sqlite|postgres|mysql] FILES...
//	dbharness repro lock [--db sqlite|postgres|mysql|all] [--pattern N] [--html FILE]
//	dbharness backends
//	dbharness version
//
// "run" without files runs every scenario built into the command (package
// scenarios, embedded) on the embedded SQLite, then prints a summary table
// and each backend's time; it exits 1 when a scenario fails. Its servers
// come from DBTEST_POSTGRES_DSN and DBTEST_MYSQL_DSN, as for go test, or
// from --dsn; with --db all a server that is not available is skipped
// unless DBTEST_REQUIRE names it. --shard i/n runs the i-th of n stable
// shares of the scenarios, for a CI matrix. --migrations DIR runs them on
// a schema of one's own: the goose files of DIR, or, when DIR holds no
// .sql files, of DIR/sqlite, DIR/postgres and DIR/mysql (as
// dbtest.WithMigrations reads them). "migrate" and "fixtures load" work on a
// developer's own database, named by --dsn, "migrate" with the registry
// schema or --migrations DIR. Passwords are never printed.
//
// # Output
//
// On a terminal, each scenario has one line, rewritten in place as its
// steps run:
//
//	▸ machine_1 on sqlite  step 7/16 expect_count
//
// and replaced by its outcome (✓ or ✗) when it ends. A failure is printed
// in full: the step, its error, the rows expected and read as a diff
// (-want +got), and the lock report when there is one. When the output is
// not a terminal, as in CI logs, every step is printed on a plain line of
// its own; --no-progress asks for that on a terminal too, and NO_COLOR
// turns colours off.
//
// # Reports
//
// --report writes JUnit XML (one test suite per backend), --json the
// results as JSON, --html one self-contained HTML page: the summary, the
// failures with their diffs, each scenario's steps, and every lock report
// of the run drawn as a timeline, one lane per connection and a bar for
// each lock it held. "repro lock --html" draws the reproductions the same
// way.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `dbharness runs the scenarios of the AutoML platform's workflows and lock
bugs on SQLite (embedded), PostgreSQL and MySQL.

Usage:
  dbharness run [flags] [files or globs...]   run scenarios (default: all, on SQLite)
  dbharness validate FILES...                 check scenario and fixture files
  dbharness migrate up|down|status --dsn DSN  migrate a database (the registry schema, or --migrations DIR)
  dbharness fixtures load --dsn DSN FILES...  load fixture files into a database
  dbharness repro lock [--db ...] [--pattern N]  reproduce and explain the lock-bug patterns
  dbharness backends                          list the backends available here
  dbharness version                           print the version

Run "dbharness COMMAND --help" for a command's flags and examples.

Environment:
  DBTEST_POSTGRES_DSN   PostgreSQL server, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable
  DBTEST_MYSQL_DSN      MySQL or MariaDB server, e.g. root@tcp(127.0.0.1:3306)/test
  DBTEST_REQUIRE        servers that must be available (postgres,mysql or all)
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return runCmd(rest, stdout, stderr)
	case "validate":
		return validateCmd(rest, stdout, stderr)
	case "migrate":
		return migrateCmd(rest, stdout, stderr)
	case "fixtures":
		return fixturesCmd(rest, stdout, stderr)
	case "backends":
		return backendsCmd(rest, stdout, stderr)
	case "repro":
		return reproCmd(rest, stdout, stderr)
	case "version":
		bi, _ := debug.ReadBuildInfo()
		fmt.Fprintln(stdout, "dbharness", version(bi))
		return 0
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "dbharness: unknown command %q\n\n%s", cmd, usage)
	return 2
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
