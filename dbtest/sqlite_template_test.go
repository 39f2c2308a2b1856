package dbtest

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"
)

// TestTemplateCacheRoundTrip: a migrated template written by one process
// is what the next one reads, byte for byte; a damaged file is ignored.
func TestTemplateCacheRoundTrip(t *testing.T) {
	dir := t.TempDir()
	img := append([]byte("SQLite format 3\x00"), bytes.Repeat([]byte{7}, 4080)...)
	if _, ok := readTemplate(dir, "k1"); ok {
		t.Fatal("read a template from an empty directory")
	}
	writeTemplate(dir, "k1", img)
	got, ok := readTemplate(dir, "k1")
	if !ok || !bytes.Equal(got, img) {
		t.Fatalf("read back %d bytes (ok=%v), want the %d written", len(got), ok, len(img))
	}
	if _, ok := readTemplate(dir, "k2"); ok {
		t.Fatal("another key read the template of k1")
	}
	path := templateFile(dir, "k1")
	b, _ := os.ReadFile(path)
	b[100] ^= 1
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok := readTemplate(dir, "k1"); ok {
		t.Fatal("a damaged template was read")
	}
	if err := os.WriteFile(path, img[:50], 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok := readTemplate(dir, "k1"); ok {
		t.Fatal("a truncated template was read")
	}
	if _, ok := readTemplate("", "k1"); ok {
		t.Fatal("read a template with the cache off")
	}
}

// TestTemplateCachePruned: the directory keeps the most recently used
// templates only, and drops temporary files a dead writer left.
func TestTemplateCachePruned(t *testing.T) {
	dir := t.TempDir()
	img := append([]byte("SQLite format 3\x00"), make([]byte, 100)...)
	old := time.Now().Add(-2 * time.Hour)
	for i := range templateKeep + 3 {
		key := string(rune('a'+i%26)) + string(rune('a'+i/26))
		writeTemplate(dir, key, img)
		at := old.Add(time.Duration(i) * time.Minute)
		os.Chtimes(templateFile(dir, key), at, at)
	}
	stale := filepath.Join(dir, "tmp-dead")
	os.WriteFile(stale, img, 0o600)
	os.Chtimes(stale, old, old)
	writeTemplate(dir, "newest", img)
	entries, _ := os.ReadDir(dir)
	if len(entries) != templateKeep {
		t.Fatalf("%d files left, want %d", len(entries), templateKeep)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Error("the stale temporary file is still there")
	}
	if _, ok := readTemplate(dir, "newest"); !ok {
		t.Error("the newest template was pruned")
	}
	if _, ok := readTemplate(dir, "aa"); ok {
		t.Error("the oldest template was kept")
	}
}

// TestTemplateFromCacheIsMigrated: a provider of a new process (here, a
// provider with no template in memory) loads the template the first one
// stored instead of migrating, and gets the same database.
func TestTemplateFromCacheIsMigrated(t *testing.T) {
	if templateCache() == "" {
		t.Skip("the compilation cache is off (DBTEST_WAZERO_CACHE=off): no templates on disk")
	}
	schema := fstest.MapFS{"001_t.sql": {Data: []byte("-- +goose Up\nCREATE TABLE cached_t (id INTEGER PRIMARY KEY);\n-- " +
		time.Now().Format(time.RFC3339Nano) + "\n-- +goose Down\nDROP TABLE cached_t;\n")}}
	cfg := &config{migrations: func(string) (fs fs.FS, err error) { return schema, nil }}
	m, err := migrationsFor(cfg, SQLite)
	if err != nil {
		t.Fatal(err)
	}
	path := templateFile(templateCache(), m.key)
	t.Cleanup(func() { os.Remove(path) })
	ctx := context.Background()
	first := &sqliteProvider{token: "tmplcache1"}
	img, err := first.template(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no template on disk after migrating: %v", err)
	}
	m.fsFor = func(string) (fs.FS, error) {
		t.Error("the second provider migrated instead of loading the cached template")
		return schema, nil
	}
	second := &sqliteProvider{token: "tmplcache2"}
	again, err := second.template(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(img, again) {
		t.Fatal("the cached template differs from the migrated one")
	}
}
