package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/harness"
)

const reproHelp = `usage: dbharness repro lock [--db sqlite|postgres|mysql|all] [--pattern N] [--html FILE]

Reproduces the known lock-bug patterns and explains each one: what was
expected, what happened, the lock report with its timeline, and the fix.
--html writes the same as a self-contained HTML page, with each lock
report drawn as a timeline. Servers are found as for run: with --db all,
one that is not available is skipped unless DBTEST_REQUIRE names it; one
named by --db must be available. Exits 1 when a pattern did not behave as
documented or a server was missing.

Patterns:
  1  a write through a separate connection after the test wrote (the platform's bug)
  2  the fix: the same code given db.DSN()
  3  two writers updating rows in opposite order (deadlock)
  4  a long read transaction against a writer (rollback journal versus WAL)
  5  the bounded retry: past a brief writer, giving up on a stuck one
  6  COMMIT from inside the test's transaction

Examples:
  dbharness repro lock                      every pattern on SQLite
  dbharness repro lock --db all --pattern 1
  dbharness repro lock --db all --html locks.html
`

func reproCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "lock" {
		fmt.Fprint(stderr, reproHelp)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return 0
		}
		return 2
	}
	fl := flag.NewFlagSet("repro lock", flag.ContinueOnError)
	fl.SetOutput(stderr)
	dbFlag := fl.String("db", "sqlite", "backends: sqlite, postgres, mysql, a comma-separated list, or all")
	pattern := fl.Int("pattern", 0, "run only this pattern (1-6)")
	htmlOut := fl.String("html", "", "write the reproductions as a self-contained HTML page, with their lock timelines")
	fl.Usage = func() { fmt.Fprint(stderr, reproHelp); fl.PrintDefaults() }
	if err := fl.Parse(args[1:]); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	backends, err := parseBackends(*dbFlag)
	if err != nil {
		fmt.Fprintln(stderr, "dbharness repro:", err)
		return 2
	}
	patterns := harness.LockPatterns()
	if *pattern != 0 {
		if *pattern < 1 || *pattern > len(patterns) {
			fmt.Fprintf(stderr, "dbharness repro: --pattern %d: want 1 to %d\n", *pattern, len(patterns))
			return 2
		}
		patterns = patterns[*pattern-1 : *pattern]
	}
	ctx := context.Background()
	failed := 0
	var all []harness.PatternResult
	var missing []string
	for _, b := range backends {
		// As for run: with --db all, a server that is not found is
		// skipped unless DBTEST_REQUIRE names it.
		if skip, err := unavailable(ctx, b, *dbFlag == "all"); skip {
			fmt.Fprintf(stdout, "── %s skipped: %v (%s=%s makes this a failure)\n", b, err, dbtest.EnvRequire, b)
			continue
		} else if err != nil {
			fmt.Fprintf(stdout, "── %s unavailable: %v\n", b, err)
			missing = append(missing, string(b))
			continue
		}
		res := harness.ReproLock(ctx, b, patterns)
		harness.WriteRepro(stdout, res)
		all = append(all, res...)
	}
	fmt.Fprintln(stdout, "PATTERN  BACKEND   RESULT             TIME")
	for _, r := range all {
		status := "as documented"
		if !r.OK {
			status = "NOT AS DOCUMENTED"
			failed++
		}
		fmt.Fprintf(stdout, "%-8d %-9s %-18s %s\n", r.Pattern.N, r.Backend, status, harness.FormatDuration(r.Elapsed))
	}
	for _, b := range missing {
		fmt.Fprintf(stdout, "%-8s %-9s %s\n", "-", b, "unavailable")
	}
	if *htmlOut != "" {
		err := writeFile(*htmlOut, func(w io.Writer) error {
			return harness.WriteHTML(w, harness.HTMLReport{Title: "dbharness repro lock", Repro: all})
		})
		if err != nil {
			fmt.Fprintln(stderr, "dbharness repro:", err)
			return 1
		}
	}
	if failed > 0 {
		fmt.Fprintf(stdout, "\n%d pattern run(s) did not behave as documented\n", failed)
	}
	if len(missing) > 0 {
		fmt.Fprintf(stdout, "\nnot run: %s unavailable\n", strings.Join(missing, " and "))
	}
	if failed > 0 || len(missing) > 0 {
		return 1
	}
	return 0
}
