// Command benchreport measures dbharness side by side with the tools its
// users would otherwise pick, in one run, and writes the results.
//
//	cd bench && go run ./cmd/benchreport            # what make bench runs
//	go run ./cmd/benchreport -sections isolation,append -reps 7
//	go run ./cmd/benchreport -sections isolation -cpuprofile results/cpu.prof
//
// It prints a table and writes results/latest.md and results/latest.json.
// Each figure is the median of at least five repetitions with its spread
// (min–max); each comparison is a ratio between two tools measured in the
// same run, arms alternating, so that the machine's load falls on both.
//
// # Sections
//
//   - isolation: the per-test cycle (nothing → clean, migrated handle,
//     with or without the base fixtures → back) of dbtest, go-txdb,
//     pgtestdb (PostgreSQL) and a naive create-migrate-drop baseline;
//   - fixtures: package fixtures against testfixtures, on the base set and
//     on 10,000 generated users;
//   - append: rows per second of dynamic.Append, of each driver's best raw
//     path, and of pandas' DataFrame.to_sql;
//   - startup: process start to first query on the embedded SQLite, with
//     the wazero compilation cache cold and warm;
//   - scenarios: wall time of "dbharness run" on each backend;
//   - memory: resident and virtual memory of 16 open SQLite connections.
//
// # Servers
//
// PostgreSQL and MySQL come from DBTEST_POSTGRES_DSN and DBTEST_MYSQL_DSN
// (defaulting to the local services of the Makefile); a server that does
// not answer is left out and the report says so. Every scratch database,
// role and template this run makes carries its token and is dropped at the
// end.
//
// pandas runs in /usr/bin/python3 with Debian's python3-pandas,
// python3-sqlalchemy, python3-psycopg2 and python3-mysqldb; when they are
// missing and the program runs as root, it installs them with apt-get.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/easyautoml/dbharness/bench/internal/measure"
	"github.com/easyautoml/dbharness/dbtest"
)

var allSections = []string{"isolation", "fixtures", "append", "startup", "scenarios", "memory"}

func main() {
	os.Exit(dbtest.WrapMain(runner(run)).Run())
}

type runner func() int

func (r runner) Run() int { return r() }

func run() int {
	reps := flag.Int("reps", 5, "repetitions of every figure (at least 5 for the report)")
	budget := flag.Duration("budget", 150*time.Millisecond, "target duration of one arm's repetition")
	sections := flag.String("sections", strings.Join(allSections, ","), "sections to run, comma separated")
	out := flag.String("out", "results", "directory of latest.md and latest.json")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	flag.Parse()
	want := strings.Split(*sections, ",")
	for _, s := range want {
		if !slices.Contains(allSections, s) {
			fmt.Fprintf(os.Stderr, "benchreport: unknown section %q (have %s)\n", s, strings.Join(allSections, ", "))
			return 2
		}
	}

	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchreport:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "benchreport:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	if _, err := dbtest.InitSQLite(); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		return 1
	}
	e, err := newEnv(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		return 1
	}
	r := &Report{Started: start, Machine: machine(), Versions: goVersions()}
	for b, desc := range e.servers {
		r.Versions["server: "+string(b)] = desc
	}
	for b, why := range e.skipped {
		r.Missing = append(r.Missing, fmt.Sprintf("%s: every figure (%s)", b, why))
	}
	r.Method = method(*reps, *budget)
	plan := measure.Plan{Reps: *reps, Budget: *budget, MaxOps: 5000}

	steps := map[string]func(context.Context, measure.Plan, *Report) error{
		"isolation": e.isolation,
		"fixtures":  e.fixtureLoading,
		"append":    e.appendThroughput,
		"startup":   e.startup,
		"scenarios": e.scenarios,
		"memory":    e.memory,
	}
	failed := false
	for _, s := range allSections {
		if !slices.Contains(want, s) {
			continue
		}
		fmt.Fprintf(os.Stderr, "benchreport: %s ... ", s)
		t := time.Now()
		if err := steps[s](ctx, plan, r); err != nil {
			fmt.Fprintf(os.Stderr, "failed: %v\n", err)
			r.Missing = append(r.Missing, fmt.Sprintf("%s: %v", s, err))
			failed = true
			if ctx.Err() != nil {
				break
			}
			continue
		}
		fmt.Fprintf(os.Stderr, "%s\n", time.Since(t).Round(time.Second/10))
	}
	if err := e.cleanup(); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport: cleaning up:", err)
		failed = true
	}
	r.Duration = time.Since(start).Round(time.Second).String()
	r.writeText(os.Stdout)
	if err := r.save(*out); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		return 1
	}
	abs, _ := filepath.Abs(*out)
	fmt.Printf("\nwrote %s and %s\n", filepath.Join(abs, "latest.md"), filepath.Join(abs, "latest.json"))
	if failed {
		return 1
	}
	return 0
}

func machine() map[string]string {
	m := map[string]string{
		"cores":      fmt.Sprint(runtime.NumCPU()),
		"gomaxprocs": fmt.Sprint(runtime.GOMAXPROCS(0)),
		"os/arch":    runtime.GOOS + "/" + runtime.GOARCH,
		"go":         runtime.Version(),
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m["cpu"] = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// goVersions lists the versions of the Go modules compared.
func goVersions() map[string]string {
	v := map[string]string{}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	for _, d := range info.Deps {
		switch d.Path {
		case "github.com/DATA-DOG/go-txdb", "github.com/peterldowns/pgtestdb",
			"github.com/go-testfixtures/testfixtures/v3", "github.com/jackc/pgx/v5",
			"github.com/go-sql-driver/mysql", "github.com/ncruces/go-sqlite3",
			"github.com/tetratelabs/wazero", "github.com/pressly/goose/v3", "modernc.org/sqlite":
			v[d.Path] = d.Version
		case "github.com/easyautoml/dbharness":
			v[d.Path] = "this tree (" + d.Version + ")"
		}
	}
	return v
}

func method(reps int, budget time.Duration) []string {
	return []string{
		fmt.Sprintf("Every figure: %d repetitions, median and min–max. Each arm is run once to warm up (templates, pools, caches), then calibrated on a run of about a fifth of %[2]s (at least one operation); a repetition then runs as many operations as fit in about %[2]s (at least one) and records the mean time per operation.", reps, budget),
		"Arms alternate: each repetition runs every arm of a comparison, in an order rotated by one each time, operation by operation (one operation of each arm in turn, until each has run its count; the two-goroutine figure runs each arm's operations in one block), so that they meet the same machine load. Ratios are taken repetition by repetition, then summarised; a ratio is how many times faster dbharness is (the other's time over dbharness's, or dbharness's rows/s over the other's).",
		"The machine is shared with other work: absolute figures move between runs, same-run ratios much less.",
		"Isolation: one test is nothing → a clean, migrated handle → one query (SELECT count(*) FROM users) → back, and again with the base fixtures loaded by package fixtures for every tool, so that the tools differ by their isolation mechanism alone. dbharness is dbtest.Connect and DB.Release. go-txdb runs over one database migrated once; \"go-txdb\" is its documented use (sql.Open with a name of the test's own, Close at the end: go-txdb then closes its pool of real connections with the last handle and opens a new one for the next test), \"go-txdb (warm pool)\" keeps one extra handle open all along so that its pool survives between tests. pgtestdb clones its template database for each test and drops it afterwards (its defaults; the template is migrated once by a goose Migrator over the registry migrations). The naive baseline creates a database, migrates it, does the work and drops it, every test; on SQLite its database is an in-memory (memdb) one.",
		"Fixture loading: package fixtures (ParseFS, then Set.Load in a transaction, committed) against testfixtures (New, which reads and parses, then Load, which commits), from empty tables, on one migrated database per backend. testfixtures' files are generated from the same rows (see the section's note); its defaults stay on (it disables foreign keys or triggers, cleans the tables it loads, resets PostgreSQL sequences and checksums the tables).",
		fmt.Sprintf("Append: the salaries dataset (2,000 rows, 8 columns) repeated to each size, written into a table that does not exist yet: every tool creates it while timed (dynamic.Append and pandas create it themselves, the raw paths run CREATE TABLE first). Raw paths: SQLite a prepared multi-row INSERT of 500 rows, and a prepared single-row INSERT, in one transaction; PostgreSQL pgx's binary COPY; MySQL a prepared multi-row INSERT of 1,000 rows in one transaction. pandas runs in one long-lived Python process that times only the to_sql call (time.perf_counter), so neither the interpreter's start nor its imports nor its first connection count; method='multi' uses chunksize=%d (without it, one statement carries every row, beyond SQLite's limit of bound parameters), method=None keeps pandas' default. On SQLite every tool writes the same file in the default journal mode. The append targets compare with the faster of pandas' methods.", pandasChunk),
		"Start-up: time from starting a process to reading its first line, printed after its first query; the cold cache is a new empty directory in DBTEST_WAZERO_CACHE for every start.",
	}
}
