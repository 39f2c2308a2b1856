package dbtest

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestContainerSpec(t *testing.T) {
	for _, tc := range []struct {
		name    string
		reason  string
		b       Backend
		env     map[string]string
		image   string
		host    bool
		port    int
		idle    time.Duration
		wantErr string
	}{
		{name: "defaults", reason: "official images, published ports of the engine's choice",
			b: Postgres, image: DefaultPostgresImage, idle: DefaultContainerIdle},
		{name: "mysql defaults", reason: "each backend has its own image",
			b: MySQL, env: map[string]string{EnvPostgresImage: "mirror/postgres:16"}, image: DefaultMySQLImage, idle: DefaultContainerIdle},
		{name: "image override", reason: "a mirror or a local image replaces the official one",
			b: Postgres, env: map[string]string{EnvPostgresImage: " mirror.example/library/postgres:16 "},
			image: "mirror.example/library/postgres:16", idle: DefaultContainerIdle},
		{name: "host network", reason: "with host networking each server needs its own port",
			b: MySQL, env: map[string]string{EnvDockerNetwork: "host"},
			image: DefaultMySQLImage, host: true, port: DefaultMySQLContainerPort, idle: DefaultContainerIdle},
		{name: "host network and port", reason: "the port variable moves the server",
			b: Postgres, env: map[string]string{EnvDockerNetwork: "HOST", EnvPostgresPort: "6000"},
			image: DefaultPostgresImage, host: true, port: 6000, idle: DefaultContainerIdle},
		{name: "bridge with port", reason: "with bridge networking the port is the published one",
			b: Postgres, env: map[string]string{EnvDockerNetwork: "bridge", EnvPostgresPort: "6000"},
			image: DefaultPostgresImage, port: 6000, idle: DefaultContainerIdle},
		{name: "idle", reason: "the watchdog's delay is a duration",
			b: Postgres, env: map[string]string{EnvContainerIdle: "90s"}, image: DefaultPostgresImage, idle: 90 * time.Second},
		{name: "no idle", reason: "0 turns the watchdog off",
			b: Postgres, env: map[string]string{EnvContainerIdle: "0"}, image: DefaultPostgresImage},
		{name: "bad network", reason: "only bridge and host are known",
			b: Postgres, env: map[string]string{EnvDockerNetwork: "overlay"}, wantErr: `DBTEST_DOCKER_NETWORK="overlay"`},
		{name: "bad port", reason: "a port is a number",
			b: MySQL, env: map[string]string{EnvMySQLPort: "33o6"}, wantErr: `DBTEST_MYSQL_PORT="33o6"`},
		{name: "port out of range", reason: "ports stop at 65535",
			b: Postgres, env: map[string]string{EnvPostgresPort: "70000"}, wantErr: `DBTEST_POSTGRES_PORT="70000"`},
		{name: "bad idle", reason: "a bare number is ambiguous",
			b: Postgres, env: map[string]string{EnvContainerIdle: "10"}, wantErr: `DBTEST_CONTAINER_IDLE="10"`},
		{name: "tiny idle", reason: "the watchdog counts whole seconds",
			b: Postgres, env: map[string]string{EnvContainerIdle: "10ms"}, wantErr: `DBTEST_CONTAINER_IDLE="10ms"`},
		{name: "sqlite", reason: "SQLite needs no container",
			b: SQLite, wantErr: "no container image"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := containerSpecFor(tc.b, envOf(tc.env))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("%s: got error %v, want one naming %s", tc.reason, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", tc.reason, err)
			}
			if s.image != tc.image || s.host != tc.host || s.port != tc.port || s.idle != tc.idle {
				t.Errorf("%s: got image %q host %v port %d idle %s, want %q %v %d %s", tc.reason,
					s.image, s.host, s.port, s.idle, tc.image, tc.host, tc.port, tc.idle)
			}
		})
	}
}

func TestContainersOff(t *testing.T) {
	for v, want := range map[string]bool{"": false, "off": true, "OFF": true, "on": false, "auto": false} {
		got, err := containersOff(envOf(map[string]string{EnvContainers: v}))
		if err != nil || got != want {
			t.Errorf("%s=%q: got %v, %v; want %v", EnvContainers, v, got, err, want)
		}
	}
	if _, err := containersOff(envOf(map[string]string{EnvContainers: "no"})); err == nil {
		t.Errorf("%s=no: want an error, got none", EnvContainers)
	}
}

func TestContainerName(t *testing.T) {
	spec := func(env map[string]string) containerSpec {
		s, err := containerSpecFor(Postgres, envOf(env))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	const engine = "unix:///var/run/docker.sock"
	base := containerName(spec(nil), engine)
	if !strings.HasPrefix(base, "dbtest-postgres-") {
		t.Errorf("name %q does not say what it is", base)
	}
	if again := containerName(spec(nil), engine); again != base {
		t.Errorf("the same spec gave %q, then %q: binaries would not share", base, again)
	}
	mysqlSpec, _ := containerSpecFor(MySQL, envOf(nil))
	for reason, name := range map[string]string{
		"another image":   containerName(spec(map[string]string{EnvPostgresImage: "postgres:17"}), engine),
		"another port":    containerName(spec(map[string]string{EnvPostgresPort: "6000"}), engine),
		"another network": containerName(spec(map[string]string{EnvDockerNetwork: "host"}), engine),
		"another engine":  containerName(spec(nil), "tcp://10.1.2.3:2375"),
		"another backend": containerName(mysqlSpec, engine),
	} {
		if name == base {
			t.Errorf("%s gave the same container name %s", reason, name)
		}
	}
}

// TestContainerDSNs checks that the DSNs of the containers are ones dbtest
// derives its own from.
func TestContainerDSNs(t *testing.T) {
	for b, d := range map[Backend]serverDialect{Postgres: postgresDialect{}, MySQL: mysqlDialect{}} {
		dsn := containerKinds[b].dsn(joinHostPort("127.0.0.1", 55000))
		got, err := d.dsn(dsn, "dbtest_x_1", time.Second, "dbtest")
		if err != nil {
			t.Errorf("%s: %s: %v", b, dsn, err)
			continue
		}
		for _, want := range []string{"127.0.0.1:55000", "dbtest_x_1", containerPassword} {
			if !strings.Contains(got, want) {
				t.Errorf("%s: derived DSN %q lacks %q", b, got, want)
			}
		}
	}
}

func TestLockFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	ctx := context.Background()
	a, err := lockFile(ctx, path, syscall.LOCK_EX)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if b, err := lockFile(short, path, syscall.LOCK_SH); err == nil {
		b.Close()
		t.Fatal("a shared lock was granted while an exclusive one was held")
	}
	a.Close()
	b, err := lockFile(ctx, path, syscall.LOCK_SH)
	if err != nil {
		t.Fatalf("closing the file did not release the lock: %v", err)
	}
	c, err := lockFile(ctx, path, syscall.LOCK_SH)
	if err != nil {
		t.Fatalf("two shared locks: %v", err)
	}
	b.Close()
	c.Close()
}

// childEnv is the environment of a helper child: this one, without the DSNs
// (a parent that joined a container exported them) and with extra.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, EnvPostgresDSN+"=") && !strings.HasPrefix(kv, EnvMySQLDSN+"=") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

const envContainerChild = "DBTEST_CONTAINER_CHILD"

// TestContainerHelperChild is not a test: the tests below run the test
// binary again with it, as a process of its own.
//
//	probe: ask for a server as dbtest does, print the outcome
//	join:  join the container of DBTEST_CONTAINER_CHILD_BACKEND, run a query,
//	       print what it joined, exit without any cleanup
//	hold:  the same, then wait until standard input closes
func TestContainerHelperChild(t *testing.T) {
	mode := os.Getenv(envContainerChild)
	if mode == "" {
		t.Skip("runs only as a child process")
	}
	b := Backend(os.Getenv(envContainerChild + "_BACKEND"))
	begin := time.Now()
	switch mode {
	case "probe":
		_, err := newServerProvider(context.Background(), b, processToken())
		_, unavailable := err.(*unavailableError)
		fmt.Printf("PROBE unavailable=%v took=%s err=%v\n", unavailable, time.Since(begin), err)
	case "join", "hold":
		spec, err := containerSpecFor(b, os.Getenv)
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(3)
		}
		c, err := joinContainer(context.Background(), spec)
		if err != nil {
			fmt.Println("ERR", strings.ReplaceAll(err.Error(), "\n", " | "))
			os.Exit(3)
		}
		driver := "pgx"
		if b == MySQL {
			driver = "mysql"
		}
		db, err := sql.Open(driver, c.dsn)
		var one int
		if err == nil {
			err = db.QueryRow("SELECT 1").Scan(&one)
		}
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(3)
		}
		fmt.Printf("JOINED name=%s id=%s started=%v companion=%d first-query=%s\n",
			c.name, c.id, c.started, c.companion, time.Since(begin))
		os.Stdout.Sync()
		if mode == "hold" {
			bufio.NewReader(os.Stdin).ReadString('\n')
		}
	}
	os.Exit(0)
}

// child is a helper child process and what it printed.
type child struct {
	cmd    *exec.Cmd
	stdin  interface{ Close() error }
	line   string
	fields map[string]string
}

// startChild runs the helper child and reads its first line.
func startChild(t *testing.T, mode string, b Backend, extraEnv ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestContainerHelperChild$", "-test.count=1")
	cmd.Env = childEnv(append(extraEnv, envContainerChild+"="+mode, envContainerChild+"_BACKEND="+string(b))...)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	c := &child{cmd: cmd, stdin: in, line: strings.TrimSpace(line), fields: map[string]string{}}
	for _, f := range strings.Fields(line) {
		if k, v, ok := strings.Cut(f, "="); ok {
			c.fields[k] = v
		}
	}
	if !strings.HasPrefix(line, "JOINED ") && !strings.HasPrefix(line, "PROBE ") {
		in.Close()
		cmd.Wait()
		t.Fatalf("child %s: %s", mode, line)
	}
	return c
}

func (c *child) wait() {
	c.stdin.Close()
	c.cmd.Wait()
}

// TestNoDockerEngine checks that without a DSN and without a Docker engine
// a server backend is unavailable at once, and that DBTEST_CONTAINERS=off
// says so without asking Docker.
func TestNoDockerEngine(t *testing.T) {
	if os.Getenv(envContainerTier) != "" {
		t.Skip("the container tier has a Docker engine")
	}
	for _, p := range []string{"/var/run/docker.sock", "/run/docker.sock"} {
		if _, err := os.Stat(p); err == nil {
			t.Skipf("%s exists: Testcontainers would find that engine", p)
		}
	}
	home := t.TempDir() // no Docker context, no ~/.testcontainers.properties
	for _, tc := range []struct {
		name, reason string
		env          []string
		want         string
	}{
		{"no engine", "a socket that does not exist", []string{"DOCKER_HOST=unix://" + filepath.Join(home, "docker.sock"), EnvContainers + "="}, "does not answer"},
		{"off", "containers turned off", []string{EnvContainers + "=off"}, EnvContainers + "=off"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startChild(t, "probe", Postgres, append(tc.env, "HOME="+home, "XDG_RUNTIME_DIR="+home,
				"DOCKER_CONFIG="+home, "TESTCONTAINERS_HOST_OVERRIDE=", EnvRequire+"=")...)
			c.wait()
			if c.fields["unavailable"] != "true" || !strings.Contains(c.line, tc.want) {
				t.Fatalf("%s: want the backend unavailable (a skip) saying %q, got %s", tc.reason, tc.want, c.line)
			}
			took, err := time.ParseDuration(c.fields["took"])
			if err != nil {
				t.Fatal(err)
			}
			// At once means: not after waiting out the probe's timeout.
			if took >= engineProbeTimeout {
				t.Errorf("%s: answering took %s", tc.reason, took)
			}
			t.Logf("%s: unavailable after %s", tc.reason, took)
		})
	}
}

func TestEndpoint(t *testing.T) {
	pg, err := network.ParsePort("5432/tcp")
	if err != nil {
		t.Fatal(err)
	}
	published := &container.InspectResponse{Name: "/c", NetworkSettings: &container.NetworkSettings{
		Ports: network.PortMap{pg: {
			{HostIP: netip.MustParseAddr("::"), HostPort: "49154"},
			{HostIP: netip.MustParseAddr("0.0.0.0"), HostPort: "49153"},
		}}}}
	unpublished := &container.InspectResponse{Name: "/c", NetworkSettings: &container.NetworkSettings{}}
	bridge := containerSpec{b: Postgres, kind: containerKinds[Postgres]}
	host := containerSpec{b: Postgres, kind: containerKinds[Postgres], host: true, port: 25432}
	for _, tc := range []struct {
		name, reason string
		spec         containerSpec
		c            *container.InspectResponse
		want         string
	}{
		{"host network", "the server listens on the configured port of the engine's host", host, unpublished, "127.0.0.1:25432"},
		{"published", "the IPv4 binding of the server's port", bridge, published, "127.0.0.1:49153"},
		{"not published", "no binding is an error naming the port", bridge, unpublished, "error: port 5432/tcp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := endpoint(tc.spec, "127.0.0.1", tc.c)
			if err != nil {
				got = "error: " + err.Error()
			}
			if !strings.HasPrefix(got, tc.want) {
				t.Errorf("%s: got %q, want %q", tc.reason, got, tc.want)
			}
		})
	}
}
