package dbtest

import (
	"errors"
	"fmt"
	"strings"
)

// ErrTransactionAborted is matched by errors.Is when PostgreSQL refused a
// statement because an earlier statement of the same transaction failed
// ("current transaction is aborted, commands ignored until end of
// transaction block", SQLSTATE 25P02). errors.As with an *[AbortedError]
// names that earlier statement.
var ErrTransactionAborted = errors.New("dbtest: the transaction was aborted by an earlier statement that failed")

// AbortedError explains PostgreSQL's refusal of a statement in a
// transaction that an earlier failed statement aborted: which statement
// that was, where it came from, and how to keep a statement that is
// expected to fail from aborting the test's transaction. SQLite and MySQL
// leave a transaction usable after a failed statement, so a test that
// passes there meets this on PostgreSQL only.
//
// It wraps the driver's error: errors.As to *pgconn.PgError still gives
// SQLSTATE 25P02, and errors.Is(err, [ErrTransactionAborted]) holds.
type AbortedError struct {
	Backend Backend
	Err     error // the driver's error, SQLSTATE 25P02
	// Statement is the start of the earlier statement that failed, and
	// Location the file:line of the code that ran it or read its rows
	// (empty when a later statement read them); both are empty when dbtest
	// did not see it.
	Statement string
	Location  string
	Cause     error // that statement's error
	// InTransaction says that it failed inside a transaction begun with
	// BeginTx (a savepoint of the test's transaction), which stays aborted
	// until it is rolled back. Otherwise it aborted the test's own
	// transaction, for the rest of the test.
	InTransaction bool
	// SavepointErr, when not nil, is why dbtest could not roll back to the
	// statement's savepoint under [WithStatementSavepoints].
	SavepointErr error
}

// Error returns the driver's message followed by dbtest's explanation.
func (e *AbortedError) Error() string {
	var b strings.Builder
	b.WriteString(e.Err.Error())
	what := "the test's transaction"
	if e.InTransaction {
		what = "the transaction begun with BeginTx (a savepoint of the test's transaction)"
	}
	fmt.Fprintf(&b, "\ndbtest: %s: %s was aborted by an earlier statement that failed", e.Backend, what)
	switch {
	case e.Statement != "" && e.Location != "":
		fmt.Fprintf(&b, ": %s at %s: %s", e.Statement, e.Location, firstLine(e.Cause))
	case e.Statement != "":
		fmt.Fprintf(&b, ": %s, while a later statement read its rows: %s", e.Statement, firstLine(e.Cause))
	}
	b.WriteString("\n  on PostgreSQL a failed statement aborts the transaction it runs in, and every statement after it fails until that is rolled back")
	if e.SavepointErr != nil {
		fmt.Fprintf(&b, "\n  dbtest could not roll back to the statement's savepoint: %v", firstLine(e.SavepointErr))
	}
	if e.InTransaction {
		b.WriteString("\n  fix: roll that transaction back (tx.Rollback) once one of its statements fails; the test's transaction goes on after it")
	} else {
		b.WriteString("\n  fix: run a statement that is expected to fail inside db.BeginTx (dbtest makes it a savepoint) and roll that back, " +
			"or open the handle with dbtest.WithStatementSavepoints(), which gives every statement a savepoint of its own")
	}
	return b.String()
}

// Unwrap returns [ErrTransactionAborted] and the driver's error.
func (e *AbortedError) Unwrap() []error { return []error{ErrTransactionAborted, e.Err} }

// abortCause is the statement whose failure aborted the transaction.
type abortCause struct {
	stmt, where string
	err         error
	inTx        bool
	spErr       error
}

// noteAbortLocked records that query, run at where, failed with err and
// left the transaction aborted, unless an earlier statement did already.
func (s *session) noteAbortLocked(query, where string, err error) {
	if s.abortedBy != nil {
		return
	}
	s.abortedBy = &abortCause{stmt: statementHead(query), where: where, err: err, inTx: len(s.savepoints) > 0}
}

// explainAbortedLocked explains err when it is the server's refusal of a
// statement in an aborted transaction.
func (s *session) explainAbortedLocked(err error) error {
	ab, ok := s.eng.(abortingEngine)
	var ae *AbortedError
	if err == nil || !ok || !ab.abortedError(err) || errors.As(err, &ae) {
		return err
	}
	ae = &AbortedError{Backend: s.eng.backend(), Err: err, InTransaction: len(s.savepoints) > 0}
	if c := s.abortedBy; c != nil {
		ae.Statement, ae.Location, ae.Cause, ae.InTransaction, ae.SavepointErr = c.stmt, c.where, c.err, c.inTx, c.spErr
	}
	return ae
}
