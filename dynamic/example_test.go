package dynamic_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/dynamic"
)

func ExampleReadCSV() {
	f, err := dynamic.ReadCSV(strings.NewReader("city,age,remote\nLyon,31,true\nOslo,,false\n"))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range f.Columns() {
		fmt.Println(c.Name, c.Type, c.Values)
	}
	// Output:
	// city text [Lyon Oslo]
	// age integer [31 <nil>]
	// remote boolean [true false]
}

func ExampleAppend() {
	ctx := context.Background()
	db, err := dbtest.Connect(ctx, dbtest.SQLite, dbtest.WithoutMigrations())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Release(ctx)

	first, _ := dynamic.ReadCSV(strings.NewReader("x,y\n1,a\n2,b\n"))
	res, err := dynamic.Append(ctx, db, db.Dialect(), "machine_1_data", first)
	fmt.Println(res.Rows, res.Created, err)

	// A later frame brings a new column: the table grows one.
	second, _ := dynamic.ReadCSV(strings.NewReader("x,y,z\n3,c,0.5\n"))
	res, err = dynamic.Append(ctx, db, db.Dialect(), "machine_1_data", second)
	fmt.Println(res.Rows, res.AddedColumns, err)

	n, _ := dynamic.Count(ctx, db, db.Dialect(), "machine_1_data")
	fmt.Println("rows:", n)
	// Output:
	// 2 true <nil>
	// 1 [z] <nil>
	// rows: 3
}
