package dbtest

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Environment variables of the Testcontainers provider, which serves
// PostgreSQL and MySQL when their DSN is not set.
//
// # Containers
//
// When DBTEST_POSTGRES_DSN or DBTEST_MYSQL_DSN is not set, dbtest asks the
// Docker engine that Testcontainers finds (DOCKER_HOST, the Docker context,
// the default socket, ...) for a container. With no engine answering, the
// backend skips, or fails under DBTEST_REQUIRE, at once. DBTEST_CONTAINERS=off
// keeps dbtest from asking.
//
// The images default to the official [DefaultPostgresImage] and
// [DefaultMySQLImage]; DBTEST_POSTGRES_IMAGE and DBTEST_MYSQL_IMAGE name
// others: a registry mirror, a MariaDB image for the mysql backend, or the
// images that scripts/containers/build-images.sh makes from Debian's
// packages. An image the engine lacks is pulled once. The servers keep their
// data on a tmpfs, with user dbtest (root on MySQL), password dbtest and
// database test. A container that does not come up fails the test with the
// image, the engine and the last lines of the container's log.
//
// DBTEST_DOCKER_NETWORK=host runs the containers on the engine's host
// network, for engines without bridge networks. Each server then listens
// on its own port, DBTEST_POSTGRES_PORT and DBTEST_MYSQL_PORT (default
// [DefaultPostgresContainerPort] and [DefaultMySQLContainerPort]), on the
// loopback address when the engine runs on this machine. On the default
// bridge network the engine publishes the server's port on a port of its
// choice, or on the one those variables name.
//
// The test binaries of one "go test ./..." share one container per backend,
// each with databases of its own in it. The container's name is derived
// from the backend, the image, the network, the port, the engine, the
// machine and the user (dbtest-postgres-<hash>). A lock file in the
// temporary directory keeps two binaries from starting it twice; every
// process that uses it holds a shared lock on a second file. A companion
// process per binary keeps the binary's reference until the go command that
// ran it exits (on Linux and macOS; elsewhere, and when the binary was not
// run by the go command, until the binary exits), then removes the
// container if no other process holds a reference. DBTEST_CONTAINER_LOG
// names a file where each process notes which container it used.
//
// A run killed together with its companions leaves its containers behind.
// Each stops by itself once no client has been connected to its server for
// DBTEST_CONTAINER_IDLE (default [DefaultContainerIdle]): a watchdog in the
// container watches the server's connections. The next run on the machine
// removes the stopped containers, and replaces a running one that no live
// process references. By hand:
//
//	docker rm -f $(docker ps -aq --filter label=org.easyautoml.dbharness.dbtest)
//
// Ryuk, Testcontainers' reaper, is not handed these containers: it would
// remove them when the binary that started them exits, under the feet of
// the other binaries.
//
// Once a container answers, dbtest sets DBTEST_POSTGRES_DSN or
// DBTEST_MYSQL_DSN in its own environment, so that the processes its tests
// start reach the same server.
const (
	// EnvPostgresImage names the PostgreSQL image; default [DefaultPostgresImage].
	EnvPostgresImage = "DBTEST_POSTGRES_IMAGE"
	// EnvMySQLImage names the MySQL (or MariaDB) image; default [DefaultMySQLImage].
	EnvMySQLImage = "DBTEST_MYSQL_IMAGE"
	// EnvPostgresPort is the port of the PostgreSQL container: where it
	// listens with host networking, where its port is published otherwise.
	EnvPostgresPort = "DBTEST_POSTGRES_PORT"
	// EnvMySQLPort is the port of the MySQL container, as [EnvPostgresPort].
	EnvMySQLPort = "DBTEST_MYSQL_PORT"
	// EnvDockerNetwork is "bridge" (the default: published ports) or "host".
	EnvDockerNetwork = "DBTEST_DOCKER_NETWORK"
	// EnvContainerIdle is how long a container may go without a client
	// before it stops itself (a Go duration; "0" never).
	EnvContainerIdle = "DBTEST_CONTAINER_IDLE"
	// EnvContainers set to "off" keeps dbtest from using Docker.
	EnvContainers = "DBTEST_CONTAINERS"
	// EnvContainerLog names a file to which each process appends a line
	// naming the container it used and whether it started it.
	EnvContainerLog = "DBTEST_CONTAINER_LOG"
)

// Defaults of the Testcontainers provider. The ports are below the ranges
// from which Linux (32768-60999), macOS and Windows (49152-65535) pick the
// local ports of outgoing connections: a server cannot listen on a port
// that a connection happens to use.
const (
	DefaultPostgresImage         = "postgres:16-alpine"
	DefaultMySQLImage            = "mysql:8.4"
	DefaultPostgresContainerPort = 25432
	DefaultMySQLContainerPort    = 23306
	DefaultContainerIdle         = 10 * time.Minute
)

// The credentials of the containers' servers.
const (
	containerUser     = "dbtest"
	containerPassword = "dbtest"
	containerDatabase = "test"
)

// containerSpec says which container serves a backend.
type containerSpec struct {
	b     Backend
	kind  *containerKind
	image string
	host  bool // host networking
	// port is where the server listens with host networking, and the
	// published port otherwise (0: the engine's choice).
	port int
	idle time.Duration // 0: no watchdog
}

// containerSpecFor reads the environment through getenv and validates it.
func containerSpecFor(b Backend, getenv func(string) string) (containerSpec, error) {
	k := containerKinds[b]
	if k == nil {
		return containerSpec{}, fmt.Errorf("dbtest: %s: no container image for this backend", b)
	}
	s := containerSpec{b: b, kind: k, image: strings.TrimSpace(getenv(k.imageEnv)), idle: DefaultContainerIdle}
	if s.image == "" {
		s.image = k.defaultImage
	}
	switch v := strings.TrimSpace(getenv(EnvDockerNetwork)); strings.ToLower(v) {
	case "", "bridge":
	case "host":
		s.host = true
		s.port = k.defaultPort
	default:
		return containerSpec{}, fmt.Errorf("dbtest: %s=%q: want bridge or host", EnvDockerNetwork, v)
	}
	if v := strings.TrimSpace(getenv(k.portEnv)); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 1 || p > 65535 {
			return containerSpec{}, fmt.Errorf("dbtest: %s=%q: want a port number from 1 to 65535", k.portEnv, v)
		}
		s.port = p
	}
	if v := strings.TrimSpace(getenv(EnvContainerIdle)); v != "" {
		d, err := time.ParseDuration(v)
		if v == "0" {
			d, err = 0, nil
		}
		if err != nil || d < 0 || (d > 0 && d < time.Second) {
			return containerSpec{}, fmt.Errorf("dbtest: %s=%q: want a duration of a second or more, such as 10m, or 0 for never", EnvContainerIdle, v)
		}
		s.idle = d
	}
	return s, nil
}

// containersOff reports whether DBTEST_CONTAINERS turns containers off.
func containersOff(getenv func(string) string) (bool, error) {
	switch v := strings.TrimSpace(getenv(EnvContainers)); strings.ToLower(v) {
	case "", "on", "auto":
		return false, nil
	case "off":
		return true, nil
	default:
		return false, fmt.Errorf("dbtest: %s=%q: want off, or nothing", EnvContainers, v)
	}
}

// serverPort is the port the server listens on inside the container.
func (s containerSpec) serverPort() int {
	if s.host {
		return s.port
	}
	return s.kind.serverPort
}

// containerServer starts or joins the container of backend b and returns
// a DSN for its server, and how to name it in messages. No Docker engine is
// an *unavailableError; a container that cannot start is an error that says
// why.
func containerServer(ctx context.Context, b Backend) (dsn, source string, err error) {
	_, env := serverDSN(b)
	off, err := containersOff(os.Getenv)
	if err != nil {
		return "", "", err
	}
	if off {
		return "", "", &unavailableError{fmt.Sprintf("%s is not set and %s=off", env, EnvContainers)}
	}
	spec, err := containerSpecFor(b, os.Getenv)
	if err != nil {
		return "", "", err
	}
	c, err := joinContainer(ctx, spec)
	if err != nil {
		return "", "", err
	}
	// Child processes of the tests reach the same server.
	os.Setenv(env, c.dsn)
	return c.dsn, "container " + c.name + " (" + spec.image + ")", nil
}
