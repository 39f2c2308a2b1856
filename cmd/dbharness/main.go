// Command dbharness runs the scenarios of the AutoML platform's workflows
// and lock bugs on the embedded SQLite and on real PostgreSQL and MySQL
// servers, checks scenario and fixture files, and manages a developer's
// own database.
//
// Usage:
//
//	dbharness run [--db sqlite|postgres|mysql|all] [--dsn DSN] [--shard i/n]
//	              [--report junit.xml] [--json file|-] [files or globs...]
//	dbharness validate FILES...
//	dbharness migrate up|down|status --dsn DSN [--db sqlite|postgres|mysql]
//	dbharness fixtures load --dsn DSN [--db sqlite|postgres|mysql] FILES...
//	dbharness repro lock [--db sqlite|postgres|mysql|all] [--pattern N]
//	dbharness backends
//	dbharness version
//
// "run" without files runs every scenario built into the command (package
// scenarios, embedded) on the embedded SQLite, printing each step as it
// goes, then a summary table and each backend's time; it exits 1 when a
// scenario fails. Its servers come from DBTEST_POSTGRES_DSN and
// DBTEST_MYSQL_DSN, as for go test, or from --dsn; with --db all a server
// that is not available is skipped unless DBTEST_REQUIRE names it.
// "migrate" and "fixtures load" work on a developer's own database, named
// by --dsn. Passwords are never printed.
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
  dbharness migrate up|down|status --dsn DSN  migrate a database to the registry schema
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
		fmt.Fprintln(stdout, "dbharness", version())
		return 0
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "dbharness: unknown command %q\n\n%s", cmd, usage)
	return 2
}

// version is the module version when installed with go install, or the
// VCS revision of a build from a checkout.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			return "devel " + s.Value[:12]
		}
	}
	return "(devel)"
}

// expandArgs splits comma-separated values of repeated flags.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
