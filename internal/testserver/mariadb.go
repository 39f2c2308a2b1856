//go:build linux

package testserver

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	_ "github.com/go-sql-driver/mysql" // the readiness check's driver
)

// StartMariaDB creates a MariaDB data directory in a new directory
// (mariadb-install-db; root without a password, reachable over TCP) and
// starts mariadbd on a free loopback port, with a database named test and
// small InnoDB buffers.
func StartMariaDB(ctx context.Context) (*Server, error) {
	sbin := []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"}
	install, err := lookPath(sbin, "mariadb-install-db", "mysql_install_db")
	if err != nil {
		return nil, fmt.Errorf("testserver: mariadb: %w", err)
	}
	mariadbd, err := lookPath(sbin, "mariadbd", "mysqld")
	if err != nil {
		return nil, fmt.Errorf("testserver: mariadb: %w", err)
	}
	dir, err := newDir(MariaDB)
	if err != nil {
		return nil, fmt.Errorf("testserver: mariadb: %w", err)
	}
	s := &Server{kind: MariaDB, dir: dir, driver: "mysql"}
	fail := func(err error) (*Server, error) {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("testserver: mariadb: %w", err)
	}
	data := filepath.Join(dir, "data")
	var asRoot []string
	if os.Geteuid() == 0 {
		asRoot = []string{"--user=root"}
	}
	// Settings shared by the install and the server, so that the server
	// need not resize what the install made.
	common := []string{"--innodb-buffer-pool-size=16M", "--innodb-log-file-size=16M"}
	args := append([]string{install, "--no-defaults", "--datadir=" + data,
		"--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve"}, asRoot...)
	if err := run(ctx, nil, dir, append(args, common...)...); err != nil {
		return fail(err)
	}
	if s.port, err = freePort(); err != nil {
		return fail(err)
	}
	s.argv = append([]string{mariadbd, "--no-defaults", "--datadir=" + data,
		"--socket=" + filepath.Join(dir, "mysqld.sock"), "--pid-file=" + filepath.Join(dir, "mysqld.pid"),
		"--port=" + strconv.Itoa(s.port), "--bind-address=127.0.0.1", "--skip-name-resolve",
		"--skip-log-bin", "--performance-schema=OFF", "--innodb-flush-log-at-trx-commit=0",
		"--max-connections=100", "--log-error=" + s.logPath()}, asRoot...)
	s.argv = append(s.argv, common...)
	s.ping = fmt.Sprintf("root@tcp(127.0.0.1:%d)/?timeout=2s", s.port)
	if err := s.startLocked(ctx); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := createTestDatabase(ctx, s.ping); err != nil {
		s.Close()
		return nil, fmt.Errorf("testserver: mariadb: %w", err)
	}
	s.dsn = fmt.Sprintf("root@tcp(127.0.0.1:%d)/test", s.port)
	return s, nil
}

func createTestDatabase(ctx context.Context, dsn string) error {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS test")
	return err
}
