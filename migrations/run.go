package migrations

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"
)

// dialectDirs are the folder names [DialectFS] looks for, one per dialect.
var dialectDirs = [...]string{"sqlite", "postgres", "mysql"}

// A MigrationError is returned by [Up] when a migration fails. It names
// the migration file and, for SQL migrations, the statement that failed
// and the line of the file it starts on. A migration whose statements all
// ran but that failed afterwards, recording its version in goose's table
// or committing its transaction (a deferred constraint), names no
// statement, and its error says so. It unwraps to the [goose.PartialError]
// that goose returned, and through it to the database's own error.
type MigrationError struct {
	Dir       string // the migrations read, as [Describe] gives them
	File      string // the failed migration's file, relative to Dir
	Line      int    // the line of File the failed statement starts on; 0 when unknown or none failed
	Statement string // the failed statement, trimmed; "" when unknown or none failed
	Err       error  // the goose error

	afterStatements bool // every statement ran: recording the version or the commit failed
}

// Error names the file, line and statement, then the database's error.
func (e *MigrationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "migrations: %s", e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	fmt.Fprintf(&b, " (in %s)", e.Dir)
	if e.Statement != "" {
		fmt.Fprintf(&b, ": statement %q", shorten(e.Statement, 200))
	} else if e.afterStatements {
		b.WriteString(": after its statements ran, recording its version or committing its transaction")
	}
	cause := e.Err
	var pe *goose.PartialError
	if errors.As(cause, &pe) && pe.Err != nil {
		cause = pe.Err
	}
	fmt.Fprintf(&b, ": %v", cause)
	return b.String()
}

// Unwrap returns the goose error.
func (e *MigrationError) Unwrap() error { return e.Err }

// Up migrates db to the latest version with the goose migrations at the
// root of fsys, for dialect (a name [FS] accepts). Unlike a bare goose
// provider it explains its failures:
//
//   - a migration that fails is a [*MigrationError] naming its file, the
//     failed statement and its line;
//   - a file system with no migrations is an error wrapping
//     [goose.ErrNoMigrations] that names what was read and the file names
//     goose expects (00001_create_items.sql);
//   - a missing directory is an error wrapping [fs.ErrNotExist] that names
//     its path.
func Up(ctx context.Context, dialect string, db *sql.DB, fsys fs.FS) ([]*goose.MigrationResult, error) {
	gd, err := GooseDialect(dialect)
	if err != nil {
		return nil, err
	}
	store, err := database.NewStore(gd, goose.DefaultTablename)
	if err != nil {
		return nil, err
	}
	rec := &stmtRecorder{}
	p, err := goose.NewProvider(goose.DialectCustom, db, fsys, goose.WithVerbose(true), goose.WithSlog(slog.New(rec)),
		goose.WithStore(versionWatch{Store: store, rec: rec}))
	if err != nil {
		return nil, Explain(fsys, err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return res, explainRun(fsys, rec, err)
	}
	return res, nil
}

// Explain rewrites an error goose returned for the migrations in fsys so
// that it names what was read: a missing directory by its path, and an
// empty set of migrations with the file names goose expects. Other errors
// are returned unchanged.
func Explain(fsys fs.FS, err error) error {
	where := Describe(fsys)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrNotExist) && !exists(fsys):
		return fmt.Errorf("migrations: directory %s does not exist: %w", where, err)
	case errors.Is(err, goose.ErrNoMigrations):
		hint := "it is empty"
		if names := listing(fsys); names != "" {
			hint = "it holds " + names
		}
		return fmt.Errorf("migrations: no migrations found in %s (%s): goose reads the files at the root of the file system named with a version number, an underscore and a name, such as 00001_create_items.sql: %w", where, hint, err)
	}
	return fmt.Errorf("migrations: %s: %w", where, err)
}

func explainRun(fsys fs.FS, rec *stmtRecorder, err error) error {
	var pe *goose.PartialError
	if !errors.As(err, &pe) || pe.Failed == nil {
		return Explain(fsys, err)
	}
	me := &MigrationError{Dir: Describe(fsys), File: pe.Failed.Source.Path, Err: err}
	stmts, source, recorded := rec.last()
	if recorded == pe.Failed.Source.Version {
		// goose went on to record the version: no statement failed.
		me.afterStatements = true
		return me
	}
	if len(stmts) > 0 && source == filepath.Base(me.File) {
		me.Statement = strings.TrimSpace(stmts[len(stmts)-1])
		if b, rerr := fs.ReadFile(fsys, me.File); rerr == nil {
			me.Line = lastLine(string(b), stmts)
		}
	}
	return me
}

// lastLine returns the line of text on which the last of stmts starts, or
// 0. The statements are those goose ran from text, in order: each is
// looked for after the previous one, so that of two identical statements
// the second is found at its own line.
func lastLine(text string, stmts []string) int {
	lines := strings.Split(text, "\n")
	next, at := 0, 0 // the line to search from; the last statement's line
	for _, stmt := range stmts {
		stmt = strings.TrimSpace(stmt)
		first, _, _ := strings.Cut(stmt, "\n")
		first = strings.TrimSpace(first)
		at = 0
		for i := next; i < len(lines) && first != ""; i++ {
			if strings.TrimSpace(lines[i]) == first {
				at = i + 1
				break
			}
		}
		if at == 0 && first != "" {
			// A statement that does not start a line of its own.
			off := len(strings.Join(lines[:next], "\n"))
			if i := strings.Index(text[off:], first); i >= 0 {
				at = strings.Count(text[:off+i], "\n") + 1
			}
		}
		if at == 0 {
			return 0
		}
		next = at - 1 + strings.Count(stmt, "\n") + 1
	}
	return at
}

func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func exists(fsys fs.FS) bool {
	_, err := fs.Stat(fsys, ".")
	return err == nil
}

// listing names up to five entries at the root of fsys, folders with a
// trailing slash.
func listing(fsys fs.FS) string {
	ents, err := fs.ReadDir(fsys, ".")
	if err != nil || len(ents) == 0 {
		return ""
	}
	var names []string
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() {
			n += "/"
		}
		names = append(names, n)
	}
	more := ""
	if len(names) > 5 {
		more = fmt.Sprintf(" and %d more", len(names)-5)
		names = names[:5]
	}
	return strings.Join(names, ", ") + more
}

// Describe names the file system fsys for an error message: the directory
// of an [os.DirFS], with the folder an [fs.Sub] chose appended, and its Go
// type otherwise.
func Describe(fsys fs.FS) string {
	v := reflect.ValueOf(fsys)
	if !v.IsValid() {
		return "<nil fs.FS>"
	}
	if v.Kind() == reflect.String { // os.DirFS
		return absDir(v.String())
	}
	if v.Kind() == reflect.Pointer && !v.IsNil() && v.Elem().Kind() == reflect.Struct {
		// fs.Sub's result holds the parent and the folder.
		e := v.Elem()
		parent, dir := e.FieldByName("fsys"), e.FieldByName("dir")
		if parent.IsValid() && dir.IsValid() && dir.Kind() == reflect.String && parent.Kind() == reflect.Interface && !parent.IsNil() {
			inner := parent.Elem()
			if inner.Kind() == reflect.String {
				return filepath.Join(absDir(inner.String()), dir.String())
			}
			return fmt.Sprintf("%s of %s", dir.String(), inner.Type())
		}
	}
	return fmt.Sprintf("%T", fsys)
}

func absDir(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}

// DialectFS returns the migrations of dialect in fsys: fsys itself when it
// holds .sql files at its root, or else its folder named after the dialect
// ("sqlite", "postgres" or "mysql"; aliases such as "pgx" are accepted) when
// it holds such folders. A file system with dialect folders but none for
// this dialect is an error naming the folders it has.
func DialectFS(fsys fs.FS, dialect string) (fs.FS, error) {
	ents, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return fsys, nil // goose will say what is wrong
	}
	var folders []string
	for _, e := range ents {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".sql") {
			return fsys, nil
		}
		if e.IsDir() {
			for _, d := range dialectDirs {
				if e.Name() == d {
					folders = append(folders, d)
				}
			}
		}
	}
	if len(folders) == 0 {
		return fsys, nil
	}
	s, err := lookup(dialect)
	if err != nil {
		return nil, err
	}
	for _, f := range folders {
		if f == s.dir {
			return fs.Sub(fsys, f)
		}
	}
	sort.Strings(folders)
	return nil, fmt.Errorf("migrations: %s has folders %s but none named %s, and no .sql files at its root", Describe(fsys), strings.Join(folders, ", "), s.dir)
}

// stmtRecorder is a slog handler that keeps the statements goose announced
// it would execute for the migration it runs, and the version it last went
// on to record once a migration's statements had run.
type stmtRecorder struct {
	mu       sync.Mutex
	stmts    []string // of source, in order
	source   string
	recorded int64 // the version last inserted in goose's table; 0 before any
}

func (r *stmtRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (r *stmtRecorder) Handle(_ context.Context, rec slog.Record) error {
	var stmt, source string
	rec.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "statement":
			stmt = a.Value.String()
		case "source":
			source = a.Value.String()
		}
		return true
	})
	if stmt != "" {
		r.mu.Lock()
		if source != r.source {
			r.stmts, r.source = nil, source
		}
		r.stmts = append(r.stmts, stmt)
		r.mu.Unlock()
	}
	return nil
}

func (r *stmtRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *stmtRecorder) WithGroup(string) slog.Handler      { return r }

func (r *stmtRecorder) last() (stmts []string, source string, recorded int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stmts, r.source, r.recorded
}

// versionWatch is goose's store for the dialect, noting on rec each
// version goose records: goose does so once a migration's statements have
// all run, so a failure of that migration after it is not a statement's.
type versionWatch struct {
	database.Store
	rec *stmtRecorder
}

func (w versionWatch) Insert(ctx context.Context, db database.DBTxConn, req database.InsertRequest) error {
	w.rec.mu.Lock()
	w.rec.recorded = req.Version
	w.rec.mu.Unlock()
	return w.Store.Insert(ctx, db, req)
}

// TableExists lets goose use the dialect's check for its table.
func (w versionWatch) TableExists(ctx context.Context, db database.DBTxConn) (bool, error) {
	if x, ok := w.Store.(database.StoreExtender); ok {
		return x.TableExists(ctx, db)
	}
	return false, errors.ErrUnsupported
}
