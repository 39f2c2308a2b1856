// Command dbharness inspects and exercises the databases that dbtest
// provides.
//
// Usage:
//
//	dbharness [backends]
//
// "backends" (the default) lists each backend, whether it is available
// here, and its version. Server backends come from DBTEST_POSTGRES_DSN and
// DBTEST_MYSQL_DSN; passwords are never printed.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/easyautoml/dbharness/dbtest"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dbharness", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: dbharness [backends]

Commands:
  backends   list the backends available here and their versions (default)

Environment:
  DBTEST_POSTGRES_DSN   PostgreSQL server
  DBTEST_MYSQL_DSN      MySQL or MariaDB server
`)
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cmd := "backends"
	if fs.NArg() > 0 {
		cmd = fs.Arg(0)
	}
	switch cmd {
	case "backends":
		return backends(stdout)
	default:
		fmt.Fprintf(stderr, "dbharness: unknown command %q\n", cmd)
		fs.Usage()
		return 2
	}
}

// backends prints one line per backend and fails when none is available.
func backends(w io.Writer) int {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "BACKEND\tSTATUS\tVERSION")
	ok := 0
	for _, b := range dbtest.Backends() {
		desc, err := dbtest.Describe(ctx, b)
		if err != nil {
			fmt.Fprintf(tw, "%s\tunavailable\t%v\n", b, err)
			continue
		}
		ok++
		fmt.Fprintf(tw, "%s\tavailable\t%s\n", b, desc)
	}
	tw.Flush()
	if ok == 0 {
		return 1
	}
	return 0
}
