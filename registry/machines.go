package registry

import (
	"context"
	"encoding/json"
	"fmt"
)

// machineCols are read through the alias m.
const machineCols = "m.id, m.owner_user_id, m.owner_team_id, m.name, m.description, m.status, m.data_table_name, m.created_at, m.updated_at"

func scanMachine(s rowScanner) (Machine, error) {
	var m Machine
	err := s.Scan(&m.ID, &m.OwnerUserID, &m.OwnerTeamID, &m.Name, &m.Description, &m.Status,
		&m.DataTableName, timeDest{&m.CreatedAt}, timeDest{&m.UpdatedAt})
	return m, err
}

// visibleTo is the access scope: the machines a user owns, and those of
// the teams they are a member of. Its one argument is the user id, twice.
const visibleTo = "(m.owner_user_id = ? OR m.owner_team_id IN (SELECT tm.team_id FROM team_members tm WHERE tm.user_id = ?))"

// CreateMachine stores a new machine. Its name must not be empty, and its
// DataTableName must pass [CheckTableName] and be unique regardless of case
// ([ErrDuplicate]). Status defaults to "created". CreateMachine does not
// create the data table: the code that appends data does.
func (r *Repo) CreateMachine(ctx context.Context, m Machine) (Machine, error) {
	if err := checkID("machine: owner user", m.OwnerUserID); err != nil {
		return Machine{}, err
	}
	if err := checkOptionalID("machine: owner team", m.OwnerTeamID); err != nil {
		return Machine{}, err
	}
	if err := checkText("machine: name", m.Name, 255); err != nil {
		return Machine{}, err
	}
	if err := CheckTableName(m.DataTableName); err != nil {
		return Machine{}, fmt.Errorf("registry: machine %q: %w", m.Name, err)
	}
	if m.Status == "" {
		m.Status = "created"
	}
	if err := checkLen("machine: status", m.Status, 32); err != nil {
		return Machine{}, err
	}
	now := r.now()
	id, err := r.insert(ctx,
		"INSERT INTO machines (owner_user_id, owner_team_id, name, description, status, data_table_name, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		m.OwnerUserID, nullable(m.OwnerTeamID), m.Name, m.Description, m.Status, m.DataTableName, r.t(now), r.t(now))
	if err != nil {
		return Machine{}, r.wrap(err, "create machine %q (table %q)", m.Name, m.DataTableName)
	}
	m.ID, m.CreatedAt, m.UpdatedAt = id, now, now
	return m, nil
}

// GetMachine returns the machine with id, whoever owns it, or
// [ErrNotFound]. Code acting for a user calls [Repo.GetMachineForUser].
func (r *Repo) GetMachine(ctx context.Context, id int64) (Machine, error) {
	m, err := scanMachine(r.queryRow(ctx, "SELECT "+machineCols+" FROM machines m WHERE m.id = ?", id))
	return m, r.wrap(err, "machine %d", id)
}

// GetMachineForUser returns the machine with id if the user may see it:
// they own it, or they are a member of its team. Otherwise, and when it
// does not exist, the answer is [ErrNotFound].
func (r *Repo) GetMachineForUser(ctx context.Context, userID, machineID int64) (Machine, error) {
	m, err := scanMachine(r.queryRow(ctx,
		"SELECT "+machineCols+" FROM machines m WHERE m.id = ? AND "+visibleTo,
		machineID, userID, userID))
	return m, r.wrap(err, "machine %d for user %d", machineID, userID)
}

// ListMachinesForUser returns, by id, the machines the user may see: their
// own and their teams'.
func (r *Repo) ListMachinesForUser(ctx context.Context, userID int64) ([]Machine, error) {
	rows, err := r.query(ctx,
		"SELECT "+machineCols+" FROM machines m WHERE "+visibleTo+" ORDER BY m.id",
		userID, userID)
	out, err := collect(rows, err, scanMachine)
	return out, r.wrap(err, "machines of user %d", userID)
}

// UpdateMachineStatus sets the machine's status and returns the machine,
// or [ErrNotFound].
func (r *Repo) UpdateMachineStatus(ctx context.Context, id int64, status string) (Machine, error) {
	if err := checkText("machine: status", status, 32); err != nil {
		return Machine{}, err
	}
	// Read back rather than trust RowsAffected: MySQL counts a row whose
	// values did not change as unaffected.
	if _, err := r.exec(ctx, "UPDATE machines SET status = ?, updated_at = ? WHERE id = ?",
		status, r.t(r.now()), id); err != nil {
		return Machine{}, r.wrap(err, "machine %d: set status %q", id, status)
	}
	return r.GetMachine(ctx, id)
}

// machineRows are the statements that delete or detach a machine's rows,
// children first. The argument of each is the machine id, as many times as
// it has placeholders. They repeat what the foreign keys' ON DELETE actions
// do, so that a SQLite connection without PRAGMA foreign_keys leaves
// nothing dangling either.
var machineRows = []string{
	"DELETE FROM machine_table_lock_writes WHERE machine_id = ?",
	"DELETE FROM data_lines_operations WHERE machine_id = ?",
	"DELETE FROM graphs WHERE machine_id = ?",
	"DELETE FROM nn_models WHERE machine_id = ?",
	"UPDATE log_entries SET work_id = NULL WHERE work_id IN (SELECT w.id FROM works w WHERE w.machine_id = ?)",
	"UPDATE log_entries SET machine_id = NULL WHERE machine_id = ?",
	"DELETE FROM works WHERE machine_id = ?",
	"UPDATE billings SET machine_id = NULL WHERE machine_id = ?",
	"UPDATE operations SET machine_id = NULL WHERE machine_id = ?",
	"UPDATE consulting_requests SET machine_id = NULL WHERE machine_id = ?",
	"DELETE FROM machines WHERE id = ?",
}

// DeleteMachine deletes a machine with its rows (table locks, data lines
// operations, graphs, models, works), detaches its history (operations,
// billings, consulting requests, log entries keep their rows with no
// machine), and then drops its data table and its predictions table, when
// they exist. It answers [ErrNotFound] for an unknown machine. It does not
// wait for the machine's table lock: a holder's lock goes with the machine,
// and its next write finds the table gone.
//
// The rows go in one transaction when the repository's handle can begin
// one. The tables are dropped after it commits: on MySQL, DROP TABLE
// commits implicitly, so it is issued only for tables that exist. A
// predictions table whose name would exceed the database's identifier
// limit cannot exist under that name and is not looked for (PostgreSQL
// would truncate the name and could find another table).
func (r *Repo) DeleteMachine(ctx context.Context, id int64) error {
	return r.deleteMachine(ctx, id, nil)
}

// DeleteMachineForUser is [Repo.DeleteMachine] on behalf of a user: the
// machine goes only if the user may see it (see [Repo.GetMachineForUser]);
// otherwise the answer is [ErrNotFound] and nothing is deleted.
func (r *Repo) DeleteMachineForUser(ctx context.Context, userID, machineID int64) error {
	return r.deleteMachine(ctx, machineID, &userID)
}

// deleteMachine deletes machine id, when user (if not nil) may see it.
func (r *Repo) deleteMachine(ctx context.Context, id int64, user *int64) error {
	var table string
	err := r.inTx(ctx, func(r *Repo) error {
		var m Machine
		var err error
		if user != nil {
			m, err = r.GetMachineForUser(ctx, *user, id)
		} else {
			m, err = r.GetMachine(ctx, id)
		}
		if err != nil {
			return err
		}
		table = m.DataTableName
		for _, stmt := range machineRows {
			if _, err := r.exec(ctx, stmt, id); err != nil {
				return r.wrap(err, "delete machine %d", id)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, name := range []string{table, table + PredictionsSuffix} {
		if r.d.maxIdent > 0 && len(name) > r.d.maxIdent {
			continue
		}
		if err := r.dropTableIfExists(ctx, name); err != nil {
			return fmt.Errorf("registry: delete machine %d: %w", id, err)
		}
	}
	return nil
}

// dropTableIfExists drops the table name if it exists, and issues no DDL
// otherwise.
func (r *Repo) dropTableIfExists(ctx context.Context, name string) error {
	arg := name
	if r.d.quotedExists {
		arg = r.d.quote(name)
	}
	var n int
	if err := r.queryRow(ctx, r.d.tableExists, arg).Scan(&n); err != nil {
		return fmt.Errorf("looking for table %q: %w", name, err)
	}
	if n == 0 {
		return nil
	}
	if _, err := r.exec(ctx, "DROP TABLE IF EXISTS "+r.d.quote(name)); err != nil {
		return fmt.Errorf("dropping table %q: %w", name, err)
	}
	return nil
}

const dataLinesCols = "id, machine_id, user_id, rows_count, columns_count, column_names, created_at"

func scanDataLines(s rowScanner) (DataLinesOperation, error) {
	var (
		op    DataLinesOperation
		names string
	)
	if err := s.Scan(&op.ID, &op.MachineID, &op.UserID, &op.RowsCount, &op.ColumnsCount, &names, timeDest{&op.CreatedAt}); err != nil {
		return op, err
	}
	if err := json.Unmarshal([]byte(names), &op.ColumnNames); err != nil {
		return op, fmt.Errorf("data lines operation %d: column_names is not a JSON array of strings: %w", op.ID, err)
	}
	return op, nil
}

// RecordDataLinesOperation records an append of RowsCount rows into the
// machine's data table. ColumnsCount defaults to len(ColumnNames); when
// both are given they must agree.
func (r *Repo) RecordDataLinesOperation(ctx context.Context, op DataLinesOperation) (DataLinesOperation, error) {
	if err := checkID("data lines operation: machine", op.MachineID); err != nil {
		return DataLinesOperation{}, err
	}
	if err := checkID("data lines operation: user", op.UserID); err != nil {
		return DataLinesOperation{}, err
	}
	if op.RowsCount < 0 {
		return DataLinesOperation{}, invalid("data lines operation: rows count %d is negative", op.RowsCount)
	}
	if op.ColumnsCount == 0 {
		op.ColumnsCount = len(op.ColumnNames)
	}
	if op.ColumnsCount < 0 || (len(op.ColumnNames) > 0 && op.ColumnsCount != len(op.ColumnNames)) {
		return DataLinesOperation{}, invalid("data lines operation: columns count %d, but %d column names", op.ColumnsCount, len(op.ColumnNames))
	}
	if op.ColumnNames == nil {
		op.ColumnNames = []string{}
	}
	names, err := json.Marshal(op.ColumnNames)
	if err != nil {
		return DataLinesOperation{}, fmt.Errorf("registry: data lines operation: %w", err)
	}
	now := r.now()
	id, err := r.insert(ctx,
		"INSERT INTO data_lines_operations (machine_id, user_id, rows_count, columns_count, column_names, created_at) VALUES (?, ?, ?, ?, ?, ?)",
		op.MachineID, op.UserID, op.RowsCount, op.ColumnsCount, string(names), r.t(now))
	if err != nil {
		return DataLinesOperation{}, r.wrap(err, "machine %d: record data lines operation", op.MachineID)
	}
	op.ID, op.CreatedAt = id, now
	return op, nil
}

// ListDataLinesOperations returns the machine's data lines operations, in
// the order they were recorded.
func (r *Repo) ListDataLinesOperations(ctx context.Context, machineID int64) ([]DataLinesOperation, error) {
	rows, err := r.query(ctx,
		"SELECT "+dataLinesCols+" FROM data_lines_operations WHERE machine_id = ? ORDER BY id", machineID)
	out, err := collect(rows, err, scanDataLines)
	return out, r.wrap(err, "machine %d: data lines operations", machineID)
}
