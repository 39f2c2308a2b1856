package migrations_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"

	_ "github.com/ncruces/go-sqlite3/driver"
	_ "github.com/ncruces/go-sqlite3/embed"
	_ "github.com/ncruces/go-sqlite3/vfs/memdb"

	"github.com/easyautoml/dbharness/migrations"
)

func ExampleNewProvider() {
	ctx := context.Background()
	db, err := sql.Open("sqlite3", "file:/migrations-example?vfs=memdb&_pragma=foreign_keys(1)")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	p, err := migrations.NewProvider("sqlite", db)
	if err != nil {
		log.Fatal(err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range results {
		fmt.Println(r.Source.Version, r.Source.Path)
	}
	again, _ := p.Up(ctx)
	fmt.Println("second Up applied", len(again))
	// Output:
	// 1 00001_accounts.sql
	// 2 00002_machines.sql
	// 3 00003_works.sql
	// 4 00004_billing_support.sql
	// second Up applied 0
}
