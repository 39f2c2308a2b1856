package dbtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/easyautoml/dbharness/migrations"
)

// engine is what a session needs to know of its database engine.
type engine interface {
	backend() Backend
	beginSQL() string
	// implicitDDLCommit reports whether DDL commits the transaction.
	implicitDDLCommit() bool
	// inTransaction reports whether c is still inside a transaction.
	inTransaction(ctx context.Context, c driver.Conn) (bool, error)
	setLockTimeout(ctx context.Context, c driver.Conn, d time.Duration) error
}

// provider makes and drops the databases of one backend.
type provider interface {
	engine() engine
	// newSlot creates a database migrated with m.
	newSlot(ctx context.Context, m *migrationSet, o slotOptions) (*slot, error)
	dropSlot(ctx context.Context, sl *slot) error
	// rawDSN is a DSN of the real driver for sl's database.
	rawDSN(sl *slot, lockTimeout time.Duration) string
	// describe names the server and its version.
	describe() string
	// close drops what the provider still owns.
	close(ctx context.Context) error
}

// A slot is one database of a pool with a connection kept open to it. At
// most one test uses a slot at a time; after the test's rollback the slot
// is clean and serves the next test, so a test pays for BEGIN and ROLLBACK
// only. Parallel tests get separate slots, so they never wait on each
// other's locks.
type slot struct {
	name        string
	connector   driver.Connector
	conn        driver.Conn
	tx          txControl     // the test transaction's BEGIN and ROLLBACK on conn
	stmts       *stmtCache    // statements kept on conn; nil when the engine keeps none
	chained     bool          // conn is in the transaction the last ROLLBACK AND CHAIN began
	lockTimeout time.Duration // in force on conn
	serverID    int64         // conn's server session id, 0 until asked
	baseline    tableCounts   // row counts of the clean database
	base        *baseState    // its schema and seeded rows, for restore
	seedDB      string        // SQLite: URI of the migrated template, to copy seeded rows from
}

// connect (re)opens the slot's connection.
func (sl *slot) connect(ctx context.Context, eng engine) error {
	if sl.conn != nil {
		return nil
	}
	c, err := sl.connector.Connect(ctx)
	if err != nil {
		return err
	}
	tx, err := newTxControl(c, eng)
	if err != nil {
		c.Close()
		return err
	}
	sl.conn, sl.tx = c, tx
	if _, ok := eng.(stmtCacher); ok {
		sl.stmts = newStmtCache(c)
	}
	return nil
}

func (sl *slot) disconnect() {
	if sl.conn != nil {
		if sl.stmts != nil {
			sl.stmts.close()
			sl.stmts = nil
		}
		sl.tx.close()
		sl.conn.Close()
		sl.conn = nil
		sl.serverID = 0
		sl.chained = false
		sl.lockTimeout = DefaultLockTimeout // what a new connection starts with
	}
}

// txControl begins and rolls back the test's transaction on a slot's
// connection.
type txControl interface {
	begin(ctx context.Context) error
	// rollback rolls the test's transaction back. With chain, where the
	// engine can, the same statement begins the next test's transaction
	// (ROLLBACK AND CHAIN), and it reports chained.
	rollback(ctx context.Context, chain bool) (chained bool, err error)
	// alive reports, without a round trip, whether the connection still
	// works: the check a connection left in a chained transaction gets
	// before the next test uses it.
	alive(ctx context.Context) bool
	close()
}

// newTxControl returns the fastest txControl for c: statements prepared
// once on SQLite, plain statements otherwise.
func newTxControl(c driver.Conn, eng engine) (txControl, error) {
	if tx, ok, err := newSQLiteTxControl(c); ok {
		return tx, err
	}
	t := stmtTxControl{c: c, beginSQL: eng.beginSQL()}
	if ch, ok := eng.(chainer); ok && ch.canChain(c) {
		t.chainer = ch
	}
	return t, nil
}

// A chainer is an engine that can chain transactions on a connection whose
// liveness it can check without a round trip.
type chainer interface {
	canChain(c driver.Conn) bool
	connAlive(ctx context.Context, c driver.Conn) bool
}

// stmtTxControl runs the engine's BEGIN and ROLLBACK as statements.
type stmtTxControl struct {
	c        driver.Conn
	beginSQL string
	chainer  chainer // nil when the engine does not chain on c
}

func (t stmtTxControl) begin(ctx context.Context) error {
	_, err := execConn(ctx, t.c, t.beginSQL, nil)
	return err
}

func (t stmtTxControl) rollback(ctx context.Context, chain bool) (bool, error) {
	chain = chain && t.chainer != nil
	q := "ROLLBACK"
	if chain {
		q = "ROLLBACK AND CHAIN"
	}
	_, err := execConn(ctx, t.c, q, nil)
	return chain && err == nil, err
}

func (t stmtTxControl) alive(ctx context.Context) bool {
	return t.chainer != nil && t.chainer.connAlive(ctx, t.c)
}

func (stmtTxControl) close() {}

// slotOptions are the options that make databases differ, beyond their
// migrations.
type slotOptions struct {
	wal  bool // SQLite: a file in WAL mode instead of memory
	noTx bool // for tests without a transaction: a pool of their own
}

// A pool holds the slots of one backend, one set of migrations and one set
// of slot options.
type pool struct {
	prov provider
	mig  *migrationSet
	opts slotOptions

	mu   sync.Mutex
	free []*slot
	all  map[*slot]struct{}
}

func (p *pool) acquire(ctx context.Context) (*slot, error) {
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		sl := p.free[n-1]
		p.free = p.free[:n-1]
		p.mu.Unlock()
		return sl, nil
	}
	p.mu.Unlock()
	sl, err := p.prov.newSlot(ctx, p.mig, p.opts)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.all[sl] = struct{}{}
	p.mu.Unlock()
	return sl, nil
}

// release returns a clean slot to the pool, or drops a dirty one.
func (p *pool) release(ctx context.Context, sl *slot, clean bool) error {
	if clean && sl.conn != nil {
		p.mu.Lock()
		p.free = append(p.free, sl)
		p.mu.Unlock()
		return nil
	}
	p.mu.Lock()
	delete(p.all, sl)
	p.mu.Unlock()
	sl.disconnect()
	return p.prov.dropSlot(ctx, sl)
}

// drain drops every slot that is not in use.
func (p *pool) drain(ctx context.Context) error {
	p.mu.Lock()
	free := p.free
	p.free = nil
	for _, sl := range free {
		delete(p.all, sl)
	}
	p.mu.Unlock()
	var errs []error
	for _, sl := range free {
		sl.disconnect()
		errs = append(errs, p.prov.dropSlot(ctx, sl))
	}
	return errors.Join(errs...)
}

// A migrationSet is the schema a handle asks for.
type migrationSet struct {
	key   string // content hash of every dialect's files asked so far
	fsFor func(dialect string) (fs.FS, error)
	none  bool
}

// up migrates db to the latest version.
func (m *migrationSet) up(ctx context.Context, b Backend, db *sql.DB) error {
	if m.none {
		return nil
	}
	fsys, err := m.fsFor(string(b))
	if err != nil {
		return fmt.Errorf("dbtest: %s: migrations: %w", b, err)
	}
	if _, err := migrations.Up(ctx, string(b), db, fsys); err != nil {
		return fmt.Errorf("dbtest: %s: %w", b, err)
	}
	return nil
}

// hashes caches hashFS by file system, for the comparable ones (embed.FS
// and most others; values whose comparison would panic are left out):
// every Open would otherwise read the migrations again.
var hashes sync.Map // fs.FS, or the value it points to → string

// hashKey returns the key of fsys in hashes, and false when it has none. A
// pointer to a comparable value (what fs.Sub returns, a new one at each
// call) is keyed by the value it points to, so that two calls of fs.Sub on
// the same files share one entry instead of adding one each.
func hashKey(fsys fs.FS) (any, bool) {
	v := reflect.ValueOf(fsys)
	if v.Kind() == reflect.Pointer && !v.IsNil() && v.Elem().Comparable() {
		return [2]any{v.Type(), v.Elem().Interface()}, true
	}
	if v.Comparable() {
		return fsys, true
	}
	return nil, false
}

// hashFS returns a hash of the names and contents of every file in fsys.
func hashFS(fsys fs.FS) (string, error) {
	key, cacheable := hashKey(fsys)
	if cacheable {
		if h, ok := hashes.Load(key); ok {
			return h.(string), nil
		}
	}
	h, err := hashFiles(fsys)
	if err == nil && cacheable {
		hashes.Store(key, h)
	}
	return h, err
}

func hashFiles(fsys fs.FS) (string, error) {
	var names []string
	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			names = append(names, path)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// defaultMigrations caches the migration set of the registry's own
// migrations by backend: most handles ask for it.
var defaultMigrations sync.Map // Backend → *migrationSet

// migrationsFor resolves the migrations of cfg for backend b.
func migrationsFor(cfg *config, b Backend) (*migrationSet, error) {
	if cfg.noMigrations {
		return &migrationSet{key: "none", none: true}, nil
	}
	fsFor := cfg.migrations
	if fsFor == nil {
		if m, ok := defaultMigrations.Load(b); ok {
			return m.(*migrationSet), nil
		}
		fsFor = migrations.FS
	}
	fsys, err := fsFor(string(b))
	if err != nil {
		return nil, fmt.Errorf("dbtest: %s: migrations: %w", b, err)
	}
	key, err := hashFS(fsys)
	if err != nil {
		return nil, fmt.Errorf("dbtest: %s: reading %w", b, migrations.Explain(fsys, err))
	}
	m := &migrationSet{key: key, fsFor: fsFor}
	if cfg.migrations == nil {
		defaultMigrations.Store(b, m)
	}
	return m, nil
}

// The process-wide state: providers by backend, pools by backend and
// migrations. Like database/sql's driver registry, it lives as long as the
// test binary; [Main] releases it.
var state struct {
	mu        sync.Mutex
	token     string
	providers map[Backend]*providerEntry
	pools     map[poolKey]*pool
}

// poolKey names a pool: its backend, migrations and slot options.
type poolKey struct {
	b    Backend
	mig  string
	opts slotOptions
}

type providerEntry struct {
	once sync.Once
	prov provider
	err  error
}

// processToken names this process's databases: dbtest_<token>_<n>.
func processToken() string {
	state.mu.Lock()
	defer state.mu.Unlock()
	if state.token == "" {
		state.token = strings.ToLower(rand.Text()[:10])
	}
	return state.token
}

func getProvider(ctx context.Context, b Backend) (provider, error) {
	token := processToken()
	state.mu.Lock()
	if state.providers == nil {
		state.providers = make(map[Backend]*providerEntry)
	}
	e := state.providers[b]
	if e == nil {
		e = &providerEntry{}
		state.providers[b] = e
	}
	state.mu.Unlock()
	e.once.Do(func() {
		switch b {
		case SQLite:
			e.prov = &sqliteProvider{token: token}
		case Postgres, MySQL:
			// Assign only a working provider: a nil *serverProvider in the
			// interface would not compare equal to nil.
			if sp, err := newServerProvider(ctx, b, token); err != nil {
				e.err = err
			} else {
				e.prov = sp
			}
		default:
			e.err = fmt.Errorf("dbtest: unknown backend %q", b)
		}
	})
	return e.prov, e.err
}

func getPool(prov provider, b Backend, m *migrationSet, o slotOptions) *pool {
	key := poolKey{b, m.key, o}
	state.mu.Lock()
	defer state.mu.Unlock()
	if state.pools == nil {
		state.pools = make(map[poolKey]*pool)
	}
	p := state.pools[key]
	if p == nil {
		p = &pool{prov: prov, mig: m, opts: o, all: make(map[*slot]struct{})}
		state.pools[key] = p
	}
	return p
}

// releaseAll drops every database this process made. Slots still in use by
// running tests are left to their cleanups.
func releaseAll(ctx context.Context) error {
	state.mu.Lock()
	pools := make([]*pool, 0, len(state.pools))
	for _, p := range state.pools {
		pools = append(pools, p)
	}
	var provs []provider
	for _, e := range state.providers {
		if e.prov != nil {
			provs = append(provs, e.prov)
		}
	}
	state.mu.Unlock()
	var errs []error
	for _, p := range pools {
		errs = append(errs, p.drain(ctx))
	}
	for _, pr := range provs {
		errs = append(errs, pr.close(ctx))
	}
	state.mu.Lock()
	state.providers = nil
	state.pools = nil
	state.mu.Unlock()
	stopReaper()
	return errors.Join(errs...)
}
