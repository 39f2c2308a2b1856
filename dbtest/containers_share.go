package dbtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Sharing one container among the test binaries of a run.
//
// Two files per container, in a directory of the temporary directory:
//
//   - <name>.lock: held exclusively while a process looks for the container,
//     starts it, or removes it; so nobody starts it twice or uses it while
//     it goes away.
//   - <name>.ref: held shared by every process using the container, for as
//     long as it runs; with nobody holding it, the container is unused.
//
// The kernel drops a process's locks when it ends, however it ends, so a
// reference cannot leak. A binary's reference lives on in its companion
// (the same open file, inherited), which keeps it until the go command that
// ran the binary exits: the binaries of "go test ./..." run one after
// another with gaps while the next package builds, and the container
// should survive those gaps. The companion then drops the reference and,
// under the exclusive lock, removes the container if no other process
// holds one.

// sharedContainer is a container this process uses.
type sharedContainer struct {
	name, id, dsn string
	started       bool          // this process started it
	took          time.Duration // how long joining took
	companion     int           // the companion's process id
}

// containerRefs are the containers this process joined. The files stay
// open for the life of the process: they hold its references.
var containerRefs struct {
	mu     sync.Mutex
	joined map[string]*sharedContainer
	files  []*os.File
}

// joinContainer returns the container for spec, joining the one that runs
// or starting it.
func joinContainer(ctx context.Context, spec containerSpec) (*sharedContainer, error) {
	begin := time.Now()
	_, env := serverDSN(spec.b)
	eng, err := openEngine(ctx)
	if err != nil {
		return nil, &unavailableError{noEngine(env, err)}
	}
	defer eng.close()
	name := containerName(spec, eng.host)

	containerRefs.mu.Lock()
	c := containerRefs.joined[name]
	containerRefs.mu.Unlock()
	if c != nil {
		return c, nil
	}
	dir, err := containerLockDir()
	if err != nil {
		return nil, fmt.Errorf("dbtest: %s: %w", spec.b, err)
	}
	ctx, cancel := context.WithTimeout(ctx, containerStartTimeout+containerReadyTimeout)
	defer cancel()
	// The lock is per open file, so it also orders goroutines.
	lock, err := lockFile(ctx, filepath.Join(dir, name+".lock"), syscall.LOCK_EX)
	if err != nil {
		return nil, fmt.Errorf("dbtest: %s: waiting for the lock on container %s: %w", spec.b, name, err)
	}
	defer lock.Close()
	ref, err := os.OpenFile(filepath.Join(dir, name+".ref"), os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("dbtest: %s: %w", spec.b, err)
	}
	// Nobody else can hold it exclusively while we hold the lock; holding
	// it exclusively ourselves means nobody uses the container.
	unused := syscall.Flock(int(ref.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil
	if err := syscall.Flock(int(ref.Fd()), syscall.LOCK_SH); err != nil {
		ref.Close()
		return nil, fmt.Errorf("dbtest: %s: %s: %w", spec.b, ref.Name(), err)
	}
	var pipe *os.File
	c, err = eng.joinOrStart(ctx, spec, name, unused)
	if err == nil {
		c.companion, pipe, err = startContainerCompanion(dir, name, eng.host, ref)
	}
	if err != nil {
		ref.Close()
		return nil, err
	}
	c.took = time.Since(begin)
	logContainer(spec.b, c)
	containerRefs.mu.Lock()
	defer containerRefs.mu.Unlock()
	if containerRefs.joined == nil {
		containerRefs.joined = make(map[string]*sharedContainer)
	}
	containerRefs.joined[name] = c
	containerRefs.files = append(containerRefs.files, ref, pipe)
	return c, nil
}

// noEngine is the one-line reason why a backend without DSN is skipped
// when no Docker engine answers.
func noEngine(env string, err error) string {
	why := strings.ReplaceAll(err.Error(), "\n", "; ")
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return fmt.Sprintf("%s is not set and the Docker engine at DOCKER_HOST=%s does not answer (Testcontainers: %s)", env, h, why)
	}
	return fmt.Sprintf("%s is not set and no Docker engine was found (DOCKER_HOST is not set; Testcontainers: %s)", env, why)
}

// joinOrStart joins the running container name, unless nobody uses it
// (a killed run left it: its watchdog may be about to stop it) or it is not
// running; then it starts a new one.
func (e *dockerEngine) joinOrStart(ctx context.Context, spec containerSpec, name string, unused bool) (*sharedContainer, error) {
	c, err := e.inspect(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("dbtest: %s: looking for container %s on %s: %w", spec.b, name, e.desc, err)
	}
	if c != nil && !unused && c.State != nil && c.State.Running {
		host, err := e.connectHost(ctx, spec)
		if err != nil {
			return nil, fmt.Errorf("dbtest: %s: container %s on %s: %w", spec.b, name, e.desc, err)
		}
		hp, err := endpoint(spec, host, c)
		if err != nil {
			return nil, fmt.Errorf("dbtest: %s: %w", spec.b, err)
		}
		return &sharedContainer{name: name, id: c.ID, dsn: spec.kind.dsn(hp)}, nil
	}
	if c != nil {
		if err := e.remove(ctx, c.ID); err != nil {
			return nil, fmt.Errorf("dbtest: %s: removing the unused container %s on %s: %w", spec.b, name, e.desc, err)
		}
	}
	e.removeStopped(ctx)
	return e.start(ctx, spec, name)
}

// containerName names the container of spec on the engine at host. Another
// image, network, port, engine, machine or user is another container.
func containerName(spec containerSpec, host string) string {
	network := "bridge"
	if spec.host {
		network = "host"
	}
	h := sha256.New()
	for _, f := range []string{"dbtest-container-1", string(spec.b), spec.image, network,
		strconv.Itoa(spec.port), host, machineID()} {
		h.Write([]byte(f))
		h.Write([]byte{0})
	}
	return fmt.Sprintf("dbtest-%s-%s", spec.b, hex.EncodeToString(h.Sum(nil))[:12])
}

// machineID names this machine and user in labels and container names.
func machineID() string {
	host, _ := os.Hostname()
	sum := sha256.Sum256([]byte(host + "\x00" + strconv.Itoa(os.Getuid())))
	return hex.EncodeToString(sum[:])[:16]
}

// containerLockDir is the directory of the lock files, private to the user.
func containerLockDir() (string, error) {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("dbtest-containers-%d", os.Getuid()))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	return dir, nil
}

// lockFile opens path and locks it (syscall.LOCK_EX or LOCK_SH), waiting
// until ctx is done. Closing the file releases the lock.
func lockFile(ctx context.Context, path string, how int) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	delay := time.Millisecond
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, err
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("%s is still locked by another process: %w", path, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, 100*time.Millisecond)
	}
}

// The companion that drops a binary's reference. It is a copy of the
// running executable with these variables set, like the one of reaper.go.
const (
	envContainerCompanion = "DBTEST_CONTAINER_COMPANION" // "1"
	envCompanionName      = "DBTEST_CONTAINER_NAME"
	envCompanionLocks     = "DBTEST_CONTAINER_LOCKS"
	envCompanionWaitPID   = "DBTEST_CONTAINER_WAIT_PID"
)

func init() {
	if os.Getenv(envContainerCompanion) == "1" {
		os.Exit(runContainerCompanion())
	}
}

// startContainerCompanion starts the companion that inherits ref and drops
// it once this process, and the go command that ran it, have ended. The
// returned pipe must stay open for the life of the process: its end tells
// the companion that the process is gone.
func startContainerCompanion(dir, name, dockerHost string, ref *os.File) (pid int, pipe *os.File, err error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return 0, nil, err
	}
	defer r.Close()
	waitPID := 0
	if ppid := os.Getppid(); isGoCommand(ppid) {
		waitPID = ppid
	}
	cmd := exec.Command(exe)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envCleanup+"=") && !strings.HasPrefix(kv, "DOCKER_HOST=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, envContainerCompanion+"=1", envCompanionName+"="+name, envCompanionLocks+"="+dir,
		envCompanionWaitPID+"="+strconv.Itoa(waitPID), "DOCKER_HOST="+dockerHost)
	cmd.Stdin = r
	cmd.ExtraFiles = []*os.File{ref} // file descriptor 3
	// Its own process group: an interrupt sent to the run must not stop it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return 0, nil, fmt.Errorf("dbtest: starting the container companion: %w", err)
	}
	// Nobody waits for it: it outlives this process, and init reaps it.
	pid = cmd.Process.Pid
	cmd.Process.Release()
	return pid, w, nil
}

// logContainer appends a line to the file named by DBTEST_CONTAINER_LOG, if
// set: which process used which container, and whether it started it.
func logContainer(b Backend, c *sharedContainer) {
	path := os.Getenv(EnvContainerLog)
	if path == "" {
		return
	}
	how := "joined"
	if c.started {
		how = "started"
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	exe, _ := os.Executable()
	// One write per line: lines of parallel processes do not mix.
	fmt.Fprintf(f, "%s %s %s %s pid=%d exe=%s took=%s\n", b, c.name, shortID(c.id), how, os.Getpid(),
		filepath.Base(exe), c.took.Round(time.Millisecond))
}

func shortID(id string) string { return id[:min(12, len(id))] }

// runContainerCompanion is the companion's main.
func runContainerCompanion() int {
	name, dir := os.Getenv(envCompanionName), os.Getenv(envCompanionLocks)
	ref := os.NewFile(3, "ref")
	if name == "" || dir == "" || ref == nil {
		return 2
	}
	var waitRun func()
	if pid, _ := strconv.Atoi(os.Getenv(envCompanionWaitPID)); pid > 0 {
		waitRun = watchProcess(pid) // now, while the process surely runs
	}
	io.Copy(io.Discard, os.Stdin) // returns when the test binary is gone
	if waitRun != nil {
		waitRun()
	}
	ref.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	lock, err := lockFile(ctx, filepath.Join(dir, name+".lock"), syscall.LOCK_EX)
	if err != nil {
		return 1
	}
	defer lock.Close()
	probe, err := os.Open(filepath.Join(dir, name+".ref"))
	if err != nil {
		return 1
	}
	defer probe.Close()
	if syscall.Flock(int(probe.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		return 0 // others still use the container
	}
	eng, err := openEngine(ctx)
	if err != nil {
		return 1
	}
	defer eng.close()
	if eng.remove(ctx, name) != nil {
		return 1
	}
	return 0
}

// pollProcess returns a function that waits until process pid is gone.
func pollProcess(pid int) func() {
	return func() {
		for syscall.Kill(pid, 0) == nil {
			time.Sleep(200 * time.Millisecond)
		}
	}
}
