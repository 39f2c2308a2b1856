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
)

// dialectDirs are the folder names [DialectFS] looks for, one per dialect.
var dialectDirs = [...]string{"sqlite", "postgres", "mysql"}

// A MigrationError is returned by [Up] when a migration fails. It names
// the migration file and, for SQL migrations, the statement that failed
// and the line of the file it starts on. It unwraps to the
// [goose.PartialError] that goose returned, and through it to the
// database's own error.
type MigrationError struct {
	Dir       string // the migrations read, as [Describe] gives them
	File      string // the failed migration's file, relative to Dir
	Line      int    // the line of File the failed statement starts on; 0 when unknown
	Statement string // the failed statement, trimmed; "" when unknown
	Err       error  // the goose error
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
	rec := &stmtRecorder{}
	p, err := goose.NewProvider(gd, db, fsys, goose.WithVerbose(true), goose.WithSlog(slog.New(rec)))
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
	stmt, source := rec.last()
	if source != "" && source == filepath.Base(me.File) {
		me.Statement = strings.TrimSpace(stmt)
		if b, rerr := fs.ReadFile(fsys, me.File); rerr == nil {
			me.Line = lineOf(string(b), me.Statement)
		}
	}
	return me
}

// lineOf returns the line of text on which stmt starts, or 0.
func lineOf(text, stmt string) int {
	first, _, _ := strings.Cut(stmt, "\n")
	first = strings.TrimSpace(first)
	if first == "" {
		return 0
	}
	for i, l := range strings.Split(text, "\n") {
		if strings.TrimSpace(l) == first {
			return i + 1
		}
	}
	if i := strings.Index(text, first); i >= 0 {
		return strings.Count(text[:i], "\n") + 1
	}
	return 0
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

// stmtRecorder is a slog handler that keeps the statement goose last
// announced it would execute.
type stmtRecorder struct {
	mu     sync.Mutex
	stmt   string
	source string
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
		r.stmt, r.source = stmt, source
		r.mu.Unlock()
	}
	return nil
}

func (r *stmtRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *stmtRecorder) WithGroup(string) slog.Handler      { return r }

func (r *stmtRecorder) last() (stmt, source string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stmt, r.source
}
