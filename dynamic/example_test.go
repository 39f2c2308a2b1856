package dynamic_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	_ "github.com/ncruces/go-sqlite3/driver"
	_ "github.com/ncruces/go-sqlite3/embed"
	_ "github.com/ncruces/go-sqlite3/vfs/memdb"

	"github.com/easyautoml/dbharness/dynamic"
)

func ExampleReadCSV() {
	f, err := dynamic.ReadCSV(strings.NewReader("city,age,remote,joined\nLyon,31,true,2024-05-01\nOslo,,false,2023-11-20 08:30:00\n"))
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
	// joined timestamp [2024-05-01 00:00:00 +0000 UTC 2023-11-20 08:30:00 +0000 UTC]
}

func ExampleReadCSV_error() {
	_, err := dynamic.ReadCSV(strings.NewReader("id,score\n1,2.5\n2,high\n"), dynamic.WithType("score", dynamic.Float))
	fmt.Println(err)
	// Output:
	// dynamic: CSV line 3, column "score": "high" is not a number
}

func ExampleAppend() {
	ctx := context.Background()
	db, err := sql.Open("sqlite3", "file:/example_append?vfs=memdb")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()

	first, _ := dynamic.ReadCSV(strings.NewReader("x,y\n1,a\n2,b\n"))
	res, err := dynamic.Append(ctx, db, "sqlite", "machine_1_data", first)
	fmt.Println(res.Rows, res.Created, err)

	// A later frame brings a new column: the table grows one.
	second, _ := dynamic.ReadCSV(strings.NewReader("x,y,z\n3,c,0.5\n"))
	res, err = dynamic.Append(ctx, db, "sqlite", "machine_1_data", second)
	fmt.Println(res.Rows, res.AddedColumns, err)

	f, _ := dynamic.Read(ctx, db, "sqlite", "machine_1_data")
	fmt.Println(f.Names())
	for _, row := range f.Rows() {
		fmt.Println(row)
	}
	// Output:
	// 2 true <nil>
	// 1 [z] <nil>
	// [x y z]
	// [1 a <nil>]
	// [2 b <nil>]
	// [3 c 0.5]
}

// In the caller's transaction, the rows are the caller's to commit or roll
// back, and no second connection is ever opened.
func ExampleAppend_transaction() {
	ctx := context.Background()
	db, err := sql.Open("sqlite3", "file:/example_append_tx?vfs=memdb")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // a second connection would wait forever

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	f, _ := dynamic.FromRows([]string{"id", "label"}, [][]any{{1, "cat"}, {2, "dog"}})
	res, err := dynamic.Append(ctx, tx, "sqlite", "labels", f)
	fmt.Println(res.Rows, err)
	n, _ := dynamic.Count(ctx, tx, "sqlite", "labels")
	fmt.Println("inside:", n)
	tx.Rollback()

	_, err = dynamic.Count(ctx, db, "sqlite", "labels")
	fmt.Println("after rollback:", err)
	// Output:
	// 2 <nil>
	// inside: 2
	// after rollback: dynamic: no such table: labels
}
