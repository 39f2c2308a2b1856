package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	txdb "github.com/DATA-DOG/go-txdb"
	"github.com/peterldowns/pgtestdb"

	"github.com/easyautoml/dbharness/bench/internal/measure"
	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/fixtures"
	"github.com/easyautoml/dbharness/migrations"
)

// Per-test isolation: from nothing to a clean, migrated handle for one test
// (and with the base fixtures loaded into it), one query, and back. Every
// tool loads the fixtures with the same loader, package fixtures, so that
// the figures differ by the isolation mechanism alone.

// cycle is what one test does with its handle.
type cycle struct {
	backend  dbtest.Backend
	fixtures *fixtures.Set // nil: a clean handle only
}

// use runs the test's work on a handle: one query that needs the migrated
// schema, and the fixtures when asked.
func (c cycle) use(ctx context.Context, db fixtures.DBTX) error {
	var n int64
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM users").Scan(&n); err != nil {
		return err
	}
	if c.fixtures != nil {
		if _, err := c.fixtures.Load(ctx, db, string(c.backend)); err != nil {
			return err
		}
	}
	return nil
}

// dbharnessArm is dbtest.Connect and Release around the test's work.
func dbharnessArm(c cycle, parallel int) measure.Arm {
	return measure.Arm{Name: "dbharness", Parallel: parallel, Op: func(ctx context.Context) error {
		db, err := dbtest.Connect(ctx, c.backend)
		if err != nil {
			return err
		}
		werr := c.use(ctx, db)
		return errors.Join(werr, db.Release(ctx))
	}}
}

// txdbArms registers go-txdb twice over one migrated database: "cold" as
// its documentation shows it (each test opens a *sql.DB with a name of its
// own and closes it, and go-txdb closes its pool with the last one), and
// "warm" with one handle held open for the whole run, so that its pool of
// real connections stays open between tests, as a suite that keeps one
// txdb handle open would have it.
func (e *env) txdbArms(ctx context.Context, b dbtest.Backend, parallel int, cycles ...cycle) ([][]measure.Arm, error) {
	s, err := e.createScratch(ctx, b, "txdb", true)
	if err != nil {
		return nil, err
	}
	db, err := s.open()
	if err != nil {
		return nil, err
	}
	e.atEnd(func(context.Context) error { return db.Close() })
	if err := migrate(ctx, b, db); err != nil {
		return nil, fmt.Errorf("go-txdb: migrating: %w", err)
	}
	cold := "txdb_cold_" + s.name
	warm := "txdb_warm_" + s.name
	txdb.Register(cold, driverName(b), s.dsn)
	txdb.Register(warm, driverName(b), s.dsn)
	keep, err := sql.Open(warm, "kept open")
	if err != nil {
		return nil, err
	}
	conn, err := keep.Conn(ctx) // opens the driver's pool; begins nothing
	if err != nil {
		return nil, err
	}
	e.atEnd(func(context.Context) error { return errors.Join(conn.Close(), keep.Close()) })
	var seq atomic.Int64
	arm := func(name, driver string, c cycle) measure.Arm {
		return measure.Arm{Name: name, Parallel: parallel, Op: func(ctx context.Context) error {
			db, err := sql.Open(driver, fmt.Sprintf("test %d", seq.Add(1)))
			if err != nil {
				return err
			}
			werr := c.use(ctx, db)
			return errors.Join(werr, db.Close())
		}}
	}
	out := make([][]measure.Arm, len(cycles))
	for i, c := range cycles {
		out[i] = []measure.Arm{arm("go-txdb (warm pool)", warm, c), arm("go-txdb", cold, c)}
	}
	return out, nil
}

// naiveArm creates a database, migrates it, does the test's work and drops
// the database, for every test.
func (e *env) naiveArm(c cycle) measure.Arm {
	return measure.Arm{Name: "naive (create, migrate, drop)", Op: func(ctx context.Context) error {
		s, err := e.createScratch(ctx, c.backend, "naive", false)
		if err != nil {
			return err
		}
		db, err := s.open()
		if err == nil {
			if err = migrate(ctx, c.backend, db); err == nil {
				err = c.use(ctx, db)
			}
			err = errors.Join(err, db.Close())
		}
		return errors.Join(err, e.drop(ctx, s))
	}}
}

// pgtestdbArm clones pgtestdb's template database for every test. Its
// template is migrated once, by a goose Migrator over the registry
// migrations; the role and the template carry this run's token and are
// dropped at the end.
func (e *env) pgtestdbArm(ctx context.Context, c cycle) (measure.Arm, error) {
	u, err := url.Parse(e.pgDSN)
	if err != nil {
		return measure.Arm{}, err
	}
	pass, _ := u.User.Password()
	conf := pgtestdb.Config{
		DriverName: "pgx",
		Host:       u.Hostname(),
		Port:       u.Port(),
		User:       u.User.Username(),
		Password:   pass,
		Database:   strings.TrimPrefix(u.Path, "/"),
		Options:    u.RawQuery,
		TestRole: &pgtestdb.Role{
			Username:     "bench_" + e.token + "_pgtestdb",
			Password:     "bench",
			Capabilities: pgtestdb.DefaultRoleCapabilities,
		},
	}
	m, err := newGooseMigrator(e.token)
	if err != nil {
		return measure.Arm{}, err
	}
	e.atEnd(func(ctx context.Context) error { return e.dropPgtestdb(ctx, conf.TestRole.Username) })
	return measure.Arm{Name: "pgtestdb", Op: func(ctx context.Context) error {
		tb := &cycleTB{}
		db := pgtestdb.New(tb, conf, m)
		var werr error
		if db != nil {
			werr = c.use(ctx, db)
		}
		return errors.Join(werr, tb.finish())
	}}, nil
}

// dropPgtestdb drops what pgtestdb made with this run's role: its template
// databases, any instance left by a failed cleanup, and the role.
func (e *env) dropPgtestdb(ctx context.Context, role string) error {
	db, err := sql.Open("pgx", e.pgDSN)
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT datname FROM pg_database WHERE datdba = (SELECT oid FROM pg_roles WHERE rolname = $1)`, role)
	if err != nil {
		return err
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return err
		}
		names = append(names, n)
	}
	rows.Close()
	var errs []error
	for _, n := range names {
		_, err := db.ExecContext(ctx, `UPDATE pg_database SET datistemplate = false WHERE datname = $1`, n)
		errs = append(errs, err)
		_, err = db.ExecContext(ctx, `DROP DATABASE IF EXISTS "`+n+`" WITH (FORCE)`)
		errs = append(errs, err)
	}
	_, err = db.ExecContext(ctx, `DROP ROLE IF EXISTS "`+role+`"`)
	return errors.Join(append(errs, err)...)
}

// gooseMigrator is a pgtestdb.Migrator that runs the registry migrations
// with goose. Its hash covers the files and this run's token, so that the
// run gets a template of its own.
type gooseMigrator struct{ hash string }

func newGooseMigrator(token string) (*gooseMigrator, error) {
	fsys, err := migrations.FS("postgres")
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	h.Write([]byte(token))
	err = fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, path)
		h.Write([]byte(path))
		h.Write(b)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &gooseMigrator{hash: hex.EncodeToString(h.Sum(nil))[:16]}, nil
}

func (m *gooseMigrator) Hash() (string, error) { return m.hash, nil }

func (m *gooseMigrator) Migrate(ctx context.Context, db *sql.DB, _ pgtestdb.Config) error {
	return migrate(ctx, dbtest.Postgres, db)
}

// cycleTB is the pgtestdb.TB of one test cycle: it records failures and
// runs the cleanups when the cycle ends.
type cycleTB struct {
	cleanups []func()
	errs     []error
}

func (t *cycleTB) Cleanup(f func())                { t.cleanups = append(t.cleanups, f) }
func (t *cycleTB) Failed() bool                    { return len(t.errs) > 0 }
func (t *cycleTB) Helper()                         {}
func (t *cycleTB) Logf(format string, args ...any) {}
func (t *cycleTB) Fatalf(format string, args ...any) {
	t.errs = append(t.errs, fmt.Errorf(format, args...))
}

func (t *cycleTB) finish() error {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
	return errors.Join(t.errs...)
}

// isolation measures every backend's per-test cycle, clean and with the
// base fixtures, and on SQLite a clean cycle under two goroutines.
func (e *env) isolation(ctx context.Context, p measure.Plan, r *Report) error {
	base, err := fixtures.Base()
	if err != nil {
		return err
	}
	for _, b := range e.backends {
		clean, full := cycle{backend: b}, cycle{backend: b, fixtures: base}
		tx, err := e.txdbArms(ctx, b, 1, clean, full)
		if err != nil {
			return err
		}
		for i, c := range []cycle{clean, full} {
			arms := []measure.Arm{dbharnessArm(c, 1)}
			arms = append(arms, tx[i]...)
			if b == dbtest.Postgres {
				a, err := e.pgtestdbArm(ctx, c)
				if err != nil {
					return err
				}
				arms = append(arms, a)
			}
			arms = append(arms, e.naiveArm(c))
			res, err := measure.Compare(ctx, p, arms...)
			if err != nil {
				return fmt.Errorf("isolation on %s: %w", b, err)
			}
			name := fmt.Sprintf("%s: clean migrated handle, one query, back", b)
			if c.fixtures != nil {
				name = fmt.Sprintf("%s: handle with the base fixtures loaded, one query, back", b)
			}
			f := Figure{Section: "Per-test isolation", Name: name}
			for _, x := range res {
				f.Arms = append(f.Arms, secsArm(x))
			}
			for _, x := range res[1:] {
				f.Ratios = append(f.Ratios, speedup(res[0], x))
			}
			r.Figures = append(r.Figures, f)
			kind := "clean handle"
			if c.fixtures != nil {
				kind = "handle + base fixtures"
			}
			figure := fmt.Sprintf("isolation, %s, %s", b, kind)
			r.Targets = append(r.Targets, ratioTarget("no slower than go-txdb", figure, f.Ratios[0], 1))
			if b == dbtest.Postgres {
				r.Targets = append(r.Targets, ratioTarget("≥10× faster than pgtestdb", figure, f.Ratios[2], 10))
			}
			if b == dbtest.SQLite && c.fixtures == nil {
				r.Targets = append(r.Targets, timeTarget("SQLite clean handle < 1 ms", figure+", dbharness", f.Arms[0].Value, time.Millisecond))
			}
		}
		if b == dbtest.SQLite {
			par, err := e.txdbArms(ctx, b, 2, clean)
			if err != nil {
				return err
			}
			res, err := measure.Compare(ctx, p, dbharnessArm(clean, 2), par[0][0])
			if err != nil {
				return fmt.Errorf("isolation on %s, parallel: %w", b, err)
			}
			f := Figure{Section: "Per-test isolation", Name: "sqlite: clean handle, 2 goroutines at once (median latency of one handle)",
				Note: "Here a repetition's figure is the median latency of one cycle over both goroutines' cycles, where the other isolation figures take the mean per cycle."}
			for _, x := range res {
				f.Arms = append(f.Arms, secsArm(x))
			}
			f.Ratios = append(f.Ratios, speedup(res[0], res[1]))
			r.Figures = append(r.Figures, f)
			r.Targets = append(r.Targets,
				ratioTarget("no slower than go-txdb", "isolation, sqlite, clean handle, 2 goroutines", f.Ratios[0], 1),
				timeTarget("SQLite clean handle < 1 ms, parallel", "isolation, sqlite, 2 goroutines, dbharness", f.Arms[0].Value, time.Millisecond))
		}
	}
	return nil
}
