// Package migrations holds the inventory schema as goose migrations, one
// set per SQL dialect, embedded in the binary.
package migrations

import (
	"embed"
	"fmt"
	"io/fs"
)

//go:embed sqlite postgres mysql
var files embed.FS

// FS returns the migrations of dialect ("sqlite", "postgres" or "mysql"),
// with the files at its root, as goose and dbtest.WithDialectMigrations
// want them.
func FS(dialect string) (fs.FS, error) {
	switch dialect {
	case "sqlite", "postgres", "mysql":
		return fs.Sub(files, dialect)
	}
	return nil, fmt.Errorf("migrations: no migrations for dialect %q", dialect)
}
