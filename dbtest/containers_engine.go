package dbtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	"github.com/testcontainers/testcontainers-go/wait"
)

const (
	// engineProbeTimeout bounds the question "does a Docker engine answer?".
	// A missing socket answers at once; this is for engines that hang.
	engineProbeTimeout = 5 * time.Second
	// containerStartTimeout bounds pulling the image and starting the
	// container; containerReadyTimeout the wait for the server to answer.
	containerStartTimeout = 5 * time.Minute
	containerReadyTimeout = 2 * time.Minute
	// containerLogLines is how much of the log a start-up failure shows.
	containerLogLines = 20
)

// Labels of dbtest's containers.
const (
	labelBackend = "org.easyautoml.dbharness.dbtest"
	labelMachine = "org.easyautoml.dbharness.machine"
	// Testcontainers' labels that hand a container to Ryuk.
	labelTCSession = "org.testcontainers.sessionId"
	labelTCReap    = "org.testcontainers.reap"
)

// dockerEngine is a Docker engine that answered.
type dockerEngine struct {
	cli  *testcontainers.DockerClient
	host string // as DOCKER_HOST would name it
	desc string // e.g. "Docker 20.10.24 at unix:///run/docker.sock"
}

// openEngine finds the Docker engine as Testcontainers does and checks that
// it answers.
func openEngine(ctx context.Context) (e *dockerEngine, err error) {
	defer func() {
		if r := recover(); r != nil { // never let discovery panic a test
			e, err = nil, fmt.Errorf("%v", r)
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, engineProbeTimeout)
	defer cancel()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, err
	}
	info, err := cli.Info(ctx, client.InfoOptions{})
	if err != nil {
		cli.Close()
		return nil, err
	}
	host := cli.DaemonHost()
	return &dockerEngine{cli: cli, host: host,
		desc: fmt.Sprintf("Docker %s at %s", info.Info.ServerVersion, host)}, nil
}

func (e *dockerEngine) close() { e.cli.Close() }

// local reports whether the engine runs on this machine.
func (e *dockerEngine) local() bool {
	u, err := url.Parse(e.host)
	return err == nil && (u.Scheme == "unix" || u.Scheme == "npipe")
}

// inspect returns the container named name, or nil when there is none.
func (e *dockerEngine) inspect(ctx context.Context, name string) (*container.InspectResponse, error) {
	res, err := e.cli.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if errdefs.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &res.Container, nil
}

// remove removes a container and its anonymous volumes, running or not.
func (e *dockerEngine) remove(ctx context.Context, id string) error {
	_, err := e.cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if errdefs.IsNotFound(err) {
		return nil
	}
	return err
}

// removeStopped removes the stopped containers dbtest made on this machine:
// those of killed runs, after their watchdog stopped them.
func (e *dockerEngine) removeStopped(ctx context.Context) {
	res, err := e.cli.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", labelMachine+"="+machineID()).Add("status", "exited", "dead")})
	if err != nil {
		return
	}
	for _, c := range res.Items {
		e.remove(ctx, c.ID)
	}
}

// connectHost is the address where the containers' ports are reached.
func (e *dockerEngine) connectHost(ctx context.Context, spec containerSpec) (string, error) {
	if h := os.Getenv("TESTCONTAINERS_HOST_OVERRIDE"); h != "" {
		return h, nil
	}
	if spec.host {
		if e.local() {
			return "127.0.0.1", nil
		}
		u, err := url.Parse(e.host)
		if err != nil {
			return "", err
		}
		return u.Hostname(), nil
	}
	// Published ports: where Testcontainers would look for them.
	prov, err := testcontainers.NewDockerProvider(testcontainers.WithLogger(tclog.NewNoopLogger()))
	if err != nil {
		return "", err
	}
	defer prov.Close()
	h, err := prov.DaemonHost(ctx)
	if h == "localhost" {
		h = "127.0.0.1"
	}
	return h, err
}

// endpoint is the host:port of the server of the container c.
func endpoint(spec containerSpec, host string, c *container.InspectResponse) (string, error) {
	if spec.host {
		return joinHostPort(host, spec.port), nil
	}
	if c.NetworkSettings != nil {
		p, _ := network.PortFrom(uint16(spec.kind.serverPort), network.TCP)
		for _, b := range c.NetworkSettings.Ports[p] {
			if b.HostPort != "" && (!b.HostIP.IsValid() || b.HostIP.Is4()) {
				port, err := strconv.Atoi(b.HostPort)
				if err == nil {
					return joinHostPort(host, port), nil
				}
			}
		}
	}
	return "", fmt.Errorf("port %d/tcp of container %s is not published", spec.kind.serverPort, strings.TrimPrefix(c.Name, "/"))
}

// start creates and starts the container name with Testcontainers and
// waits until its server answers. On failure the container is removed and
// the error names the image, the engine and the last lines of its log.
func (e *dockerEngine) start(ctx context.Context, spec containerSpec, name string) (*sharedContainer, error) {
	opts := []testcontainers.DockerProviderOption{testcontainers.WithLogger(tclog.NewNoopLogger())}
	if spec.host {
		// Without it the provider looks for a "bridge" network, and on an
		// engine without one creates a bridge network of its own.
		//lint:ignore SA1019 deprecated with no replacement in testcontainers-go v0.45; the only way to keep the provider off bridge networks
		opts = append(opts, testcontainers.DefaultNetwork("host"))
	}
	prov, err := testcontainers.NewDockerProvider(opts...)
	if err != nil {
		return nil, e.startError(spec, err, "")
	}
	defer prov.Close()
	host, err := e.connectHost(ctx, spec)
	if err != nil {
		return nil, e.startError(spec, err, "")
	}
	ready := &serverReady{spec: spec, host: host}
	req := testcontainers.GenericContainerRequest{ContainerRequest: testcontainers.ContainerRequest{
		Image: spec.image, Env: map[string]string{}}}
	custom := spec.kind.customize(spec.serverPort(), spec.host && e.local())
	custom = append(custom,
		testcontainers.WithName(name),
		testcontainers.WithLabels(map[string]string{labelBackend: string(spec.b), labelMachine: machineID()}),
		testcontainers.WithTmpfs(map[string]string{spec.kind.dataDir: "rw"}),
		testcontainers.WithWaitStrategy(ready),
		testcontainers.WithConfigModifier(func(c *container.Config) {
			// The container outlives the binary that starts it: dbtest
			// removes it (see containers_share.go), not Ryuk.
			delete(c.Labels, labelTCSession)
			delete(c.Labels, labelTCReap)
		}),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			switch {
			case spec.host:
				hc.NetworkMode = network.NetworkHost
			case spec.port != 0:
				p, _ := network.PortFrom(uint16(spec.kind.serverPort), network.TCP)
				hc.PortBindings = network.PortMap{p: {{HostPort: strconv.Itoa(spec.port)}}}
			}
		}),
	)
	if !spec.host {
		custom = append(custom, testcontainers.WithExposedPorts(fmt.Sprintf("%d/tcp", spec.kind.serverPort)))
	}
	for _, c := range custom {
		if err := c.Customize(&req); err != nil {
			return nil, e.startError(spec, err, "")
		}
	}
	if err := e.pullImage(ctx, spec.image); err != nil {
		return nil, e.startError(spec, err, "")
	}
	ctr, err := prov.RunContainer(ctx, req.ContainerRequest)
	if err != nil {
		logs := ""
		if dc, ok := ctr.(*testcontainers.DockerContainer); ok && dc != nil {
			logs = lastLines(ctx, dc, containerLogLines)
			e.remove(context.WithoutCancel(ctx), dc.GetContainerID())
		} else if c, _ := e.inspect(ctx, name); c != nil {
			e.remove(context.WithoutCancel(ctx), c.ID)
		}
		return nil, e.startError(spec, err, logs)
	}
	id := ctr.GetContainerID()
	if spec.idle > 0 {
		if err := e.startWatchdog(ctx, id, spec); err != nil {
			e.remove(context.WithoutCancel(ctx), id)
			return nil, e.startError(spec, fmt.Errorf("starting the idle watchdog: %w", err), "")
		}
	}
	return &sharedContainer{name: name, id: id, dsn: ready.dsn, started: true}, nil
}

// pullImage pulls image unless the engine has it: one attempt, with the
// credentials of the Docker configuration. An engine that reaches no
// registry thus fails at once, where Testcontainers would retry for minutes.
func (e *dockerEngine) pullImage(ctx context.Context, image string) error {
	_, err := e.cli.ImageInspect(ctx, image)
	if err == nil || !errdefs.IsNotFound(err) {
		return err
	}
	var opts client.ImagePullOptions
	if _, auth, err := testcontainers.DockerImageAuth(ctx, image); err == nil {
		if enc, err := authconfig.Encode(auth); err == nil {
			opts.RegistryAuth = enc
		}
	}
	res, err := e.cli.ImagePull(ctx, image, opts)
	if err == nil {
		defer res.Close()
		err = res.Wait(ctx)
	}
	if err != nil {
		return fmt.Errorf("the engine does not have the image and pulling it failed: %w", err)
	}
	return nil
}

func (e *dockerEngine) startError(spec containerSpec, err error, logs string) error {
	msg := fmt.Sprintf("dbtest: %s: starting a container from image %s on %s: %v", spec.b, spec.image, e.desc, err)
	if logs != "" {
		msg += "\nlast lines of the container's log:\n" + logs
	}
	return errors.New(msg)
}

// lastLines returns the last n lines of the container's log.
func lastLines(ctx context.Context, c *testcontainers.DockerContainer, n int) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	rc, err := c.Logs(ctx)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer rc.Close()
	var lines []string
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, "\t"+sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	if len(lines) == 0 {
		return "(the log is empty)"
	}
	return strings.Join(lines, "\n")
}

// serverReady is the wait strategy: the container runs and its server
// accepts a connection with dbtest's credentials.
type serverReady struct {
	spec containerSpec
	host string
	dsn  string // set once ready
}

var _ wait.Strategy = (*serverReady)(nil)

func (w *serverReady) WaitUntilReady(ctx context.Context, t wait.StrategyTarget) error {
	ctx, cancel := context.WithTimeout(ctx, containerReadyTimeout)
	defer cancel()
	var last error
	delay := 20 * time.Millisecond
	for {
		st, err := t.State(ctx)
		if err != nil {
			return err
		}
		if !st.Running {
			return fmt.Errorf("the container stopped (status %s, exit code %d)", st.Status, st.ExitCode)
		}
		if last = w.probe(ctx, t); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the server did not answer within %s: %v", containerReadyTimeout, last)
		case <-time.After(delay):
		}
		delay = min(2*delay, 500*time.Millisecond)
	}
}

// probe tries once to connect to the server of t.
func (w *serverReady) probe(ctx context.Context, t wait.StrategyTarget) error {
	c, err := t.Inspect(ctx)
	if err != nil {
		return err
	}
	hp, err := endpoint(w.spec, w.host, c)
	if err != nil {
		return err
	}
	dsn := w.spec.kind.dsn(hp)
	if err := pingServer(ctx, w.spec.b, dsn); err != nil {
		return redactErr(err, dsn)
	}
	w.dsn = dsn
	return nil
}

// pingServer opens and closes one connection to dsn.
func pingServer(ctx context.Context, b Backend, dsn string) error {
	var d serverDialect = postgresDialect{}
	if b == MySQL {
		d = mysqlDialect{}
	}
	conn, err := d.connector(dsn)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := conn.Connect(ctx)
	if err != nil {
		return err
	}
	return c.Close()
}

// watchdogScript stops the server (process 1) once no client has been
// connected to port for idle seconds. It reads /proc/net/tcp{,6}, so it
// needs nothing but a POSIX shell; with host networking those list the
// host's connections, which include the server's.
const watchdogScript = `port=$1 idle=$2 step=5
[ "$idle" -lt "$step" ] && step=1
hex=$(printf '%04X' "$port")
quiet=0
while [ "$quiet" -lt "$idle" ]; do
  sleep "$step"
  busy=
  for f in /proc/net/tcp /proc/net/tcp6; do
    [ -r "$f" ] || continue
    while read -r _ local _ state _; do
      case "$local" in *:"$hex") [ "$state" = 01 ] && busy=1 ;; esac
    done <"$f"
  done
  if [ -n "$busy" ]; then quiet=0; else quiet=$((quiet + step)); fi
done
echo "dbtest watchdog: no client for ${idle}s, stopping the server" >/proc/1/fd/1
kill -TERM 1`

// startWatchdog runs watchdogScript in the container, detached.
func (e *dockerEngine) startWatchdog(ctx context.Context, id string, spec containerSpec) error {
	secs := int((spec.idle + time.Second - 1) / time.Second)
	ex, err := e.cli.ExecCreate(ctx, id, client.ExecCreateOptions{
		Cmd: []string{"sh", "-c", watchdogScript, "dbtest-watchdog", strconv.Itoa(spec.serverPort()), strconv.Itoa(secs)}})
	if err != nil {
		return err
	}
	_, err = e.cli.ExecStart(ctx, ex.ID, client.ExecStartOptions{Detach: true})
	return err
}

// networkDrivers lists the engine's networks and their drivers.
func (e *dockerEngine) networkDrivers(ctx context.Context) (map[string]string, error) {
	res, err := e.cli.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(res.Items))
	for _, n := range res.Items {
		m[n.Name] = n.Driver
	}
	return m, nil
}
