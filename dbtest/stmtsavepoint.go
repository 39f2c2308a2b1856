package dbtest

import (
	"context"
	"database/sql/driver"
	"fmt"
	"strings"
)

// Implicit statement savepoints (WithStatementSavepoints). On PostgreSQL a
// statement that fails aborts the transaction it runs in, and under dbtest
// that is the test's: every later statement fails with SQLSTATE 25P02. With
// the option, each statement that runs outside a transaction the test
// began runs under a savepoint of its own, set just before it; when it
// fails, dbtest rolls back to that savepoint and the test goes on, as it
// would on SQLite and MySQL, and as a statement outside a transaction does
// in production (it commits or fails on its own).
//
// The savepoint is released lazily: the statements that set it up for the
// next statement ("RELEASE SAVEPOINT s; SAVEPOINT s") travel in one round
// trip, and on PostgreSQL through pgx an ExecContext carries them in the
// same pipeline as the statement itself, before it and after it, so that
// it costs no round trip, and neither does the statement after it (see
// execAfter in postgres_pipeline.go).

// implicitSavepoint is the name of the implicit savepoint.
const implicitSavepoint = "dbtest_stmt"

// An abortingEngine is an engine on which a statement that fails aborts the
// transaction it runs in (PostgreSQL): the server then refuses every
// statement but a rollback until one comes.
type abortingEngine interface {
	// txFailed reports whether c's transaction is in that state.
	txFailed(c driver.Conn) bool
	// abortedError reports whether err is the server refusing a
	// statement for it (SQLSTATE 25P02).
	abortedError(err error) bool
}

// A savepointPipeliner runs an Exec in one round trip with the statements
// that set up its implicit savepoint and the next statement's.
type savepointPipeliner interface {
	// execAfter runs prefix, then query with args, then post.
	execAfter(ctx context.Context, c driver.Conn, kept *stmtCache, prefix, post []string, query string,
		args []driver.NamedValue) pipeResult
	// forget drops the statements that execAfter kept (kept may be nil),
	// and those the driver caches itself, after a test whose DDL may have
	// changed the tables they were prepared for.
	forget(ctx context.Context, c driver.Conn, kept *stmtCache) error
}

// pipeResult is what execAfter did.
type pipeResult struct {
	res driver.Result
	err error // the statement's
	// spErr is the failure of a statement of prefix or post: what the
	// implicit savepoint stands for is no longer known.
	spErr   error
	handled bool // false: nothing was sent, the statement takes the ordinary path
	fresh   bool // post ran: a new savepoint is set after the statement
}

// spNext sets the next statement's implicit savepoint after one that
// worked, in its pipeline.
var spNext = []string{"RELEASE SAVEPOINT " + implicitSavepoint, "SAVEPOINT " + implicitSavepoint}

// guard is what a statement needs for its implicit savepoint.
type guard struct {
	wrapped bool     // the statement runs under the implicit savepoint
	prefix  []string // what its pipeline must run before it
	// freshAfter: its pipeline set the next statement's savepoint.
	freshAfter bool
}

// guardLocked sets up the implicit savepoint of the next statement, query:
// it runs what must come before it (releasing the savepoint of the last
// statement, rolling back to it after a failure met while reading rows,
// setting a new one), or, with pipe, leaves that to the statement's
// pipeline in the guard it returns. A statement that is not wrapped still
// gets the last statement's savepoint released first, so that it runs in
// the test's own transaction: SAVEPOINT (after which the test manages its
// own savepoints, and dbtest adds none) and SET TRANSACTION.
func (s *session) guardLocked(ctx context.Context, query string, pipe bool) (guard, error) {
	ab, ok := s.eng.(abortingEngine)
	if !s.stmtSP || !ok {
		return guard{}, nil
	}
	first, own := ownTransactionStmt(query)
	open, _ := s.eng.inTransaction(ctx, s.conn)
	wrap := !own && open && len(s.savepoints) == 0 && s.spOff == "" && len(s.passed) == 0
	pre, fresh := s.spReleaseLocked(ab, wrap)
	if wrap && !fresh {
		pre = append(pre, "SAVEPOINT "+implicitSavepoint)
	}
	if first == "SAVEPOINT" {
		s.spOff = fmt.Sprintf("%s at %s", statementHead(query), originOf(ctx))
	}
	if pipe && wrap {
		// The pipeline runs pre before the statement; the session's
		// state is what it will be once it did.
		s.spOpen, s.spFresh = true, true
		return guard{wrapped: true, prefix: pre}, nil
	}
	if err := s.spRunLocked(ctx, ab, pre); err != nil {
		return guard{}, err
	}
	s.spOpen, s.spFresh = wrap, wrap
	return guard{wrapped: wrap}, nil
}

// spReleaseLocked returns what undoes and releases the open implicit
// savepoint, if any: keep leaves it open when it is fresh (nothing ran
// since it was set or rolled back to), and says so.
func (s *session) spReleaseLocked(ab abortingEngine, keep bool) (pre []string, fresh bool) {
	if !s.spOpen {
		return nil, false
	}
	fresh = s.spFresh
	if ab.txFailed(s.conn) {
		// A statement failed while its rows were read: undo it.
		pre = append(pre, "ROLLBACK TO SAVEPOINT "+implicitSavepoint)
		fresh = true
	}
	if !keep || !fresh {
		pre = append(pre, "RELEASE SAVEPOINT "+implicitSavepoint)
		fresh = false
	}
	return pre, fresh
}

// spRunLocked runs the statements that set up an implicit savepoint, in one
// round trip. When they fail, dbtest stops adding savepoints for the rest
// of the test: where they stand is no longer known.
func (s *session) spRunLocked(ctx context.Context, ab abortingEngine, pre []string) error {
	if len(pre) == 0 {
		return nil
	}
	if err := s.execRawLocked(ctx, strings.Join(pre, "; ")); err != nil {
		return s.spFailedLocked(err)
	}
	if !ab.txFailed(s.conn) {
		s.abortedBy = nil
	}
	return nil
}

// spFailedLocked records that setting up an implicit savepoint failed.
func (s *session) spFailedLocked(err error) error {
	s.spOpen, s.spFresh = false, false
	s.spOff = fmt.Sprintf("dbtest's own savepoint failed (%v)", firstLine(err))
	s.noteErr(err)
	return s.explainAbortedLocked(err)
}

// stmtDoneLocked runs after every statement of the test on an engine whose
// transaction a failed statement aborts: it rolls back to the statement's
// implicit savepoint when it failed and aborted the transaction; without
// one, it records which statement aborted it, and explains the refusals
// that follow (see [AbortedError]).
func (s *session) stmtDoneLocked(ctx context.Context, g guard, query string, err error) error {
	ab, ok := s.eng.(abortingEngine)
	if !ok {
		return err
	}
	if g.wrapped {
		s.spFresh = g.freshAfter && err == nil
	}
	if !ab.txFailed(s.conn) {
		s.abortedBy = nil
		return err
	}
	if err == nil {
		return nil
	}
	var spErr error
	if g.wrapped && s.spOpen {
		spErr = s.execRawLocked(context.WithoutCancel(ctx), "ROLLBACK TO SAVEPOINT "+implicitSavepoint)
		if spErr == nil {
			s.spFresh = true
			return err
		}
		s.spFailedLocked(spErr)
	}
	if ab.abortedError(err) {
		return s.explainAbortedLocked(err)
	}
	s.noteAbortLocked(query, originOf(ctx), err)
	if spErr != nil && s.abortedBy.spErr == nil {
		s.abortedBy.spErr = spErr
	}
	return err
}

// rowsFailedLocked runs when reading the rows of query failed, at where
// ("" when a later statement read them into memory): on an engine whose
// transaction that aborts, it records the statement. Under an implicit
// savepoint, the next statement rolls back to it first.
func (s *session) rowsFailedLocked(query, where string, err error) {
	if ab, ok := s.eng.(abortingEngine); ok && ab.txFailed(s.conn) {
		s.noteAbortLocked(query, where, err)
	}
}

// ownTransactionStmt reports whether query manages the transaction in a way
// that must not run under an implicit savepoint: SAVEPOINT, and SET
// TRANSACTION (which must come before any other statement of a
// transaction, and never in a savepoint). first is its first keyword.
func ownTransactionStmt(query string) (first string, own bool) {
	var buf [2]string
	w := appendLeadingWords(buf[:0], query, 2)
	if len(w) == 0 {
		return "", false
	}
	switch w[0] {
	case "SAVEPOINT":
		return w[0], true
	case "SET":
		return w[0], len(w) > 1 && w[1] == "TRANSACTION"
	}
	return w[0], false
}

// firstLine returns the first line of err's message.
func firstLine(err error) string {
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return msg
}
