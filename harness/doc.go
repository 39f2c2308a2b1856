// Package harness runs scenario files: declarative YAML descriptions of the
// AutoML platform's workflows (users, teams, machines, their data, models,
// predictions, billing, table locks), executed step by step against a
// database handle from package dbtest, on SQLite, PostgreSQL and MySQL
// alike. It reports what each step did, as an aligned table, JSON or JUnit
// XML, and keeps the lock report of every lock error.
//
// # A scenario
//
//	name: alice_uploads
//	description: alice appends three rows and reads them back.
//	fixtures: [base]            # the built-in base set: users alice, bob, ...
//	steps:
//	  - create_machine: {as: m, owner: users.alice, name: uploads, table: machine_uploads}
//	  - append:
//	      machine: m
//	      table: {columns: [x, y], rows: [[1, 0.5], [2, 1.5], [3, 2.5]]}
//	  - expect_count: {machine: m, rows: 3}
//	  - read_machine: {machine: m, as_user: users.carol, expect_error: not_found}
//
// A scenario has a name, an optional description, the fixture sets it loads
// first ("base" for the base set of package fixtures, or fixture files
// relative to the scenario file) and a list of steps. Each step is a mapping
// with one key, its kind, whose value is a mapping of the step's fields.
// Two fields may be added to any step, next to its other fields:
//
//	expect_error: KIND     the step must fail with an error of that kind
//	backends: [sqlite]     the step runs only on these backends
//
// The steps run in order, in one transaction: the handle's (unless the
// scenario says transaction: none). The scenario stops at the first step
// that fails.
//
// # Settings of the handle
//
// Five more keys, next to name and steps, say what the scenario needs of
// its handle; [Scenario.Options] turns them into dbtest options:
//
//	sqlite_journal: wal        SQLite in WAL mode (default rollback: the rollback journal)
//	lock_timeout: 100ms        how long a statement waits for a lock (dbtest's default 1s)
//	transaction: none          no test transaction: the steps commit, and the database is
//	                           restored after the scenario (dbtest.WithoutTransaction;
//	                           default test: one transaction, rolled back)
//	transaction_control: pass  COMMIT and ROLLBACK on the handle go through (default refuse)
//	expect_cleanup:            what dbtest's cleanup must find, instead of failing the run:
//	  statements: [COMMIT]       the statements that ended or tried to end the transaction
//	  tables: [teams]            the tables that writes escaping the rollback left changed
//
// The servers ignore sqlite_journal. Without expect_cleanup, cleanup must
// find nothing, as in any test. transaction: none conflicts with
// transaction_control: pass and with expect_cleanup, which are about the
// transaction it removes: such a file does not parse.
//
// # Names and references
//
// A step that creates something names it with as: (create_user, create_team,
// create_machine, train, lock), and later steps refer to it by that name:
// owner: alice, machine: m, model: fit. A name is created once and has no
// dot. A reference of the form table.label names a row of the scenario's
// fixtures instead (users.alice, teams.research, machines.research_shared):
// its table must be the referenced thing's, and its label is checked when the
// fixtures are loaded. A reference to something no earlier step created is
// an error of the file, before anything runs.
//
// # Steps that create and change things
//
//	create_user     as, username; email (default username@example.com), staff;
//	                mode or conn
//	create_team     as, name; members: users, the first of them the team's owner;
//	                mode or conn
//	create_machine  as, owner (a user), name, table (its data table); team,
//	                description; mode or conn
//	append          machine, or into (a table, without the registry); one of
//	                dataset (salaries), csv (a file relative to the scenario)
//	                or table ({columns: [...], rows: [[...]]});
//	                rows: [from, to] keeps those rows (0-based, to excluded);
//	                types: {column: integer|float|boolean|timestamp|text};
//	                user (default the machine's owner); mode or conn; retry
//	                (attempts on a lock conflict, default 1); min_attempts
//	                (the append must have needed at least that many)
//	train           machine, as (the model's name), target; features (default
//	                every other column but timestamps); test_fraction (0.2);
//	                seed (1); user
//	predict         machine, model; user; mode
//	bill            user, kind (the operation: train, predict, ...), cost_cents;
//	                machine; currency (EUR)
//	lock            machine, as (the lock's name); holder
//	unlock          lock
//	read_machine    machine, as_user: fails with not_found when the user may not
//	                see it
//	delete_machine  machine: its rows, its data table and its predictions table
//
// A step expected to fail creates nothing: its as: name is not defined
// for later steps, so several such steps, one per backend, may use one.
//
// append writes as the platform's ML code does (registry's AppendToMachine):
// it takes the machine's table lock for its duration, writes the frame with
// package dynamic, creating the table or adding the columns a frame brings,
// and records a DataLinesOperation. Inline tables and CSV files are read
// with dynamic.ReadCSV, so their types are inferred the same way. With
// retry, package dynamic tries again on a lock conflict, waiting 50 ms and
// then twice as long each time, up to 200 ms.
//
// train reads the machine's data, fits an ordinary least-squares regression
// of target on the features, numbers and booleans as they are and text
// one-hot encoded (the first level in sorted order being the reference),
// with gonum's QR factorisation, and measures R² and RMSE on the held-back
// rows: test_fraction of the usable rows, chosen by a hash of the seed and
// each row's position, the same on every backend. It stores the model as an
// NNModel (parameters and metrics as JSON) and drives its Work item from
// queued through running to done (or failed), logging each end. predict reads
// that NNModel back, predicts every row of the machine's data, and appends
// data_row, model_id and predicted_<target> to the machine's predictions
// table (its data table + "_predictions"), with a Work item of its own.
//
// # Expectations
//
//	expect_count   machine or table; predictions (true: the machine's
//	               predictions table); rows; mode
//	expect_rows    machine or table; predictions; columns; rows (lists of
//	               values, one per column); offset (the first row compared,
//	               0-based, in insertion order); all (the table has exactly
//	               these rows); tolerance (relative, for floats); mode
//	expect_table   machine, exists: whether its data table exists
//	expect_metric  model, metric (r2 or rmse); min; max
//	expect_log     contains; user, machine, work (a model's name: the work
//	               that trained it); level (debug, info, warning, error);
//	               count (exactly; at least one when not given)
//	sql            query; rows: the result expected; tolerance; mode
//
// expect_rows compares numbers as numbers, within the tolerance, timestamps
// with text such as "2024-01-15 09:00:00" (UTC), and NULL with null. sql
// runs any statement: without rows it executes it, with rows it compares its
// result. Use it where no step says what is needed; it is not portable by
// itself.
//
// # Connection modes
//
// The steps that create things, append, predict, sql and the expectations
// that read take a mode: the connection they go through.
//
//	test      the scenario's own handle: its transaction (the default)
//	shared    a pool opened with sql.Open(db.DriverName(), db.DSN()): other
//	          connections that share the test's transaction (the fix for
//	          code that insists on its own pool)
//	separate  a pool opened with sql.Open(db.RawDriverName(), db.RawDSN()):
//	          a genuinely separate connection, which sees nothing the test has
//	          not committed, and whose writes wait on the test's locks
//	          (the platform's bug, on purpose)
//
// A separate connection's write that needs a lock the test's transaction
// holds waits on the test itself, and dbtest fails it at once
// (expect_error: self_deadlock) with a lock report, kept in
// [StepResult.LockReport]. What a separate connection commits escapes the
// rollback, and dbtest's cleanup fails the run, unless expect_cleanup
// expects it.
//
// # Connections of their own
//
//	begin         as: open a separate connection and begin a transaction on it
//	commit        conn; after: end its transaction, now or, with after (300ms),
//	              in the background while the next steps run
//	rollback      conn; after: the same, rolling back
//	concurrently  statements: a list of {conn: NAME, query: SQL}, two or more,
//	              run at once, each on its connection
//
// Steps that take a mode take conn: NAME instead, to run in that
// connection's transaction. Two such connections reproduce what one
// sequence of steps cannot: a writer holding a lock while another waits
// (commit with after), a long read, a deadlock. concurrently waits for
// every statement; with expect_error it passes when one or more fail with
// that kind and the others succeed, since which of two deadlocked
// transactions the server stops is its choice. A connection ended by
// commit or rollback cannot be named by later steps; those still open when
// the scenario ends are rolled back.
//
// # Expected errors
//
// expect_error names a kind of error, matched with errors.Is:
//
//	locked              a lock conflict (dbtest.ErrLocked, dynamic.ErrLocked)
//	self_deadlock       a wait on the test's own transaction, stopped by dbtest
//	deadlock            a deadlock the server found and broke
//	foreign_key         a row refers to a row the statement cannot see
//	transaction_control a COMMIT, ROLLBACK or BEGIN dbtest refused
//	                    (dbtest.ErrTransactionControl)
//	lock_held           another holder has the machine's table lock
//	lock_not_held       the lock was released or taken over
//	not_found           no such row, or the user may not see it; no such table
//	no_table            no such table
//	duplicate           a unique name taken
//	invalid             an argument refused (registry.ErrInvalid)
//	invalid_transition  a work status change the state machine refuses
//	any                 any error
//
// A step that expects an error runs inside a savepoint, rolled back after
// it, so that the steps after it still run (on PostgreSQL a failed statement
// aborts the whole transaction otherwise). It fails when it succeeds, when
// it fails with another kind of error, or when one of its expectations does
// not hold.
//
// # Errors in scenario files
//
// [Parse] checks everything it can without a database, and every error is
// an [*Error] naming the file, the line (and column) and the step:
//
//	harness: machine_1.yaml:12:23: step 4 (append): field "machine": machine "m1" was not created by an earlier step (create it with as: m1, or name a fixture row as machines.<label>)
//
// Unknown steps and fields, missing fields, fields of the wrong type,
// fields written level with the step's kind instead of under it, a name
// created twice, YAML anchors and aliases (refused) and YAML syntax errors
// are all reported this way. Unknown steps and fields suggest the closest
// known name. Each error wraps its kind, for errors.Is: [ErrSyntax],
// [ErrAlias], [ErrUnknownStep], [ErrUnknownField] or [ErrInvalid]; an
// error in a file the scenario names wraps that file's error instead (a
// fixture set's *fixtures.Error, a CSV file's *dynamic.CSVError).
//
// Anchors and aliases are refused before anything follows them, so that a
// few lines of aliases to aliases (an alias bomb) cost no more than their
// text. Files named by a scenario are read from the scenario's own file
// system only: a path that climbs out of it is an error.
//
// # Running
//
// [Run] runs a scenario on a handle from dbtest.Open, inside a test:
//
//	for _, sc := range all {
//		t.Run(sc.Name, func(t *testing.T) {
//			dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
//				if res := harness.Run(t.Context(), db, sc, nil); !res.Passed {
//					t.Error(res.Failure())
//				}
//			}, sc.Options()...)
//		})
//	}
//
// A scenario with settings needs its handle opened with them:
// dbtest.Each(t, fn, sc.Options()...).
//
// [RunOn] is for programs: it takes a handle with dbtest.Connect and the
// scenario's options, runs the scenario and releases the handle, failing
// the result when writes escaped the transaction; dbtest's notes (such as
// MySQL's implicit commits on DDL, or what cleanup found as expected) go
// into [Result.Notes]. An [Observer] is told of each step as it ends.
//
// dbtest's messages and lock reports place the statements a step runs,
// and the connections it opens, at the step's line of the scenario file
// ("lock_bug.yaml:14"), through dbtest.WithOrigin.
//
// # Reports
//
// [WriteSummary] prints an aligned table (scenario, backend, result, steps,
// time) and the failures; [WriteJSON] the results as JSON; [WriteJUnit] JUnit
// XML, one test suite per backend and one test case per scenario;
// [WriteHTML] one self-contained HTML page, with every lock report drawn
// as a timeline: a lane per connection, a bar per lock it held.
//
// A failed expect_rows shows the rows as a diff, (-want +got), aligned in
// columns:
//
//	machine_stock row 2, column qty: got 39, want 40; the rows (-want +got):
//	   row  sku    qty
//	   1    "B-1"  15
//	-  2    "N-1"  40
//	+  2    "N-1"  39
//	   3    "W-1"  120
//	   … 3 rows equal
//
// # Lock-bug reproductions
//
// [LockPatterns] lists the known lock-bug patterns of code under test and
// [ReproLock] reproduces them on a backend, checking that each behaves as
// documented; [WriteRepro] explains each with its lock report.
package harness
