package harness

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/ncruces/go-sqlite3"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/dynamic"
	"github.com/easyautoml/dbharness/fixtures"
	"github.com/easyautoml/dbharness/fixtures/datasets"
	"github.com/easyautoml/dbharness/registry"
)

// errorKinds maps the kinds of errors a step may expect to the tests that
// recognise them.
var errorKinds = map[string]func(error) bool{
	"locked":              is(dbtest.ErrLocked, dynamic.ErrLocked),
	"self_deadlock":       selfDeadlock,
	"deadlock":            deadlock,
	"foreign_key":         foreignKey,
	"transaction_control": is(dbtest.ErrTransactionControl),
	"not_found":           is(registry.ErrNotFound, dynamic.ErrNoTable),
	"no_table":            is(dynamic.ErrNoTable),
	"lock_held":           is(registry.ErrLockHeld),
	"lock_not_held":       is(registry.ErrLockNotHeld),
	"invalid":             is(registry.ErrInvalid),
	"duplicate":           is(registry.ErrDuplicate),
	"invalid_transition":  is(registry.ErrInvalidTransition),
	"any":                 func(error) bool { return true },
}

func is(targets ...error) func(error) bool {
	return func(err error) bool {
		for _, t := range targets {
			if errors.Is(err, t) {
				return true
			}
		}
		return false
	}
}

// selfDeadlock: dbtest stopped a wait on the test's own transaction.
func selfDeadlock(err error) bool {
	var le *dbtest.LockError
	return errors.As(err, &le) && le.SelfDeadlock()
}

// deadlock: the server found a cycle of lock waits and stopped one.
func deadlock(err error) bool {
	var le *dbtest.LockError
	return errors.As(err, &le) && le.Report != nil && le.Report.Deadlock
}

// foreignKey: a row refers to a row the statement cannot see.
func foreignKey(err error) bool {
	var pe *pgconn.PgError
	var me *mysql.MySQLError
	switch {
	case errors.As(err, &pe):
		return pe.Code == "23503"
	case errors.As(err, &me):
		return me.Number == 1452
	}
	return errors.Is(err, sqlite3.CONSTRAINT_FOREIGNKEY)
}

func errorKindNames() []string {
	var k []string
	for name := range errorKinds {
		k = append(k, name)
	}
	sort.Strings(k)
	return k
}

// matches reports whether err is of the expected kind.
func matches(kind string, err error) bool {
	return err != nil && errorKinds[kind] != nil && errorKinds[kind](err)
}

// modes are the connections a step may read or write through: the test's
// own, a pool sharing the test's transaction, or a separate connection.
var modes = []string{"test", "shared", "separate"}

// steps is the table of step kinds. Each names its fields; check runs at
// parse time, run at run time.
var steps map[string]stepSpec

func init() {
	steps = map[string]stepSpec{
		"create_user": {doc: "create a user", run: (*run).createUser, fields: []field{
			{name: "as", kind: fString, required: true, defines: "users"},
			{name: "username", kind: fString, required: true},
			{name: "email", kind: fString},
			{name: "staff", kind: fBool},
			modeField, connField,
		}},
		"create_team": {doc: "create a team and add its members", run: (*run).createTeam, fields: []field{
			{name: "as", kind: fString, required: true, defines: "teams"},
			{name: "name", kind: fString, required: true},
			{name: "members", kind: fStrings, ref: "users"},
			modeField, connField,
		}},
		"create_machine": {doc: "create a machine", run: (*run).createMachine, fields: []field{
			{name: "as", kind: fString, required: true, defines: "machines"},
			{name: "owner", kind: fString, required: true, ref: "users"},
			{name: "team", kind: fString, ref: "teams"},
			{name: "name", kind: fString, required: true},
			{name: "table", kind: fString, required: true},
			{name: "description", kind: fString},
			modeField, connField,
		}},
		"append": {doc: "append a CSV, a dataset or an inline table into a machine's data table, or into a table", run: (*run).append,
			exactlyOne: [][]string{{"csv", "dataset", "table"}, {"machine", "into"}},
			fields: []field{
				{name: "machine", kind: fString, ref: "machines"},
				{name: "into", kind: fString},
				{name: "user", kind: fString, ref: "users"},
				{name: "csv", kind: fString},
				{name: "dataset", kind: fString, oneOf: []string{"salaries"}},
				{name: "table", kind: fTable},
				{name: "rows", kind: fRange},
				{name: "types", kind: fMap},
				{name: "retry", kind: fInt},
				{name: "min_attempts", kind: fInt},
				modeField, connField,
			}},
		"train": {doc: "fit a linear regression on a machine's data and store the model", run: (*run).train, fields: []field{
			{name: "machine", kind: fString, required: true, ref: "machines"},
			{name: "as", kind: fString, required: true, defines: "models"},
			{name: "target", kind: fString, required: true},
			{name: "user", kind: fString, ref: "users"},
			{name: "features", kind: fStrings},
			{name: "test_fraction", kind: fFloat},
			{name: "seed", kind: fInt},
		}},
		"predict": {doc: "append a stored model's predictions to the machine's predictions table", run: (*run).predict, fields: []field{
			{name: "machine", kind: fString, required: true, ref: "machines"},
			{name: "model", kind: fString, required: true, ref: "models"},
			{name: "user", kind: fString, ref: "users"},
			{name: "mode", kind: fString, oneOf: modes},
		}},
		"bill": {doc: "record an operation and its billing", run: (*run).bill, fields: []field{
			{name: "user", kind: fString, required: true, ref: "users"},
			{name: "machine", kind: fString, ref: "machines"},
			{name: "kind", kind: fString, required: true},
			{name: "cost_cents", kind: fInt, required: true},
			{name: "currency", kind: fString},
		}},
		"lock": {doc: "take the write lock of a machine's data table", run: (*run).lock, fields: []field{
			{name: "machine", kind: fString, required: true, ref: "machines"},
			{name: "as", kind: fString, required: true, defines: "locks"},
			{name: "holder", kind: fString},
		}},
		"unlock": {doc: "give a table lock back", run: (*run).unlock, fields: []field{
			{name: "lock", kind: fString, required: true, ref: "locks"},
		}},
		"read_machine": {doc: "look a machine up as a user (access scoping)", run: (*run).readMachine, fields: []field{
			{name: "machine", kind: fString, required: true, ref: "machines"},
			{name: "as_user", kind: fString, required: true, ref: "users"},
		}},
		"delete_machine": {doc: "delete a machine and its data tables", run: (*run).deleteMachine, fields: []field{
			{name: "machine", kind: fString, required: true, ref: "machines"},
		}},
		"expect_count": {doc: "check the row count of a machine's data or predictions table, or of a table", run: (*run).expectCount,
			exactlyOne: [][]string{{"machine", "table"}},
			fields: []field{
				{name: "machine", kind: fString, ref: "machines"},
				{name: "predictions", kind: fBool},
				{name: "table", kind: fString},
				{name: "rows", kind: fInt, required: true},
				modeField, connField,
			}},
		"expect_rows": {doc: "check rows of a machine's data or predictions table, or of a table, floats within a tolerance", run: (*run).expectRows,
			exactlyOne: [][]string{{"machine", "table"}},
			fields: []field{
				{name: "machine", kind: fString, ref: "machines"},
				{name: "predictions", kind: fBool},
				{name: "table", kind: fString},
				{name: "columns", kind: fStrings, required: true},
				{name: "rows", kind: fRows, required: true},
				{name: "offset", kind: fInt},
				{name: "all", kind: fBool},
				{name: "tolerance", kind: fFloat},
				modeField, connField,
			}},
		"expect_table": {doc: "check whether a machine's data table exists", run: (*run).expectTable, fields: []field{
			{name: "machine", kind: fString, required: true, ref: "machines"},
			{name: "exists", kind: fBool, required: true},
		}},
		"expect_metric": {doc: "check a metric of a trained model", run: (*run).expectMetric, fields: []field{
			{name: "model", kind: fString, required: true, ref: "models"},
			{name: "metric", kind: fString, required: true, oneOf: []string{"r2", "rmse"}},
			{name: "min", kind: fFloat},
			{name: "max", kind: fFloat},
		}},
		"expect_log": {doc: "check the log entries of a user, machine or model's work, by text and level", run: (*run).expectLog, fields: []field{
			{name: "contains", kind: fString},
			{name: "user", kind: fString, ref: "users"},
			{name: "machine", kind: fString, ref: "machines"},
			{name: "work", kind: fString, ref: "models"},
			{name: "level", kind: fString, oneOf: []string{"debug", "info", "warning", "error"}},
			{name: "count", kind: fInt},
		}},
		"sql": {doc: "run SQL; with rows, check its result", run: (*run).sql, fields: []field{
			{name: "query", kind: fString, required: true},
			{name: "rows", kind: fRows},
			{name: "tolerance", kind: fFloat},
			modeField, connField,
		}},
		"begin": {doc: "open a separate connection and begin a transaction on it", run: (*run).begin, fields: []field{
			{name: "as", kind: fString, required: true, defines: "conns"},
		}},
		"commit": {doc: "commit a connection's transaction and close it, now or in the background after a while", run: (*run).commit, ends: "conn",
			fields: []field{
				{name: "conn", kind: fString, required: true, ref: "conns"},
				{name: "after", kind: fDuration},
			}},
		"rollback": {doc: "roll back a connection's transaction and close it, now or in the background after a while", run: (*run).rollback, ends: "conn",
			fields: []field{
				{name: "conn", kind: fString, required: true, ref: "conns"},
				{name: "after", kind: fDuration},
			}},
		"concurrently": {doc: "run statements on several connections at once", run: (*run).concurrently, fields: []field{
			{name: "statements", kind: fStatements, required: true, ref: "conns"},
		}},
	}
}

// modeField and connField choose the connection a step goes through: a
// mode (the test's own, shared, separate), or a connection of its own that
// a begin step opened.
var (
	modeField = field{name: "mode", kind: fString, oneOf: modes}
	connField = field{name: "conn", kind: fString, ref: "conns"}
)

// run is the state of one scenario run.
type run struct {
	ctx      context.Context
	db       *dbtest.DB
	q        dynamic.Querier // where steps run statements: db, or a savepoint of it
	base     *registry.Repo  // the repository over db
	repo     *registry.Repo  // the repository over q
	sc       *Scenario
	fixtures fixtures.Loaded
	users    map[string]int64
	teams    map[string]int64
	machines map[string]int64
	models   map[string]*model
	locks    map[string]registry.MachineTableLockWrite
	// tableNames remembers the data table of every machine seen, for
	// checks after the machine is deleted.
	tableNames map[int64]string
	extra      []*sql.DB // pools opened by steps, closed at the end
	detail     string    // what the current step reports
	conns      map[string]*ownConn
	later      later // steps that end a connection in the background
}

// close waits for the steps running in the background, rolls back the
// connections still open, and closes every pool the steps opened. It
// returns the first failure of a step that ran in the background.
func (r *run) close() error {
	err := r.later.wait()
	for _, c := range r.conns {
		c.tx.Rollback()
	}
	for _, p := range r.extra {
		p.Close()
	}
	return err
}

// conn returns what a step with a mode field reads or writes through:
// the scenario's own handle (or the step's savepoint of it) for "test",
// a pool that shares the scenario's transaction for "shared" (the
// platform's fix), a genuinely separate connection for "separate" (its
// bug).
func (r *run) conn(s *Step) (dynamic.Querier, error) {
	if s.has("conn") {
		c, ok := r.conns[s.str("conn")]
		if !ok {
			return nil, fmt.Errorf("harness: no connection %q", s.str("conn"))
		}
		return c.tx, nil
	}
	mode := s.str("mode")
	if mode == "" || mode == "test" {
		return r.q, nil
	}
	driver, dsn := r.db.DriverName(), r.db.DSN()
	if mode == "separate" {
		driver, dsn = r.db.RawDriverName(), r.db.RawDSN()
	}
	p, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, err
	}
	r.extra = append(r.extra, p)
	return p, nil
}

// repoFor returns the repository a step that creates something writes
// through: the scenario's own, or one over the step's mode or conn.
func (r *run) repoFor(s *Step) (*registry.Repo, error) {
	if !s.has("conn") && (s.str("mode") == "" || s.str("mode") == "test") {
		return r.repo, nil
	}
	q, err := r.conn(s)
	if err != nil {
		return nil, err
	}
	return registry.New(q, r.db.Dialect())
}

// id resolves a reference: a name created by an earlier step, or a
// fixture row "table.label".
func (r *run) id(ns string, names map[string]int64, ref string) (int64, error) {
	if strings.Contains(ref, ".") {
		if id, ok := r.fixtures.ID(ref); ok {
			return id, nil
		}
		return 0, fmt.Errorf("no fixture row %s (loaded: %s)", ref, strings.Join(r.sc.Fixtures, ", "))
	}
	if id, ok := names[ref]; ok {
		return id, nil
	}
	return 0, fmt.Errorf("no %s %q", strings.TrimSuffix(ns, "s"), ref)
}

func (r *run) user(ref string) (int64, error)    { return r.id("users", r.users, ref) }
func (r *run) team(ref string) (int64, error)    { return r.id("teams", r.teams, ref) }
func (r *run) machine(ref string) (int64, error) { return r.id("machines", r.machines, ref) }

func (r *run) createUser(s *Step) error {
	var staff bool
	s.decode("staff", &staff)
	email := s.str("email")
	if email == "" {
		email = s.str("username") + "@example.com"
	}
	repo, err := r.repoFor(s)
	if err != nil {
		return err
	}
	u, err := repo.CreateUser(r.ctx, registry.User{Username: s.str("username"), Email: email, IsStaff: staff})
	if err != nil {
		return err
	}
	r.users[s.str("as")] = u.ID
	r.detail = fmt.Sprintf("user %d", u.ID)
	return nil
}

func (r *run) createTeam(s *Step) error {
	repo, err := r.repoFor(s)
	if err != nil {
		return err
	}
	t, err := repo.CreateTeam(r.ctx, registry.Team{Name: s.str("name")})
	if err != nil {
		return err
	}
	r.teams[s.str("as")] = t.ID
	var members []string
	s.decode("members", &members)
	for i, m := range members {
		uid, err := r.user(m)
		if err != nil {
			return err
		}
		role := "member"
		if i == 0 {
			role = "owner"
		}
		if _, err := repo.AddTeamMember(r.ctx, t.ID, uid, role); err != nil {
			return err
		}
	}
	r.detail = fmt.Sprintf("team %d with %d members", t.ID, len(members))
	return nil
}

func (r *run) createMachine(s *Step) error {
	owner, err := r.user(s.str("owner"))
	if err != nil {
		return err
	}
	m := registry.Machine{OwnerUserID: owner, Name: s.str("name"), Description: s.str("description"), DataTableName: s.str("table"), Status: "ready"}
	if s.has("team") {
		tid, err := r.team(s.str("team"))
		if err != nil {
			return err
		}
		m.OwnerTeamID = &tid
	}
	repo, err := r.repoFor(s)
	if err != nil {
		return err
	}
	m, err = repo.CreateMachine(r.ctx, m)
	if err != nil {
		return err
	}
	r.machines[s.str("as")] = m.ID
	r.tableNames[m.ID] = m.DataTableName
	r.detail = fmt.Sprintf("machine %d, table %s", m.ID, m.DataTableName)
	return nil
}

// frame reads the data an append step names.
func (r *run) frame(s *Step) (*dynamic.Frame, error) {
	var opts []dynamic.FrameOption
	var types map[string]string
	s.decode("types", &types)
	for col, t := range types {
		typ, err := dynamic.ParseType(t)
		if err != nil {
			return nil, s.errf(s.fields["types"], "%v", err)
		}
		opts = append(opts, dynamic.WithType(col, typ))
	}
	var f *dynamic.Frame
	var err error
	switch {
	case s.has("dataset"):
		f, err = dynamic.ReadCSV(bytes.NewReader(datasets.SalariesCSV()), opts...)
	case s.has("csv"):
		if r.sc.fsys == nil {
			return nil, s.errf(s.fields["csv"], "the scenario was not read from files, so it cannot name a CSV file")
		}
		data, rerr := fs.ReadFile(r.sc.fsys, r.sc.file(s.str("csv")))
		if rerr != nil {
			return nil, s.errf(s.fields["csv"], "%v", rerr)
		}
		if f, err = dynamic.ReadCSV(bytes.NewReader(data), opts...); err != nil {
			e := s.errf(s.fields["csv"], "CSV file %s: %v", r.sc.file(s.str("csv")), err)
			e.Err = err
			return nil, e
		}
	default:
		// An inline table reads like a CSV file, so that its types are
		// inferred the same way: "2024-01-15 09:00:00" is a timestamp.
		var t struct {
			Columns []string `yaml:"columns"`
			Rows    [][]any  `yaml:"rows"`
		}
		s.decode("table", &t)
		var b bytes.Buffer
		w := csv.NewWriter(&b)
		w.Write(t.Columns)
		for i, row := range t.Rows {
			if len(row) != len(t.Columns) {
				return nil, s.errf(s.fields["table"], "row %d has %d values for %d columns", i+1, len(row), len(t.Columns))
			}
			cells := make([]string, len(row))
			for j, v := range row {
				if v != nil {
					cells[j] = fmt.Sprint(v)
				}
			}
			w.Write(cells)
		}
		w.Flush()
		f, err = dynamic.ReadCSV(&b, opts...)
	}
	if err != nil {
		return nil, err
	}
	if s.has("rows") {
		var rg []int
		s.decode("rows", &rg)
		if rg[1] > f.Len() {
			return nil, s.errf(s.fields["rows"], "rows [%d, %d]: the data has %d rows", rg[0], rg[1], f.Len())
		}
		f = f.Slice(rg[0], rg[1])
	}
	return f, nil
}

// append writes into a machine's data table through the chosen connection:
// the test's own (the platform's fix), a pool sharing the test's
// transaction, or a separate connection (the platform's bug). With into,
// it appends into that table with package dynamic alone, as code that
// knows nothing of machines does.
func (r *run) append(s *Step) error {
	f, err := r.frame(s)
	if err != nil {
		return err
	}
	q, err := r.conn(s)
	if err != nil {
		return err
	}
	attempts := 1
	s.decode("retry", &attempts)
	if attempts < 1 {
		return s.errf(s.fields["retry"], "field \"retry\": want 1 attempt or more")
	}
	retry := dynamic.WithRetry(attempts, 50*time.Millisecond, 200*time.Millisecond)
	var res dynamic.Result
	var table string
	if s.has("into") {
		table = s.str("into")
		res, err = dynamic.Append(r.ctx, q, r.db.Dialect(), table, f, retry)
	} else {
		mid, merr := r.machine(s.str("machine"))
		if merr != nil {
			return merr
		}
		m, merr := r.repo.GetMachine(r.ctx, mid)
		if merr != nil {
			return merr
		}
		table = m.DataTableName
		r.tableNames[m.ID] = m.DataTableName
		uid := m.OwnerUserID
		if s.has("user") {
			if uid, err = r.user(s.str("user")); err != nil {
				return err
			}
		}
		res, err = r.repo.AppendToMachine(r.ctx, q, mid, uid, f, retry)
	}
	var le *dynamic.LockedError
	if errors.As(err, &le) && attempts > 1 {
		r.detail = fmt.Sprintf("gave up after %d attempts", le.Attempts)
	}
	if err != nil {
		return err
	}
	r.detail = fmt.Sprintf("%s into %s", plural(int(res.Rows), "row"), table)
	if res.Attempts > 1 {
		r.detail += fmt.Sprintf(" after %d attempts", res.Attempts)
	}
	if len(res.AddedColumns) > 0 {
		r.detail += fmt.Sprintf(", new columns %s", strings.Join(res.AddedColumns, ", "))
	}
	var least int
	if s.decode("min_attempts", &least); res.Attempts < least {
		return &mismatch{fmt.Sprintf("the append took %d attempts, want at least %d (the retry was not needed)", res.Attempts, least)}
	}
	return nil
}

func (r *run) bill(s *Step) error {
	uid, err := r.user(s.str("user"))
	if err != nil {
		return err
	}
	op := registry.Operation{UserID: uid, Kind: s.str("kind")}
	if s.has("machine") {
		mid, err := r.machine(s.str("machine"))
		if err != nil {
			return err
		}
		op.MachineID = &mid
	}
	var cents int64
	s.decode("cost_cents", &cents)
	currency := s.str("currency")
	if currency == "" {
		currency = "EUR"
	}
	_, b, err := r.repo.RecordOperation(r.ctx, op, cents, currency)
	if err != nil {
		return err
	}
	r.detail = fmt.Sprintf("billing %d: %d %s", b.ID, cents, currency)
	return nil
}

func (r *run) lock(s *Step) error {
	mid, err := r.machine(s.str("machine"))
	if err != nil {
		return err
	}
	holder := s.str("holder")
	if holder == "" {
		holder = "scenario " + r.sc.Name
	}
	l, err := r.repo.AcquireTableLock(r.ctx, mid, holder, 5*time.Minute)
	if err != nil {
		return err
	}
	r.locks[s.str("as")] = l
	r.detail = "held by " + holder
	return nil
}

func (r *run) unlock(s *Step) error {
	l, ok := r.locks[s.str("lock")]
	if !ok {
		return fmt.Errorf("no lock %q", s.str("lock"))
	}
	if err := r.repo.ReleaseTableLock(r.ctx, l); err != nil {
		return err
	}
	r.detail = "released by " + l.Holder
	return nil
}

func (r *run) readMachine(s *Step) error {
	mid, err := r.machine(s.str("machine"))
	if err != nil {
		return err
	}
	uid, err := r.user(s.str("as_user"))
	if err != nil {
		return err
	}
	m, err := r.repo.GetMachineForUser(r.ctx, uid, mid)
	if err != nil {
		return err
	}
	r.detail = "visible: " + m.Name
	return nil
}

func (r *run) deleteMachine(s *Step) error {
	mid, err := r.machine(s.str("machine"))
	if err != nil {
		return err
	}
	if m, err := r.repo.GetMachine(r.ctx, mid); err == nil {
		r.tableNames[m.ID] = m.DataTableName
	}
	if err := r.repo.DeleteMachine(r.ctx, mid); err != nil {
		return err
	}
	r.detail = fmt.Sprintf("machine %d and its table %s", mid, r.tableNames[mid])
	return nil
}
