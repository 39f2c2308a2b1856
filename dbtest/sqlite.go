package dbtest

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"math/bits"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ncruces/go-sqlite3"
	sqlitedriver "github.com/ncruces/go-sqlite3/driver"
	_ "github.com/ncruces/go-sqlite3/embed" // the SQLite Wasm binary
	"github.com/ncruces/go-sqlite3/ext/serdes"
	"github.com/ncruces/go-sqlite3/vfs/memdb"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// sqliteDriverName is the database/sql driver of the raw SQLite DSNs: the
// ncruces driver, registered by its package.
const sqliteDriverName = "sqlite3"

var sqliteRuntime struct {
	once sync.Once
	dir  string // compilation cache directory, "" when disabled
	err  error
}

// InitSQLite configures the WebAssembly runtime that hosts SQLite and
// compiles SQLite, once per process. dbtest calls it before it opens the
// first SQLite database; a command may call it early to move the cost.
//
// The compiled code is cached on disk, under the user's cache directory
// (dbharness/wazero) or the directory named by DBTEST_WAZERO_CACHE
// ("off" disables the cache), so that a new test binary starts in
// milliseconds instead of compiling SQLite again for most of a second. The
// same directory keeps the images of migrated template databases, by a
// hash of their migrations, so that a new process does not migrate again.
//
// It returns the cache directory in use ("" when disabled). If SQLite was
// already initialised by other code in the process, the cache is not used.
func InitSQLite() (cacheDir string, err error) {
	sqliteRuntime.once.Do(func() {
		cfg := wazero.NewRuntimeConfig()
		// Setting sqlite3.RuntimeConfig replaces the library's defaults:
		// keep its memory limit and core features.
		if bits.UintSize < 64 {
			cfg = cfg.WithMemoryLimitPages(512) // 32 MiB
		} else {
			cfg = cfg.WithMemoryLimitPages(4096) // 256 MiB
		}
		cfg = cfg.WithCoreFeatures(api.CoreFeaturesV2)
		dir, derr := wazeroCacheDir()
		if derr == nil && dir != "" {
			if cache, cerr := wazero.NewCompilationCacheWithDir(dir); cerr == nil {
				cfg = cfg.WithCompilationCache(cache)
				sqliteRuntime.dir = dir
			}
		}
		if sqlite3.RuntimeConfig == nil {
			sqlite3.RuntimeConfig = cfg
		} else {
			sqliteRuntime.dir = ""
		}
		sqliteRuntime.err = sqlite3.Initialize()
	})
	return sqliteRuntime.dir, sqliteRuntime.err
}

func wazeroCacheDir() (string, error) {
	if v, ok := os.LookupEnv(EnvWazeroCache); ok {
		if v == "off" || v == "" {
			return "", nil
		}
		return v, os.MkdirAll(v, 0o755)
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(base, "dbharness", "wazero")
	return dir, os.MkdirAll(dir, 0o755)
}

// sqliteEngine is the SQLite side of a session.
type sqliteEngine struct{}

func (sqliteEngine) backend() Backend        { return SQLite }
func (sqliteEngine) beginSQL() string        { return "BEGIN" }
func (sqliteEngine) implicitDDLCommit() bool { return false }

func (sqliteEngine) inTransaction(_ context.Context, c driver.Conn) (bool, error) {
	raw, ok := c.(sqlitedriver.Conn)
	if !ok {
		return true, nil
	}
	return !raw.Raw().GetAutocommit(), nil
}

// setLockTimeout is done by DB.begin: the busy handler that dbtest installs
// reads the timeout from the connection's trace state.
func (sqliteEngine) setLockTimeout(context.Context, driver.Conn, time.Duration) error { return nil }

// sqliteTxControl runs BEGIN and ROLLBACK through statements prepared once
// on the connection, SQLite would otherwise compile them for every test,
// and reads the connection's data version.
type sqliteTxControl struct {
	raw                     *sqlite3.Conn
	beginStmt, rollbackStmt *sqlite3.Stmt
	versionStmt             *sqlite3.Stmt // PRAGMA data_version
}

// newSQLiteTxControl prepares the statements on c, when c is an SQLite
// connection (ok).
func newSQLiteTxControl(c driver.Conn) (tx txControl, ok bool, err error) {
	raw, ok := c.(sqlitedriver.Conn)
	if !ok {
		return nil, false, nil
	}
	t := &sqliteTxControl{raw: raw.Raw()}
	for _, p := range []struct {
		st  **sqlite3.Stmt
		sql string
	}{{&t.beginStmt, "BEGIN"}, {&t.rollbackStmt, "ROLLBACK"}, {&t.versionStmt, "PRAGMA data_version"}} {
		if *p.st, _, err = t.raw.Prepare(p.sql); err != nil {
			t.close()
			return nil, true, fmt.Errorf("dbtest: sqlite: %w", err)
		}
	}
	return t, true, nil
}

func (t *sqliteTxControl) begin(ctx context.Context) error { return t.run(ctx, t.beginStmt) }

// rollback never chains: SQLite has no ROLLBACK AND CHAIN, and BEGIN costs
// no round trip.
func (t *sqliteTxControl) rollback(ctx context.Context, _ bool) (bool, error) {
	return false, t.run(ctx, t.rollbackStmt)
}

func (t *sqliteTxControl) alive(context.Context) bool { return true }

func (t *sqliteTxControl) run(ctx context.Context, st *sqlite3.Stmt) error {
	if old := t.raw.SetInterrupt(ctx); old != ctx {
		defer t.raw.SetInterrupt(old)
	}
	return st.Exec()
}

func (t *sqliteTxControl) close() {
	for _, st := range []*sqlite3.Stmt{t.beginStmt, t.rollbackStmt, t.versionStmt} {
		if st != nil {
			st.Close()
		}
	}
}

// dataVersion returns the data version of the connection's main database
// (SQLITE_FCNTL_DATA_VERSION), without running a statement. It changes when
// the connection sees a commit, its own or another connection's; it sees
// another connection's commit when it next reads the database. In
// rollback-journal mode a transaction that has read the database holds its
// lock until it ends, so nobody commits in between and the version read
// after its rollback is complete. Otherwise (a transaction that never read
// the database, or WAL mode, where writers do not wait for readers)
// refresh makes the connection read the database first.
func (t *sqliteTxControl) dataVersion(ctx context.Context, refresh bool) (uint32, error) {
	if refresh {
		if err := t.run(ctx, t.versionStmt); err != nil {
			return 0, err
		}
	}
	v, err := t.raw.FileControl("main", sqlite3.FCNTL_DATA_VERSION)
	if err != nil {
		return 0, err
	}
	return v.(uint32), nil
}

// cacheStmt: SQLite compiles every statement it is not given prepared.
func (sqliteEngine) cacheStmt(int) bool { return true }

// hasRead reports whether c's transaction has read its main database: from
// that read until the transaction ends, c holds a lock on it.
func (sqliteEngine) hasRead(c driver.Conn) bool {
	raw, ok := c.(sqlitedriver.Conn)
	if !ok {
		return true
	}
	return raw.Raw().TxnState("main") != sqlite3.TXN_NONE
}

// sqliteDataVersion returns the data version of slot sl's connection (see
// sqliteTxControl.dataVersion).
func sqliteDataVersion(ctx context.Context, sl *slot, refresh bool) (uint32, error) {
	t, ok := sl.tx.(*sqliteTxControl)
	if !ok {
		return 0, fmt.Errorf("dbtest: sqlite: no SQLite connection on %s", sl.name)
	}
	return t.dataVersion(ctx, refresh)
}

// sqliteProvider makes SQLite databases: shared in-memory databases (the
// memdb VFS), each a copy of a migrated template kept as bytes, and on disk
// for the next process (sqlite_template.go).
type sqliteProvider struct {
	token string

	mu        sync.Mutex
	templates map[string][]byte // by migration key
	seedDBs   map[string]string // URI of a read-only copy of each template, by migration key
	seq       int
	dir       string // file databases, made on first use
}

var sqliteSerialize sync.Mutex // serdes hands files over through a global

func (p *sqliteProvider) engine() engine { return sqliteEngine{} }

func (p *sqliteProvider) describe() string {
	v := "unknown"
	if db, err := sql.Open(sqliteDriverName, ":memory:"); err == nil {
		db.QueryRow("SELECT sqlite_version()").Scan(&v)
		db.Close()
	}
	return "SQLite " + v + " (ncruces/go-sqlite3 v0.32, wazero)"
}

func sqliteDSN(name string, lockTimeout time.Duration) string {
	q := url.Values{}
	q.Set("vfs", "memdb")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", lockTimeout.Milliseconds()))
	return (&url.URL{Scheme: "file", OmitHost: true, Path: "/" + name, RawQuery: q.Encode()}).String()
}

func (p *sqliteProvider) rawDSN(sl *slot, lockTimeout time.Duration) string {
	c := sl.connector.(*sqliteConnector)
	return tracedSQLiteDSN(c.path, c.wal, 0, lockTimeout)
}

func (p *sqliteProvider) template(ctx context.Context, m *migrationSet) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if b, ok := p.templates[m.key]; ok {
		return b, nil
	}
	if p.templates == nil {
		p.templates = make(map[string][]byte)
	}
	cache := ""
	if !m.none {
		cache = templateCache()
	}
	if b, ok := readTemplate(cache, m.key); ok {
		p.templates[m.key] = b
		return b, nil
	}
	name := fmt.Sprintf("dbtest-%s-template-%d", p.token, len(p.templates))
	memdb.Create(name, nil)
	defer memdb.Delete(name)
	db, err := sqlitedriver.Open(sqliteDSN(name, time.Second))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if err := m.up(ctx, SQLite, db); err != nil {
		return nil, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var data []byte
	err = conn.Raw(func(dc any) error {
		sqliteSerialize.Lock()
		defer sqliteSerialize.Unlock()
		var serr error
		data, serr = serdes.Serialize(dc.(sqlitedriver.Conn).Raw(), "main")
		return serr
	})
	if err != nil {
		return nil, fmt.Errorf("dbtest: sqlite: copying the migrated template: %w", err)
	}
	p.templates[m.key] = data
	writeTemplate(cache, m.key, data)
	return data, nil
}

func (p *sqliteProvider) newSlot(ctx context.Context, m *migrationSet, o slotOptions) (*slot, error) {
	if _, err := InitSQLite(); err != nil {
		return nil, fmt.Errorf("dbtest: sqlite: %w", err)
	}
	tmpl, err := p.template(ctx, m)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.seq++
	seq := p.seq
	seed := p.seedDBLocked(m.key, tmpl)
	p.mu.Unlock()
	if o.wal {
		dir, err := p.fileDir()
		if err != nil {
			return nil, err
		}
		path := filepath.Join(dir, fmt.Sprintf("%d.db", seq))
		if err := os.WriteFile(path, tmpl, 0o600); err != nil {
			return nil, fmt.Errorf("dbtest: sqlite: %w", err)
		}
		conn := &sqliteConnector{path: path, wal: true, role: RoleTestTx, lockTimeout: DefaultLockTimeout}
		return &slot{name: path, connector: conn, lockTimeout: DefaultLockTimeout, seedDB: seed}, nil
	}
	name := fmt.Sprintf("dbtest-%s-%d", p.token, seq)
	memdb.Create(name, append([]byte(nil), tmpl...))
	conn := &sqliteConnector{path: "/" + name, role: RoleTestTx, lockTimeout: DefaultLockTimeout}
	return &slot{name: name, connector: conn, lockTimeout: DefaultLockTimeout, seedDB: seed}, nil
}

// seedDBLocked returns the URI of a read-only in-memory copy of the
// template of migration key, made on first use: restore copies the rows
// the migrations seeded from it.
func (p *sqliteProvider) seedDBLocked(key string, tmpl []byte) string {
	if uri, ok := p.seedDBs[key]; ok {
		return uri
	}
	if p.seedDBs == nil {
		p.seedDBs = make(map[string]string)
	}
	name := fmt.Sprintf("dbtest-%s-seed-%d", p.token, len(p.seedDBs))
	memdb.Create(name, append([]byte(nil), tmpl...))
	uri := "file:/" + name + "?vfs=memdb&mode=ro"
	p.seedDBs[key] = uri
	return uri
}

// fileDir is the directory of this process's file databases.
func (p *sqliteProvider) fileDir() (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dir == "" {
		dir, err := os.MkdirTemp("", "dbtest-"+p.token+"-")
		if err != nil {
			return "", fmt.Errorf("dbtest: sqlite: %w", err)
		}
		p.dir = dir
		registerCleanupDir(dir)
	}
	return p.dir, nil
}

func (p *sqliteProvider) dropSlot(_ context.Context, sl *slot) error {
	c := sl.connector.(*sqliteConnector)
	if c.wal {
		for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
			os.Remove(c.path + suffix)
		}
	} else {
		memdb.Delete(sl.name)
	}
	dropTracker(c.path)
	currentTests.Delete(sl.name)
	return nil
}

func (p *sqliteProvider) close(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, uri := range p.seedDBs {
		memdb.Delete(strings.TrimPrefix(uri[:strings.IndexByte(uri, '?')], "file:/"))
	}
	p.seedDBs = nil
	if p.dir != "" {
		os.RemoveAll(p.dir)
		p.dir = ""
	}
	return nil
}
