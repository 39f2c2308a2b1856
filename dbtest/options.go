package dbtest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/easyautoml/dbharness/migrations"
)

// DefaultLockTimeout is how long a statement under dbtest waits for a lock
// before it fails: SQLite's busy timeout, PostgreSQL's lock_timeout and
// MySQL's innodb_lock_wait_timeout and lock_wait_timeout (MySQL counts in
// whole seconds; dbtest stops a statement that waits for a row lock longer
// than a shorter timeout itself). Outside dbtest these waits default to 5 s (Python's
// sqlite3), 60 s (ncruces), 50 s (InnoDB) or forever (PostgreSQL), which
// turns a lock bug into a hang. [WithLockTimeout] changes it.
const DefaultLockTimeout = time.Second

// An Option configures [Open], [Each] and [Connect]. Options check their own
// arguments; a bad or conflicting option fails the test. Options are made
// only by the With* functions of this package.
type Option interface {
	apply(*config) error
}

// optionFunc makes an [Option] of a function.
type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

type config struct {
	migrations    func(dialect string) (fs.FS, error)
	noMigrations  bool
	lockTimeout   time.Duration
	logf          func(format string, args ...any)
	given         map[string]bool
	passTxControl bool
	sqliteWAL     bool
	cleanupCheck  func(problems error) error
	noTrace       bool
	stmtSP        bool   // WithStatementSavepoints
	noTx          bool   // WithoutTransaction
	testName      string // the test that opens the handle
	openedAt      string // file:line of the code that asked for it
}

// openedAt records where Each was called, for the handles it opens.
func openedAt(loc string) Option {
	return optionFunc(func(c *config) error {
		c.openedAt = loc
		return nil
	})
}

func newConfig(opts []Option) (*config, error) {
	c := &config{lockTimeout: DefaultLockTimeout, given: map[string]bool{}}
	switch v := os.Getenv(EnvLockTrace); v {
	case "", "on":
	case "off":
		c.noTrace = true
	default:
		return nil, fmt.Errorf("dbtest: %s=%q: want on or off", EnvLockTrace, v)
	}
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("dbtest: nil Option")
		}
		if err := o.apply(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *config) once(name string, conflicts ...string) error {
	if c.given[name] {
		return fmt.Errorf("dbtest: option %s given twice", name)
	}
	for _, other := range conflicts {
		if c.given[other] {
			return fmt.Errorf("dbtest: options %s and %s conflict", other, name)
		}
	}
	c.given[name] = true
	return nil
}

// WithMigrations migrates the database with the goose migrations in fsys
// instead of the registry schema. The files are read at the root of fsys,
// the same on every backend; when fsys has no .sql files at its root but
// folders named sqlite, postgres or mysql, each backend reads its own
// folder instead (see [migrations.DialectFS]). Use
// [WithDialectMigrations] when the files of each backend live elsewhere.
func WithMigrations(fsys fs.FS) Option {
	return optionFunc(func(c *config) error {
		if fsys == nil {
			return errors.New("dbtest: WithMigrations: nil fs.FS")
		}
		if err := c.once("WithMigrations", "WithDialectMigrations", "WithoutMigrations"); err != nil {
			return err
		}
		c.migrations = func(d string) (fs.FS, error) { return migrations.DialectFS(fsys, d) }
		return nil
	})
}

// WithDialectMigrations migrates each backend with the goose migrations
// that fn returns for its dialect ("sqlite", "postgres" or "mysql").
func WithDialectMigrations(fn func(dialect string) (fs.FS, error)) Option {
	return optionFunc(func(c *config) error {
		if fn == nil {
			return errors.New("dbtest: WithDialectMigrations: nil function")
		}
		if err := c.once("WithDialectMigrations", "WithMigrations", "WithoutMigrations"); err != nil {
			return err
		}
		c.migrations = fn
		return nil
	})
}

// WithoutMigrations gives the test an empty database.
func WithoutMigrations() Option {
	return optionFunc(func(c *config) error {
		if err := c.once("WithoutMigrations", "WithMigrations", "WithDialectMigrations"); err != nil {
			return err
		}
		c.noMigrations = true
		return nil
	})
}

// WithLockTimeout sets how long a statement waits for a lock before it
// fails (see [DefaultLockTimeout]). It must be between 1 ms and 10 minutes.
func WithLockTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d < time.Millisecond || d > 10*time.Minute {
			return fmt.Errorf("dbtest: WithLockTimeout(%v): want between 1ms and 10m", d)
		}
		if err := c.once("WithLockTimeout"); err != nil {
			return err
		}
		c.lockTimeout = d
		return nil
	})
}

// WithLogf sends dbtest's notes (such as MySQL's implicit commits) to logf.
// [Open] sends them to the test's log already; this is for [Connect].
func WithLogf(logf func(format string, args ...any)) Option {
	return optionFunc(func(c *config) error {
		if logf == nil {
			return errors.New("dbtest: WithLogf: nil function")
		}
		if err := c.once("WithLogf"); err != nil {
			return err
		}
		c.logf = logf
		return nil
	})
}

// WithTransactionControl lets COMMIT, ROLLBACK and BEGIN statements through
// to the server instead of refusing them, to reproduce what they do to a
// test: the test's transaction ends, and everything written until then, and
// after, escapes the rollback. Cleanup still catches it: it fails the test,
// naming the statement and where it came from, and the tables left
// changed, and it rebuilds the database for the next test.
func WithTransactionControl() Option {
	return optionFunc(func(c *config) error {
		if err := c.once("WithTransactionControl", "WithoutTransaction"); err != nil {
			return err
		}
		c.passTxControl = true
		return nil
	})
}

// WithSQLiteWAL puts the SQLite database in a file in WAL mode instead of
// in memory, where SQLite uses its rollback journal. In WAL mode readers
// do not block the writer, nor the writer readers; in rollback-journal mode
// a long read keeps a writer from committing. The servers ignore it.
func WithSQLiteWAL() Option {
	return optionFunc(func(c *config) error {
		if err := c.once("WithSQLiteWAL"); err != nil {
			return err
		}
		c.sqliteWAL = true
		return nil
	})
}

// WithCleanupCheck hands what cleanup finds to check instead of failing the
// test with it: a *[CleanupError], or nil when the test's transaction held.
// The test fails with the error check returns, if any; [DB.Release]
// returns it. It is for tests that reproduce such bugs on purpose and
// assert on dbtest's account of them; the database is rebuilt all the
// same.
func WithCleanupCheck(check func(problems error) error) Option {
	return optionFunc(func(c *config) error {
		if check == nil {
			return errors.New("dbtest: WithCleanupCheck: nil function")
		}
		if err := c.once("WithCleanupCheck"); err != nil {
			return err
		}
		c.cleanupCheck = check
		return nil
	})
}

// WithoutLockTrace turns dbtest's lock diagnosis off for the handle's test:
// no SQLite lock timeline, no blocker checks on the servers, and so no
// early end to a self-deadlock, which then waits out the lock timeout.
// Lock errors are still *[LockError] (errors.Is(err, [ErrLocked])), naming
// the waiting connection, without holders or timeline. It is for
// benchmarks that want the last few percent; DBTEST_LOCK_TRACE=off does
// the same for every handle of the process (see [EnvLockTrace]).
func WithoutLockTrace() Option {
	return optionFunc(func(c *config) error {
		if err := c.once("WithoutLockTrace"); err != nil {
			return err
		}
		c.noTrace = true
		return nil
	})
}

// WithStatementSavepoints runs every statement of the test that is not
// inside a transaction it began (BeginTx, a savepoint) under a savepoint of
// its own, on PostgreSQL: a statement that fails is rolled back alone, and
// the test's transaction goes on, as it does on SQLite and MySQL, and as
// each statement outside a transaction does in production, where it
// commits on its own. Without it, a failed statement aborts the test's
// whole transaction on PostgreSQL, and every later statement fails with
// "current transaction is aborted" (SQLSTATE 25P02), which dbtest then
// explains (see [AbortedError]).
//
// Statements inside a transaction the test or the code under test began
// keep PostgreSQL's behaviour: a failure aborts that transaction until it
// is rolled back, as it would in production. A test that issues SAVEPOINT
// statements itself manages its own: dbtest adds none after the first.
//
// Its cost is one round trip per query or prepared statement, and none for
// ExecContext, whose savepoint travels with the statement (see the
// package documentation). SQLite and MySQL need nothing: a failed
// statement leaves their transaction usable, and the option changes
// nothing there.
func WithStatementSavepoints() Option {
	return optionFunc(func(c *config) error {
		if err := c.once("WithStatementSavepoints", "WithoutTransaction"); err != nil {
			return err
		}
		c.stmtSP = true
		return nil
	})
}

// WithoutTransaction gives the test a database without the transaction:
// the handle is a plain pool of connections to the test's own database,
// for code that must commit (pytest-django's transaction=True). The code
// under test may BEGIN and COMMIT as it likes, and connections it opens
// itself with sql.Open(db.DriverName(), db.DSN()) see what it committed.
// Load fixtures through the handle at the start of the test, as usual:
// they are committed too.
//
// At cleanup dbtest restores the database in place instead of rolling
// back: it drops the tables the test created, empties every table but
// goose's version table and restarts their identity counters (DELETE, the
// referring tables first, and setval on PostgreSQL, TRUNCATE TABLE per table
// with FOREIGN_KEY_CHECKS off on MySQL, DELETE and sqlite_sequence on
// SQLite), then inserts again the rows the migrations seeded. A test that
// dropped or altered a migrated table gets its database dropped and a new
// one migrated instead. A restore that fails (a connection the test left
// open holding a lock, say) fails the test with [ErrRestore], and the
// database is dropped.
//
// Such handles take their databases from a pool of their own: a
// transactional test never shares a database with one, and parallel tests
// without a transaction each get their own database, as transactional
// ones do. Restoring costs more than a rollback (see
// BenchmarkWithoutTransaction): keep the option for the tests that need
// it. It conflicts with [WithTransactionControl] and
// [WithStatementSavepoints], which are about the test's transaction.
func WithoutTransaction() Option {
	return optionFunc(func(c *config) error {
		if err := c.once("WithoutTransaction", "WithTransactionControl", "WithStatementSavepoints"); err != nil {
			return err
		}
		c.noTx = true
		return nil
	})
}
