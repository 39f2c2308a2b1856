package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/easyautoml/dbharness/bench/internal/measure"
	"github.com/easyautoml/dbharness/dbtest"
)

// The figures that run other processes: start-up, the scenario suite and
// memory. Their binaries are built once per run, into a directory removed
// at the end.

// builds holds the binaries of this run.
type builds struct {
	once sync.Once
	dir  string
	err  error
}

var bins builds

// binary builds pkg, a package path of the bench module or of the
// dbharness module, into the run's directory, once.
func (e *env) binary(ctx context.Context, name, modulePath, pkg string) (string, error) {
	bins.once.Do(func() {
		bins.dir, bins.err = os.MkdirTemp("", "bench-"+e.token+"-bin-")
		if bins.err == nil {
			dir := bins.dir
			e.atEnd(func(context.Context) error { return os.RemoveAll(dir) })
		}
	})
	if bins.err != nil {
		return "", bins.err
	}
	out := filepath.Join(bins.dir, name)
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	dir := "."
	if modulePath != "" {
		b, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", modulePath).Output()
		if err != nil {
			return "", fmt.Errorf("finding module %s: %w", modulePath, err)
		}
		dir = strings.TrimSpace(string(b))
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return out, nil
}

// untilReady starts the command and returns the time until it printed its
// first line, then waits for it to exit.
func untilReady(cmd *exec.Cmd) (time.Duration, error) {
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	line, rerr := bufio.NewReader(out).ReadString('\n')
	d := time.Since(start)
	if werr := cmd.Wait(); werr != nil || rerr != nil || strings.TrimSpace(line) != "ready" {
		return 0, fmt.Errorf("%s: %v %v %q %s", cmd.Path, werr, rerr, line, strings.TrimSpace(stderr.String()))
	}
	return d, nil
}

// startup measures process start to first query on the embedded SQLite,
// with the wazero compilation cache warm and cold, against the start of
// the same binary doing nothing.
func (e *env) startup(ctx context.Context, p measure.Plan, r *Report) error {
	probe, err := e.binary(ctx, "benchprobe", "", "./cmd/benchprobe")
	if err != nil {
		return err
	}
	warmDir, err := os.MkdirTemp("", "bench-"+e.token+"-wazero-")
	if err != nil {
		return err
	}
	e.atEnd(func(context.Context) error { return os.RemoveAll(warmDir) })
	probeArm := func(name string, cacheDir func() (string, func(), error), args ...string) measure.Arm {
		return measure.Arm{Name: name, Timed: func(ctx context.Context) (time.Duration, error) {
			dir, done, err := cacheDir()
			if err != nil {
				return 0, err
			}
			defer done()
			cmd := exec.CommandContext(ctx, probe, args...)
			cmd.Env = append(os.Environ(), dbtest.EnvWazeroCache+"="+dir)
			return untilReady(cmd)
		}}
	}
	warm := func() (string, func(), error) { return warmDir, func() {}, nil }
	// The compiled SQLite cached, the migrated template not: what every
	// start paid before dbtest kept templates next to the compiled code.
	noTemplate := func() (string, func(), error) {
		return warmDir, func() {}, os.RemoveAll(filepath.Join(warmDir, "dbtest-sqlite-templates"))
	}
	cold := func() (string, func(), error) {
		dir, err := os.MkdirTemp("", "bench-"+e.token+"-cold-")
		return dir, func() { os.RemoveAll(dir) }, err
	}
	res, err := measure.Compare(ctx, p,
		probeArm("SQLite engine, warm cache", warm, "engine", "ncruces"),
		probeArm("SQLite engine, cold cache", cold, "engine", "ncruces"),
		probeArm("dbtest handle, warm cache", warm, "startup"),
		probeArm("dbtest handle, cold cache", cold, "startup"),
		probeArm("modernc.org/sqlite engine", warm, "engine", "modernc"),
		probeArm("the same binary, printing at once (process floor)", warm, "floor"),
		probeArm("dbtest handle, warm cache, template not cached", noTemplate, "startup"))
	if err != nil {
		return err
	}
	f := Figure{Section: "Start-up", Name: "process start to the first query on the embedded SQLite",
		Note: "SQLite engine: dbtest.InitSQLite, an in-memory database, SELECT sqlite_version(). dbtest handle: dbtest.Connect and SELECT count(*) FROM users; Connect loads the migrated template database from the cache directory, where the first process with these migrations stored it (\"template not cached\": the template directory is removed before every start, so the process migrates it, as every process did before templates were cached). A cold cache is a new empty DBTEST_WAZERO_CACHE directory for every start: neither compiled SQLite nor a template. modernc.org/sqlite, SQLite translated to Go, is the engine a project without cgo would otherwise pick; it has nothing to compile at start. All run from one binary. Ratios: modernc's time over the warm engine's (below 1: modernc starts faster), each cold start over its warm one, the uncached template over the cached one, the warm dbtest handle over the warm engine alone (what dbtest adds), and the warm starts over the process floor (how many times longer than merely starting the binary)."}
	for _, x := range res {
		f.Arms = append(f.Arms, secsArm(x))
	}
	f.Ratios = []RatioFigure{speedup(res[0], res[4]), speedup(res[0], res[1]), speedup(res[2], res[3]), speedup(res[2], res[6])}
	added := measure.Ratios(res[2].Secs, res[0].Secs)
	f.Ratios = append(f.Ratios, RatioFigure{Label: res[2].Name + " / " + res[0].Name, Value: measure.Summarize(added), Values: added})
	for _, x := range []measure.Result{res[0], res[2]} {
		v := measure.Ratios(x.Secs, res[5].Secs)
		f.Ratios = append(f.Ratios, RatioFigure{Label: x.Name + " / " + res[5].Name, Value: measure.Summarize(v), Values: v})
	}
	r.Figures = append(r.Figures, f)
	r.Targets = append(r.Targets,
		timeTarget("SQLite start-up < 40 ms, warm cache", "start-up, SQLite engine, warm cache", f.Arms[0].Value, 40*time.Millisecond),
		timeTarget("SQLite start-up < 40 ms, warm cache", "start-up, dbtest handle, warm cache", f.Arms[2].Value, 40*time.Millisecond))
	return nil
}

// scenarios measures "dbharness run" on each backend, the binary built
// once. Each run makes and drops its own server databases.
func (e *env) scenarios(ctx context.Context, p measure.Plan, r *Report) error {
	bin, err := e.binary(ctx, "dbharness", "github.com/easyautoml/dbharness", "./cmd/dbharness")
	if err != nil {
		return err
	}
	var arms []measure.Arm
	for _, b := range e.backends {
		arms = append(arms, measure.Arm{Name: "dbharness run --db " + string(b), Ops: 1, Op: func(ctx context.Context) error {
			cmd := exec.CommandContext(ctx, bin, "run", "--db", string(b), "-q")
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("%w\n%s", err, tail(out, 15))
			}
			return nil
		}})
	}
	res, err := measure.Compare(ctx, p, arms...)
	if err != nil {
		return err
	}
	f := Figure{Section: "Scenario suite", Name: "wall time of every built-in scenario, one backend a process (the binary built once)",
		Note: "No other tool runs these scenarios; the ratios compare each server backend with the embedded SQLite (how many times longer it takes)."}
	for _, x := range res {
		f.Arms = append(f.Arms, secsArm(x))
	}
	for _, x := range res[1:] {
		v := measure.Ratios(x.Secs, res[0].Secs)
		f.Ratios = append(f.Ratios, RatioFigure{Label: x.Name + " / " + res[0].Name, Value: measure.Summarize(v), Values: v})
	}
	r.Figures = append(r.Figures, f)
	return nil
}

// memory runs the probe holding 16 connections of the embedded SQLite, and
// of modernc.org/sqlite for comparison, and reports its resident and
// virtual memory.
func (e *env) memory(ctx context.Context, p measure.Plan, r *Report) error {
	probe, err := e.binary(ctx, "benchprobe", "", "./cmd/benchprobe")
	if err != nil {
		return err
	}
	type sample struct {
		Before map[string]float64 `json:"before"`
		After  map[string]float64 `json:"after"`
	}
	const conns = 16
	run := func(engine string) (sample, error) {
		var s sample
		out, err := exec.CommandContext(ctx, probe, "memory", engine, fmt.Sprint(conns)).Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				err = fmt.Errorf("%w: %s", err, ee.Stderr)
			}
			return s, err
		}
		return s, json.Unmarshal(out, &s)
	}
	mib := func(kb float64) float64 { return kb / 1024 }
	measures := []struct {
		name string
		f    func(sample) float64
	}{
		{"VmRSS, engine started, no connection", func(s sample) float64 { return mib(s.Before["VmRSS"]) }},
		{"VmRSS, 16 connections", func(s sample) float64 { return mib(s.After["VmRSS"]) }},
		{"VmRSS per connection", func(s sample) float64 { return mib(s.After["VmRSS"]-s.Before["VmRSS"]) / conns }},
		{"VmSize, 16 connections", func(s sample) float64 { return mib(s.After["VmSize"]) }},
		{"VmSize per connection", func(s sample) float64 { return mib(s.After["VmSize"]-s.Before["VmSize"]) / conns }},
	}
	engines := []struct{ engine, tool string }{{"ncruces", "dbharness (ncruces, wazero)"}, {"modernc", "modernc.org/sqlite"}}
	series := map[string][][]float64{}
	for range max(p.Reps, 5) {
		for _, en := range engines { // alternating, as everywhere
			s, err := run(en.engine)
			if err != nil {
				return err
			}
			if series[en.engine] == nil {
				series[en.engine] = make([][]float64, len(measures))
			}
			for i, m := range measures {
				series[en.engine][i] = append(series[en.engine][i], m.f(s))
			}
		}
	}
	f := Figure{Section: "Memory", Name: "a process holding 16 open connections to one in-memory SQLite database (/proc/self/status)",
		Note: "Each connection of the embedded SQLite is a WebAssembly instance whose linear memory may grow to 256 MiB (the limit dbtest.InitSQLite sets), and wazero reserves the whole of it as address space when the instance starts: VmSize grows by about 256 MiB a connection, resident memory only by what SQLite touches. The reservation is address space only: it counts against ulimit -v (RLIMIT_AS), not against RAM. Ratios: modernc.org/sqlite's figure over dbharness's (below 1: modernc uses less)."}
	for i, m := range measures {
		for _, en := range engines {
			v := series[en.engine][i]
			f.Arms = append(f.Arms, ArmFigure{Tool: en.tool + ": " + m.name, Ops: 1, Unit: Bytes, Value: measure.Summarize(v), Values: v})
		}
	}
	for _, i := range []int{1, 3} {
		v := measure.Ratios(series["modernc"][i], series["ncruces"][i])
		f.Ratios = append(f.Ratios, RatioFigure{Label: "modernc.org/sqlite / dbharness, " + measures[i].name, Value: measure.Summarize(v), Values: v})
	}
	r.Figures = append(r.Figures, f)
	return nil
}
