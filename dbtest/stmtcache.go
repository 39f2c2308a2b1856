package dbtest

import (
	"context"
	"database/sql/driver"
)

// Prepared statements kept on a slot's connection from one test to the
// next. Test suites run the same statements again and again (fixtures,
// repositories, the queries under test), and without a cache each of them
// is compiled again by SQLite, or prepared again by MySQL in a round trip
// of its own, in every test. pgx keeps a cache of its own on PostgreSQL;
// there this cache holds only the statements that the pipelines of
// implicit savepoints prepare (postgres_pipeline.go).
//
// A statement is used by one statement of the session at a time: the
// session runs one statement at a time, and reads a result set that is
// still open into memory (and so resets its statement) before it runs
// another.

// stmtCacheSize bounds the statements kept on one connection.
const stmtCacheSize = 64

// A stmtCacher is an engine whose statements the session caches.
type stmtCacher interface {
	// cacheStmt reports whether a statement with nargs arguments is worth
	// preparing once and keeping.
	cacheStmt(nargs int) bool
}

// stmtCache holds the prepared statements of one connection, by query.
type stmtCache struct {
	c     driver.Conn
	stmts map[string]*cachedStmt
	clock uint64
}

type cachedStmt struct {
	st       driver.Stmt
	lastUsed uint64
}

func newStmtCache(c driver.Conn) *stmtCache {
	return &stmtCache{c: c, stmts: make(map[string]*cachedStmt)}
}

// get returns the statement of query, preparing it on a miss; when the
// cache is full, the least recently used statement makes room.
func (sc *stmtCache) get(ctx context.Context, query string) (driver.Stmt, error) {
	if st := sc.lookup(query); st != nil {
		return st, nil
	}
	st, err := prepareConn(ctx, sc.c, query)
	if err != nil {
		return nil, err
	}
	sc.put(query, st)
	return st, nil
}

// lookup returns the statement of query, or nil.
func (sc *stmtCache) lookup(query string) driver.Stmt {
	sc.clock++
	if cs, ok := sc.stmts[query]; ok {
		cs.lastUsed = sc.clock
		return cs.st
	}
	return nil
}

// drop closes and forgets the statement of query, if any.
func (sc *stmtCache) drop(query string) {
	if cs, ok := sc.stmts[query]; ok {
		cs.st.Close()
		delete(sc.stmts, query)
	}
}

// put keeps st, prepared elsewhere, as the statement of query; when the
// cache is full, the least recently used statement makes room.
func (sc *stmtCache) put(query string, st driver.Stmt) {
	sc.clock++
	if len(sc.stmts) >= stmtCacheSize {
		var oldest string
		var at uint64
		for q, cs := range sc.stmts {
			if oldest == "" || cs.lastUsed < at {
				oldest, at = q, cs.lastUsed
			}
		}
		sc.stmts[oldest].st.Close()
		delete(sc.stmts, oldest)
	}
	sc.stmts[query] = &cachedStmt{st: st, lastUsed: sc.clock}
}

// take empties the cache and returns its statements, for the caller to
// close.
func (sc *stmtCache) take() []driver.Stmt {
	var sts []driver.Stmt
	for q, cs := range sc.stmts {
		sts = append(sts, cs.st)
		delete(sc.stmts, q)
	}
	return sts
}

// close closes every statement, before the connection closes.
func (sc *stmtCache) close() {
	for q, cs := range sc.stmts {
		cs.st.Close()
		delete(sc.stmts, q)
	}
}
