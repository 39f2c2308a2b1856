package dbtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"
)

// Migrated SQLite templates on disk. Migrating the template costs a test
// binary more than the rest of its start once SQLite is compiled (goose
// runs each migration in a transaction of its own), and it gives the same
// bytes every time for the same migrations. So the image of a migrated
// template is kept in the directory of the wazero compilation cache, named
// by a hash of the migration files (the key of their pool), of the SQLite
// module and of this format, like pgtestdb's template per Migrator.Hash.
// Another process with the same migrations loads it instead of migrating.
//
// A file is the database image followed by its SHA-256: one that does not
// match is ignored (and rewritten). Files are written under a temporary
// name and renamed, so that test binaries running at once never read half
// a file. The directory keeps the most recently used templateKeep files.

// templateFormat changes when what a cached template holds changes.
const templateFormat = "1"

// templateKeep bounds the templates kept on disk.
const templateKeep = 64

// templateDirName is the subdirectory of the cache directory.
const templateDirName = "dbtest-sqlite-templates"

// sqliteModule names the SQLite module in the template key: its version
// and checksum as the build records them.
var sqliteModule = sync.OnceValue(func() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, d := range info.Deps {
			if d.Path == "github.com/ncruces/go-sqlite3" {
				if d.Replace != nil {
					d = d.Replace
				}
				return d.Path + "@" + d.Version + " " + d.Sum
			}
		}
	}
	return "unknown"
})

// templateCache returns the directory of cached templates, or "" when the
// compilation cache is off (DBTEST_WAZERO_CACHE=off) or not dbtest's.
func templateCache() string {
	dir, err := InitSQLite()
	if err != nil || dir == "" {
		return ""
	}
	return filepath.Join(dir, templateDirName)
}

// templateFile is where the template of migration key lives in dir.
func templateFile(dir, key string) string {
	h := sha256.Sum256([]byte(strings.Join([]string{"dbtest sqlite template", templateFormat, sqliteModule(), key}, "\x00")))
	return filepath.Join(dir, hex.EncodeToString(h[:16])+".db")
}

// sqliteHeader starts every SQLite database file.
var sqliteHeader = []byte("SQLite format 3\x00")

// readTemplate returns the cached image of migration key, if there is a
// sound one.
func readTemplate(dir, key string) ([]byte, bool) {
	if dir == "" {
		return nil, false
	}
	path := templateFile(dir, key)
	b, err := os.ReadFile(path)
	if err != nil || len(b) < sha256.Size+len(sqliteHeader) {
		return nil, false
	}
	img, sum := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	if got := sha256.Sum256(img); !bytes.Equal(got[:], sum) || !bytes.HasPrefix(img, sqliteHeader) {
		return nil, false
	}
	now := time.Now()
	os.Chtimes(path, now, now) // most recently used
	return img, true
}

// writeTemplate caches the image of migration key. A cache that cannot be
// written is no error: the next process migrates again.
func writeTemplate(dir, key string, img []byte) {
	if dir == "" {
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return
	}
	f, err := os.CreateTemp(dir, "tmp-*")
	if err != nil {
		return
	}
	sum := sha256.Sum256(img)
	_, werr := f.Write(append(img[:len(img):len(img)], sum[:]...))
	if cerr := f.Close(); werr != nil || cerr != nil || os.Rename(f.Name(), templateFile(dir, key)) != nil {
		os.Remove(f.Name())
		return
	}
	pruneTemplates(dir)
}

// pruneTemplates removes all but the templateKeep most recently used
// templates, and temporary files older than an hour (left by a process
// that died while writing).
func pruneTemplates(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	type file struct {
		path string
		mod  time.Time
	}
	var files []file
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		switch {
		case strings.HasPrefix(e.Name(), "tmp-"):
			if time.Since(info.ModTime()) > time.Hour {
				os.Remove(path)
			}
		case strings.HasSuffix(e.Name(), ".db"):
			files = append(files, file{path, info.ModTime()})
		}
	}
	if len(files) <= templateKeep {
		return
	}
	sort.Slice(files, func(i, j int) bool { return files[i].mod.After(files[j].mod) })
	for _, f := range files[templateKeep:] {
		os.Remove(f.path)
	}
}
