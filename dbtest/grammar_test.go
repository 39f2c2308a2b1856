package dbtest

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDiffCountsGrammar(t *testing.T) {
	base := tableCounts{"one": 3, "two": 3, "less": 3}
	now := tableCounts{"one": 4, "two": 5, "less": 2, "fresh": 1, "many": 2}
	diffs, _ := diffCounts(base, now)
	want := []string{"fresh (a new table with 1 row)", "less (-1 row)", "many (a new table with 2 rows)", "one (+1 row)", "two (+2 rows)"}
	if d := cmp.Diff(want, diffs); d != "" {
		t.Errorf("diffCounts (-want +got):\n%s", d)
	}
}

func TestLockReportNoTrailingSpaces(t *testing.T) {
	r := &LockReport{
		Backend: SQLite, Database: "x", Statement: "INSERT INTO t",
		Waiter:  ConnInfo{ID: 2, Role: RoleRaw, Location: "a_test.go:1"},
		Holders: []LockHolder{{Conn: ConnInfo{ID: 1, Role: RoleTestTx, Location: "a_test.go:2"}, Lock: "RESERVED", Since: -1}},
		Timeline: []LockEvent{
			{At: time.Millisecond, Conn: 1, Action: "acquired", Lock: "SHARED", Statement: "SELECT 1"},
			{At: 2 * time.Millisecond, Conn: 1, Action: "acquired", Lock: "RESERVED", Statement: "SELECT 1"},
			{At: 3 * time.Millisecond, Conn: 2, Action: "denied", Lock: ""},
		},
		ServerDetail: "line with spaces   \nnext\t",
		Remedy:       "share the transaction",
	}
	for i, l := range strings.Split(r.String(), "\n") {
		if strings.TrimRight(l, " \t") != l {
			t.Errorf("line %d ends with white space: %q", i+1, l)
		}
	}
}
