package dbtest

import (
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseInnoDBStatus(t *testing.T) {
	mariadb, err := os.ReadFile("testdata/innodb_status_mariadb.txt")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		reason string
		status string
		want   []innodbTrx
	}{
		{
			name: "mariadb",
			reason: "MariaDB 10.11 during a wait on a row the other transaction inserted; the foreign-key and " +
				"deadlock sections name transactions too, and a session without a transaction is listed as not started",
			status: string(mariadb),
			want: []innodbTrx{
				{thread: 874, active: time.Second, lockStructs: 2, waiting: true,
					waitTable: "`test`.`lockprobe`", waitSchema: "test", waitMode: "S"},
				{thread: 871, active: 2 * time.Second, lockStructs: 3},
			},
		},
		{
			name:   "mysql8",
			reason: "MySQL 8 prints the same lines with its own name, lock_mode with an underscore, and seconds waited",
			status: "------------\nTRANSACTIONS\n------------\nLIST OF TRANSACTIONS FOR EACH SESSION:\n" +
				"---TRANSACTION 421937293, not started\n0 lock struct(s), heap size 1128, 0 row lock(s)\n" +
				"---TRANSACTION 2077, ACTIVE 7 sec starting index read\nmysql tables in use 1, locked 1\n" +
				"LOCK WAIT 2 lock struct(s), heap size 1128, 1 row lock(s)\n" +
				"MySQL thread id 12, OS thread handle 1401, query id 88 localhost root updating\n" +
				"UPDATE t SET v = 2 WHERE id = 1\n" +
				"------- TRX HAS BEEN WAITING 7 SEC FOR THIS LOCK TO BE GRANTED:\n" +
				"RECORD LOCKS space id 2 page no 4 n bits 72 index PRIMARY of table `my``db`.`t` trx id 2077 lock_mode X locks rec but not gap waiting\n" +
				"------------------\n" +
				"---TRANSACTION 2076, ACTIVE 30 sec\n2 lock struct(s), heap size 1128, 1 row lock(s), undo log entries 1\n" +
				"MySQL thread id 11, OS thread handle 1400, query id 80 localhost root\n" +
				"--------\nFILE I/O\n",
			want: []innodbTrx{
				{thread: 12, active: 7 * time.Second, lockStructs: 2, waiting: true,
					waitTable: "`my``db`.`t`", waitSchema: "my`db", waitMode: "X"},
				{thread: 11, active: 30 * time.Second, lockStructs: 2},
			},
		},
		{
			name:   "table lock",
			reason: "a wait for a table lock (AUTO-INC) names the table on a TABLE LOCK line",
			status: "---TRANSACTION 0 1595880531, ACTIVE 3 sec, process no 19374, OS thread id 733364 setting auto-inc lock\n" +
				"LOCK WAIT 1 lock struct(s), heap size 368\nMySQL thread id 741, query id 7654401 localhost root update\n" +
				"INSERT INTO t (v) VALUES (1)\n------- TRX HAS BEEN WAITING 3 SEC FOR THIS LOCK TO BE GRANTED:\n" +
				"TABLE LOCK table `shop`.`t` trx id 0 1595880531 lock mode AUTO-INC waiting\n",
			want: []innodbTrx{
				{thread: 741, active: 3 * time.Second, lockStructs: 1, waiting: true,
					waitTable: "`shop`.`t`", waitSchema: "shop", waitMode: "AUTO-INC"},
			},
		},
		{
			name:   "truncated",
			reason: "output cut before a transaction's session line leaves that transaction out",
			status: "---TRANSACTION 5, ACTIVE 1 sec\n2 lock struct(s), heap size 1128\n",
		},
	}
	opt := cmp.AllowUnexported(innodbTrx{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := parseInnoDBStatus(tc.status)
			if diff := cmp.Diff(tc.want, got, opt); diff != "" {
				t.Errorf("%s\n(-want +got):\n%s", tc.reason, diff)
			}
		})
	}
}

func TestSelfDeadlockRule(t *testing.T) {
	raw := ConnInfo{ID: 2, Role: RoleRaw, Test: "T"}
	own := LockHolder{Conn: ConnInfo{ID: 1, Role: RoleTestTx, Test: "T"}}
	other := LockHolder{Conn: ConnInfo{ID: 3, Role: RoleRaw, Test: "T"}}
	otherTest := LockHolder{Conn: ConnInfo{ID: 4, Role: RoleTestTx, Test: "U"}}
	tests := []struct {
		reason string
		waiter ConnInfo
		rep    *LockReport
		want   bool
	}{
		{"the server names the test's transaction", raw, &LockReport{Holders: []LockHolder{own}}, true},
		{"named among others, the test's transaction still never lets go", raw, &LockReport{Holders: []LockHolder{other, own}}, true},
		{"another test's transaction", raw, &LockReport{Holders: []LockHolder{otherTest}}, false},
		{"no holder", raw, &LockReport{}, false},
		{"the test's transaction waits itself", own.Conn, &LockReport{Holders: []LockHolder{other}}, false},
		{"inferred: the test's transaction is the only candidate", raw, &LockReport{Holders: []LockHolder{own}, inferred: true}, true},
		{"inferred: another candidate may hold the lock", raw, &LockReport{Holders: []LockHolder{own, other}, inferred: true}, false},
		{"inferred: no candidate", raw, &LockReport{inferred: true}, false},
	}
	for _, tc := range tests {
		if got := selfDeadlock(tc.waiter, tc.rep); got != tc.want {
			t.Errorf("%s: selfDeadlock = %v, want %v", tc.reason, got, tc.want)
		}
	}
}
