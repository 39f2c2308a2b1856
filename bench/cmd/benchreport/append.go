package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/easyautoml/dbharness/bench/internal/measure"
	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/dynamic"
	"github.com/easyautoml/dbharness/fixtures/datasets"
)

// Append throughput: the salaries frame (2,000 rows, 8 columns: floats,
// text, integers, booleans, timestamps) repeated to 10,000 and 100,000 rows,
// written into a new table by dynamic.Append, by each driver's raw path and
// by pandas' DataFrame.to_sql.

var appendSizes = []int{10_000, 100_000}

// pandasChunk is the chunksize of pandas' method="multi": 500 rows of 8
// columns is 4,000 parameters, within SQLite's limit of 32,766 (without a
// chunksize, pandas puts every row into one statement, which SQLite
// refuses at these sizes). method=None keeps pandas' default (no chunks).
const pandasChunk = 500

const appendTable = "salaries_bench"

// appendTarget is one database as every tool reaches it.
type appendTarget struct {
	backend dbtest.Backend
	db      *sql.DB // the backend's own driver
	alchemy string  // SQLAlchemy URL for pandas
	sqlite3 string  // "sqlite3:PATH" for pandas on a plain connection
}

func (e *env) appendTargets(ctx context.Context) ([]appendTarget, error) {
	var out []appendTarget
	for _, b := range e.backends {
		t := appendTarget{backend: b}
		var dsn string
		switch b {
		case dbtest.SQLite:
			// A file, since pandas runs in another process; every tool
			// writes the same file, in SQLite's default journal mode.
			dir, err := os.MkdirTemp("", "bench-"+e.token+"-")
			if err != nil {
				return nil, err
			}
			e.atEnd(func(context.Context) error { return os.RemoveAll(dir) })
			path := filepath.Join(dir, "append.db")
			dsn = "file:" + path + "?_pragma=busy_timeout(10000)"
			t.alchemy = "sqlite:///" + path
			t.sqlite3 = "sqlite3:" + path
		case dbtest.Postgres:
			s, err := e.createScratch(ctx, b, "append", true)
			if err != nil {
				return nil, err
			}
			dsn = s.dsn
			t.alchemy = alchemyURL("postgresql+psycopg2", e.pgDSN, s.name, "")
		case dbtest.MySQL:
			s, err := e.createScratch(ctx, b, "append", true)
			if err != nil {
				return nil, err
			}
			dsn = s.dsn
			t.alchemy = alchemyURL("mysql+mysqldb", e.myDSN, s.name, "charset=utf8mb4")
		}
		db, err := sql.Open(driverName(b), dsn)
		if err != nil {
			return nil, err
		}
		e.atEnd(func(context.Context) error { return db.Close() })
		t.db = db
		out = append(out, t)
	}
	return out, nil
}

func (e *env) appendThroughput(ctx context.Context, p measure.Plan, r *Report) error {
	base, err := dynamic.ReadCSV(bytes.NewReader(datasets.SalariesCSV()))
	if err != nil {
		return err
	}
	targets, err := e.appendTargets(ctx)
	if err != nil {
		return err
	}

	var py *pyWorker
	if err := ensurePandas(ctx); err != nil {
		r.Missing = append(r.Missing, "pandas arms of the append figures: "+err.Error())
	} else {
		csvPath := filepath.Join(os.TempDir(), "bench-"+e.token+"-salaries.csv")
		if err := os.WriteFile(csvPath, datasets.SalariesCSV(), 0o644); err != nil {
			return err
		}
		e.atEnd(func(context.Context) error { return os.Remove(csvPath) })
		if py, err = startWorker(ctx); err != nil {
			return err
		}
		defer py.close()
		versions, err := py.load(csvPath, appendSizes)
		if err != nil {
			return err
		}
		for k, v := range versions {
			r.Versions["python: "+k] = v
		}
	}

	for _, t := range targets {
		for _, n := range appendSizes {
			f, err := repeatFrame(base, n)
			if err != nil {
				return err
			}
			arms := appendArms(t, f, py, n == appendSizes[0])
			plan := p
			plan.Budget = max(p.Budget, 300*time.Millisecond)
			res, err := measure.Compare(ctx, plan, arms...)
			if err == nil {
				err = checkRows(ctx, t, n) // the last operation of the comparison
			}
			if err != nil {
				return fmt.Errorf("append on %s, %d rows: %w", t.backend, n, err)
			}
			fig := Figure{Section: "Append throughput", Name: fmt.Sprintf("%s: salaries frame, %d rows, into a new table", t.backend, n)}
			for _, x := range res {
				fig.Arms = append(fig.Arms, rateArm(x, n))
			}
			for _, x := range res[1:] {
				fig.Ratios = append(fig.Ratios, speedup(res[0], x))
			}
			r.Figures = append(r.Figures, fig)
			r.Targets = append(r.Targets, appendTargetsMet(t.backend, n, res, fig.Ratios)...)
		}
	}
	return nil
}

// appendTargetsMet states the append targets of one comparison: against
// every raw path, and against the fastest pandas arm of each kind.
func appendTargetsMet(b dbtest.Backend, n int, res []measure.Result, ratios []RatioFigure) []Target {
	figure := fmt.Sprintf("append, %s, %dk rows", b, n/1000)
	var out []Target
	fastest := func(prefix string) int {
		best := -1
		for i, x := range res[1:] {
			if strings.HasPrefix(x.Name, prefix) && (best < 0 || measure.Summarize(x.Secs).Median < measure.Summarize(res[best+1].Secs).Median) {
				best = i
			}
		}
		return best
	}
	for i, x := range res[1:] {
		if strings.HasPrefix(x.Name, "raw") {
			out = append(out, ratioTarget("≥0.8× the raw path", figure, ratios[i], 0.8))
		}
	}
	switch b {
	case dbtest.SQLite:
		if i := fastest("pandas (SQLAlchemy"); i >= 0 {
			out = append(out, ratioTarget("SQLite ≥3× pandas through SQLAlchemy (its faster method)", figure, ratios[i], 3))
		}
		if i := fastest("pandas (sqlite3"); i >= 0 {
			out = append(out, ratioTarget("SQLite ≥1.2× pandas on plain sqlite3, method='multi'", figure, ratios[i], 1.2))
		}
	case dbtest.Postgres:
		if i := fastest("pandas"); i >= 0 {
			out = append(out, ratioTarget("PostgreSQL ≥10× pandas (its fastest method)", figure, ratios[i], 10))
		}
	case dbtest.MySQL:
		if i := fastest("pandas"); i >= 0 {
			out = append(out, ratioTarget("MySQL ≥4× pandas (its fastest method)", figure, ratios[i], 4))
		}
	}
	return out
}

// appendArms lists the tools that write f into t; the first is dbharness.
// The larger size runs one operation a repetition, warmed by the smaller.
func appendArms(t appendTarget, f *dynamic.Frame, py *pyWorker, first bool) []measure.Arm {
	b, db, n := t.backend, t.db, f.Len()
	names, rows := f.Names(), f.Rows()
	ops := 0
	if !first {
		ops = 1
	}
	// fresh checks the previous operation wrote every row, then drops the
	// table: every tool writes into a table that does not exist yet.
	fresh := func(ctx context.Context) error { return checkRows(ctx, t, n) }
	arms := []measure.Arm{{
		Name: "dbharness (dynamic.Append)", Setup: fresh,
		Op: func(ctx context.Context) error {
			_, err := dynamic.Append(ctx, db, string(b), appendTable, f)
			return err
		},
	}}
	insert := func(name string, batch int) measure.Arm {
		return measure.Arm{Name: name, Setup: fresh, Op: func(ctx context.Context) error {
			if err := createLike(ctx, db, b, appendTable, f); err != nil {
				return err
			}
			return rawInsert(ctx, db, b, appendTable, names, rows, batch)
		}}
	}
	switch b {
	case dbtest.SQLite:
		arms = append(arms, insert("raw multi-row INSERT, 500 rows a statement", 500),
			insert("raw prepared single-row INSERT", 1))
	case dbtest.Postgres:
		arms = append(arms, measure.Arm{Name: "raw pgx COPY", Setup: fresh, Op: func(ctx context.Context) error {
			if err := createLike(ctx, db, b, appendTable, f); err != nil {
				return err
			}
			return rawCopy(ctx, db, appendTable, names, rows)
		}})
	case dbtest.MySQL:
		arms = append(arms, insert("raw multi-row INSERT, 1000 rows a statement", 1000))
	}
	if py != nil {
		pandas := func(name, target, method string, chunk int) measure.Arm {
			return measure.Arm{Name: name, Setup: fresh, Timed: func(ctx context.Context) (time.Duration, error) {
				return py.toSQL(target, appendTable, n, method, chunk)
			}}
		}
		arms = append(arms,
			pandas("pandas (SQLAlchemy, method=None)", t.alchemy, "", 0),
			pandas(fmt.Sprintf("pandas (SQLAlchemy, method='multi', chunksize=%d)", pandasChunk), t.alchemy, "multi", pandasChunk))
		if b == dbtest.SQLite {
			arms = append(arms, pandas(fmt.Sprintf("pandas (sqlite3, method='multi', chunksize=%d)", pandasChunk), t.sqlite3, "multi", pandasChunk))
		}
	}
	for i := range arms {
		arms[i].Ops = ops
		arms[i].NoWarmup = !first
	}
	return arms
}

// checkRows checks that the table, if there, holds n rows, and drops it.
func checkRows(ctx context.Context, t appendTarget, n int) error {
	got, err := dynamic.Count(ctx, t.db, string(t.backend), appendTable)
	if err == nil && got != int64(n) {
		return fmt.Errorf("the previous operation left %d rows in %s, want %d", got, appendTable, n)
	}
	if err != nil && !errors.Is(err, dynamic.ErrNoTable) {
		return err
	}
	return dropTable(ctx, t.db, t.backend, appendTable)
}

// repeatFrame repeats f's rows until it has n rows, keeping its types.
func repeatFrame(f *dynamic.Frame, n int) (*dynamic.Frame, error) {
	cols := slices.Clone(f.Columns())
	for i, c := range cols {
		vals := make([]any, n)
		for j := range vals {
			vals[j] = c.Values[j%len(c.Values)]
		}
		cols[i].Values = vals
	}
	return dynamic.NewFrame(cols...)
}
