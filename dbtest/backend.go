package dbtest

import (
	"fmt"
	"os"
	"strings"
)

// Backend names a database engine that dbtest can provide.
type Backend string

// The backends dbtest provides. Their names are also the names of the
// subtests that [Each] runs and the values [DB.Dialect] returns.
const (
	// SQLite is the embedded SQLite hosted in WebAssembly (wazero). It needs
	// no server and is always available.
	SQLite Backend = "sqlite"
	// Postgres is a PostgreSQL server named by DBTEST_POSTGRES_DSN.
	Postgres Backend = "postgres"
	// MySQL is a MySQL or MariaDB server named by DBTEST_MYSQL_DSN.
	MySQL Backend = "mysql"
)

// Backends lists every backend in the order [Each] runs them.
func Backends() []Backend { return []Backend{SQLite, Postgres, MySQL} }

// ParseBackend turns a name such as "sqlite", "postgres" or "mysql" into a
// Backend. It accepts the usual aliases ("sqlite3", "pg", "postgresql",
// "pgx", "mariadb").
func ParseBackend(name string) (Backend, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "sqlite", "sqlite3":
		return SQLite, nil
	case "postgres", "postgresql", "pg", "pgx":
		return Postgres, nil
	case "mysql", "mariadb":
		return MySQL, nil
	}
	return "", fmt.Errorf("dbtest: unknown backend %q (want sqlite, postgres or mysql)", name)
}

// String returns the backend's name.
func (b Backend) String() string { return string(b) }

// Environment variables read by dbtest.
const (
	// EnvPostgresDSN names the PostgreSQL server to use, for example
	// "postgres://postgres@127.0.0.1:5432/test?sslmode=disable". dbtest
	// connects to that database only to create and drop its own.
	EnvPostgresDSN = "DBTEST_POSTGRES_DSN"
	// EnvMySQLDSN names the MySQL or MariaDB server to use, for example
	// "root@tcp(127.0.0.1:3306)/test".
	EnvMySQLDSN = "DBTEST_MYSQL_DSN"
	// EnvRequire lists backends (comma separated, or "all") that must be
	// available: when one is not, tests fail instead of skipping.
	EnvRequire = "DBTEST_REQUIRE"
	// EnvWazeroCache overrides the directory of the wazero compilation
	// cache, which also keeps migrated SQLite templates. The value "off"
	// disables both.
	EnvWazeroCache = "DBTEST_WAZERO_CACHE"
	// EnvLockTrace set to "off" turns lock diagnosis off for every handle
	// of the process, as [WithoutLockTrace] does for one; "on" (or unset)
	// leaves it on.
	EnvLockTrace = "DBTEST_LOCK_TRACE"
)

// Required reports whether DBTEST_REQUIRE names b: tests that find b
// unavailable must then fail instead of skipping. [Open] and [Each] do so
// on their own; this is for tests that reach a server some other way.
func Required(b Backend) bool { return required(b) }

// required reports whether DBTEST_REQUIRE names b.
func required(b Backend) bool {
	for _, f := range strings.Split(os.Getenv(EnvRequire), ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if strings.EqualFold(f, "all") {
			return true
		}
		if nb, err := ParseBackend(f); err == nil && nb == b {
			return true
		}
	}
	return false
}

// serverDSN returns the DSN configured for a server backend.
func serverDSN(b Backend) (string, string) {
	switch b {
	case Postgres:
		return os.Getenv(EnvPostgresDSN), EnvPostgresDSN
	case MySQL:
		return os.Getenv(EnvMySQLDSN), EnvMySQLDSN
	}
	return "", ""
}
