package migrations_test

import (
	"testing"

	"github.com/easyautoml/dbharness/dbtest"
)

// exec runs each statement on db, failing the test on the first error.
func exec(t *testing.T, db *dbtest.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.ExecContext(t.Context(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// refused runs stmt in a savepoint and reports whether the database
// refused it. The savepoint is rolled back either way, so a refusal does
// not spoil the test's transaction on PostgreSQL.
func refused(t *testing.T, db *dbtest.DB, stmt string) bool {
	t.Helper()
	ctx := t.Context()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, stmt)
	return err != nil
}

func count(t *testing.T, db *dbtest.DB, query string) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(t.Context(), query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// TestForeignKeyActions checks the ON DELETE behaviour of every foreign key
// kind: machine rows go with the machine, history outlives it, users with
// history cannot be deleted, and the checks and unique keys hold.
func TestForeignKeyActions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		exec(t, db,
			"INSERT INTO users (id, username, email) VALUES (1, 'ada', 'ada@example.com'), (2, 'bob', '')",
			"INSERT INTO teams (id, name) VALUES (1, 'lab')",
			"INSERT INTO team_members (team_id, user_id, role) VALUES (1, 1, 'owner'), (1, 2, 'member')",
			"INSERT INTO machines (id, owner_user_id, owner_team_id, name, data_table_name) VALUES (1, 1, 1, 'salaries', 'machine_1')",
			"INSERT INTO data_lines_operations (id, machine_id, user_id, rows_count, columns_count, column_names) VALUES (1, 1, 1, 10, 2, '[\"a\",\"b\"]')",
			"INSERT INTO machine_table_lock_writes (id, machine_id, holder, acquired_at, expires_at) VALUES (1, 1, 'h', '2030-01-01 00:00:00', '2030-01-01 00:01:00')",
			"INSERT INTO graphs (id, machine_id, user_id, kind) VALUES (1, 1, 1, 'scatter')",
			"INSERT INTO works (id, machine_id, user_id, kind) VALUES (1, 1, 1, 'train')",
			"INSERT INTO nn_models (id, machine_id, work_id, kind) VALUES (1, 1, 1, 'linear')",
			"INSERT INTO operations (id, user_id, machine_id, kind) VALUES (1, 1, 1, 'train')",
			"INSERT INTO billings (id, operation_id, user_id, machine_id, cost_cents) VALUES (1, 1, 1, 1, 250)",
			"INSERT INTO consulting_requests (id, user_id, machine_id, subject) VALUES (1, 2, 1, 'help')",
			"INSERT INTO log_entries (id, user_id, machine_id, work_id, message) VALUES (1, 1, 1, 1, 'trained')",
			"INSERT INTO servers (id, name) VALUES (1, 'gpu-1')",
		)

		checks := []struct {
			stmt, reason string
		}{
			{"DELETE FROM users WHERE id = 1", "a user who owns a machine cannot be deleted"},
			{"INSERT INTO works (machine_id, user_id, kind, status) VALUES (1, 1, 'train', 'paused')", "works.status takes only the four states"},
			{"INSERT INTO machines (owner_user_id, name, data_table_name) VALUES (1, 'x', 'MACHINE_1')", "data_table_name is unique regardless of case"},
			{"INSERT INTO machine_table_lock_writes (machine_id, holder, acquired_at, expires_at) VALUES (1, 'other', '2030-01-01 00:00:00', '2030-01-01 00:01:00')", "one table lock per machine"},
			{"INSERT INTO users (username) VALUES ('ada')", "usernames are unique"},
			{"INSERT INTO team_members (team_id, user_id) VALUES (1, 1)", "a user is a member of a team once"},
			{"INSERT INTO machines (owner_user_id, name, data_table_name) VALUES (99, 'x', 'machine_99')", "a machine's owner exists"},
			{"INSERT INTO servers (name) VALUES ('gpu-1')", "server names are unique"},
		}
		for _, c := range checks {
			if !refused(t, db, c.stmt) {
				t.Errorf("%s: accepted %q", c.reason, c.stmt)
			}
		}

		// Deleting a team keeps its machines (now the owner's alone) and
		// drops its memberships.
		exec(t, db, "DELETE FROM teams WHERE id = 1")
		if n := count(t, db, "SELECT COUNT(*) FROM machines WHERE id = 1 AND owner_team_id IS NULL"); n != 1 {
			t.Errorf("after deleting its team, machine 1 with no team: %d rows, want 1", n)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM team_members"); n != 0 {
			t.Errorf("after deleting the team, %d memberships remain", n)
		}

		// Deleting a machine deletes its rows and detaches its history.
		exec(t, db, "DELETE FROM machines WHERE id = 1")
		for _, table := range []string{"data_lines_operations", "machine_table_lock_writes", "graphs", "works", "nn_models"} {
			if n := count(t, db, "SELECT COUNT(*) FROM "+table); n != 0 {
				t.Errorf("after deleting the machine, %s has %d rows, want 0", table, n)
			}
		}
		for _, q := range []string{
			"SELECT COUNT(*) FROM operations WHERE machine_id IS NULL",
			"SELECT COUNT(*) FROM billings WHERE machine_id IS NULL",
			"SELECT COUNT(*) FROM consulting_requests WHERE machine_id IS NULL",
			"SELECT COUNT(*) FROM log_entries WHERE machine_id IS NULL AND work_id IS NULL AND user_id = 1",
		} {
			if n := count(t, db, q); n != 1 {
				t.Errorf("%s = %d, want 1", q, n)
			}
		}

		// Billing goes with its operation; the user still cannot go while
		// history names them.
		exec(t, db, "DELETE FROM operations WHERE id = 1")
		if n := count(t, db, "SELECT COUNT(*) FROM billings"); n != 0 {
			t.Errorf("after deleting the operation, %d billings remain", n)
		}
		exec(t, db, "DELETE FROM users WHERE id = 1")
		if n := count(t, db, "SELECT COUNT(*) FROM log_entries WHERE user_id IS NULL"); n != 1 {
			t.Errorf("after deleting the user, their log entry: %d rows with no user, want 1", n)
		}
		// A user's consulting requests go with them.
		exec(t, db, "DELETE FROM users WHERE id = 2")
		if n := count(t, db, "SELECT COUNT(*) FROM consulting_requests"); n != 0 {
			t.Errorf("after deleting user 2, %d consulting requests remain", n)
		}
	})
}
