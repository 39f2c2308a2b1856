// Package registry is the typed model registry of the AutoML platform:
// one struct per table of the registry schema (users, teams, machines and
// what hangs off them) and a repository, [Repo], that reads and writes
// them on SQLite, PostgreSQL and MySQL alike.
//
// # Opening a repository
//
// [New] takes any [DBTX] (a *sql.DB, *sql.Tx or *sql.Conn) and the
// dialect's name, the same names package migrations accepts:
//
//	repo, err := registry.New(db, "postgres")
//	if err != nil {
//		return err
//	}
//	u, err := repo.CreateUser(ctx, registry.User{Username: "ada"})
//
// The schema comes from package migrations; the repository never creates
// or alters registry tables. [Repo.WithTx] rebinds a repository to a
// transaction. Operations that write several rows ([Repo.RecordOperation],
// [Repo.DeleteMachine]) begin their own transaction when the handle can
// (a *sql.DB or *sql.Conn), and join the caller's when it is a *sql.Tx.
//
// # Access scoping
//
// A user sees the machines they own and the machines of the teams they are
// a member of; being staff grants nothing more. [Repo.GetMachineForUser]
// and [Repo.ListMachinesForUser] apply that rule in SQL, and every
// operation a user does on a machine applies it before it writes:
// [Repo.AppendToMachine], [Repo.RecordOperation] (when it names a
// machine), [Repo.EnqueueWork] and [Repo.DeleteMachineForUser]. Anything
// outside the rule answers [ErrNotFound], the same as a machine that does
// not exist, so that ids do not leak, and writes nothing.
// [Repo.GetMachine] and [Repo.DeleteMachine] are unscoped, for code that
// acts for the platform.
//
// # Table locks
//
// A machine's data table is written by one holder at a time.
// [Repo.AcquireTableLock] inserts the machine's single
// machine_table_lock_writes row, so the lock excludes across connections,
// processes and hosts; a live holder gives a [*LockHeldError]. Each lock
// has an expiry: an expired row is deleted by the next acquirer, so a
// crashed holder blocks others for one ttl at most. Holders call
// [Repo.RefreshTableLock] to keep a lock and [Repo.ReleaseTableLock] to
// give it back. Expiry is judged by the repository's clock ([WithClock]),
// never by a database's NOW(), so that it behaves the same on every
// backend and tests can move time.
//
// # Work
//
// A [Work] moves queued → running → done or failed, and nowhere else:
// [Repo.EnqueueWork], [Repo.StartWork], [Repo.FinishWork], [Repo.FailWork].
// Each move stamps its time; a move the state machine does not allow is a
// [*TransitionError] naming both states.
//
// # Errors
//
// Every error starts with "registry: " and says what was being done. Test
// for the kind with [errors.Is]: [ErrNotFound], [ErrInvalid],
// [ErrDuplicate], [ErrLockHeld], [ErrLockNotHeld], [ErrInvalidTransition].
// Database errors are wrapped, not replaced.
//
// # Dialect differences
//
// Placeholders are $1, $2, ... on PostgreSQL and ? elsewhere; new ids come
// from RETURNING on PostgreSQL and LastInsertId elsewhere. Times are stored
// in UTC to the microsecond; on SQLite as fixed-width RFC 3339 text
// (2006-01-02T15:04:05.000000Z), so that comparing text compares times.
// On MySQL, DROP TABLE commits any open transaction: [Repo.DeleteMachine]
// drops tables only after its rows are committed, and only tables that
// exist.
package registry
