package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing/fstest"
	"time"

	"github.com/go-testfixtures/testfixtures/v3"

	"github.com/easyautoml/dbharness/bench/internal/measure"
	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/fixtures"
)

// Fixture loading: package fixtures against testfixtures, on the same rows
// and the same migrated database, each starting from empty tables and
// ending with the rows committed. Both read and parse their files inside
// the timing (fixtures.ParseFS and Set.Load; testfixtures.New and Load).
//
// The file formats differ: package fixtures names rows and refers to them
// by label, testfixtures lists rows with explicit ids. The testfixtures
// files are therefore generated from the same rows: for the base set,
// from a snapshot of the base set as package fixtures loads it (ids and
// references resolved, timestamps left to the database's defaults); for
// the 10,000 users, from the same generated rows.

const usersRows = 10_000

const fixtureNote = "The two formats differ: package fixtures names rows and refers to them by label, testfixtures lists rows with explicit ids. testfixtures' files are generated from the same rows: for the base set, from a snapshot of the set as package fixtures loads it (ids and references resolved; created_at and updated_at left to the database's defaults, which package fixtures fills itself); for the users, from the same generated rows (no ids)."

// fixtureData is one data set in both formats.
type fixtureData struct {
	name   string
	ours   fs.FS    // package fixtures' files
	theirs fs.FS    // testfixtures' files, one per table
	files  []string // testfixtures' files in load order
	tables []string // the tables it fills
}

// usersData generates n users in both formats.
func usersData(n int) fixtureData {
	var ours, theirs strings.Builder
	ours.WriteString("users:\n")
	for i := range n {
		u, email, staff := fmt.Sprintf("u%05d", i), fmt.Sprintf("u%05d@example.com", i), i%50 == 0
		fmt.Fprintf(&ours, "  %s: {username: %s, email: %s, is_staff: %t}\n", u, u, email, staff)
		fmt.Fprintf(&theirs, "- {username: %s, email: %s, is_staff: %t}\n", u, email, staff)
	}
	return fixtureData{
		name:   fmt.Sprintf("%d generated users", n),
		ours:   fstest.MapFS{"users.yml": {Data: []byte(ours.String())}},
		theirs: fstest.MapFS{"users.yml": {Data: []byte(theirs.String())}},
		files:  []string{"users.yml"},
		tables: []string{"users"},
	}
}

// baseData writes the base set in testfixtures' format: it loads the set
// into db inside a transaction, snapshots its tables, and rolls back.
func baseData(ctx context.Context, db *sql.DB, b dbtest.Backend) (fixtureData, error) {
	set, err := fixtures.Base()
	if err != nil {
		return fixtureData{}, err
	}
	d := fixtureData{name: "the base set", ours: fixtures.BaseFS(), theirs: fstest.MapFS{}}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return d, err
	}
	defer tx.Rollback()
	if _, err := set.Load(ctx, tx, string(b)); err != nil {
		return d, err
	}
	for _, table := range set.Tables() {
		rows, err := fixtures.Snapshot(ctx, tx, string(b), table)
		if err != nil {
			return d, err
		}
		var sb strings.Builder
		for _, r := range rows.Values {
			row := map[string]any{}
			for i, c := range rows.Columns {
				if _, ok := r[i].(time.Time); ok || c == "created_at" || c == "updated_at" {
					continue
				}
				row[c] = r[i]
			}
			j, err := json.Marshal(row) // JSON is YAML
			if err != nil {
				return d, err
			}
			sb.WriteString("- " + string(j) + "\n")
		}
		d.theirs.(fstest.MapFS)[table+".yml"] = &fstest.MapFile{Data: []byte(sb.String())}
		d.files = append(d.files, table+".yml")
		d.tables = append(d.tables, table)
	}
	return d, nil
}

// emptyTables deletes every row of tables (listed parents first) and
// restarts their ids.
func emptyTables(ctx context.Context, db *sql.DB, b dbtest.Backend, tables []string) error {
	switch b {
	case dbtest.Postgres:
		q := make([]string, len(tables))
		for i, t := range tables {
			q[i] = quoteIdent(b, t)
		}
		_, err := db.ExecContext(ctx, "TRUNCATE "+strings.Join(q, ", ")+" RESTART IDENTITY CASCADE")
		return err
	case dbtest.MySQL:
		conn, err := db.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		stmts := []string{"SET FOREIGN_KEY_CHECKS = 0"}
		for _, t := range tables {
			stmts = append(stmts, "TRUNCATE TABLE "+quoteIdent(b, t))
		}
		stmts = append(stmts, "SET FOREIGN_KEY_CHECKS = 1")
		for _, q := range stmts {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return nil
	default:
		for _, t := range slices.Backward(tables) {
			if _, err := db.ExecContext(ctx, "DELETE FROM "+quoteIdent(b, t)); err != nil {
				return err
			}
		}
		return nil
	}
}

// countRows checks that every table holds rows.
func countRows(ctx context.Context, db *sql.DB, b dbtest.Backend, tables []string) error {
	for _, t := range tables {
		var n int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+quoteIdent(b, t)).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("table %s is empty after the load", t)
		}
	}
	return nil
}

// testfixturesDialect is testfixtures' name of each backend's dialect.
func testfixturesDialect(b dbtest.Backend) string {
	switch b {
	case dbtest.Postgres:
		return "postgres"
	case dbtest.MySQL:
		return "mysql"
	}
	return "sqlite"
}

func (e *env) fixtureLoading(ctx context.Context, p measure.Plan, r *Report) error {
	for _, b := range e.backends {
		s, err := e.createScratch(ctx, b, "fixtures", true)
		if err != nil {
			return err
		}
		db, err := s.open()
		if err != nil {
			return err
		}
		e.atEnd(func(context.Context) error { return db.Close() })
		if b == dbtest.MySQL {
			db.SetMaxOpenConns(1) // testfixtures sets FOREIGN_KEY_CHECKS on the pool
		}
		if err := migrate(ctx, b, db); err != nil {
			return err
		}
		base, err := baseData(ctx, db, b)
		if err != nil {
			return fmt.Errorf("fixtures on %s: the base set: %w", b, err)
		}
		for _, d := range []fixtureData{base, usersData(usersRows)} {
			empty := func(ctx context.Context) error { return emptyTables(ctx, db, b, base.tables) } // every table either set fills
			ours := measure.Arm{Name: "dbharness (fixtures)", Setup: empty, Op: func(ctx context.Context) error {
				set, err := fixtures.ParseFS(d.ours)
				if err != nil {
					return err
				}
				tx, err := db.BeginTx(ctx, nil)
				if err != nil {
					return err
				}
				if _, err := set.Load(ctx, tx, string(b)); err != nil {
					return errors.Join(err, tx.Rollback())
				}
				if err := tx.Commit(); err != nil {
					return err
				}
				return countRows(ctx, db, b, d.tables)
			}}
			theirs := measure.Arm{Name: "testfixtures", Setup: empty, Op: func(ctx context.Context) error {
				l, err := testfixtures.New(
					testfixtures.Database(db),
					testfixtures.Dialect(testfixturesDialect(b)),
					testfixtures.FS(d.theirs),
					testfixtures.Files(d.files...),
					testfixtures.DangerousSkipTestDatabaseCheck(),
				)
				if err != nil {
					return err
				}
				if err := l.Load(); err != nil {
					return err
				}
				return countRows(ctx, db, b, d.tables)
			}}
			res, err := measure.Compare(ctx, p, ours, theirs)
			if err != nil {
				return fmt.Errorf("fixtures on %s, %s: %w", b, d.name, err)
			}
			f := Figure{Section: "Fixture loading", Name: fmt.Sprintf("%s: %s, parsed and loaded into empty tables, committed", b, d.name),
				Note: fixtureNote,
				Arms: []ArmFigure{secsArm(res[0]), secsArm(res[1])}, Ratios: []RatioFigure{speedup(res[0], res[1])}}
			r.Figures = append(r.Figures, f)
		}
	}
	return nil
}
