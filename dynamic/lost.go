package dynamic

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrConnectionLost is matched by errors.Is when an append failed because
// its connection to the database was lost: the server ended the session
// (pg_terminate_backend, KILL), shut down or restarted, or the network
// failed. The error is a *[ConnectionLostError]. Append never retries it.
var ErrConnectionLost = errors.New("dynamic: connection lost")

// ConnectionLostError is the error of an append whose connection was lost.
type ConnectionLostError struct {
	// DuringCommit tells that the connection was lost while the commit was
	// under way: the database may or may not have committed the rows, and
	// the table must be read before they are appended again. Otherwise
	// the connection was lost before the commit: the database rolls back
	// the open transaction (the caller's, in a *sql.Tx), and none of the
	// append's rows are in.
	DuringCommit bool
	// Err is the driver's error, with what the append did about it.
	Err error
}

// Error says when the connection was lost and what that means for the
// rows.
func (e *ConnectionLostError) Error() string {
	if e.DuringCommit {
		return fmt.Sprintf("the connection to the database was lost during the commit: the rows may or may not be in; read the table before appending them again: %v", e.Err)
	}
	return fmt.Sprintf("the connection to the database was lost before the commit: the database rolls back the transaction, and none of the append's rows are in: %v", e.Err)
}

// Unwrap returns [ErrConnectionLost] and the driver's error.
func (e *ConnectionLostError) Unwrap() []error { return []error{ErrConnectionLost, e.Err} }

// lost returns err as a *ConnectionLostError when it says that the
// connection was lost, and ctx did not end (a cancelled context closes
// the connection on purpose).
func lost(ctx context.Context, err error, duringCommit bool) error {
	if err == nil || ctx.Err() != nil || !connectionLost(err) {
		return err
	}
	var cl *ConnectionLostError
	if errors.As(err, &cl) {
		return err
	}
	return &ConnectionLostError{DuringCommit: duringCommit, Err: err}
}

// connectionLost reports whether err is the error of a connection that the
// server ended or that broke: PostgreSQL's admin_shutdown, crash_shutdown
// and cannot_connect_now (57P01-57P03) and connection exceptions (class
// 08); MariaDB's "connection was killed" (1927) and MySQL's "server
// shutdown in progress" (1053); a connection closed or broken under the
// driver.
func connectionLost(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", len(pe.Code) == 5 && pe.Code[:2] == "08":
			return true
		}
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) && (me.Number == 1927 || me.Number == 1053) {
		return true
	}
	// *net.OpError, not net.Error: SQLite's errors have Timeout and
	// Temporary methods too.
	var oe *net.OpError
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &oe)
}
