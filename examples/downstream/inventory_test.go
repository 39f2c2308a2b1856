package inventory_test

import (
	"database/sql"
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/fixtures"

	inventory "example.com/inventory"
	"example.com/inventory/migrations"
)

// TestMain drops the databases dbtest made once the tests are done.
func TestMain(m *testing.M) { dbtest.Main(m) }

// each runs fn on every backend, on the inventory schema, with the
// catalogue loaded: every test starts from the same rows, and everything
// it writes is rolled back when it ends. Each statement gets a savepoint
// of its own (dbtest.WithStatementSavepoints): on PostgreSQL a statement
// that fails would otherwise abort the test's whole transaction, where
// SQLite and MySQL go on.
func each(t *testing.T, fn func(t *testing.T, db *dbtest.DB, store *inventory.Store, ids fixtures.Loaded)) {
	t.Helper()
	catalogue, err := fixtures.ParseFS(os.DirFS("testdata/fixtures"), "*.yml")
	if err != nil {
		t.Fatal(err)
	}
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ids := fixtures.MustLoad(t, db, catalogue)
		store, err := inventory.New(db.DB, db.Dialect())
		if err != nil {
			t.Fatal(err)
		}
		fn(t, db, store, ids)
	}, dbtest.WithDialectMigrations(migrations.FS), dbtest.WithStatementSavepoints())
}

// stockLevels snapshots every product's stock, by SKU.
func stockLevels(t *testing.T, db *dbtest.DB) fixtures.Rows {
	t.Helper()
	return fixtures.MustSnapshot(t, db, "products", fixtures.OrderBy("sku"), fixtures.IgnoreColumns("id", "name", "price_cents"))
}

func TestPlaceOrder(t *testing.T) {
	each(t, func(t *testing.T, db *dbtest.DB, store *inventory.Store, ids fixtures.Loaded) {
		o, err := store.PlaceOrder(t.Context(), "grace@example.com",
			inventory.Line{SKU: "B-100", Qty: 4}, inventory.Line{SKU: "W-300", Qty: 1})
		if err != nil {
			t.Fatal(err)
		}
		grace, _ := ids.ID("customers.grace")
		if o.CustomerID != grace || o.TotalCents != 4*25+1250 || o.Status != "placed" {
			t.Errorf("order %+v: want grace's (%d), 1350 cents, placed", o, grace)
		}
		// The same golden files on every backend: -update rewrites them.
		fixtures.AssertGolden(t, "place_order/stock", stockLevels(t, db))
		lines, err := fixtures.Query(t.Context(), db, `SELECT p.sku, l.qty, l.price_cents
			FROM order_lines l JOIN products p ON p.id = l.product_id ORDER BY l.order_id, p.sku`)
		if err != nil {
			t.Fatal(err)
		}
		fixtures.AssertGolden(t, "place_order/lines", lines)
	})
}

func TestOutOfStockChangesNothing(t *testing.T) {
	each(t, func(t *testing.T, db *dbtest.DB, store *inventory.Store, _ fixtures.Loaded) {
		before := stockLevels(t, db)
		_, err := store.PlaceOrder(t.Context(), "ada@example.com",
			inventory.Line{SKU: "N-200", Qty: 20}, inventory.Line{SKU: "W-300", Qty: 6})
		var oos *inventory.OutOfStockError
		if !errors.Is(err, inventory.ErrOutOfStock) || !errors.As(err, &oos) || oos.SKU != "W-300" || oos.Have != 5 {
			t.Fatalf("PlaceOrder: %v; want W-300 out of stock with 5 left", err)
		}
		// The store's transaction is a savepoint inside the test's: its
		// rollback undid the nuts already taken, and only that.
		fixtures.AssertRows(t, stockLevels(t, db), before)
		if n := fixtures.MustSnapshot(t, db, "orders"); len(n.Values) != 1 {
			t.Errorf("%d orders, want the catalogue's 1", len(n.Values))
		}
	})
}

func TestCancelOrderRestocks(t *testing.T) {
	each(t, func(t *testing.T, db *dbtest.DB, store *inventory.Store, ids fixtures.Loaded) {
		first, _ := ids.ID("orders.ada_first")
		if err := store.CancelOrder(t.Context(), first); err != nil {
			t.Fatal(err)
		}
		if n, err := store.Stock(t.Context(), "B-100"); err != nil || n != 50 {
			t.Errorf("B-100 stock %d, %v; want 40 + the 10 of the cancelled order", n, err)
		}
		if err := store.CancelOrder(t.Context(), first); err != nil {
			t.Errorf("cancelling twice: %v", err)
		}
		if n, _ := store.Stock(t.Context(), "B-100"); n != 50 {
			t.Errorf("B-100 stock %d after a second cancel, want 50", n)
		}
		if err := store.CancelOrder(t.Context(), first+1000); !errors.Is(err, inventory.ErrUnknownOrder) {
			t.Errorf("cancelling no order: %v", err)
		}
	})
}

func TestAddAndRestock(t *testing.T) {
	each(t, func(t *testing.T, db *dbtest.DB, store *inventory.Store, _ fixtures.Loaded) {
		if _, err := store.AddProduct(t.Context(), inventory.Product{SKU: "S-500", Name: "Washer M8", PriceCents: 5, Stock: 100}); err != nil {
			t.Fatal(err)
		}
		if err := store.Restock(t.Context(), "S-500", 50); err != nil {
			t.Fatal(err)
		}
		if err := store.Restock(t.Context(), "Z-000", 1); !errors.Is(err, inventory.ErrUnknownProduct) {
			t.Errorf("restocking no product: %v", err)
		}
		// A call expected to fail, and the test goes on: on PostgreSQL
		// the failed insert is rolled back to its own savepoint (see
		// each), as SQLite and MySQL roll back a failed statement.
		if _, err := store.AddProduct(t.Context(), inventory.Product{SKU: "B-100", Name: "dup", PriceCents: 1}); err == nil {
			t.Error("a second product B-100 was accepted")
		}
		if err := store.Restock(t.Context(), "S-500", 10); err != nil {
			t.Fatal(err)
		}
		fixtures.AssertRows(t, stockLevels(t, db), fixtures.Rows{
			Columns: []string{"sku", "stock"},
			Values:  [][]any{{"B-100", int64(40)}, {"D-400", int64(0)}, {"N-200", int64(120)}, {"S-500", int64(160)}, {"W-300", int64(5)}},
		})
	})
}

// TestReportOnItsOwnPool: a nightly report opens a pool of its own. Given
// db.DriverName() and db.DSN(), that pool shares the test's transaction
// and sees the test's uncommitted rows.
func TestReportOnItsOwnPool(t *testing.T) {
	each(t, func(t *testing.T, db *dbtest.DB, store *inventory.Store, _ fixtures.Loaded) {
		if _, err := store.PlaceOrder(t.Context(), "ada@example.com", inventory.Line{SKU: "W-300", Qty: 4}); err != nil {
			t.Fatal(err)
		}
		pool, err := sql.Open(db.DriverName(), db.DSN())
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		low, err := inventory.LowStock(t.Context(), pool, 2)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"D-400", "W-300"}; !slices.Equal(low, want) {
			t.Errorf("low stock %v, want %v", low, want)
		}
	})
}

// TestSecondConnectionLockBug is the bug dbharness explains: on SQLite a
// job that writes through a connection of its own waits on the test's
// write lock, which the test holds until it ends. dbtest fails the write
// at once, with a report that says so.
func TestSecondConnectionLockBug(t *testing.T) {
	db := dbtest.Open(t, dbtest.SQLite, dbtest.WithDialectMigrations(migrations.FS))
	store, err := inventory.New(db.DB, db.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.AddProduct(t.Context(), inventory.Product{SKU: "B-100", Name: "Hex bolt M8", PriceCents: 25, Stock: 1}); err != nil {
		t.Fatal(err)
	}
	own, err := sql.Open(db.RawDriverName(), db.RawDSN()) // the bug: a separate connection
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	job, err := inventory.New(own, db.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	_, err = job.AddProduct(t.Context(), inventory.Product{SKU: "N-200", Name: "Hex nut M8", PriceCents: 10})
	var le *dbtest.LockError
	if !errors.Is(err, dbtest.ErrLocked) || !errors.As(err, &le) || !le.SelfDeadlock() {
		t.Fatalf("the separate write returned %v; want a self-deadlock explained", err)
	}
	t.Logf("as expected:\n%v", err)
}
