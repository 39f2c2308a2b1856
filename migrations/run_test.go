package migrations_test

import (
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/easyautoml/dbharness/migrations"
)

func TestDialectFS(t *testing.T) {
	folders := fstest.MapFS{
		"sqlite/00001_a.sql":   {Data: []byte("sqlite")},
		"postgres/00001_a.sql": {Data: []byte("postgres")},
	}
	flat := fstest.MapFS{
		"00001_a.sql":        {Data: []byte("flat")},
		"sqlite/00001_a.sql": {Data: []byte("sqlite")},
	}
	cases := []struct {
		name    string
		fsys    fs.FS
		dialect string
		want    string // content of 00001_a.sql in the result; "" for an error
		reason  string
	}{
		{"folder", folders, "sqlite", "sqlite", "a dialect folder is read when the root has no .sql files"},
		{"alias", folders, "pgx", "postgres", "aliases name the same folder"},
		{"flat wins", flat, "sqlite", "flat", "top-level files mean the same files for every dialect"},
		{"missing folder", folders, "mysql", "", "folders for other dialects only is a mistake, not an empty schema"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := migrations.DialectFS(c.fsys, c.dialect)
			if c.want == "" {
				if err == nil || !strings.Contains(err.Error(), "postgres, sqlite") || !strings.Contains(err.Error(), "mysql") {
					t.Fatalf("DialectFS = %v; want an error naming the folders and mysql because %s", err, c.reason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, err := fs.ReadFile(got, "00001_a.sql")
			if err != nil || string(b) != c.want {
				t.Fatalf("read %q, %v; want %q because %s", b, err, c.want, c.reason)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	sub, err := fs.Sub(fstest.MapFS{"x/00001_a.sql": {}}, "x")
	if err != nil {
		t.Fatal(err)
	}
	if got := migrations.Describe(sub); !strings.HasPrefix(got, "x of ") {
		t.Errorf("Describe(fs.Sub(..., \"x\")) = %q; want the folder named", got)
	}
}
