package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/pressly/goose/v3"
	"go.yaml.in/yaml/v3"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/fixtures"
	"github.com/easyautoml/dbharness/migrations"
)

const validateHelp = `usage: dbharness validate FILES...

Checks scenario files (those with steps) and fixture files without running
them: every error names the file, the line and the step or field. Exits 1
when any file is wrong.

Example:
  dbharness validate scenarios/*.yaml fixtures/base/*.yml
`

func validateCmd(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("validate", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.Usage = func() { fmt.Fprint(stderr, validateHelp) }
	if err := fl.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fl.NArg() == 0 {
		fl.Usage()
		return 2
	}
	bad := 0
	for _, a := range fl.Args() {
		matches, _ := filepath.Glob(a)
		if len(matches) == 0 {
			fmt.Fprintf(stderr, "%s: no such file\n", a)
			bad++
			continue
		}
		for _, m := range matches {
			data, err := os.ReadFile(m)
			if err == nil {
				if isScenario(data) {
					_, err = parseScenarioFile(m)
				} else {
					_, err = fixtures.Parse(m, data)
				}
			}
			if err != nil {
				fmt.Fprintln(stderr, err)
				bad++
				continue
			}
			fmt.Fprintf(stdout, "ok  %s\n", m)
		}
	}
	if bad > 0 {
		fmt.Fprintf(stderr, "%d file(s) with errors\n", bad)
		return 1
	}
	return 0
}

// isScenario tells scenario files from fixtures: a scenario has a
// top-level "steps", or a "name" holding a single value, which no fixture
// file has (a table maps labels to rows), so that a scenario whose "steps"
// is misspelt is reported as a scenario.
func isScenario(data []byte) bool {
	var top map[string]yaml.Node
	if yaml.Unmarshal(data, &top) != nil {
		return false
	}
	if _, ok := top["steps"]; ok {
		return true
	}
	name, ok := top["name"]
	return ok && name.Kind == yaml.ScalarNode && name.ShortTag() != "!!null"
}

// plural says n things: "1 row", "2 rows".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// drivers are the database/sql drivers of the backends, for a developer's
// own database.
var drivers = map[dbtest.Backend]string{dbtest.SQLite: "sqlite3", dbtest.Postgres: "pgx", dbtest.MySQL: "mysql"}

// dialectOf guesses the backend of a DSN from its form.
func dialectOf(dsn string) (dbtest.Backend, error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"), strings.Contains(dsn, "host=") || strings.Contains(dsn, "dbname="):
		return dbtest.Postgres, nil
	case strings.Contains(dsn, "@tcp("), strings.Contains(dsn, "@unix("), strings.Contains(dsn, "@/"):
		return dbtest.MySQL, nil
	case strings.HasPrefix(dsn, "file:"), strings.HasSuffix(dsn, ".db"), strings.HasSuffix(dsn, ".sqlite"):
		return dbtest.SQLite, nil
	}
	return "", fmt.Errorf("cannot tell the database of this DSN; use a postgres:// URL, user@tcp(host:port)/db, a SQLite file: name, or --db")
}

// openDSN opens a developer's own database: of backend db when it is
// given, else of the backend the DSN's form says.
func openDSN(dsn, db string) (*sql.DB, dbtest.Backend, error) {
	var b dbtest.Backend
	var err error
	if db != "" {
		b, err = dbtest.ParseBackend(db)
	} else {
		b, err = dialectOf(dsn)
	}
	if err != nil {
		return nil, "", err
	}
	driver := drivers[b]
	if b == dbtest.MySQL && !strings.Contains(dsn, "parseTime") {
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		dsn += sep + "parseTime=true"
	}
	if b == dbtest.SQLite {
		if _, err := dbtest.InitSQLite(); err != nil {
			return nil, "", err
		}
	}
	conn, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, "", errors.New(redact(err.Error(), dsn))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := conn.PingContext(ctx); err != nil {
		conn.Close()
		return nil, "", fmt.Errorf("cannot reach the %s database: %v", b, redact(err.Error(), dsn))
	}
	return conn, b, nil
}

// redact hides the password of dsn in s.
func redact(s, dsn string) string {
	if p := passwordOf(dsn); p != "" {
		s = strings.ReplaceAll(s, p, "xxxxx")
	}
	return s
}

var keywordPassword = regexp.MustCompile(`(?i)\bpassword\s*=\s*('(?:[^'\\]|\\.)*'|\S+)`)

// passwordOf returns the password of a DSN in any of the forms the
// drivers take: a URL, MySQL's user:password@tcp(host)/db, or PostgreSQL's
// key=value pairs.
func passwordOf(dsn string) string {
	if strings.Contains(dsn, "://") {
		if u, err := url.Parse(dsn); err == nil && u.User != nil {
			p, _ := u.User.Password()
			return p
		}
	}
	if m := keywordPassword.FindStringSubmatch(dsn); m != nil {
		return strings.Trim(m[1], "'")
	}
	if cfg, err := mysql.ParseDSN(dsn); err == nil {
		return cfg.Passwd
	}
	return ""
}

const migrateHelp = `usage: dbharness migrate up|down|status --dsn DSN [--db sqlite|postgres|mysql] [--migrations DIR]

Migrates a database to the registry schema, or with --migrations to the
goose migrations of DIR (or of DIR/sqlite, DIR/postgres and DIR/mysql), as
"run --migrations" does; rolls back the last migration; or lists the
migrations and their state. The backend comes from the DSN's form (a
postgres:// URL or host=... pairs, MySQL's user@tcp(host:port)/db, a SQLite
file: name or *.db file) or from --db. Passwords in the DSN are never
printed.

Examples:
  dbharness migrate up --dsn 'postgres://postgres@127.0.0.1:5432/dev?sslmode=disable'
  dbharness migrate status --dsn 'root@tcp(127.0.0.1:3306)/dev'
  dbharness migrate down --dsn file:dev.db
  dbharness migrate up --migrations ./migrations --dsn file:dev.db
`

func migrateCmd(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fl.SetOutput(stderr)
	dsn := fl.String("dsn", "", "the database (required)")
	dbFlag := fl.String("db", "", "its backend: sqlite, postgres or mysql (default: from the DSN's form)")
	migDir := fl.String("migrations", "", "the goose migrations of this directory, or of its sqlite/, postgres/ and mysql/ subdirectories, instead of the registry schema")
	fl.Usage = func() { fmt.Fprint(stderr, migrateHelp); fl.PrintDefaults() }
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fl.Usage()
			return 0
		}
		fl.Usage()
		return 2
	}
	action := args[0]
	if err := fl.Parse(args[1:]); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if *dsn == "" {
		fmt.Fprintln(stderr, "dbharness migrate: --dsn is required")
		return 2
	}
	switch action {
	case "up", "down", "status":
	default:
		fmt.Fprintf(stderr, "dbharness migrate: unknown action %q (want up, down or status)\n", action)
		return 2
	}
	db, b, err := openDSN(*dsn, *dbFlag)
	if err != nil {
		fmt.Fprintln(stderr, "dbharness migrate:", err)
		return 1
	}
	defer db.Close()
	var p *goose.Provider
	var fsys fs.FS
	if *migDir != "" {
		var gd goose.Dialect
		if fsys, err = migrationsDir(*migDir, b); err == nil {
			if gd, err = migrations.GooseDialect(string(b)); err == nil {
				p, err = goose.NewProvider(gd, db, fsys)
			}
		}
	} else if fsys, err = migrations.FS(string(b)); err == nil {
		p, err = migrations.NewProvider(string(b), db)
	}
	if err != nil {
		fmt.Fprintln(stderr, "dbharness migrate:", err)
		return 1
	}
	ctx := context.Background()
	switch action {
	case "up":
		res, err := migrations.Up(ctx, string(b), db, fsys) // names the failed file and statement
		for _, r := range res {
			fmt.Fprintf(stdout, "up    %s (%v)\n", r.Source.Path, r.Duration.Round(time.Millisecond))
		}
		if err != nil {
			fmt.Fprintln(stderr, "dbharness migrate:", redact(err.Error(), *dsn))
			return 1
		}
		if len(res) == 0 {
			fmt.Fprintln(stdout, "up to date")
		}
	case "down":
		r, err := p.Down(ctx)
		if err != nil {
			fmt.Fprintln(stderr, "dbharness migrate:", redact(err.Error(), *dsn))
			return 1
		}
		fmt.Fprintf(stdout, "down  %s\n", r.Source.Path)
	case "status":
		st, err := p.Status(ctx)
		if err != nil {
			fmt.Fprintln(stderr, "dbharness migrate:", redact(err.Error(), *dsn))
			return 1
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "VERSION\tSTATE\tFILE")
		for _, s := range st {
			fmt.Fprintf(tw, "%d\t%s\t%s\n", s.Source.Version, s.State, s.Source.Path)
		}
		tw.Flush()
	}
	return 0
}

const fixturesHelp = `usage: dbharness fixtures load --dsn DSN [--db sqlite|postgres|mysql] FILES...

Loads fixture files into a database, in one transaction: all of them, or
none when one is wrong. Use "base" as a file name for the built-in base set.
The backend comes from the DSN's form, as for migrate, or from --db.

Example:
  dbharness fixtures load --dsn 'postgres://postgres@127.0.0.1:5432/dev?sslmode=disable' base my_rows.yml
`

func fixturesCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "load" {
		fmt.Fprint(stderr, fixturesHelp)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return 0
		}
		return 2
	}
	fl := flag.NewFlagSet("fixtures load", flag.ContinueOnError)
	fl.SetOutput(stderr)
	dsn := fl.String("dsn", "", "the database (required)")
	dbFlag := fl.String("db", "", "its backend: sqlite, postgres or mysql (default: from the DSN's form)")
	fl.Usage = func() { fmt.Fprint(stderr, fixturesHelp); fl.PrintDefaults() }
	if err := fl.Parse(args[1:]); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if *dsn == "" || fl.NArg() == 0 {
		fl.Usage()
		return 2
	}
	var sets []*fixtures.Set
	for _, name := range fl.Args() {
		var s *fixtures.Set
		var err error
		if name == "base" {
			s, err = fixtures.Base()
		} else {
			var data []byte
			if data, err = os.ReadFile(name); err == nil {
				s, err = fixtures.Parse(name, data)
			}
		}
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		sets = append(sets, s)
	}
	set, err := fixtures.Merge(sets...)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	db, b, err := openDSN(*dsn, *dbFlag)
	if err != nil {
		fmt.Fprintln(stderr, "dbharness fixtures:", err)
		return 1
	}
	defer db.Close()
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		fmt.Fprintln(stderr, "dbharness fixtures:", err)
		return 1
	}
	defer tx.Rollback()
	_, err = set.Load(ctx, tx, string(b))
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		fmt.Fprintln(stderr, redact(err.Error(), *dsn))
		return 1
	}
	total := 0
	for _, t := range set.Tables() {
		fmt.Fprintf(stdout, "%-24s %s\n", t, plural(set.Len(t), "row"))
		total += set.Len(t)
	}
	// The rows of the set, not Load's ids, which rows of tables without
	// a single integer key (team_members) do not have.
	fmt.Fprintf(stdout, "loaded %s into %s\n", plural(total, "row"), plural(len(set.Tables()), "table"))
	return 0
}

func backendsCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintln(stderr, "usage: dbharness backends")
		if args[0] == "-h" || args[0] == "--help" {
			return 0
		}
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "BACKEND\tSTATUS\tVERSION")
	ok := 0
	for _, b := range dbtest.Backends() {
		desc, err := dbtest.Describe(ctx, b)
		if err != nil {
			fmt.Fprintf(tw, "%s\tunavailable\t%s\n", b, strings.TrimPrefix(err.Error(), "dbtest: "+string(b)+" unavailable: "))
			continue
		}
		ok++
		fmt.Fprintf(tw, "%s\tavailable\t%s\n", b, desc)
	}
	tw.Flush()
	if ok == 0 {
		return 1
	}
	return 0
}
