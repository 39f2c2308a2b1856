package dbtest

import (
	"context"
	"database/sql/driver"
	"errors"
	"testing"
)

// skippingConn is a driver connection that runs nothing itself, as
// go-sql-driver/mysql does with arguments unless interpolateParams is set:
// database/sql then prepares the statement.
type skippingConn struct{ driver.Conn }

func (skippingConn) ExecContext(context.Context, string, []driver.NamedValue) (driver.Result, error) {
	return nil, driver.ErrSkip
}

func (skippingConn) QueryContext(context.Context, string, []driver.NamedValue) (driver.Rows, error) {
	return nil, driver.ErrSkip
}

// TestWatchEndsOnErrSkip: every statement watch that a raw connection
// starts ends, also when the driver declines the statement with ErrSkip. A
// watch left running looked for blockers on the server every 200 ms for
// the rest of the process: on MySQL, one per statement with arguments,
// until the lock-table queries starved the server.
func TestWatchEndsOnErrSkip(t *testing.T) {
	started, ended := 0, 0
	c := &reportingConn{Conn: skippingConn{}, explain: func(err error) error { return err },
		hook: func(ctx context.Context, _ string) (context.Context, func(error) error) {
			started++
			return ctx, func(err error) error { ended++; return err }
		}}
	args := []driver.NamedValue{{Ordinal: 1, Value: int64(1)}}
	if _, err := c.ExecContext(context.Background(), "UPDATE t SET x = ?", args); !errors.Is(err, driver.ErrSkip) {
		t.Fatalf("ExecContext: %v, want ErrSkip passed on", err)
	}
	if _, err := c.QueryContext(context.Background(), "SELECT x FROM t WHERE y = ?", args); !errors.Is(err, driver.ErrSkip) {
		t.Fatalf("QueryContext: %v, want ErrSkip passed on", err)
	}
	if started != 2 || ended != started {
		t.Errorf("%d watches started, %d ended", started, ended)
	}
}
