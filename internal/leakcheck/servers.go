package leakcheck

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // the checking connection's driver

	"github.com/easyautoml/dbharness/dbtest"
)

// server is a configured database server.
type server struct {
	backend dbtest.Backend
	driver  string
	dsn     string
	port    int
}

// configured returns the servers named by the environment and reached
// over TCP.
func configured() []server {
	var out []server
	if dsn := os.Getenv(dbtest.EnvPostgresDSN); dsn != "" {
		if cfg, err := pgconn.ParseConfig(dsn); err == nil && !strings.HasPrefix(cfg.Host, "/") {
			out = append(out, server{dbtest.Postgres, "pgx", dsn, int(cfg.Port)})
		}
	}
	if dsn := os.Getenv(dbtest.EnvMySQLDSN); dsn != "" {
		if cfg, err := mysql.ParseDSN(dsn); err == nil && cfg.Net == "tcp" {
			if _, p, err := net.SplitHostPort(cfg.Addr); err == nil {
				port, _ := strconv.Atoi(p)
				out = append(out, server{dbtest.MySQL, "mysql", dsn, port})
			}
		}
	}
	return out
}

// open lists this process's connections to s, as s describes them.
func (s server) open(ctx context.Context) ([]string, error) {
	ports, err := ownSockets(s.port)
	if err != nil || len(ports) == 0 {
		return nil, err
	}
	// Listed before the checking connection opens: it is not among them.
	sessions, err := s.sessions(ctx, ports)
	if err != nil {
		return nil, err
	}
	sort.Ints(ports)
	var out []string
	for _, p := range ports {
		desc, ok := sessions[p]
		if !ok {
			desc = "no session on the server: the socket is still open on this side"
		}
		out = append(out, fmt.Sprintf("%s (port %d) from local port %d: %s", s.backend, s.port, p, desc))
	}
	return out, nil
}

// sessions describes the server's sessions whose client port is in ports.
func (s server) sessions(ctx context.Context, ports []int) (map[int]string, error) {
	db, err := sql.Open(s.driver, s.dsn)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	out := map[int]string{}
	if s.backend == dbtest.Postgres {
		list := make([]string, len(ports))
		for i, p := range ports {
			list[i] = strconv.Itoa(p)
		}
		rows, err := db.QueryContext(ctx, `SELECT client_port, pid, coalesce(datname, ''), coalesce(application_name, ''),
			coalesce(state, ''), left(coalesce(query, ''), 120)
			FROM pg_stat_activity WHERE client_port IN (`+strings.Join(list, ", ")+`)`)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			var port, pid int
			var dbname, app, state, query string
			if err := rows.Scan(&port, &pid, &dbname, &app, &state, &query); err != nil {
				return nil, err
			}
			out[port] = fmt.Sprintf("pid %d, database %q, application_name %q, %s, last statement: %s", pid, dbname, app, state, query)
		}
		return out, rows.Err()
	}
	want := map[int]bool{}
	for _, p := range ports {
		want[p] = true
	}
	rows, err := db.QueryContext(ctx, `SELECT ID, HOST, COALESCE(DB, ''), COMMAND, COALESCE(STATE, ''), COALESCE(LEFT(INFO, 120), '')
		FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID()`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var host, dbname, command, state, info string
		if err := rows.Scan(&id, &host, &dbname, &command, &state, &info); err != nil {
			return nil, err
		}
		i := strings.LastIndexByte(host, ':')
		if i < 0 {
			continue
		}
		port, err := strconv.Atoi(host[i+1:])
		if err != nil || !want[port] {
			continue
		}
		out[port] = fmt.Sprintf("id %d, database %q, %s %s, statement: %s", id, dbname, command, state, info)
	}
	return out, rows.Err()
}
