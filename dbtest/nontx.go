package dbtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Handles without a test transaction ([WithoutTransaction]): a plain pool
// of connections to the test's database, restored at cleanup
// (restore.go).

// connectNoTx makes the handle's pool once db holds its slot.
func (db *DB) connectNoTx(cfg *config) (*DB, error) {
	sl := db.slot
	db.test = cfg.testName
	if db.test == "" {
		db.test = "handle " + db.id
	}
	db.owner = ownerOf(db.test, cfg.openedAt)
	currentTests.Store(sl.name, [2]string{db.test, cfg.openedAt})
	rawTimeouts.Store(sl.name, cfg.lockTimeout)
	rawUntraced.Store(sl.name, cfg.noTrace)
	takeRawConns(sl.name)
	switch pr := db.prov.(type) {
	case *sqliteProvider:
		tr, _ := sl.connector.(*sqliteConnector).state()
		tr.reset(!cfg.noTrace)
	case *serverProvider:
		pr.noteTuning(cfg.logf)
	}
	pool, err := sql.Open(db.RawDriverName(), db.RawDSN())
	if err != nil {
		currentTests.Delete(sl.name)
		db.pool.release(context.Background(), sl, true)
		return nil, fmt.Errorf("dbtest: %s: %w", db.backend, err)
	}
	db.DB = pool
	return db, nil
}

// releaseNoTx closes the handle's pool and restores the database. A
// database that cannot be restored in place for a reason that is no fault
// of the test (its schema changed, say) is dropped instead, with the
// reason logged; one whose restore failed is dropped too, and that is an
// error wrapping [ErrRestore].
func (db *DB) releaseNoTx(ctx context.Context) error {
	db.DB.Close()
	sl := db.slot
	takeRawConns(sl.name)
	rctx := ctx
	if db.backend != SQLite {
		var cancel context.CancelFunc
		rctx, cancel = context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
	}
	err := restore(rctx, db.backend, sl)
	currentTests.Delete(sl.name)
	var problems error
	var rb *rebuildError
	switch {
	case err == nil:
	case errors.As(err, &rb):
		if db.logf != nil {
			db.logf("dbtest: %s: database %s cannot be restored in place: %s; dropping it, the next test gets a new database", db.backend, sl.name, rb.reason)
		}
	default:
		problems = fmt.Errorf("dbtest: %s: %w: %v; database %s is dropped instead, and the next test gets a new one (did the test leave a connection or a transaction open?)",
			db.backend, ErrRestore, err, sl.name)
	}
	if rerr := db.pool.release(rctx, sl, err == nil); rerr != nil {
		problems = errors.Join(problems, rerr)
	}
	if db.checkClean != nil {
		return db.checkClean(problems)
	}
	return problems
}
