//go:build linux

package testserver

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrNotInstalled is matched by the error of a Start function when the
// server's binaries are not on this machine.
var ErrNotInstalled = errors.New("testserver: server binaries not installed")

// dirPrefix starts the name of every server directory, followed by the pid
// of the process that made it.
const dirPrefix = "dbharness-testserver-"

// readyTimeout bounds how long a start waits for the server to answer.
const readyTimeout = 90 * time.Second

// Kind names the server software.
type Kind string

// The kinds of server this package runs.
const (
	Postgres Kind = "postgres"
	MariaDB  Kind = "mariadb"
)

// Server is a private database server. Its methods are safe for use by
// one goroutine at a time.
type Server struct {
	kind Kind
	dir  string
	port int
	dsn  string
	// argv starts the server in the foreground; cred runs it as another
	// user (PostgreSQL under root).
	argv []string
	cred *syscall.Credential
	// driver and ping are what readiness checks connect with.
	driver, ping string

	mu   sync.Mutex
	proc *process // nil while stopped
}

// Kind returns the server's kind.
func (s *Server) Kind() Kind { return s.kind }

// DSN returns the server's data source name, in the form dbtest's
// environment variables take: a postgres:// URL for PostgreSQL (database
// postgres, user postgres, trust authentication), a go-sql-driver/mysql DSN
// for MariaDB (user root without a password, database test).
func (s *Server) DSN() string { return s.dsn }

// Port returns the loopback TCP port the server listens on.
func (s *Server) Port() int { return s.port }

// Dir returns the server's directory: data, socket and log.
func (s *Server) Dir() string { return s.dir }

// Running reports whether the server process is up.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc != nil && !s.proc.exited()
}

// Start starts a stopped server on its data, port and settings, and waits
// until it answers queries.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil && !s.proc.exited() {
		return fmt.Errorf("testserver: %s: already running", s.kind)
	}
	return s.startLocked(ctx)
}

// Stop shuts the server down (PostgreSQL's fast shutdown, MariaDB's normal
// one: open connections are closed, their transactions rolled back) and
// waits for its process to exit. The data stays for [Server.Start].
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopLocked(ctx)
}

// Restart stops the server and starts it again, as its service command
// would: every connection to it is cut.
func (s *Server) Restart(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.stopLocked(ctx); err != nil {
		return err
	}
	return s.startLocked(ctx)
}

// Close stops the server and removes its directory.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := s.stopLocked(ctx)
	return errors.Join(err, os.RemoveAll(s.dir))
}

func (s *Server) logPath() string { return filepath.Join(s.dir, "server.log") }

func (s *Server) startLocked(ctx context.Context) error {
	log, err := os.OpenFile(s.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("testserver: %s: %w", s.kind, err)
	}
	cmd := exec.Command(s.argv[0], s.argv[1:]...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Dir = s.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: s.cred,
		// Its own process group, so that an interrupt of the test run does
		// not reach it before the test binary stops it; and killed with
		// the test binary, so that no server outlives a killed run.
		Setpgid:   true,
		Pdeathsig: syscall.SIGKILL,
	}
	p, err := startProcess(cmd)
	log.Close()
	if err != nil {
		return fmt.Errorf("testserver: %s: starting %s: %w", s.kind, s.argv[0], err)
	}
	s.proc = p
	if err := s.waitReady(ctx); err != nil {
		s.stopLocked(context.WithoutCancel(ctx))
		return err
	}
	return nil
}

// waitReady polls the server with a query until it answers, its process
// exits, or the deadline passes.
func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	db, err := sql.Open(s.driver, s.ping)
	if err != nil {
		return fmt.Errorf("testserver: %s: %w", s.kind, err)
	}
	defer db.Close()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		qctx, qcancel := context.WithTimeout(ctx, 5*time.Second)
		var one int
		last = db.QueryRowContext(qctx, "SELECT 1").Scan(&one)
		qcancel()
		if last == nil {
			return nil
		}
		select {
		case <-s.proc.done:
			return fmt.Errorf("testserver: %s: the server exited while starting (%v); its log ends:\n%s", s.kind, s.proc.err, s.logTail())
		case <-ctx.Done():
			return fmt.Errorf("testserver: %s: the server did not answer on 127.0.0.1:%d within %v (last error: %v); its log ends:\n%s",
				s.kind, s.port, readyTimeout, last, s.logTail())
		case <-tick.C:
		}
	}
}

func (s *Server) stopLocked(ctx context.Context) error {
	p := s.proc
	if p == nil {
		return nil
	}
	s.proc = nil
	if p.exited() {
		return nil
	}
	// PostgreSQL: SIGINT is the fast shutdown. MariaDB: SIGTERM.
	sig := syscall.SIGTERM
	if s.kind == Postgres {
		sig = syscall.SIGINT
	}
	p.signal(sig)
	t := time.NewTimer(30 * time.Second)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
	case <-t.C:
	}
	p.signal(syscall.SIGKILL)
	<-p.done
	return fmt.Errorf("testserver: %s: the server did not shut down in time and was killed", s.kind)
}

// logTail returns the end of the server's log, for errors.
func (s *Server) logTail() string {
	b, _ := os.ReadFile(s.logPath())
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(bytes.TrimSpace(b))
}

// process is a server process and the goroutine that waits for it.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited
	err  error         // its exit status, set before done is closed
}

// startProcess starts cmd from a goroutine locked to its OS thread, which
// stays until the process exits: Linux sends the parent-death signal when
// the thread that started a process ends, not only the process, and Go
// may end threads.
func startProcess(cmd *exec.Cmd) (*process, error) {
	p := &process{cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Never unlocked: the thread ends with this goroutine, after the
		// process.
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return p, nil
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *process) signal(sig os.Signal) {
	if !p.exited() {
		p.cmd.Process.Signal(sig)
	}
}

// freePort returns a loopback TCP port that nothing listens on now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// newDir makes the server's directory, after removing those that killed
// processes left behind.
func newDir(kind Kind) (string, error) {
	removeStaleDirs()
	return os.MkdirTemp("", fmt.Sprintf("%s%d-%s-", dirPrefix, os.Getpid(), kind))
}

// removeStaleDirs removes server directories whose process is gone.
func removeStaleDirs() {
	matches, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, m := range matches {
		rest := strings.TrimPrefix(filepath.Base(m), dirPrefix)
		pid, err := strconv.Atoi(strings.SplitN(rest, "-", 2)[0])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			os.RemoveAll(m)
		}
	}
}

// run runs a setup command (initdb, mariadb-install-db) and returns its
// output in the error when it fails.
func run(ctx context.Context, cred *syscall.Credential, dir string, argv ...string) error {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	if err != nil {
		if len(out) > 2000 {
			out = out[len(out)-2000:]
		}
		return fmt.Errorf("%s: %w\n%s", filepath.Base(argv[0]), err, bytes.TrimSpace(out))
	}
	return nil
}

// lookPath finds the first of names in PATH or in dirs.
func lookPath(dirs []string, names ...string) (string, error) {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
		for _, d := range dirs {
			p := filepath.Join(d, n)
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("%w: none of %s found in PATH or %s", ErrNotInstalled, strings.Join(names, ", "), strings.Join(dirs, ", "))
}
