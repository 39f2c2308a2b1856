//go:build linux

package testserver

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"

	_ "github.com/jackc/pgx/v5/stdlib" // the readiness check's driver
)

// StartPostgres creates a PostgreSQL cluster in a new directory (initdb,
// trust authentication, superuser postgres) and starts it on a free
// loopback port, tuned for tests: no fsync, small shared buffers.
func StartPostgres(ctx context.Context) (*Server, error) {
	bins := postgresBinDirs()
	initdb, err := lookPath(bins, "initdb")
	if err != nil {
		return nil, fmt.Errorf("testserver: postgres: %w", err)
	}
	postgres, err := lookPath([]string{filepath.Dir(initdb)}, "postgres")
	if err != nil {
		return nil, fmt.Errorf("testserver: postgres: %w", err)
	}
	dir, err := newDir(Postgres)
	if err != nil {
		return nil, fmt.Errorf("testserver: postgres: %w", err)
	}
	s := &Server{kind: Postgres, dir: dir, driver: "pgx"}
	fail := func(err error) (*Server, error) {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("testserver: postgres: %w", err)
	}
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root.
		if s.cred, err = credentialOf("postgres"); err != nil {
			return fail(fmt.Errorf("running as root needs the postgres user: %w", err))
		}
		if err := os.Chown(dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			return fail(err)
		}
	}
	data := filepath.Join(dir, "data")
	if err := run(ctx, s.cred, dir, initdb, "-D", data, "-A", "trust", "-U", "postgres",
		"-E", "UTF8", "--no-sync", "--no-instructions"); err != nil {
		return fail(err)
	}
	if s.port, err = freePort(); err != nil {
		return fail(err)
	}
	s.argv = []string{postgres, "-D", data, "-p", strconv.Itoa(s.port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "shared_buffers=16MB", "-c", "max_connections=60"}
	s.dsn = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.port)
	s.ping = s.dsn + "&connect_timeout=2"
	if err := s.startLocked(ctx); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// postgresBinDirs lists Debian's PostgreSQL binary directories, newest
// version first.
func postgresBinDirs() []string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	return dirs
}

// credentialOf returns the uid and gid of the named user.
func credentialOf(name string) (*syscall.Credential, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, err
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, err
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}
