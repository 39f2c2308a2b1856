package inventory_test

import (
	"io/fs"
	"os"
	"testing"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/harness"

	"example.com/inventory/migrations"
)

// TestScenarios runs the scenario files of testdata/scenarios on every
// backend, on the inventory schema.
func TestScenarios(t *testing.T) {
	fsys := os.DirFS("testdata")
	files, err := fs.Glob(fsys, "scenarios/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenario files: %v", err)
	}
	for _, file := range files {
		sc, err := harness.ParseFile(fsys, file)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(sc.Name, func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
				res := harness.Run(t.Context(), db, sc, nil)
				if !res.Passed {
					t.Error(res.Failure())
				}
			}, dbtest.WithDialectMigrations(migrations.FS))
		})
	}
}
