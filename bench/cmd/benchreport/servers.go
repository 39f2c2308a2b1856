package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"
	_ "github.com/ncruces/go-sqlite3/driver"
	_ "github.com/ncruces/go-sqlite3/embed"
	"github.com/ncruces/go-sqlite3/vfs/memdb"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/migrations"
)

// The servers' defaults: the local services of the project's machines, as
// in the Makefile. The environment overrides them.
const (
	defaultPostgresDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	defaultMySQLDSN    = "root@tcp(127.0.0.1:3306)/test"
)

// env is what every section shares: the servers, a token that names every
// scratch database of this run, and the drops that undo them.
type env struct {
	token    string
	pgDSN    string
	myDSN    string
	backends []dbtest.Backend // available, in report order
	skipped  map[dbtest.Backend]string
	servers  map[dbtest.Backend]string // server versions

	mu    sync.Mutex
	drops []func(ctx context.Context) error
	seq   int
}

func newEnv(ctx context.Context) (*env, error) {
	e := &env{skipped: map[dbtest.Backend]string{}, servers: map[dbtest.Backend]string{}}
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	e.token = hex.EncodeToString(b)
	e.pgDSN = envOr(dbtest.EnvPostgresDSN, defaultPostgresDSN)
	e.myDSN = envOr(dbtest.EnvMySQLDSN, defaultMySQLDSN)
	for _, bk := range dbtest.Backends() {
		desc, err := dbtest.Describe(ctx, bk)
		if err != nil {
			e.skipped[bk] = err.Error()
			continue
		}
		e.servers[bk] = desc
		e.backends = append(e.backends, bk)
	}
	return e, nil
}

// envOr reads a variable, setting it to def when it is unset so that dbtest
// and child processes see the same server.
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	os.Setenv(name, def)
	return def
}

func (e *env) has(b dbtest.Backend) bool {
	_, skipped := e.skipped[b]
	return !skipped
}

// name returns a fresh scratch name: bench_<token>_<what>_<n>.
func (e *env) name(what string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seq++
	return fmt.Sprintf("bench_%s_%s_%d", e.token, what, e.seq)
}

// atEnd registers an undo, run in reverse order by cleanup.
func (e *env) atEnd(f func(ctx context.Context) error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.drops = append(e.drops, f)
}

// cleanup runs every undo, even after a cancelled run.
func (e *env) cleanup() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e.mu.Lock()
	drops := e.drops
	e.drops = nil
	e.mu.Unlock()
	var errs []error
	for i := len(drops) - 1; i >= 0; i-- {
		errs = append(errs, drops[i](ctx))
	}
	return errors.Join(errs...)
}

// driverName is the database/sql driver of each backend's own driver.
func driverName(b dbtest.Backend) string {
	switch b {
	case dbtest.Postgres:
		return "pgx"
	case dbtest.MySQL:
		return "mysql"
	}
	return "sqlite3"
}

// scratch is a database of this run: an in-memory SQLite database (memdb)
// or a database on a server, with a DSN for the backend's own driver.
type scratch struct {
	backend dbtest.Backend
	name    string
	dsn     string
}

// createScratch makes an empty database. Unless keep is false it is
// dropped by cleanup; with keep false the caller drops it with drop.
func (e *env) createScratch(ctx context.Context, b dbtest.Backend, what string, atEnd bool) (*scratch, error) {
	s := &scratch{backend: b, name: e.name(what)}
	switch b {
	case dbtest.SQLite:
		memdb.Create(s.name, nil)
		s.dsn = "file:/" + s.name + "?vfs=memdb&_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)"
	case dbtest.Postgres:
		if err := serverExec(ctx, b, e.pgDSN, `CREATE DATABASE "`+s.name+`"`); err != nil {
			return nil, err
		}
		u, err := url.Parse(e.pgDSN)
		if err != nil {
			return nil, err
		}
		u.Path = "/" + s.name
		s.dsn = u.String()
	case dbtest.MySQL:
		if err := serverExec(ctx, b, e.myDSN, "CREATE DATABASE `"+s.name+"` CHARACTER SET utf8mb4"); err != nil {
			return nil, err
		}
		cfg, err := mysql.ParseDSN(e.myDSN)
		if err != nil {
			return nil, err
		}
		cfg.DBName = s.name
		cfg.ParseTime = true
		cfg.Loc = time.UTC
		if cfg.Params == nil {
			cfg.Params = map[string]string{}
		}
		cfg.Params["time_zone"] = "'+00:00'"
		s.dsn = cfg.FormatDSN()
	}
	if atEnd {
		e.atEnd(func(ctx context.Context) error { return e.drop(ctx, s) })
	}
	return s, nil
}

// drop removes a scratch database.
func (e *env) drop(ctx context.Context, s *scratch) error {
	switch s.backend {
	case dbtest.SQLite:
		memdb.Delete(s.name)
		return nil
	case dbtest.Postgres:
		return serverExec(ctx, s.backend, e.pgDSN, `DROP DATABASE IF EXISTS "`+s.name+`" WITH (FORCE)`)
	default:
		return serverExec(ctx, s.backend, e.myDSN, "DROP DATABASE IF EXISTS `"+s.name+"`")
	}
}

// open opens a pool of the backend's own driver on the scratch database.
func (s *scratch) open() (*sql.DB, error) {
	return sql.Open(driverName(s.backend), s.dsn)
}

// migrate runs the registry migrations on db.
func migrate(ctx context.Context, b dbtest.Backend, db *sql.DB) error {
	p, err := migrations.NewProvider(string(b), db)
	if err != nil {
		return err
	}
	_, err = p.Up(ctx)
	return err
}

// serverExec runs statements on a short-lived connection to the server's
// maintenance database.
func serverExec(ctx context.Context, b dbtest.Backend, dsn string, stmts ...string) error {
	db, err := sql.Open(driverName(b), dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	for _, q := range stmts {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", strings.Fields(q)[0]+" "+strings.Fields(q)[1], err)
		}
	}
	return nil
}

// serverVersion asks a server for its version string.
func serverVersion(ctx context.Context, b dbtest.Backend, dsn string) string {
	db, err := sql.Open(driverName(b), dsn)
	if err != nil {
		return "unknown"
	}
	defer db.Close()
	var v string
	q := "SELECT version()"
	if b == dbtest.SQLite {
		q = "SELECT sqlite_version()"
	}
	if err := db.QueryRowContext(ctx, q).Scan(&v); err != nil {
		return "unknown"
	}
	return v
}

// alchemyURL turns a server DSN of this program into an SQLAlchemy URL with
// the given driver, on database name.
func alchemyURL(driver, dsn, name, query string) string {
	u := &url.URL{Scheme: driver, Path: "/" + name, RawQuery: query}
	if strings.HasPrefix(driver, "mysql") {
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			return ""
		}
		u.Host = cfg.Addr
		u.User = url.User(cfg.User)
		if cfg.Passwd != "" {
			u.User = url.UserPassword(cfg.User, cfg.Passwd)
		}
		return u.String()
	}
	pg, err := url.Parse(dsn)
	if err != nil {
		return ""
	}
	u.Host, u.User = pg.Host, pg.User
	if query == "" {
		u.RawQuery = pg.RawQuery
	}
	return u.String()
}
