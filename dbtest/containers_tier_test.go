package dbtest

import (
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// envContainerTier is set by the container tier of .ci/run
// (scripts/containers/tier.sh), which brings a Docker engine: the tests
// below fail without one there, and skip elsewhere.
const envContainerTier = "DBTEST_CONTAINER_TIER"

// tierEngine returns the tier's Docker engine.
func tierEngine(t *testing.T) *dockerEngine {
	t.Helper()
	if os.Getenv(envContainerTier) == "" {
		t.Skipf("runs in the container tier (%s=1, a Docker engine)", envContainerTier)
	}
	eng, err := openEngine(context.Background())
	if err != nil {
		t.Fatalf("the container tier has no Docker engine: %v", err)
	}
	t.Cleanup(eng.close)
	return eng
}

// joinedContainer returns the container this process uses for b.
func joinedContainer(b Backend) *sharedContainer {
	containerRefs.mu.Lock()
	defer containerRefs.mu.Unlock()
	for name, c := range containerRefs.joined {
		if strings.HasPrefix(name, "dbtest-"+string(b)+"-") {
			return c
		}
	}
	return nil
}

// processGone reports whether process pid has ended (a zombie has).
func processGone(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return true
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	_, after, _ := strings.Cut(string(stat), ") ")
	return strings.HasPrefix(after, "Z")
}

// waitFor polls cond under a deadline.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) time.Duration {
	t.Helper()
	begin := time.Now()
	for !cond() {
		if time.Since(begin) > limit {
			t.Fatalf("%s: not after %s", what, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(begin)
}

func (c *child) companion(t *testing.T) int {
	t.Helper()
	pid, err := strconv.Atoi(c.fields["companion"])
	if err != nil || pid <= 0 {
		t.Fatalf("the child named no companion: %s", c.line)
	}
	return pid
}

// TestContainerTierShared checks that a second process joins the container
// this one uses instead of starting one, and that its leaving does not
// remove the container.
func TestContainerTierShared(t *testing.T) {
	eng := tierEngine(t)
	for _, b := range []Backend{Postgres, MySQL} {
		t.Run(string(b), func(t *testing.T) {
			Open(t, b)
			mine := joinedContainer(b)
			if mine == nil {
				t.Fatalf("%s is not served by a container (is %s set?)", b, EnvPostgresDSN)
			}
			c := startChild(t, "join", b)
			c.wait()
			if c.fields["id"] != mine.id || c.fields["started"] != "false" {
				t.Fatalf("a second process did not join container %s: %s", shortID(mine.id), c.line)
			}
			t.Logf("a new process joined container %s and ran its first query %s after asking for it (this process: %s, started=%v)",
				mine.name, c.fields["first-query"], mine.took.Round(time.Millisecond), mine.started)
			companion := c.companion(t)
			waitFor(t, "the child's companion to end", 30*time.Second, func() bool { return processGone(companion) })
			ins, err := eng.inspect(context.Background(), mine.name)
			if err != nil || ins == nil || !ins.State.Running {
				t.Fatalf("container %s no longer runs after another user left (err %v)", mine.name, err)
			}
		})
	}
}

// TestContainerTierLastUserRemoves checks that the companion of the last
// process using a container removes it.
func TestContainerTierLastUserRemoves(t *testing.T) {
	eng := tierEngine(t)
	c := startChild(t, "join", Postgres, EnvPostgresPort+"=25439")
	c.wait()
	if c.fields["started"] != "true" {
		t.Fatalf("the only user of a container on port 25439 did not start it: %s", c.line)
	}
	companion := c.companion(t)
	took := waitFor(t, "the companion to end", 60*time.Second, func() bool { return processGone(companion) })
	if ins, err := eng.inspect(context.Background(), c.fields["name"]); err != nil || ins != nil {
		t.Fatalf("container %s is still there after its last user left (err %v)", c.fields["name"], err)
	}
	t.Logf("container %s removed %s after its last user ended", c.fields["name"], took.Round(time.Millisecond))
}

// TestContainerTierKilledRun checks what happens to a container whose users
// were killed with their companion: its watchdog stops it once idle, and
// the next process that wants it removes it and starts a new one.
func TestContainerTierKilledRun(t *testing.T) {
	eng := tierEngine(t)
	ctx := context.Background()
	env := []string{EnvPostgresPort + "=25438", EnvContainerIdle + "=2s"}
	c := startChild(t, "hold", Postgres, env...)
	name, old := c.fields["name"], c.fields["id"]
	companion := c.companion(t)
	syscall.Kill(companion, syscall.SIGKILL)
	waitFor(t, "the killed companion to end", 10*time.Second, func() bool { return processGone(companion) })
	c.wait() // the user goes too; nobody is left to remove the container

	stopped := waitFor(t, "the watchdog to stop the idle container", 60*time.Second, func() bool {
		ins, err := eng.inspect(ctx, old)
		return err == nil && (ins == nil || !ins.State.Running)
	})
	t.Logf("the watchdog stopped container %s %s after its last client left (idle limit 2s)", name, stopped.Round(100*time.Millisecond))

	next := startChild(t, "join", Postgres, env...)
	next.wait()
	if next.fields["started"] != "true" || next.fields["id"] == old {
		t.Fatalf("the next process did not start a new container: %s", next.line)
	}
	if ins, err := eng.inspect(ctx, old); err != nil || ins != nil {
		t.Errorf("the stopped container %s was not removed (err %v)", shortID(old), err)
	}
	companion = next.companion(t)
	waitFor(t, "the companion to end", 60*time.Second, func() bool { return processGone(companion) })
	if ins, err := eng.inspect(ctx, name); err != nil || ins != nil {
		t.Errorf("container %s is still there after its last user left (err %v)", name, err)
	}
}

// TestContainerTierStartFailure checks that a container that does not come
// up fails fast, with an error naming the image, the engine and the last
// lines of the container's log, and is removed.
func TestContainerTierStartFailure(t *testing.T) {
	eng := tierEngine(t)
	image := os.Getenv(EnvPostgresImage)
	if os.Getenv(EnvDockerNetwork) != "host" || !eng.local() || image == "" {
		t.Skipf("needs host networking on a local engine and %s", EnvPostgresImage)
	}
	// A PostgreSQL image for the MySQL backend: given MySQL's settings, its
	// entrypoint asks for POSTGRES_PASSWORD and exits.
	spec, err := containerSpecFor(MySQL, envOf(map[string]string{EnvMySQLImage: image,
		EnvDockerNetwork: "host", EnvMySQLPort: "23399", EnvContainerIdle: "0"}))
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	_, err = joinContainer(context.Background(), spec)
	if err == nil {
		t.Fatal("a PostgreSQL image served the MySQL backend")
	}
	if _, ok := err.(*unavailableError); ok {
		t.Fatalf("a failed start is reported as unavailable (a skip): %v", err)
	}
	for _, want := range []string{image, eng.desc, "last lines of the container's log", "POSTGRES_PASSWORD"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not mention %q:\n%v", want, err)
		}
	}
	if ins, ierr := eng.inspect(context.Background(), containerName(spec, eng.host)); ierr != nil || ins != nil {
		t.Errorf("the failed container was left behind (err %v)", ierr)
	}
	t.Logf("failed after %s:\n%v", time.Since(begin).Round(time.Millisecond), err)
}

// TestContainerTierNoBridgeNetwork asks the engine for its networks: the
// provider must not have created a bridge network. The tier runs it again
// after all the other tests.
func TestContainerTierNoBridgeNetwork(t *testing.T) {
	eng := tierEngine(t)
	drivers, err := eng.networkDrivers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for name, driver := range drivers {
		if driver == "bridge" {
			t.Errorf("the engine has a bridge network: %s", name)
		}
	}
	t.Logf("the engine's networks: %v", drivers)
}
