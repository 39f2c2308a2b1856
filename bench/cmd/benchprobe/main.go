// Command benchprobe is the child process of benchreport's start-up and
// memory figures. It prints one line on standard output and exits.
//
//	benchprobe floor      prints "ready" at once: the start of a Go process
//	                      of this size, the floor of the start-up figure
//	benchprobe engine     starts the embedded SQLite (dbtest.InitSQLite),
//	                      opens an in-memory database, runs SELECT
//	                      sqlite_version(), prints "ready"
//	benchprobe startup    gets a dbtest handle on the embedded SQLite (its
//	                      template migrated on the way), runs its first
//	                      query, prints "ready", releases it
//	benchprobe memory N   opens N connections to an in-memory SQLite
//	                      database, queries each, and prints VmRSS and
//	                      VmSize (KiB) before and after, as JSON
//
// The wazero compilation cache is DBTEST_WAZERO_CACHE's, as in tests.
package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	_ "github.com/ncruces/go-sqlite3/driver"
	_ "github.com/ncruces/go-sqlite3/embed"
	"github.com/ncruces/go-sqlite3/vfs/memdb"

	"github.com/easyautoml/dbharness/dbtest"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "benchprobe:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: benchprobe floor|engine|startup|memory N")
	}
	ctx := context.Background()
	switch args[0] {
	case "floor":
		fmt.Println("ready")
		return nil
	case "engine":
		if _, err := dbtest.InitSQLite(); err != nil {
			return err
		}
		db, err := sql.Open("sqlite3", ":memory:")
		if err != nil {
			return err
		}
		defer db.Close()
		var v string
		if err := db.QueryRowContext(ctx, "SELECT sqlite_version()").Scan(&v); err != nil {
			return err
		}
		fmt.Println("ready")
		return nil
	case "startup":
		db, err := dbtest.Connect(ctx, dbtest.SQLite)
		if err != nil {
			return err
		}
		var n int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM users").Scan(&n); err != nil {
			return err
		}
		fmt.Println("ready")
		return db.Release(ctx)
	case "memory":
		if len(args) != 2 {
			return errors.New("usage: benchprobe memory N")
		}
		n, err := strconv.Atoi(args[1])
		if err != nil || n < 1 {
			return fmt.Errorf("memory: bad count %q", args[1])
		}
		return memory(ctx, n)
	}
	return fmt.Errorf("unknown mode %q", args[0])
}

// memory holds n connections open at once and reports the process's
// memory before and after.
func memory(ctx context.Context, n int) error {
	if _, err := dbtest.InitSQLite(); err != nil {
		return err
	}
	before, err := status()
	if err != nil {
		return err
	}
	memdb.Create("benchprobe", nil)
	db, err := sql.Open("sqlite3", "file:/benchprobe?vfs=memdb")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	if _, err := db.ExecContext(ctx, "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)"); err != nil {
		return err
	}
	conns := make([]*sql.Conn, n)
	for i := range conns {
		c, err := db.Conn(ctx)
		if err != nil {
			return err
		}
		defer c.Close()
		var k int
		if err := c.QueryRowContext(ctx, "SELECT count(*) FROM items").Scan(&k); err != nil {
			return err
		}
		conns[i] = c
	}
	after, err := status()
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{"connections": n, "before": before, "after": after})
}

// status reads VmRSS and VmSize (KiB) from /proc/self/status.
func status() (map[string]int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmSize") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("/proc/self/status: %s: %w", k, err)
		}
		out[k] = kb
	}
	if len(out) != 2 {
		return nil, errors.New("/proc/self/status: no VmRSS or VmSize")
	}
	return out, sc.Err()
}
