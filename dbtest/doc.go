// Package dbtest gives each Go test a transaction-wrapped database, on an
// embedded SQLite hosted in WebAssembly and on real PostgreSQL and MySQL
// servers, with the same test code on all three.
//
// # Quick start
//
//	func TestCreateUser(t *testing.T) {
//		dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
//			repo, _ := registry.New(db, db.Dialect())
//			// ... the test writes freely; everything is rolled back.
//		})
//	}
//
// [Each] runs the function once per backend, as subtests named "sqlite",
// "postgres" and "mysql". [Open] gives one handle for one backend.
//
// # Where the databases come from
//
// SQLite is always available: it runs inside the test binary, in wazero.
// PostgreSQL and MySQL come from the servers named by DBTEST_POSTGRES_DSN
// and DBTEST_MYSQL_DSN. When a server is not configured or does not answer,
// its subtests skip with a one-line reason; DBTEST_REQUIRE=postgres,mysql
// (or "all") turns that skip into a failure, as CI wants.
//
// A test binary creates its own databases on each server, named
// dbtest_<token>_<n>, migrates them once, and drops them when it ends. Test
// binaries of one "go test ./..." run in parallel and never share a
// database.
//
// # Isolation
//
// Every test runs inside one transaction that is rolled back at cleanup,
// even when the test's context was cancelled. The database behind a handle
// is one of a pool: each test takes a database nobody else is using, and
// gives it back clean after the rollback. Parallel tests (t.Parallel) thus
// get separate databases and never wait on each other's locks; a sequential
// suite reuses one database and pays only for BEGIN and ROLLBACK. On SQLite
// each database is an in-memory copy (the memdb VFS) of a migrated template.
//
// On PostgreSQL and MySQL the rollback is ROLLBACK AND CHAIN, which begins
// the next test's transaction in the same round trip, unless the test ran
// anything but plain DML and reads (SET TRANSACTION, say, whose
// characteristics a chained transaction would inherit) or a statement
// failed. Before the next test uses such a connection, dbtest checks its
// socket, and opens a new connection if the server closed it. MySQL's
// in_transaction, which tells whether something ended the test's
// transaction, costs a round trip: it is asked only after such
// statements, since plain DML and reads cannot end a transaction.
//
// When a test leaves its database dirty (a write that escaped the
// transaction, or MySQL's implicit commit), cleanup still reports it as
// before, and then restores the database in place, as it does for tests
// without a transaction (below): it is reused only once its schema is the
// migrated one, its tables hold the rows the migrations left and its
// identity counters are where they left them. A database that cannot be
// brought back so is dropped instead, and the next test gets a fresh one.
//
// # Tests without a transaction
//
// Code that must commit (it opens its own transactions and checks what
// other connections see, or runs DDL on MySQL) gets a handle with
// [WithoutTransaction], like pytest-django's transaction=True: a plain
// pool of connections to a database of its own, where every statement
// commits, and where sql.Open(db.DriverName(), db.DSN()) sees what was
// committed. Load the fixtures through the handle first; they are
// committed too.
//
// At cleanup dbtest restores the database: it drops the tables the test
// created, empties the tables that hold rows, restarts the identity
// counters (PostgreSQL's sequences, MySQL's AUTO_INCREMENT, SQLite's
// sqlite_sequence) so the next test's ids are those this one got, and
// inserts again the rows the migrations seeded; goose's version table
// keeps its rows. On PostgreSQL that is DELETE in one transaction, the
// tables that refer to others first, and setval on the sequences whose
// (last_value, is_called) moved (TRUNCATE ... RESTART IDENTITY CASCADE
// when foreign keys form a cycle or a table has a trigger on DELETE), on
// MySQL TRUNCATE TABLE per table with FOREIGN_KEY_CHECKS off, and ALTER
// TABLE ... AUTO_INCREMENT where that left the counter elsewhere than the
// migrations did, on SQLite DELETE in one transaction, which costs
// half of a fresh copy of the migrated template and a new connection
// (BenchmarkWithoutTransaction). The tables are emptied without firing
// the migrations' triggers on DELETE (TRUNCATE on PostgreSQL, triggers off
// on SQLite), and the seeded rows go back without their generated
// columns.
//
// The database is reused only when its schema is still the migrated one,
// compared object by object: tables and their columns (types,
// nullability, defaults, collations, generation expressions), indexes,
// constraints and foreign keys, views and their definitions, triggers,
// routines and events, and on PostgreSQL sequences, types, schemas,
// policies and extensions (on SQLite, everything in sqlite_master).
// Grants, comments and storage options are not compared. Whatever the
// restore cannot bring back for a reason that is no fault of the test (a
// changed schema, seeded rows that do not go back, counts or counters
// that still differ, other connections still attached to the database,
// such as a pool the test left open) means the database is dropped, which
// ends those connections, and a new one migrated; the reason goes to
// the test's log ([WithLogf] with [Connect]), and the test passes. A
// restore that fails, typically because a connection the test left open
// holds a lock on a table, fails the test with [ErrRestore] and drops the
// database.
//
// These handles take their databases from a pool of their own, so a
// transactional test never runs on a database that a test without a
// transaction is committing to, and parallel tests without a transaction
// each get their own database. Each costs more than a rollback: a new
// connection for its pool, and the restore (several statements; on MySQL
// TRUNCATE makes new files): keep it for the tests that need it.
//
// # Connections, savepoints and the shared-transaction driver
//
// [DB] embeds a *sql.DB. Every connection it hands out is a view of the
// test's transaction. BeginTx on it becomes a SAVEPOINT: Commit releases
// it, Rollback rolls back to it, and transactions nest to any depth. A
// result set left open while another statement runs is read into memory
// first, so interleaved queries work on every driver.
//
// Code under test that insists on opening its own pool can be given
// [DB.DriverName] and [DB.DSN]: sql.Open on them lands on the same
// transaction. That is the fix for the classic "database is locked" bug of
// code that writes through a second connection while the test holds the
// first.
//
// [DB.RawDriverName] and [DB.RawDSN] open a genuinely separate connection to
// the same database: it cannot see the test's uncommitted rows, and what it
// commits escapes the rollback. It is there to reproduce such bugs on
// purpose.
//
// A COMMIT, ROLLBACK or BEGIN statement issued on the handle would end the
// test's transaction; dbtest refuses it with [ErrTransactionControl] and
// fails the test, naming the statement and where it came from.
//
// # Statements that fail, on PostgreSQL
//
// On PostgreSQL a statement that fails aborts the transaction it runs in,
// and under dbtest that is the test's: every later statement fails with
// "current transaction is aborted" (SQLSTATE 25P02), where SQLite and
// MySQL go on. That error is an *[AbortedError]: it names the statement
// that failed, the file:line that ran it and its error, and says how to
// fix it; errors.Is(err, [ErrTransactionAborted]) holds, and errors.As
// still gives the *pgconn.PgError.
//
// There are two fixes. Run a statement that is expected to fail inside
// db.BeginTx (a savepoint) and roll that back. Or open the handle with
// [WithStatementSavepoints]: every statement outside BeginTx gets a
// savepoint of its own, so a failure undoes that statement alone and the
// test goes on, as on the other backends, and as a statement outside a
// transaction does in production. Inside BeginTx, PostgreSQL's behaviour
// stays: a failure aborts that transaction until it is rolled back.
//
// The savepoints cost no round trip for an ExecContext: it runs in one
// pgx pipeline with the savepoint, and with the next statement's. A query
// or a prepared statement that follows anything else pays one round trip
// (see BenchmarkStatementSavepoints), and every write a subtransaction.
// The option is off by default: that cost falls on every test, while few
// expect a statement to fail, and those meet the explanation above at
// their first run; and without it a failed statement does to the test's
// transaction what PostgreSQL does (the transaction aborts, its locks go),
// which the lock-bug reproductions rely on.
//
// # Lock diagnosis
//
// Every lock error under dbtest, on the test's handle and on raw
// connections, is a *[LockError]: errors.Is(err, [ErrLocked]) holds, the
// driver's own error is still reachable (errors.Is(err, sqlite3.BUSY),
// errors.As to *pgconn.PgError or *mysql.MySQLError), and errors.As gives
// the [LockReport]: which connection waited for which lock, who held it,
// since which statement, for how long, and how to fix it.
//
//	connection #2 (opened at export_test.go:41, separate connection) wanted RESERVED for INSERT INTO m1 ...
//	connection #1 (the test transaction, opened by dbtest.Open at workflow_test.go:17) has held RESERVED since its INSERT INTO users ... at +0.3ms
//	fix: write through the test's handle, or open the code's pool with sql.Open(db.DriverName(), db.DSN())
//
// A location such as export_test.go:41 is the first caller outside
// dbharness's library packages (a _test.go file always counts as the
// caller). Code that runs statements on behalf of something else, such as
// a scenario engine, names its own source with [WithOrigin]: statements
// run and connections opened with that context are placed there instead.
//
// On SQLite a tracing VFS records every lock level each connection takes,
// and the report carries that timeline. On PostgreSQL dbtest asks
// pg_blocking_pids, pg_locks and pg_stat_activity; on MariaDB and MySQL
// SHOW ENGINE INNODB STATUS (live: whether the statement waits, and for
// which table) and InnoDB's lock-wait tables (information_schema's on
// MariaDB, a copy InnoDB refreshes only after 100 ms without readers; the
// sys schema's on MySQL 8). When the copy does not show the wait yet, the
// holder is found by elimination: the only other transaction holding locks
// in the test's database. A deadlock report adds the server's account of
// both statements.
//
// A connection that waits on a lock held by the test's own transaction can
// never get it while the test waits: that is the classic bug of code that
// writes through a second connection. dbtest fails such a wait at once
// instead of waiting out the timeout: on the servers it asks who blocks a
// statement once it has run for 30 ms, or for 10 ms when it runs on a
// separate connection while the test's transaction holds writes, and a
// self-deadlock typically ends within 10 to 40 ms.
//
// Diagnosis is on by default; on the append benchmark its cost is within
// the noise of a loaded machine (BenchmarkSQLiteTracing compares it on, off
// and without dbtest's driver, in one run). [WithoutLockTrace] turns it off
// for one test, DBTEST_LOCK_TRACE=off for the whole process: lock errors
// are then still *[LockError], without holders or timeline, and a
// self-deadlock waits out the lock timeout.
//
// At cleanup, dbtest checks that the test's transaction is still open and
// that no other connection committed to the test's database; it fails the
// test otherwise with a *[CleanupError], naming the statement or the
// tables. [WithTransactionControl] lets COMMIT through, to reproduce what
// such code does; [WithCleanupCheck] hands cleanup's findings to the test,
// to assert on them when it reproduces such a bug on purpose. [WithSQLiteWAL]
// puts the SQLite database in WAL mode, to contrast with the rollback
// journal, where a long read keeps a writer from committing; there, a
// database file removed or replaced during the test is reported too.
//
// # Faults
//
// A cancelled context, a server that ends the test's session or restarts,
// and a database that rolls the test's transaction back on its own never
// let a later statement of the test run outside its transaction. On the
// servers the driver closes a connection whose statement is cancelled, and
// the server rolls back; the test's next statements fail with
// driver.ErrBadConn. SQLite rolls the whole transaction back when a write
// is interrupted or meets an I/O error, and MySQL on a deadlock: dbtest
// notices, and refuses the test's next statements with
// [ErrTransactionRolledBack]. Cleanup then passes, and the database goes
// back to the pool, or, when its connection is gone, is dropped (on MySQL
// after ending the statements still running on it, as PostgreSQL's DROP
// DATABASE ... WITH (FORCE) does). A test opened after a server restart
// gets a new connection; if another process dropped the database in the
// meantime, taking this one for gone, it gets another database.
//
// # MySQL and DDL
//
// MySQL commits the current transaction on DDL (CREATE, ALTER, DROP,
// TRUNCATE, ...). When a test issues DDL, dbtest notes it in the test log,
// opens a new transaction (recreating open savepoints) so that the rest of
// the test is still rolled back, and drops the test's database at cleanup
// so the next test starts clean. PostgreSQL and SQLite roll DDL back like
// any other statement.
//
// # Lock timeouts
//
// A statement under dbtest waits at most [DefaultLockTimeout] for a lock,
// on every backend, and on the raw connections too; [WithLockTimeout]
// changes it (on MySQL, whose lock waits count whole seconds, dbtest stops
// a statement that has waited for a row lock longer than a shorter timeout
// itself). A lock conflict therefore fails a test in about a second
// instead of hanging it for a minute (ncruces' default busy timeout), 50
// seconds (InnoDB) or forever (PostgreSQL). InnoDB finds a deadlock as
// soon as it forms; PostgreSQL looks for one only after deadlock_timeout,
// which dbtest sets to 100 ms on its databases when the role may set it
// (a superuser setting, or GRANT SET ON PARAMETER deadlock_timeout on
// PostgreSQL 15 and later), so that a deadlock is reported as one, with
// both statements, rather than as a lock timeout. When the role may not,
// the first handle's log says so once, and the server keeps its own
// value, 1 s by default: the lock timeout then ends a deadlock's wait
// first. dbtest finds the cycle itself, following pg_blocking_pids from
// the waiter's blockers back to the waiter, and the report still calls it
// a deadlock, with each connection's statement, the deadlock_timeout
// against the lock timeout, and what to grant.
//
// # Cleanup after the process
//
// Go has no hook that runs when a test binary exits, so the first time a
// test binary creates a server database, dbtest starts a companion: a copy
// of the same executable, with DBTEST_CLEANUP=1, that waits on a pipe. When
// the test binary ends, however it ends, the pipe closes and the companion
// drops the binary's databases. If both are killed at once, the next test
// binary that uses the server drops them: a control connection held by each
// live process (a named lock on MySQL, its application_name on PostgreSQL)
// tells live databases from abandoned ones. [Main] drops them at the end of
// m.Run, sooner still.
//
// # Environment
//
//	DBTEST_POSTGRES_DSN  PostgreSQL server, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable
//	DBTEST_MYSQL_DSN     MySQL or MariaDB server, e.g. root@tcp(127.0.0.1:3306)/test
//	DBTEST_REQUIRE       backends that must be available (comma separated, or "all")
//	DBTEST_WAZERO_CACHE  cache of compiled SQLite and migrated SQLite templates ("off" disables it)
//	DBTEST_LOCK_TRACE    "off" turns lock diagnosis off (see WithoutLockTrace)
//
// The Testcontainers provider's variables (DBTEST_POSTGRES_IMAGE,
// DBTEST_MYSQL_IMAGE, DBTEST_DOCKER_NETWORK, ...) are documented with
// [EnvPostgresImage]; the README has every variable in one table.
//
// Passwords in DSNs never appear in dbtest's messages.
//
// # Memory
//
// Each SQLite connection is a WebAssembly instance that reserves 256 MiB of
// address space (not of resident memory) for SQLite's heap. A test binary
// with many connections open shows a large virtual size; its resident size
// stays small.
//
// # Rationale
//
// SQLite is github.com/ncruces/go-sqlite3 pinned at v0.32: the last line
// that runs SQLite compiled to WebAssembly inside wazero. Later versions
// translate SQLite to Go and drop wazero, and with it the VFS layer that
// dbtest relies on to host databases in memory and to watch their locks.
//
// Compiling SQLite's WebAssembly takes most of a second, in every test
// binary. dbtest configures a wazero compilation cache on disk (see
// [InitSQLite]), so that only the first binary on a machine pays for it.
// Setting sqlite3.RuntimeConfig replaces the library's defaults, so dbtest
// re-applies its memory limit (256 MiB) and core features.
package dbtest
