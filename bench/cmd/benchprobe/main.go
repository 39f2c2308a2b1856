// Command benchprobe is the child process of benchreport's start-up and
// memory figures. It prints one line on standard output and exits.
//
//	benchprobe floor            prints "ready" at once: the start of a Go
//	                            process of this size, the floor of the
//	                            start-up figure
//	benchprobe engine E         starts SQLite, opens an in-memory database,
//	                            runs SELECT sqlite_version(), prints "ready"
//	benchprobe startup          gets a dbtest handle on the embedded SQLite
//	                            (its template migrated on the way), runs
//	                            its first query, prints "ready", releases it
//	benchprobe memory E N       opens N connections to one in-memory SQLite
//	                            database, queries each, and prints VmRSS and
//	                            VmSize (KiB) before and after, as JSON
//
// E is "ncruces", the SQLite in wazero that dbtest runs (started with
// dbtest.InitSQLite, whose compilation cache is DBTEST_WAZERO_CACHE's, as
// in tests), or "modernc", modernc.org/sqlite, SQLite translated to Go,
// for comparison.
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
	_ "modernc.org/sqlite" // driver "sqlite"

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
		if len(args) != 2 {
			return errors.New("usage: benchprobe engine ncruces|modernc")
		}
		db, err := openEngine(args[1], 1)
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
		if len(args) != 3 {
			return errors.New("usage: benchprobe memory ncruces|modernc N")
		}
		n, err := strconv.Atoi(args[2])
		if err != nil || n < 1 {
			return fmt.Errorf("memory: bad count %q", args[2])
		}
		return memory(ctx, args[1], n)
	}
	return fmt.Errorf("unknown mode %q", args[0])
}

// openEngine starts an engine and opens a pool of up to n connections to
// one in-memory database shared by them.
func openEngine(engine string, n int) (*sql.DB, error) {
	var db *sql.DB
	var err error
	switch engine {
	case "ncruces":
		if _, err := dbtest.InitSQLite(); err != nil {
			return nil, err
		}
		memdb.Create("benchprobe", nil)
		db, err = sql.Open("sqlite3", "file:/benchprobe?vfs=memdb")
	case "modernc":
		db, err = sql.Open("sqlite", "file:benchprobe?mode=memory&cache=shared")
	default:
		return nil, fmt.Errorf("unknown engine %q", engine)
	}
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	return db, nil
}

// memory holds n connections open at once and reports the process's
// memory before and after. "Before" is after the engine started: for
// ncruces, with SQLite compiled (or loaded from the cache).
func memory(ctx context.Context, engine string, n int) error {
	if engine == "ncruces" {
		if _, err := dbtest.InitSQLite(); err != nil {
			return err
		}
	}
	before, err := status()
	if err != nil {
		return err
	}
	db, err := openEngine(engine, n)
	if err != nil {
		return err
	}
	defer db.Close()
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
