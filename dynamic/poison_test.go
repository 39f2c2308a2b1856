package dynamic

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"
)

// poisonConnector makes connections on which every statement is a lock
// conflict (SQLite BUSY) and whose transactions cannot be rolled back, as
// when the connection broke under a lock error.
type poisonConnector struct {
	opened, closed atomic.Int32
}

func (c *poisonConnector) Connect(context.Context) (driver.Conn, error) {
	c.opened.Add(1)
	return &poisonConn{c}, nil
}

func (c *poisonConnector) Driver() driver.Driver { return nil }

type poisonConn struct{ c *poisonConnector }

func (*poisonConn) Prepare(string) (driver.Stmt, error) { return nil, errors.New("not supported") }
func (p *poisonConn) Close() error                      { p.c.closed.Add(1); return nil }
func (*poisonConn) Begin() (driver.Tx, error)           { return poisonTx{}, nil }
func (*poisonConn) BeginTx(context.Context, driver.TxOptions) (driver.Tx, error) {
	return poisonTx{}, nil
}
func (*poisonConn) QueryContext(context.Context, string, []driver.NamedValue) (driver.Rows, error) {
	return noRows{}, nil // no table yet
}
func (*poisonConn) ExecContext(context.Context, string, []driver.NamedValue) (driver.Result, error) {
	return nil, sqlite3.BUSY
}

type poisonTx struct{}

func (poisonTx) Commit() error   { return nil }
func (poisonTx) Rollback() error { return errors.New("connection lost") }

type noRows struct{}

func (noRows) Columns() []string         { return []string{"name", "type", "column_type"} }
func (noRows) Close() error              { return nil }
func (noRows) Next([]driver.Value) error { return io.EOF }

// TestPoisonedNeverRetried: a lock conflict whose transaction cannot be
// rolled back is not retried, whatever WithRetry allows, and the
// connection is discarded rather than handed out again.
func TestPoisonedNeverRetried(t *testing.T) {
	pc := &poisonConnector{}
	db := sql.OpenDB(pc)
	defer db.Close()
	f, err := FromRows([]string{"x"}, [][]any{{1}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Append(context.Background(), db, "sqlite", "t", f, WithRetry(5, time.Millisecond, time.Millisecond))
	var le *LockedError
	if !errors.As(err, &le) || le.Attempts != 1 || res.Attempts != 1 || !errors.Is(err, sqlite3.BUSY) {
		t.Fatalf("err = %v, Result = %+v; want a lock error after one attempt", err, res)
	}
	if opened, closed := pc.opened.Load(), pc.closed.Load(); opened != 1 || closed != 1 {
		t.Errorf("%d connections opened, %d closed: want the poisoned one discarded", opened, closed)
	}
}
