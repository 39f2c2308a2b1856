package harness

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/fixtures"
	"github.com/easyautoml/dbharness/registry"
)

// StepResult is the outcome of one step.
type StepResult struct {
	Index    int           `json:"index"`
	Kind     string        `json:"kind"`
	Line     int           `json:"line"`
	Passed   bool          `json:"passed"`
	Skipped  bool          `json:"skipped,omitempty"` // not for this backend
	Duration time.Duration `json:"duration_ns"`
	Detail   string        `json:"detail,omitempty"`
	Error    string        `json:"error,omitempty"`
	// LockReport explains a lock error of the step, expected or not:
	// who held what, since which statement, and on SQLite the timeline
	// of every connection's locks.
	LockReport string `json:"lock_report,omitempty"`
	// Lock is the same report as data, for the lock timelines of
	// [WriteHTML].
	Lock *dbtest.LockReport `json:"-"`
}

// Result is the outcome of a scenario on a backend.
type Result struct {
	Scenario string         `json:"scenario"`
	File     string         `json:"file"`
	Backend  dbtest.Backend `json:"backend"`
	Passed   bool           `json:"passed"`
	Duration time.Duration  `json:"duration_ns"`
	Steps    []StepResult   `json:"steps"`
	Error    string         `json:"error,omitempty"` // why it failed, when not a step
	Notes    []string       `json:"notes,omitempty"` // what dbtest noted, such as MySQL's implicit commits
}

// Failure says why the scenario failed: the failed step, named by its file,
// line, index and kind, with its error; or the error outside any step. It
// is empty when the scenario passed.
func (r Result) Failure() string {
	if r.Passed {
		return ""
	}
	for _, s := range r.Steps {
		if !s.Passed {
			return fmt.Sprintf("%s:%d: step %d (%s): %s", r.File, s.Line, s.Index, s.Kind, s.Error)
		}
	}
	return r.Error
}

// Observer is told of each step as it ends, for progress output.
type Observer func(sc *Scenario, b dbtest.Backend, s StepResult)

// Run runs sc on a handle: fixtures first, then every step. A step fails
// when it errs unexpectedly, when an expectation does not hold, or when it
// was expected to fail and did not; the scenario stops at the first
// failed step.
func Run(ctx context.Context, db *dbtest.DB, sc *Scenario, observe Observer) (res Result) {
	res = Result{Scenario: sc.Name, File: sc.File, Backend: db.Backend(), Passed: true}
	start := time.Now()
	defer func() { res.Duration = time.Since(start) }()
	repo, err := registry.New(db, db.Dialect())
	if err != nil {
		res.Passed, res.Error = false, err.Error()
		return res
	}
	r := &run{
		ctx: ctx, db: db, q: db, base: repo, repo: repo, sc: sc,
		users: map[string]int64{}, teams: map[string]int64{}, machines: map[string]int64{},
		models: map[string]*model{}, locks: map[string]registry.MachineTableLockWrite{}, tableNames: map[int64]string{},
		conns: map[string]*ownConn{},
	}
	defer func() {
		if err := r.close(); err != nil && res.Passed {
			res.Passed, res.Error = false, "harness: "+err.Error()
		}
	}()
	r.ctx = dbtest.WithOrigin(ctx, sc.File+" (fixtures)")
	if err := r.loadFixtures(); err != nil {
		res.Passed, res.Error = false, err.Error()
		return res
	}
	for _, st := range sc.Steps {
		sr := StepResult{Index: st.Index, Kind: st.Kind, Line: st.Line}
		if len(st.Backends) > 0 && !slices.Contains(st.Backends, db.Backend()) {
			sr.Skipped, sr.Passed = true, true
			sr.Detail = "not on " + string(db.Backend())
			res.Steps = append(res.Steps, sr)
			if observe != nil {
				observe(sc, db.Backend(), sr)
			}
			continue
		}
		t0 := time.Now()
		r.detail = ""
		// dbtest's reports name the step's line, not the engine's code.
		r.ctx = dbtest.WithOrigin(ctx, fmt.Sprintf("%s:%d", sc.File, st.Line))
		err, broken := r.step(st)
		sr.Duration = time.Since(t0)
		sr.Detail = r.detail
		var mm *mismatch
		switch {
		case broken != nil:
			sr.Error = broken.Error()
		case st.Expect != "" && err == nil:
			sr.Error = fmt.Sprintf("expected a %s error, and the step succeeded", st.Expect)
		case st.Expect != "" && errors.As(err, &mm):
			sr.Error = err.Error()
		case st.Expect != "" && !matches(st.Expect, err):
			sr.Error = fmt.Sprintf("expected a %s error, got: %v", st.Expect, err)
		case st.Expect != "":
			sr.Passed = true
			sr.Detail = fmt.Sprintf("failed as expected (%s): %s", st.Expect, summary(err))
		case err != nil:
			sr.Error = err.Error()
		default:
			sr.Passed = true
		}
		var le *dbtest.LockError
		if errors.As(err, &le) && le.Report != nil {
			sr.LockReport = le.Report.String()
			sr.Lock = le.Report
		}
		res.Steps = append(res.Steps, sr)
		if observe != nil {
			observe(sc, db.Backend(), sr)
		}
		if !sr.Passed {
			res.Passed = false
			return res
		}
	}
	return res
}

// step runs one step. A step that expects an error runs inside a
// savepoint of the scenario's transaction, rolled back after it: on
// PostgreSQL a failed statement aborts the whole transaction, and the steps
// after it must still run. broken reports a failure of the savepoint
// itself, which no expectation covers.
func (r *run) step(st *Step) (err, broken error) {
	if st.Expect == "" {
		return steps[st.Kind].run(r, st), nil
	}
	tx, err := r.db.BeginTx(r.ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("harness: a savepoint for a step that expects an error: %w", err)
	}
	r.q, r.repo = tx, r.base.WithTx(tx)
	defer func() { r.q, r.repo = r.db, r.base }()
	err = steps[st.Kind].run(r, st)
	if rerr := tx.Rollback(); rerr != nil {
		return err, fmt.Errorf("harness: rolling back the step's savepoint: %w", rerr)
	}
	return err, nil
}

// summary gives the first two lines of an error: with errors.Join, what
// was being done and what went wrong.
func summary(err error) string {
	lines := strings.SplitN(err.Error(), "\n", 3)
	if len(lines) > 1 && lines[1] != "" {
		return lines[0] + ": " + lines[1]
	}
	return lines[0]
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func (r *run) loadFixtures() error {
	var sets []*fixtures.Set
	for _, name := range r.sc.Fixtures {
		var s *fixtures.Set
		var err error
		if name == "base" {
			s, err = fixtures.Base()
		} else {
			if r.sc.fsys == nil {
				return fmt.Errorf("harness: %s: fixtures %q: the scenario was not read from files", r.sc.File, name)
			}
			s, err = fixtures.ParseFS(r.sc.fsys, r.sc.file(name))
		}
		if err != nil {
			return err
		}
		sets = append(sets, s)
	}
	r.fixtures = fixtures.Loaded{}
	if len(sets) == 0 {
		return nil
	}
	all, err := fixtures.Merge(sets...)
	if err != nil {
		return err
	}
	ids, err := all.Load(r.ctx, r.db, r.db.Dialect())
	if err != nil {
		return err
	}
	r.fixtures = ids
	return nil
}

// RunOn runs sc on backend b in a handle of its own, from dbtest.Connect
// with the scenario's options (see [Scenario.Options]) and opts, and
// releases it: writes that escaped the scenario's transaction fail the
// scenario too, unless its expect_cleanup expects them; then what cleanup
// found goes into the notes.
func RunOn(ctx context.Context, b dbtest.Backend, sc *Scenario, observe Observer, opts ...dbtest.Option) Result {
	var mu sync.Mutex
	var notes []string
	note := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		notes = append(notes, fmt.Sprintf(format, args...))
	}
	opts = append(opts[:len(opts):len(opts)], dbtest.WithLogf(note))
	opts = append(opts, sc.options(func(problems error) error {
		err := sc.CheckCleanup(problems)
		if err == nil {
			note("cleanup found, as the scenario expects: %v", problems)
		}
		return err
	})...)
	db, err := dbtest.Connect(ctx, b, opts...)
	if err != nil {
		return Result{Scenario: sc.Name, File: sc.File, Backend: b, Error: err.Error()}
	}
	res := Run(ctx, db, sc, observe)
	if err := db.Release(ctx); err != nil && res.Passed {
		res.Passed, res.Error = false, err.Error()
	}
	mu.Lock()
	res.Notes = notes
	mu.Unlock()
	return res
}
