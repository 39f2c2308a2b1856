package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// pandas runs in Debian's Python with Debian's packages, whatever Python
// comes first on PATH: that is where apt-get puts them.
const systemPython = "/usr/bin/python3"

// pythonModules are imported by the worker, and the Debian packages that
// hold them.
var pythonModules = []struct{ module, pkg string }{
	{"pandas", "python3-pandas"},
	{"sqlalchemy", "python3-sqlalchemy"},
	{"psycopg2", "python3-psycopg2"},
	{"MySQLdb", "python3-mysqldb"},
}

// ensurePandas makes sure the worker's modules import, installing the
// missing Debian packages with apt-get when running as root.
func ensurePandas(ctx context.Context) error {
	var missing []string
	for _, m := range pythonModules {
		if exec.CommandContext(ctx, systemPython, "-c", "import "+m.module).Run() != nil {
			missing = append(missing, m.pkg)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("%s lacks %s: install them with apt-get (root is needed)", systemPython, strings.Join(missing, ", "))
	}
	fmt.Fprintf(os.Stderr, "(installing %s with apt-get) ", strings.Join(missing, " "))
	install := func() error {
		cmd := exec.CommandContext(ctx, "apt-get", append([]string{"install", "-y", "-q", "--no-install-recommends"}, missing...)...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("apt-get install %s: %w\n%s", strings.Join(missing, " "), err, tail(out, 10))
		}
		return nil
	}
	if install() != nil {
		// The package lists may be missing or stale: refresh them once.
		if out, err := exec.CommandContext(ctx, "apt-get", "update", "-q").CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get update: %w\n%s", err, tail(out, 10))
		}
		return install()
	}
	return nil
}

func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// pyWorker is bench/python/to_sql_worker.py, running: one request and one
// answer at a time, as JSON lines.
type pyWorker struct {
	mu     sync.Mutex
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	stderr strings.Builder
}

// workerScript finds the worker next to this source file's module.
func workerScript() (string, error) {
	for _, p := range []string{"python/to_sql_worker.py", "bench/python/to_sql_worker.py"} {
		if _, err := os.Stat(p); err == nil {
			return filepath.Abs(p)
		}
	}
	_, file, _, ok := runtime.Caller(0)
	if ok {
		p := filepath.Join(filepath.Dir(file), "..", "..", "python", "to_sql_worker.py")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("python/to_sql_worker.py not found: run benchreport from bench/")
}

func startWorker(ctx context.Context) (*pyWorker, error) {
	script, err := workerScript()
	if err != nil {
		return nil, err
	}
	w := &pyWorker{}
	w.cmd = exec.CommandContext(ctx, systemPython, script)
	w.cmd.Stderr = &w.stderr
	if w.in, err = w.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := w.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	w.out = bufio.NewReaderSize(out, 1<<16)
	if err := w.cmd.Start(); err != nil {
		return nil, err
	}
	return w, nil
}

// call sends a request and decodes the answer into resp.
func (w *pyWorker) call(req map[string]any, resp any) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if _, err := w.in.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("pandas worker: %w (%s)", err, strings.TrimSpace(w.stderr.String()))
	}
	line, err := w.out.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("pandas worker: %w (%s)", err, strings.TrimSpace(w.stderr.String()))
	}
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(line, &e) == nil && e.Error != "" {
		return fmt.Errorf("pandas: %s", e.Error)
	}
	return json.Unmarshal(line, resp)
}

// load has the worker read the salaries CSV and build its frames; it
// returns the versions of Python and its libraries.
func (w *pyWorker) load(csvPath string, rows []int) (map[string]string, error) {
	var resp struct {
		Versions map[string]string `json:"versions"`
	}
	err := w.call(map[string]any{"op": "load", "csv": csvPath, "rows": rows}, &resp)
	return resp.Versions, err
}

// toSQL times DataFrame.to_sql of the rows-row frame into table, as the
// worker measured it.
func (w *pyWorker) toSQL(target, table string, rows int, method string, chunksize int) (time.Duration, error) {
	req := map[string]any{"op": "to_sql", "target": target, "table": table, "rows": rows, "method": nil, "chunksize": nil}
	if method != "" {
		req["method"] = method
	}
	if chunksize > 0 {
		req["chunksize"] = chunksize
	}
	var resp struct {
		Seconds float64 `json:"seconds"`
	}
	if err := w.call(req, &resp); err != nil {
		return 0, err
	}
	return time.Duration(resp.Seconds * float64(time.Second)), nil
}

func (w *pyWorker) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.in.Write([]byte(`{"op": "quit"}` + "\n"))
	w.in.Close()
	done := make(chan error, 1)
	go func() { done <- w.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		w.cmd.Process.Kill()
		return <-done
	}
}
