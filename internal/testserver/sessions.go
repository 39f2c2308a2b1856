package testserver

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Sessions watches and ends the sessions of a PostgreSQL or MySQL server
// from a control connection of its own, to inject faults: a session killed
// in the middle of a statement, a context cancelled once the statement is
// known to run. It works on any server, the shared ones included: it only
// touches the sessions it is given.
type Sessions struct {
	dialect string
	admin   *sql.DB
}

// Querier is what [SessionID] runs on: a *sql.DB, *sql.Tx or *sql.Conn.
type Querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// NewSessions opens a control connection with driver and dsn to a server
// of dialect "postgres" or "mysql".
func NewSessions(dialect, driver, dsn string) (*Sessions, error) {
	if dialect != "postgres" && dialect != "mysql" {
		return nil, fmt.Errorf("testserver: sessions of %q: want postgres or mysql", dialect)
	}
	admin, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, err
	}
	admin.SetMaxOpenConns(1)
	return &Sessions{dialect: dialect, admin: admin}, nil
}

// Close closes the control connection.
func (s *Sessions) Close() error { return s.admin.Close() }

// SessionID returns the server's id of the session q runs on: its backend
// pid on PostgreSQL, its connection id on MySQL.
func SessionID(ctx context.Context, q Querier, dialect string) (int64, error) {
	query := "SELECT pg_backend_pid()"
	if dialect == "mysql" {
		query = "SELECT CONNECTION_ID()"
	}
	var id int64
	err := q.QueryRowContext(ctx, query).Scan(&id)
	return id, err
}

// Activity tells whether session id exists and whether it is running a
// statement now, and which: on PostgreSQL the statement running or, when
// idle, the last one; on MySQL the running one only.
func (s *Sessions) Activity(ctx context.Context, id int64) (found, active bool, stmt string, err error) {
	var state string
	if s.dialect == "postgres" {
		err = s.admin.QueryRowContext(ctx,
			"SELECT coalesce(state, ''), coalesce(query, '') FROM pg_stat_activity WHERE pid = $1", id).Scan(&state, &stmt)
		active = state == "active"
	} else {
		err = s.admin.QueryRowContext(ctx,
			"SELECT COMMAND, COALESCE(INFO, '') FROM information_schema.PROCESSLIST WHERE ID = ?", id).Scan(&state, &stmt)
		active = state == "Query" || state == "Execute" // Execute: a prepared statement
	}
	if err == sql.ErrNoRows {
		return false, false, "", nil
	}
	return err == nil, active, stmt, err
}

// WaitActive polls until session id runs a statement that starts with one
// of prefixes (compared without case), and returns it; or until ctx ends.
func (s *Sessions) WaitActive(ctx context.Context, id int64, prefixes ...string) (string, error) {
	for {
		found, active, stmt, err := s.Activity(ctx, id)
		if err != nil {
			return "", err
		}
		if !found {
			return "", fmt.Errorf("testserver: session %d is gone", id)
		}
		if active {
			head := strings.ToUpper(strings.TrimSpace(stmt))
			for _, p := range prefixes {
				if strings.HasPrefix(head, strings.ToUpper(p)) {
					return stmt, nil
				}
			}
		}
		if err := pause(ctx); err != nil {
			return "", fmt.Errorf("testserver: session %d never ran a statement starting with %q: %w", id, prefixes, err)
		}
	}
}

// Kill ends session id as an administrator does: pg_terminate_backend on
// PostgreSQL, KILL on MySQL. Its transaction is rolled back; its client
// finds the connection closed.
func (s *Sessions) Kill(ctx context.Context, id int64) error {
	if s.dialect == "postgres" {
		var ok bool
		if err := s.admin.QueryRowContext(ctx, "SELECT pg_terminate_backend($1)", id).Scan(&ok); err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("testserver: pg_terminate_backend(%d): no such session", id)
		}
		return nil
	}
	_, err := s.admin.ExecContext(ctx, fmt.Sprintf("KILL %d", id))
	return err
}

// WaitGone polls until session id no longer exists on the server, or ctx
// ends.
func (s *Sessions) WaitGone(ctx context.Context, id int64) error {
	for {
		found, _, _, err := s.Activity(ctx, id)
		if err != nil {
			return err
		}
		if !found {
			return nil
		}
		if err := pause(ctx); err != nil {
			return fmt.Errorf("testserver: session %d still exists: %w", id, err)
		}
	}
}

// pause waits a millisecond between polls, or returns the context's error.
func pause(ctx context.Context) error {
	t := time.NewTimer(time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
