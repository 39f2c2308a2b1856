package dbtest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The companion process. Go offers no hook that runs when a test binary
// exits, so the first time dbtest creates a database on a server it starts
// a copy of the running executable with DBTEST_CLEANUP set. That copy does
// nothing but read its standard input, a pipe from the test binary. When the
// pipe closes, the test binary is gone, however it ended (normal exit,
// panic, timeout, kill): the companion drops every database of the test
// binary's token and exits. Processes killed together with their companion
// leave databases behind; the next process that uses the server drops them
// (see serverProvider.sweep).
const envCleanup = "DBTEST_CLEANUP"

func init() {
	if os.Getenv(envCleanup) == "1" {
		os.Exit(runCleanup())
	}
}

var reaper struct {
	mu   sync.Mutex
	pipe *os.File      // kept open for the life of the process
	done chan struct{} // closed when the companion has exited
	err  error
}

// startReaper makes sure the companion knows to drop the databases of token
// on the server named by base.
func startReaper(b Backend, base, token string) error {
	return tellReaper("server", string(b), token, strings.ReplaceAll(base, "\n", " "))
}

// registerCleanupDir has the companion remove dir, a directory of SQLite
// files, when the process ends.
func registerCleanupDir(dir string) error {
	return tellReaper("dir", dir)
}

// tellReaper starts the companion if needed and sends it a line.
func tellReaper(fields ...string) error {
	reaper.mu.Lock()
	defer reaper.mu.Unlock()
	if reaper.err != nil {
		return reaper.err
	}
	if reaper.pipe == nil {
		exe, err := os.Executable()
		if err != nil {
			reaper.err = err
			return err
		}
		r, w, err := os.Pipe()
		if err != nil {
			reaper.err = err
			return err
		}
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), envCleanup+"=1")
		cmd.Stdin = r
		// Its own process group: an interrupt sent to the test run must
		// not stop the cleanup.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			r.Close()
			w.Close()
			reaper.err = err
			return err
		}
		r.Close()
		done := make(chan struct{})
		go func() { // reap it when it exits
			cmd.Wait()
			close(done)
		}()
		reaper.pipe, reaper.done = w, done
	}
	_, err := fmt.Fprintln(reaper.pipe, strings.Join(fields, "\t"))
	return err
}

// runCleanup is the companion's main.
func runCleanup() int {
	type server struct{ b, token, base string }
	var servers []server
	var dirs []string
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), "\t", 4)
		switch {
		case len(f) == 4 && f[0] == "server":
			servers = append(servers, server{f[1], f[2], f[3]})
		case len(f) == 2 && f[0] == "dir":
			dirs = append(dirs, f[1])
		}
	}
	code := 0
	for _, d := range dirs {
		if os.RemoveAll(d) != nil {
			code = 1
		}
	}
	for _, s := range servers {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := dropToken(ctx, Backend(s.b), s.base, s.token); err != nil {
			code = 1
		}
		cancel()
	}
	return code
}

// stopReaper closes the pipe to the companion once this process has dropped
// its databases itself: the companion finds nothing left and exits.
func stopReaper() {
	reaper.mu.Lock()
	defer reaper.mu.Unlock()
	if reaper.pipe != nil {
		reaper.pipe.Close()
		reaper.pipe = nil
		select {
		case <-reaper.done:
		case <-time.After(10 * time.Second):
		}
	}
}
