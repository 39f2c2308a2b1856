package harness

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/easyautoml/dbharness/dbtest"
)

// settings are what a scenario asks of its handle: the keys sqlite_journal,
// lock_timeout, transaction, transaction_control and expect_cleanup of its
// file.
type settings struct {
	wal         bool
	lockTimeout time.Duration
	passTxCtl   bool
	noTx        bool
	txAt        *yaml.Node // where transaction or transaction_control is set, for their conflict
	noTxAt      *yaml.Node // where transaction: none is set
	cleanup     *cleanupExpectation
	cleanupAt   *yaml.Node // where expect_cleanup is set
}

// cleanupExpectation is what the scenario expects cleanup to find: the
// statements that ended or tried to end its transaction (by their first
// word, in order) and the tables that escaped writes left changed.
type cleanupExpectation struct {
	file       string
	line       int
	statements []string
	tables     []string
}

func (s *settings) parse(file string, k, v *yaml.Node) error {
	fail := func(n *yaml.Node, format string, args ...any) error {
		return &Error{File: file, Line: n.Line, Column: n.Column, Msg: k.Value + ": " + fmt.Sprintf(format, args...)}
	}
	switch k.Value {
	case "sqlite_journal":
		if v.Kind != yaml.ScalarNode || (v.Value != "rollback" && v.Value != "wal") {
			return fail(v, "want rollback or wal")
		}
		s.wal = v.Value == "wal"
	case "lock_timeout":
		d, err := time.ParseDuration(v.Value)
		if v.Kind != yaml.ScalarNode || err != nil || d < time.Millisecond || d > 10*time.Minute {
			return fail(v, "want a duration between 1ms and 10m, such as 100ms")
		}
		s.lockTimeout = d
	case "transaction_control":
		if v.Kind != yaml.ScalarNode || (v.Value != "refuse" && v.Value != "pass") {
			return fail(v, "want refuse (dbtest's default) or pass")
		}
		s.passTxCtl = v.Value == "pass"
		if err := s.txConflict(file, k); err != nil {
			return err
		}
	case "transaction":
		if v.Kind != yaml.ScalarNode || (v.Value != "test" && v.Value != "none") {
			return fail(v, "want test (dbtest's default: the scenario runs in one transaction, rolled back) or none (it commits; the database is restored after it)")
		}
		s.noTx = v.Value == "none"
		if s.noTx {
			s.noTxAt = k
		}
		if err := s.txConflict(file, k); err != nil {
			return err
		}
		if err := s.cleanupConflict(file, k); err != nil {
			return err
		}
	case "expect_cleanup":
		if v.Kind != yaml.MappingNode {
			return fail(v, "want a mapping with statements and tables")
		}
		c := &cleanupExpectation{file: file, line: k.Line}
		for i := 0; i+1 < len(v.Content); i += 2 {
			fk, fv := v.Content[i], v.Content[i+1]
			var list []string
			if err := fv.Decode(&list); err != nil || fv.Kind != yaml.SequenceNode {
				return fail(fv, "%s: want a list of strings", fk.Value)
			}
			switch fk.Value {
			case "statements":
				for j, st := range list {
					if w := strings.ToUpper(st); w != "COMMIT" && w != "ROLLBACK" && w != "BEGIN" {
						return fail(fv.Content[j], "statements: %q: want COMMIT, ROLLBACK or BEGIN", st)
					}
					list[j] = strings.ToUpper(st)
				}
				c.statements = list
			case "tables":
				c.tables = list
				slices.Sort(c.tables)
			default:
				return fail(fk, "unknown key %q (want statements, tables)", fk.Value)
			}
		}
		if len(c.statements) == 0 && len(c.tables) == 0 {
			return fail(v, "want statements or tables: what cleanup must find")
		}
		s.cleanup, s.cleanupAt = c, k
		if err := s.cleanupConflict(file, k); err != nil {
			return err
		}
	}
	return nil
}

// txConflict refuses transaction: none next to transaction_control: pass,
// which is about the transaction the first one removes.
func (s *settings) txConflict(file string, k *yaml.Node) error {
	if s.noTx && s.passTxCtl {
		return &Error{File: file, Line: k.Line, Column: k.Column,
			Msg: fmt.Sprintf("%s: transaction: none and transaction_control: pass conflict (without a transaction, COMMIT goes through anyway; see line %d)", k.Value, s.txAt.Line)}
	}
	s.txAt = k
	return nil
}

// cleanupConflict refuses transaction: none next to expect_cleanup: without
// a transaction, cleanup restores the database and reports neither
// statements that ended a transaction nor escaped writes, so the scenario
// could never pass. k is the later of the two keys, where the error is.
func (s *settings) cleanupConflict(file string, k *yaml.Node) error {
	if !s.noTx || s.cleanup == nil {
		return nil
	}
	return &Error{File: file, Line: k.Line, Column: k.Column,
		Msg: fmt.Sprintf("%s: transaction: none (line %d, column %d) and expect_cleanup (line %d, column %d) conflict: without a transaction, cleanup restores the database and never reports the statements or tables expect_cleanup waits for",
			k.Value, s.noTxAt.Line, s.noTxAt.Column, s.cleanupAt.Line, s.cleanupAt.Column)}
}

// Options returns the dbtest options of the handle the scenario wants:
// SQLite's WAL mode, a lock timeout, COMMIT let through, no transaction
// at all (dbtest.WithoutTransaction), a check of what cleanup finds. [RunOn] passes them to dbtest.Connect; a test that runs a
// scenario on a handle of its own passes them to dbtest.Open or
// dbtest.Each.
func (sc *Scenario) Options() []dbtest.Option { return sc.options(sc.CheckCleanup) }

// options is Options with check as the cleanup check, when the scenario
// has expect_cleanup.
func (sc *Scenario) options(check func(error) error) []dbtest.Option {
	var opts []dbtest.Option
	if sc.settings.wal {
		opts = append(opts, dbtest.WithSQLiteWAL())
	}
	if sc.settings.lockTimeout > 0 {
		opts = append(opts, dbtest.WithLockTimeout(sc.settings.lockTimeout))
	}
	if sc.settings.passTxCtl {
		opts = append(opts, dbtest.WithTransactionControl())
	}
	if sc.settings.noTx {
		opts = append(opts, dbtest.WithoutTransaction())
	}
	if sc.settings.cleanup != nil {
		opts = append(opts, dbtest.WithCleanupCheck(check))
	}
	return opts
}

// CheckCleanup compares what dbtest's cleanup found (nil, or a
// *dbtest.CleanupError) with the scenario's expect_cleanup: it returns nil
// when they agree, and otherwise an error naming the scenario's file and
// line and wrapping what cleanup found. Without expect_cleanup, cleanup
// must find nothing.
func (sc *Scenario) CheckCleanup(problems error) error {
	c := sc.settings.cleanup
	if c == nil {
		return problems
	}
	want := fmt.Sprintf("statements %v, tables %v", c.statements, c.tables)
	var ce *dbtest.CleanupError
	if !errors.As(problems, &ce) {
		if problems == nil {
			return fmt.Errorf("harness: %s:%d: expect_cleanup: cleanup found nothing, want %s", c.file, c.line, want)
		}
		return fmt.Errorf("harness: %s:%d: expect_cleanup: %w", c.file, c.line, problems)
	}
	var stmts []string
	for _, s := range ce.Statements {
		stmts = append(stmts, strings.ToUpper(firstWord(s)))
	}
	tables := slices.Sorted(slices.Values(ce.Tables))
	if !slices.Equal(stmts, c.statements) || !slices.Equal(tables, c.tables) {
		return fmt.Errorf("harness: %s:%d: expect_cleanup: cleanup found statements %v, tables %v, want %s: %w",
			c.file, c.line, stmts, tables, want, problems)
	}
	return nil
}

func firstWord(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}
