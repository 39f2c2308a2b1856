package registry

import (
	"encoding/json"
	"time"
)

// Every model mirrors one table of the registry schema (see package
// migrations). Times are in UTC; optional references are nil pointers.

// A User is an account of the platform (table users).
type User struct {
	ID        int64
	Username  string // unique
	Email     string
	IsStaff   bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// A Team groups users who share machines (table teams).
type Team struct {
	ID        int64
	Name      string // unique
	CreatedAt time.Time
	UpdatedAt time.Time
}

// A TeamMember makes a user a member of a team (table team_members). Every
// member sees the team's machines.
type TeamMember struct {
	TeamID    int64
	UserID    int64
	Role      string // "member" unless given
	CreatedAt time.Time
}

// A Machine is a user's (and optionally a team's) learning project. It owns
// a data table, named DataTableName, that data frames are appended into,
// and possibly a DataTableName+"_predictions" table (table machines).
type Machine struct {
	ID            int64
	OwnerUserID   int64
	OwnerTeamID   *int64 // nil: the owner's alone
	Name          string
	Description   string
	Status        string // free-form, "created" unless given
	DataTableName string // a safe identifier, see [CheckTableName]
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// A DataLinesOperation records one append of data lines into a machine's
// data table (table data_lines_operations).
type DataLinesOperation struct {
	ID           int64
	MachineID    int64
	UserID       int64
	RowsCount    int64
	ColumnsCount int
	ColumnNames  []string // stored as a JSON array
	CreatedAt    time.Time
}

// A MachineTableLockWrite is the write lock on a machine's data table
// (table machine_table_lock_writes, at most one row per machine). See
// [Repo.AcquireTableLock].
type MachineTableLockWrite struct {
	ID         int64
	MachineID  int64
	Holder     string
	AcquiredAt time.Time
	ExpiresAt  time.Time
}

// An Operation is a billable action of a user (table operations).
type Operation struct {
	ID        int64
	UserID    int64
	MachineID *int64
	Kind      string // such as "train", "predict", "append"
	CreatedAt time.Time
}

// A Billing is the charge for one operation (table billings).
type Billing struct {
	ID          int64
	OperationID int64
	UserID      int64
	MachineID   *int64
	CostCents   int64
	Currency    string // ISO 4217, such as "USD"
	CreatedAt   time.Time
}

// A Graph is a chart drawn from a machine's data (table graphs).
type Graph struct {
	ID        int64
	MachineID int64
	UserID    int64
	Kind      string
	Spec      string // the chart's specification, "{}" unless given
	CreatedAt time.Time
	UpdatedAt time.Time
}

// WorkStatus is the state of a [Work]. A work is queued, then running, then
// done or failed; nothing else.
type WorkStatus string

// The states of a work item.
const (
	WorkQueued  WorkStatus = "queued"
	WorkRunning WorkStatus = "running"
	WorkDone    WorkStatus = "done"
	WorkFailed  WorkStatus = "failed"
)

// workTransitions lists the statuses each status may move to.
var workTransitions = map[WorkStatus][]WorkStatus{
	WorkQueued:  {WorkRunning},
	WorkRunning: {WorkDone, WorkFailed},
}

// Valid reports whether s is one of the four statuses.
func (s WorkStatus) Valid() bool {
	switch s {
	case WorkQueued, WorkRunning, WorkDone, WorkFailed:
		return true
	}
	return false
}

// Terminal reports whether s is final: done or failed.
func (s WorkStatus) Terminal() bool { return s == WorkDone || s == WorkFailed }

// CanTransitionTo reports whether a work may move from s to to.
func (s WorkStatus) CanTransitionTo(to WorkStatus) bool {
	for _, t := range workTransitions[s] {
		if t == to {
			return true
		}
	}
	return false
}

// A Work is a unit of background work on a machine, such as training or
// predicting (table works).
type Work struct {
	ID         int64
	MachineID  int64
	UserID     int64
	Kind       string
	Status     WorkStatus
	Error      string // why it failed; empty otherwise
	QueuedAt   time.Time
	StartedAt  *time.Time // set on queued → running
	FinishedAt *time.Time // set on running → done or failed
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// An NNModel is a trained model of a machine (table nn_models).
type NNModel struct {
	ID         int64
	MachineID  int64
	WorkID     *int64 // the work that trained it, if any
	Kind       string
	Parameters json.RawMessage // a JSON value, "{}" unless given
	Metrics    json.RawMessage // a JSON value, "{}" unless given
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// A Server runs work (table servers).
type Server struct {
	ID        int64
	Name      string // unique
	Address   string
	Status    string // "up" unless given
	CreatedAt time.Time
	UpdatedAt time.Time
}

// A ConsultingRequest is a user's request for help, optionally about a
// machine (table consulting_requests).
type ConsultingRequest struct {
	ID        int64
	UserID    int64
	MachineID *int64
	Subject   string
	Message   string
	Status    string // "open" unless given
	CreatedAt time.Time
	UpdatedAt time.Time
}

// LogLevel is the severity of a [LogEntry].
type LogLevel string

// The log levels.
const (
	LogDebug   LogLevel = "debug"
	LogInfo    LogLevel = "info"
	LogWarning LogLevel = "warning"
	LogError   LogLevel = "error"
)

// Valid reports whether l is one of the four levels.
func (l LogLevel) Valid() bool {
	switch l {
	case LogDebug, LogInfo, LogWarning, LogError:
		return true
	}
	return false
}

// A LogEntry is a line of the platform's log, optionally about a user, a
// machine or a work (table log_entries).
type LogEntry struct {
	ID        int64
	UserID    *int64
	MachineID *int64
	WorkID    *int64
	Level     LogLevel // LogInfo unless given
	Message   string
	CreatedAt time.Time
}
