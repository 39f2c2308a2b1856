package dbtest

import (
	"fmt"
	"net"
	"net/url"
	"strconv"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/modules/mysql"
	"github.com/testcontainers/testcontainers-go/modules/postgres"
)

// containerKind is what differs between the PostgreSQL and the MySQL
// container: the image's interface (that of the official images, which
// Testcontainers' postgres and mysql modules configure) and the DSN.
type containerKind struct {
	imageEnv, portEnv string
	defaultImage      string
	defaultPort       int // host networking: where the server listens
	serverPort        int // bridge networking: the server's port in the container
	dataDir           string
	// customize configures the server to listen on port, on the loopback
	// address only when loopback is set.
	customize func(port int, loopback bool) []testcontainers.ContainerCustomizer
	dsn       func(hostPort string) string
}

var containerKinds = map[Backend]*containerKind{
	Postgres: {
		imageEnv:     EnvPostgresImage,
		portEnv:      EnvPostgresPort,
		defaultImage: DefaultPostgresImage,
		defaultPort:  DefaultPostgresContainerPort,
		serverPort:   5432,
		dataDir:      "/var/lib/postgresql/data",
		customize: func(port int, loopback bool) []testcontainers.ContainerCustomizer {
			listen := "*"
			if loopback {
				listen = "127.0.0.1"
			}
			return []testcontainers.ContainerCustomizer{
				postgres.WithUsername(containerUser),
				postgres.WithPassword(containerPassword),
				postgres.WithDatabase(containerDatabase),
				// PGPORT serves the image's initialisation too.
				testcontainers.WithEnv(map[string]string{"PGPORT": strconv.Itoa(port)}),
				testcontainers.WithCmd("postgres", "-c", "fsync=off", "-c", "port="+strconv.Itoa(port),
					"-c", "listen_addresses="+listen),
			}
		},
		dsn: func(hostPort string) string {
			u := url.URL{Scheme: "postgres", User: url.UserPassword(containerUser, containerPassword),
				Host: hostPort, Path: "/" + containerDatabase, RawQuery: "sslmode=disable"}
			return u.String()
		},
	},
	MySQL: {
		imageEnv:     EnvMySQLImage,
		portEnv:      EnvMySQLPort,
		defaultImage: DefaultMySQLImage,
		defaultPort:  DefaultMySQLContainerPort,
		serverPort:   3306,
		dataDir:      "/var/lib/mysql",
		customize: func(port int, loopback bool) []testcontainers.ContainerCustomizer {
			// MySQL's X Protocol would take port 33060 of the host with host
			// networking; "loose-" makes MariaDB, which has none, ignore it.
			args := []string{"--port=" + strconv.Itoa(port), "--loose-mysqlx=OFF"}
			if loopback {
				args = append(args, "--bind-address=127.0.0.1")
			}
			return []testcontainers.ContainerCustomizer{
				// dbtest creates and drops databases: it needs root.
				mysql.WithUsername("root"),
				mysql.WithPassword(containerPassword),
				mysql.WithDatabase(containerDatabase),
				mysql.WithDefaultCredentials(),
				testcontainers.WithEnv(map[string]string{"MYSQL_TCP_PORT": strconv.Itoa(port)}),
				// Arguments that start with "-" go to the server.
				testcontainers.WithCmd(args...),
			}
		},
		dsn: func(hostPort string) string {
			return fmt.Sprintf("root:%s@tcp(%s)/%s", containerPassword, hostPort, containerDatabase)
		},
	},
}

// joinHostPort is net.JoinHostPort for a numeric port.
func joinHostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}
