package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/harness"
	"github.com/easyautoml/dbharness/internal/testserver"
)

// envScanChild carries, as JSON, the arguments of a dbharness command that
// TestNoPasswordInOutput runs in a child process.
const envScanChild = "DBHARNESS_SCAN_CHILD"

// pwUser is the server account, with a password, that
// TestNoPasswordInOutput creates for its run and drops afterwards.
const pwUser = "dbharness_pw"

// output is one captured output of the run: a stream or a file.
type output struct {
	name string
	data []byte
}

// TestNoPasswordInOutput runs dbharness and test binaries against the
// servers through an account with a password, captures every output
// (standard output and error, JSON and JUnit reports, t.Log lines of
// verbose test runs) and finds the password in none of them, in no form.
//
// The account is created here, on MariaDB (a user with the grants dbtest
// needs) and on PostgreSQL (a role: with trust authentication the server
// ignores the password, but it is in the DSN all the same), and dropped at
// the end; a lock on each server keeps two runs from sharing it.
func TestNoPasswordInOutput(t *testing.T) {
	if args := os.Getenv(envScanChild); args != "" {
		var a []string
		if err := json.Unmarshal([]byte(args), &a); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Exit(run(a, os.Stdout, os.Stderr))
	}
	ctx := t.Context()
	secret := newPassword(t)
	wrong := newPassword(t) // a wrong password, to be hidden as well
	dsns := map[dbtest.Backend]string{}
	var backends []string
	for _, b := range []dbtest.Backend{dbtest.Postgres, dbtest.MySQL} {
		env := dbtest.EnvPostgresDSN
		if b == dbtest.MySQL {
			env = dbtest.EnvMySQLDSN
		}
		admin := os.Getenv(env)
		if admin == "" {
			// No DSN: dbtest may start or join a container, and then
			// names its server in the environment for the processes the
			// test starts.
			if db, err := dbtest.Connect(ctx, b, dbtest.WithoutMigrations()); err == nil {
				db.Release(ctx)
				admin = os.Getenv(env)
			}
		}
		if admin == "" {
			if required(b) {
				t.Fatalf("%s is required (%s) but %s is not set", b, dbtest.EnvRequire, env)
			}
			t.Logf("%s: %s is not set: not scanned", b, env)
			continue
		}
		if b == dbtest.MySQL {
			dsns[b] = createMySQLUser(t, ctx, admin, secret.text)
		} else {
			dsns[b] = createPostgresRole(t, admin, secret.text)
		}
		backends = append(backends, string(b))
	}
	if len(dsns) == 0 {
		t.Skip("no server configured: nothing to scan")
	}
	dir := t.TempDir()
	env := scanEnv(dsns)
	var outputs []output
	runChild := func(name string, wantCode int, wants []string, args ...string) string {
		t.Helper()
		a, _ := json.Marshal(args)
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestNoPasswordInOutput$")
		cmd.Env = append(env, envScanChild+"="+string(a))
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		start := time.Now()
		err := cmd.Run()
		t.Logf("%s: %d bytes of output in %s", name, stdout.Len()+stderr.Len(), time.Since(start).Round(time.Millisecond))
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("%s: %v", name, err)
		}
		outputs = append(outputs, output{name + ": stdout", stdout.Bytes()}, output{name + ": stderr", stderr.Bytes()})
		all := stdout.String() + stderr.String()
		if code := cmd.ProcessState.ExitCode(); code != wantCode {
			t.Errorf("%s: exit %d, want %d\n%s", name, code, wantCode, hideSecret(all, secret, wrong))
		}
		for _, w := range wants {
			if !strings.Contains(all, w) {
				t.Errorf("%s: the output lacks %q\n%s", name, w, hideSecret(all, secret, wrong))
			}
		}
		return stdout.String()
	}
	all := strings.Join(backends, ",")

	// The scenarios, on every backend, with both reports.
	stdout := runChild("dbharness run --db all", 0, []string{"0 failed"},
		"run", "--db", "all", "--json", "-", "--report", filepath.Join(dir, "junit.xml"))
	var report struct{ Results []harness.Result }
	if err := json.Unmarshal([]byte(stdout), &report); err != nil {
		t.Errorf("dbharness run --json -: %v", err)
	}
	for _, b := range append(backends, "sqlite") {
		if !slices.ContainsFunc(report.Results, func(r harness.Result) bool { return string(r.Backend) == b && r.Passed }) {
			t.Errorf("dbharness run --db all: no scenario passed on %s", b)
		}
	}

	// The lock-bug reproductions, with their lock reports.
	runChild("dbharness repro lock --db all", 0, []string{"as documented", "timeline:"}, "repro", "lock", "--db", all+",sqlite")

	// Scenarios that fail: a statement the database refuses, a wrong
	// count, a lock error through a separate connection, a bad CSV file,
	// a machine the user may not see.
	fails := writeFailingScenarios(t, dir)
	runChild("dbharness run, failing scenarios", 1, []string{"FAIL fail_sql on", "FAIL fail_count on", "FAIL fail_access on", "FAIL fail_csv on", "lock report"},
		append([]string{"run", "--db", all + ",sqlite", "--json", filepath.Join(dir, "fail.json"), "--report", filepath.Join(dir, "fail-junit.xml")}, fails...)...)

	// Connections that fail: a closed port, a wrong password, a URL that
	// does not parse, through --dsn of each command.
	if pg, ok := dsns[dbtest.Postgres]; ok {
		closed := strings.Replace(pg, hostOf(t, pg), "127.0.0.1:1", 1)
		runChild("dbharness run --dsn (PostgreSQL, closed port)", 1, []string{"127.0.0.1:1"}, "run", "-q", "--db", "postgres", "--dsn", closed)
		runChild("dbharness migrate --dsn (PostgreSQL, closed port)", 1, []string{"127.0.0.1:1"}, "migrate", "status", "--dsn", closed)
		broken := "postgres://" + pwUser + ":" + secret.text + "@127.0.0.1:1/x?sslmode=disable" // # and % unescaped
		runChild("dbharness run --dsn (PostgreSQL, a URL that does not parse)", 1, []string{"127.0.0.1:1"}, "run", "-q", "--db", "postgres", "--dsn", broken)
		runChild("dbharness fixtures load --dsn (PostgreSQL, a URL that does not parse)", 1, []string{"127.0.0.1:1"}, "fixtures", "load", "--dsn", broken, "base")
	}
	if my, ok := dsns[dbtest.MySQL]; ok {
		cfg, err := mysql.ParseDSN(my)
		if err != nil {
			t.Fatal(err)
		}
		closed := cfg.Clone()
		closed.Addr = "127.0.0.1:1"
		runChild("dbharness run --dsn (MySQL, closed port)", 1, []string{"127.0.0.1:1"}, "run", "-q", "--db", "mysql", "--dsn", closed.FormatDSN())
		denied := cfg.Clone()
		denied.Passwd = wrong.text
		runChild("dbharness run --dsn (MySQL, wrong password)", 1, []string{"Access denied"}, "run", "-q", "--db", "mysql", "--dsn", denied.FormatDSN())
		runChild("dbharness migrate --dsn (MySQL, wrong password)", 1, []string{"Access denied"}, "migrate", "status", "--db", "mysql", "--dsn", denied.FormatDSN())
	}

	// Test binaries, verbose, so that every t.Log line is in the output:
	// the scenarios, the harness's connection modes, and dbtest's lock
	// reports and cleanups (the reproductions ran above).
	outputs = append(outputs, goTest(t, ctx, env, backends,
		"-run", "^(TestScenarios|TestConnectionModes|TestRunHostileCSV|TestExpectedErrorKeepsTheTransaction|"+
			"TestLockConflictSurfacesFast|TestSelfDeadlockEveryBackend|TestDeadlockReported|TestEscapedWritesReported|"+
			"TestCommitFromInsideCaught|TestRawConnectionIsSeparate|TestDDLLeavesDatabaseClean|TestServerDatabasesDroppedAfterExit)$",
		"./scenarios", "./harness", "./dbtest")...)

	files, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, ".yaml") || strings.HasSuffix(f, ".csv") {
			continue // written by the test
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(f, ".xml") {
			var v any
			if err := xml.Unmarshal(data, &v); err != nil {
				t.Errorf("%s: %v", filepath.Base(f), err)
			}
		}
		outputs = append(outputs, output{filepath.Base(f), data})
	}
	for _, want := range []string{"junit.xml", "fail.json", "fail-junit.xml"} {
		if !slices.ContainsFunc(outputs, func(o output) bool { return o.name == want && len(o.data) > 0 }) {
			t.Errorf("no %s was written", want)
		}
	}

	// The scan: every form of both passwords, and the random part of each
	// alone, which any encoding leaves as it is.
	var scanned, nFiles int
	for _, o := range outputs {
		scanned += len(o.data)
		if !strings.Contains(o.name, ": ") {
			nFiles++
		}
		for _, s := range []password{secret, wrong} {
			for _, form := range s.forms() {
				if i := bytes.Index(o.data, []byte(form)); i >= 0 {
					t.Errorf("%s shows the password (as %q) in: %s", o.name, strings.ReplaceAll(form, s.core, "<random>"),
						hideSecret(lineAt(o.data, i), secret, wrong))
				}
			}
		}
	}
	t.Logf("scanned %d bytes in %d outputs (%d streams of %d runs, %d report files) on %s: the password found %d times",
		scanned, len(outputs), len(outputs)-nFiles, (len(outputs)-nFiles)/2, nFiles, strings.Join(append(backends, "sqlite"), ", "), countFound(outputs, secret, wrong))
}

// password is a random password and the forms it takes in DSNs.
type password struct {
	text string // as set on the server
	core string // its random part, which no encoding changes
}

// newPassword makes a password whose punctuation URL encoding changes.
func newPassword(t *testing.T) password {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	core := hex.EncodeToString(b)
	return password{text: "Pw-" + core + "#%+!~", core: core}
}

// forms are the ways the password may show: as it is, encoded for a URL's
// user information, path or query, and its random part alone.
func (p password) forms() []string {
	userinfo := strings.TrimPrefix(url.UserPassword("u", p.text).String(), "u:")
	return []string{p.text, userinfo, url.PathEscape(p.text), url.QueryEscape(p.text), p.core}
}

func countFound(outputs []output, ps ...password) int {
	n := 0
	for _, o := range outputs {
		for _, p := range ps {
			n += bytes.Count(o.data, []byte(p.core))
		}
	}
	return n
}

// hideSecret hides the passwords in s, for the test's own messages.
func hideSecret(s string, ps ...password) string {
	for _, p := range ps {
		s = strings.ReplaceAll(s, p.core, "<random>")
	}
	return s
}

// lineAt returns the line of data around byte i.
func lineAt(data []byte, i int) string {
	start := bytes.LastIndexByte(data[:i], '\n') + 1
	end := bytes.IndexByte(data[i:], '\n')
	if end < 0 {
		end = len(data) - i
	}
	return string(data[start : i+end])
}

// scanEnv is the environment of the children: the servers through the
// account with a password, required, and no containers.
func scanEnv(dsns map[dbtest.Backend]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DBTEST_") {
			env = append(env, kv)
		}
	}
	var req []string
	for b, dsn := range dsns {
		if b == dbtest.MySQL {
			env = append(env, dbtest.EnvMySQLDSN+"="+dsn)
		} else {
			env = append(env, dbtest.EnvPostgresDSN+"="+dsn)
		}
		req = append(req, string(b))
	}
	return append(env, dbtest.EnvRequire+"="+strings.Join(req, ","), dbtest.EnvContainers+"=off")
}

// hostOf returns host:port of a PostgreSQL URL.
func hostOf(t *testing.T, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// createMySQLUser creates pwUser with password secret on the server of
// admin (a DSN with the rights to), for TCP connections from loopback, with
// the least dbtest needs: every right on its own databases (dbtest_*) but
// granting, and PROCESS, to read the lock-wait tables and the process list
// of its lock reports. It returns the user's DSN; the user is dropped at
// cleanup.
func createMySQLUser(t *testing.T, ctx context.Context, admin, secret string) string {
	t.Helper()
	cfg, err := mysql.ParseDSN(admin)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("mysql", admin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	lock, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got sql.NullInt64
	if err := lock.QueryRowContext(ctx, "SELECT GET_LOCK(?, 300)", pwUser).Scan(&got); err != nil || got.Int64 != 1 {
		t.Fatalf("waiting for the lock on %s: %v", pwUser, err)
	}
	if strings.ContainsAny(secret, `'\`) {
		t.Fatal("the password would need quoting")
	}
	hosts := []string{"127.0.0.1", "localhost"}
	cleanup := context.WithoutCancel(ctx)
	t.Cleanup(func() {
		for _, h := range hosts {
			if _, err := db.ExecContext(cleanup, fmt.Sprintf("DROP USER IF EXISTS '%s'@'%s'", pwUser, h)); err != nil {
				t.Errorf("dropping %s@%s: %v", pwUser, h, err)
			}
		}
		lock.ExecContext(cleanup, "DO RELEASE_LOCK(?)", pwUser)
		lock.Close()
	})
	for _, h := range hosts {
		user := fmt.Sprintf("'%s'@'%s'", pwUser, h)
		for _, q := range []string{
			"CREATE USER IF NOT EXISTS " + user + " IDENTIFIED BY '" + secret + "'",
			"ALTER USER " + user + " IDENTIFIED BY '" + secret + "'", // when a killed run left it
			// REFERENCES: MySQL 8 checks it for foreign keys (MariaDB does not).
			"GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, REFERENCES, LOCK TABLES ON `dbtest\\_%`.* TO " + user,
			"GRANT PROCESS ON *.* TO " + user,
		} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", strings.ReplaceAll(q, secret, "<password>"), err)
			}
		}
	}
	user := mysql.NewConfig()
	user.User, user.Passwd, user.Net, user.Addr = pwUser, secret, cfg.Net, cfg.Addr
	return user.FormatDSN()
}

// createPostgresRole creates the role pwUser with password secret, allowed
// to log in and to create databases, on the server of admin. It returns
// its DSN; the role, and any database it still owns, go at cleanup.
func createPostgresRole(t *testing.T, admin, secret string) string {
	t.Helper()
	return testserver.PostgresRole(t, admin, pwUser, secret, func(ctx context.Context, db *sql.DB) error {
		// What dbtest's manual asks of a role that is not a superuser,
		// so that deadlocks surface as deadlocks (PostgreSQL 15 and
		// later).
		var version int
		if err := db.QueryRowContext(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
			return err
		}
		if version < 150000 {
			return nil
		}
		_, err := db.ExecContext(ctx, "GRANT SET ON PARAMETER deadlock_timeout TO "+pwUser)
		return err
	})
}

// writeFailingScenarios writes scenarios that fail, each its own way, and
// returns their paths.
func writeFailingScenarios(t *testing.T, dir string) []string {
	t.Helper()
	files := map[string]string{
		"fail_sql.yaml":    "name: fail_sql\nsteps:\n  - sql: {query: SELEC broken FROM nowhere}\n",
		"fail_count.yaml":  "name: fail_count\nfixtures: [base]\nsteps:\n  - expect_count: {table: users, rows: 99}\n",
		"fail_access.yaml": "name: fail_access\nfixtures: [base]\nsteps:\n  - read_machine: {machine: machines.alice_private, as_user: users.carol}\n",
		"fail_lock.yaml": "name: fail_lock\nfixtures: [base]\nsteps:\n" +
			"  - create_machine: {as: m, owner: users.alice, name: m, table: fail_lock}\n" +
			"  - append: {machine: m, table: {columns: [x], rows: [[1]]}}\n" +
			"  - append: {machine: m, table: {columns: [x], rows: [[2]]}, mode: separate}\n",
		"fail_csv.yaml": "name: fail_csv\nfixtures: [base]\nsteps:\n" +
			"  - create_machine: {as: m, owner: users.alice, name: m, table: fail_csv}\n" +
			"  - append: {machine: m, csv: fail_csv.csv}\n",
		"fail_csv.csv": "a,b\n1,2\n3\n",
	}
	var paths []string
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, ".yaml") {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	return paths
}

// goTest runs go test -v on pkgs, from the module's root, in env, and
// returns its outputs. The tests must pass, and run on every backend.
func goTest(t *testing.T, ctx context.Context, env, backends []string, args ...string) []output {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	a := []string{"test", "-count=1", "-v", "-p", "2"}
	if raceEnabled {
		a = append(a, "-race") // the build cache then has the packages already
	}
	cmd := exec.CommandContext(ctx, goBin, append(a, args...)...)
	cmd.Dir, cmd.Env = root, env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err = cmd.Run()
	t.Logf("go test -v %s: %d bytes of output in %s", strings.Join(args, " "), stdout.Len()+stderr.Len(), time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Errorf("go test %s: %v\n%s", strings.Join(args, " "), err, lastLines(stdout.String()+stderr.String(), 60))
	}
	for _, b := range backends {
		if !strings.Contains(stdout.String(), "/"+b+" (") {
			t.Errorf("go test: no test ran on %s", b)
		}
	}
	return []output{{"go test -v: stdout", stdout.Bytes()}, {"go test -v: stderr", stderr.Bytes()}}
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
