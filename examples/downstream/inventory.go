// Package inventory is a small stock and order service: products with a
// stock level, customers, and orders that take stock in one transaction.
// It runs on SQLite, PostgreSQL and MySQL alike.
//
// It stands for a project that adopts dbharness for its tests: the tests
// of this package use dbtest, fixtures, golden snapshots and a scenario
// file, and nothing else of dbharness.
package inventory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Errors of the store, matched with errors.Is.
var (
	ErrUnknownProduct  = errors.New("inventory: no such product")
	ErrUnknownCustomer = errors.New("inventory: no such customer")
	ErrUnknownOrder    = errors.New("inventory: no such order")
	ErrOutOfStock      = errors.New("inventory: out of stock")
	ErrInvalid         = errors.New("inventory: invalid argument")
)

// OutOfStockError says which product an order wanted more of than there
// was. It matches [ErrOutOfStock].
type OutOfStockError struct {
	SKU        string
	Want, Have int
}

// Error says what was short.
func (e *OutOfStockError) Error() string {
	return fmt.Sprintf("inventory: %s: %d wanted, %d in stock", e.SKU, e.Want, e.Have)
}

// Is makes errors.Is(err, ErrOutOfStock) hold.
func (e *OutOfStockError) Is(target error) bool { return target == ErrOutOfStock }

// Store keeps products, customers and orders in a database.
type Store struct {
	db      *sql.DB
	tx      *sql.Tx // when set, every operation runs in it
	dialect string
	now     func() time.Time
}

// New returns a store on db, whose SQL dialect is "sqlite", "postgres" or
// "mysql".
func New(db *sql.DB, dialect string) (*Store, error) {
	switch dialect {
	case "sqlite", "postgres", "mysql":
	default:
		return nil, fmt.Errorf("%w: dialect %q (want sqlite, postgres or mysql)", ErrInvalid, dialect)
	}
	if db == nil {
		return nil, fmt.Errorf("%w: nil database", ErrInvalid)
	}
	return &Store{db: db, dialect: dialect, now: time.Now}, nil
}

// WithTx returns a store whose operations run in the caller's
// transaction, which the caller commits or rolls back.
func (s *Store) WithTx(tx *sql.Tx) *Store {
	c := *s
	c.tx = tx
	return &c
}

// q is where statements run: the caller's transaction, or the pool.
func (s *Store) q() execer {
	if s.tx != nil {
		return s.tx
	}
	return s.db
}

// begin starts a transaction for an operation of several statements: the
// caller's, when there is one (then done does nothing: the caller
// commits), or a new one.
func (s *Store) begin(ctx context.Context) (tx *sql.Tx, done func(commit bool) error, err error) {
	if s.tx != nil {
		return s.tx, func(bool) error { return nil }, nil
	}
	tx, err = s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	return tx, func(commit bool) error {
		if commit {
			return tx.Commit()
		}
		return tx.Rollback()
	}, nil
}

// Product is an article for sale.
type Product struct {
	ID         int64
	SKU        string
	Name       string
	PriceCents int64
	Stock      int
}

// Line is one line of an order: how many of which product.
type Line struct {
	SKU string
	Qty int
}

// Order is a placed order.
type Order struct {
	ID         int64
	CustomerID int64
	Status     string // "placed" or "cancelled"
	TotalCents int64
	PlacedAt   time.Time
}

// AddProduct adds a product with an initial stock.
func (s *Store) AddProduct(ctx context.Context, p Product) (Product, error) {
	if p.SKU == "" || p.Name == "" || p.PriceCents < 0 || p.Stock < 0 {
		return Product{}, fmt.Errorf("%w: product %+v", ErrInvalid, p)
	}
	id, err := s.insert(ctx, s.q(), "INSERT INTO products (sku, name, price_cents, stock) VALUES (?, ?, ?, ?)",
		p.SKU, p.Name, p.PriceCents, p.Stock)
	if err != nil {
		return Product{}, fmt.Errorf("inventory: adding %s: %w", p.SKU, err)
	}
	p.ID = id
	return p, nil
}

// Stock returns how many of a product are in stock.
func (s *Store) Stock(ctx context.Context, sku string) (int, error) {
	var n int
	err := s.q().QueryRowContext(ctx, s.bind("SELECT stock FROM products WHERE sku = ?"), sku).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("%w: %s", ErrUnknownProduct, sku)
	}
	return n, err
}

// Restock adds qty to a product's stock.
func (s *Store) Restock(ctx context.Context, sku string, qty int) error {
	if qty <= 0 {
		return fmt.Errorf("%w: restock %s by %d", ErrInvalid, sku, qty)
	}
	res, err := s.q().ExecContext(ctx, s.bind("UPDATE products SET stock = stock + ? WHERE sku = ?"), qty, sku)
	if err != nil {
		return fmt.Errorf("inventory: restocking %s: %w", sku, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("%w: %s", ErrUnknownProduct, sku)
	}
	return nil
}

// PlaceOrder places an order for the customer with that email: in one
// transaction it takes the stock of every line and records the order and
// its lines at the products' current prices. When a line wants more than
// the stock, nothing is changed and the error is an *[OutOfStockError].
func (s *Store) PlaceOrder(ctx context.Context, email string, lines ...Line) (Order, error) {
	if len(lines) == 0 {
		return Order{}, fmt.Errorf("%w: an order without lines", ErrInvalid)
	}
	tx, done, err := s.begin(ctx)
	if err != nil {
		return Order{}, err
	}
	committed := false
	defer func() {
		if !committed {
			done(false)
		}
	}()

	o := Order{Status: "placed", PlacedAt: s.now().UTC().Truncate(time.Microsecond)}
	err = tx.QueryRowContext(ctx, s.bind("SELECT id FROM customers WHERE email = ?"), email).Scan(&o.CustomerID)
	if errors.Is(err, sql.ErrNoRows) {
		return Order{}, fmt.Errorf("%w: %s", ErrUnknownCustomer, email)
	} else if err != nil {
		return Order{}, err
	}
	type taken struct {
		product, price int64
		qty            int
	}
	var took []taken
	for _, l := range lines {
		if l.Qty <= 0 {
			return Order{}, fmt.Errorf("%w: %d of %s", ErrInvalid, l.Qty, l.SKU)
		}
		var t taken
		var stock int
		err := tx.QueryRowContext(ctx, s.bind("SELECT id, price_cents, stock FROM products WHERE sku = ?"+s.forUpdate()), l.SKU).
			Scan(&t.product, &t.price, &stock)
		if errors.Is(err, sql.ErrNoRows) {
			return Order{}, fmt.Errorf("%w: %s", ErrUnknownProduct, l.SKU)
		} else if err != nil {
			return Order{}, err
		}
		if stock < l.Qty {
			return Order{}, &OutOfStockError{SKU: l.SKU, Want: l.Qty, Have: stock}
		}
		if _, err := tx.ExecContext(ctx, s.bind("UPDATE products SET stock = stock - ? WHERE id = ?"), l.Qty, t.product); err != nil {
			return Order{}, err
		}
		t.qty = l.Qty
		o.TotalCents += t.price * int64(l.Qty)
		took = append(took, t)
	}
	o.ID, err = s.insert(ctx, tx, "INSERT INTO orders (customer_id, status, total_cents, placed_at) VALUES (?, ?, ?, ?)",
		o.CustomerID, o.Status, o.TotalCents, o.PlacedAt)
	if err != nil {
		return Order{}, fmt.Errorf("inventory: recording the order: %w", err)
	}
	for _, t := range took {
		if _, err := tx.ExecContext(ctx, s.bind("INSERT INTO order_lines (order_id, product_id, qty, price_cents) VALUES (?, ?, ?, ?)"),
			o.ID, t.product, t.qty, t.price); err != nil {
			return Order{}, fmt.Errorf("inventory: recording the order's lines: %w", err)
		}
	}
	committed = true
	return o, done(true)
}

// CancelOrder cancels a placed order and puts its lines back in stock.
// Cancelling a cancelled order does nothing.
func (s *Store) CancelOrder(ctx context.Context, id int64) error {
	tx, done, err := s.begin(ctx)
	if err != nil {
		return err
	}
	committed := false
	defer func() {
		if !committed {
			done(false)
		}
	}()
	var status string
	err = tx.QueryRowContext(ctx, s.bind("SELECT status FROM orders WHERE id = ?"+s.forUpdate()), id).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %d", ErrUnknownOrder, id)
	} else if err != nil {
		return err
	}
	if status == "cancelled" {
		committed = true
		return done(true)
	}
	if _, err := tx.ExecContext(ctx, s.bind(`UPDATE products SET stock = stock +
		(SELECT COALESCE(SUM(qty), 0) FROM order_lines WHERE order_lines.order_id = ? AND order_lines.product_id = products.id)`), id); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, s.bind("UPDATE orders SET status = 'cancelled' WHERE id = ?"), id); err != nil {
		return err
	}
	committed = true
	return done(true)
}

// LowStock lists the SKUs with fewer than threshold in stock, in order.
// It is a report that a nightly job runs on a pool of its own.
func LowStock(ctx context.Context, pool *sql.DB, threshold int) ([]string, error) {
	rows, err := pool.QueryContext(ctx, "SELECT sku FROM products WHERE stock < "+strconv.Itoa(threshold)+" ORDER BY sku")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var sku string
		if err := rows.Scan(&sku); err != nil {
			return nil, err
		}
		out = append(out, sku)
	}
	return out, rows.Err()
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// insert runs an INSERT and returns the new row's id.
func (s *Store) insert(ctx context.Context, q execer, query string, args ...any) (int64, error) {
	if s.dialect == "postgres" {
		var id int64
		err := q.QueryRowContext(ctx, s.bind(query)+" RETURNING id", args...).Scan(&id)
		return id, err
	}
	res, err := q.ExecContext(ctx, s.bind(query), args...)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// bind writes the placeholders of query ("?") as the dialect wants them.
func (s *Store) bind(query string) string {
	if s.dialect != "postgres" {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// forUpdate locks the rows a SELECT reads, where the dialect can: SQLite
// has a single writer and no FOR UPDATE.
func (s *Store) forUpdate() string {
	if s.dialect == "sqlite" {
		return ""
	}
	return " FOR UPDATE"
}
