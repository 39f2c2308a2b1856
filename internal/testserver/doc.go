// Package testserver runs private PostgreSQL and MariaDB servers for tests
// that must stop, start or restart a server: the shared servers that other
// test binaries use at the same time must never be touched that way.
//
// A server lives in a temporary directory of its own (data, socket, log),
// listens on a free loopback port, and is a child process of the test
// binary:
//
//	pg, err := testserver.StartPostgres(ctx)
//	if err != nil { ... }            // errors.Is(err, ErrNotInstalled): no binaries here
//	defer pg.Close()
//	os.Setenv(dbtest.EnvPostgresDSN, pg.DSN())
//	...
//	err = pg.Restart(ctx)            // stop (fast shutdown) and start again, same data
//
// Start one server per backend once per test binary, from TestMain, since
// creating a cluster takes seconds (initdb, mariadb-install-db).
//
// # Binaries
//
// PostgreSQL comes from /usr/lib/postgresql/<version>/bin (the newest
// version there; Debian's layout) or from PATH: initdb and postgres.
// MariaDB from PATH or /usr/sbin: mariadb-install-db and mariadbd (or
// mysql_install_db and mysqld). When they are missing, the Start functions
// return an error matching [ErrNotInstalled].
//
// # Running as root
//
// PostgreSQL refuses to run as root: when the test binary is root, initdb
// and postgres run as the postgres user (the Debian packages create it),
// and the directory is given to that user. mariadbd runs with --user=root.
//
// # Platforms
//
// Linux only: the package relies on the parent-death signal and on
// running a child process as another user.
//
// # Cleanup
//
// [Server.Close] stops the server and removes its directory. A server
// process also dies with the test binary, however the binary ends: it is
// started with a parent-death signal (Linux). A directory left by a killed
// test binary is removed by the next Start in any process.
package testserver
