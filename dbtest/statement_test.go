package dbtest

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClassify(t *testing.T) {
	cases := []struct {
		query  string
		want   stmtKind
		reason string
	}{
		{"COMMIT", stmtCommit, "plain commit ends the transaction"},
		{"  commit work;", stmtCommit, "keywords are case-insensitive and may be followed by WORK"},
		{"END", stmtCommit, "PostgreSQL's END is COMMIT"},
		{"/* app */ COMMIT", stmtCommit, "a leading block comment hides nothing"},
		{"-- note\nCOMMIT", stmtCommit, "a leading line comment hides nothing"},
		{"# note\nROLLBACK", stmtRollback, "MySQL's # comments too"},
		{"ROLLBACK", stmtRollback, "plain rollback ends the transaction"},
		{"ROLLBACK TO SAVEPOINT sp1", stmtOther, "rolling back to a savepoint keeps the transaction"},
		{"rollback work to sp1", stmtOther, "with WORK too"},
		{"ROLLBACK TRANSACTION TO SAVEPOINT x", stmtOther, "with TRANSACTION too"},
		{"BEGIN", stmtBegin, "a nested BEGIN would commit on MySQL and warn on PostgreSQL"},
		{"START TRANSACTION", stmtBegin, "MySQL's spelling of BEGIN"},
		{"CREATE TABLE t (id int)", stmtDDL, "DDL commits implicitly on MySQL"},
		{"create temporary table t (id int)", stmtOther, "temporary tables do not commit"},
		{"DROP TEMPORARY TABLE t", stmtOther, "nor does dropping them"},
		{"ALTER TABLE t ADD c int", stmtDDL, "ALTER is DDL"},
		{"TRUNCATE t", stmtDDL, "TRUNCATE commits on MySQL"},
		{"LOCK TABLES t WRITE", stmtDDL, "LOCK TABLES commits on MySQL"},
		{"SELECT 'COMMIT'", stmtOther, "a keyword inside a string is data"},
		{"INSERT INTO commits VALUES (1)", stmtOther, "a table named like a keyword is data"},
		{"(SELECT 1)", stmtOther, "parenthesised queries"},
		{"", stmtOther, "empty"},
		{"/* unterminated", stmtOther, "an unterminated comment has no statement"},
	}
	for _, c := range cases {
		if got, _ := classify(c.query); got != c.want {
			t.Errorf("classify(%q) = %d, want %d: %s", c.query, got, c.want, c.reason)
		}
	}
}

// TestKeepsTransaction: only plain DML and reads are taken to keep the
// transaction open for sure; MySQL's in-transaction check runs after
// anything else.
func TestKeepsTransaction(t *testing.T) {
	cases := []struct {
		query  string
		want   bool
		reason string
	}{
		{"SELECT 1", true, "a read"},
		{"  insert into t values (1)", true, "DML, whatever its case"},
		{"/* app */ UPDATE t SET a = 1", true, "a leading comment hides nothing"},
		{"DELETE FROM t", true, "DML"},
		{"REPLACE INTO t VALUES (1)", true, "MySQL's REPLACE is DML"},
		{"WITH x AS (SELECT 1) SELECT * FROM x", true, "a query with a CTE"},
		{"(SELECT 1)", true, "a parenthesised query"},
		{"SHOW transaction_read_only", true, "SHOW reads"},
		{"SET autocommit = 1", false, "turning autocommit on commits on MySQL"},
		{"SET TRANSACTION READ ONLY", false, "changes what a chained transaction inherits"},
		{"CALL p()", false, "a procedure may commit"},
		{"LOCK TABLES t WRITE", false, "commits on MySQL"},
		{"XA START 'x'", false, "XA ends and begins transactions"},
		{"CREATE TEMPORARY TABLE t (a int)", false, "not DML"},
		{"COMMIT", false, "ends the transaction"},
		{"DO SLEEP(1)", false, "anything not listed"},
		{"", false, "empty"},
	}
	for _, c := range cases {
		if _, got := inspect(c.query); got != c.want {
			t.Errorf("inspect(%q) keeps = %v, want %v: %s", c.query, got, c.want, c.reason)
		}
	}
}

func TestStatementHead(t *testing.T) {
	if got := statementHead("  SELECT\n\t1  "); got != "SELECT 1" {
		t.Errorf("statementHead collapsed to %q", got)
	}
	long := "INSERT INTO t VALUES ('" + strings.Repeat("é", 60) + "')"
	h := statementHead(long)
	if len(h) > 84 || !strings.HasSuffix(h, "...") {
		t.Errorf("statementHead(long) = %q", h)
	}
	if !utf8.ValidString(h) {
		t.Errorf("statementHead cut a character in half: %q", h)
	}
}

func FuzzClassify(f *testing.F) {
	for _, s := range []string{"COMMIT", "ROLLBACK TO x", "/* */ BEGIN", "-- x\nEND", "CREATE TEMPORARY TABLE t", "#\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		kind, head := classify(q)
		if len(head) > 84 {
			t.Fatalf("head of %d bytes", len(head))
		}
		if kind.endsTransaction() && kind == stmtDDL {
			t.Fatal("impossible kind")
		}
	})
}
