package dbtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Who blocks a statement on MySQL and MariaDB.
//
// InnoDB's information_schema tables INNODB_TRX, INNODB_LOCKS and
// INNODB_LOCK_WAITS are not live. They are read from a copy that InnoDB
// refreshes only when none of them has been read for 100 ms (trx0i_s.cc,
// CACHE_MIN_IDLE_TIME), so that a query joining them sees one state. A
// client that reads them more often than that — the lock checks of another
// test binary, a second waiting statement, a monitoring tool — keeps the
// copy from being refreshed at all, and a wait that began after the last
// refresh is missing from it for as long as the reads go on.
//
// SHOW ENGINE INNODB STATUS is live: it lists every transaction, whether it
// waits for a lock and on which table, and how many locks it holds. It does
// not say who holds the lock a waiter wants (unless the server runs with
// innodb_status_output_locks, a setting dbtest leaves alone), and it holds
// InnoDB's lock latch while it prints. So a check reads the lock-wait
// tables first (performance_schema's, behind sys.innodb_lock_waits, are
// live on MySQL 8): when they show the statement waiting, they name its
// blockers. When they do not, it asks SHOW ENGINE INNODB STATUS whether the
// statement waits at all, and if it does names the blocker by elimination:
// the transactions, other than the waiter, that hold locks and whose
// session uses the waited table's database (or no database). dbtest's databases
// belong to one test at a time, so that is usually the test's own
// transaction alone. A session that writes to the table through another
// default database, with qualified names, is not seen this way.

// innodbTrx is one transaction of SHOW ENGINE INNODB STATUS.
type innodbTrx struct {
	thread      int64 // the session's connection id
	active      time.Duration
	lockStructs int  // locks held or wanted (table and record lock structs)
	waiting     bool // LOCK WAIT
	waitTable   string
	waitSchema  string
	waitMode    string
}

var (
	innodbTrxHead    = regexp.MustCompile(`^---TRANSACTION [0-9 ]+, ACTIVE (\d+) sec`)
	innodbLockStruct = regexp.MustCompile(`(\d+) lock struct\(s\)`)
	innodbThread     = regexp.MustCompile(`^(?:MariaDB|MySQL) thread id (\d+),`)
	innodbWaitTable  = regexp.MustCompile("(?:of table|^TABLE LOCK table) (`((?:[^`]|``)*)`\\.`(?:[^`]|``)*`)")
	innodbWaitMode   = regexp.MustCompile(`lock[ _]mode ([A-Z-]+)`)
)

// parseInnoDBStatus reads the transactions of SHOW ENGINE INNODB STATUS,
// as MariaDB 10 and MySQL 8 print them. Transactions not started, and
// those without a session, are left out.
func parseInnoDBStatus(status string) []innodbTrx {
	var out []innodbTrx
	var cur *innodbTrx
	lines := strings.Split(status, "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if strings.HasPrefix(line, "---TRANSACTION ") {
			cur = nil
			if m := innodbTrxHead.FindStringSubmatch(line); m != nil {
				sec, _ := strconv.Atoi(m[1])
				out = append(out, innodbTrx{thread: -1, active: time.Duration(sec) * time.Second})
				cur = &out[len(out)-1]
			}
			continue
		}
		if cur == nil {
			continue
		}
		switch {
		case strings.HasPrefix(line, "LOCK WAIT "):
			cur.waiting = true
			fallthrough
		case strings.Contains(line, " lock struct(s)"):
			if m := innodbLockStruct.FindStringSubmatch(line); m != nil {
				cur.lockStructs, _ = strconv.Atoi(m[1])
			}
		case innodbThread.MatchString(line):
			cur.thread, _ = strconv.ParseInt(innodbThread.FindStringSubmatch(line)[1], 10, 64)
		case strings.HasPrefix(line, "------- TRX HAS BEEN WAITING") && i+1 < len(lines):
			next := strings.TrimSpace(lines[i+1])
			if m := innodbWaitTable.FindStringSubmatch(next); m != nil {
				cur.waitTable, cur.waitSchema = m[1], strings.ReplaceAll(m[2], "``", "`")
			}
			if m := innodbWaitMode.FindStringSubmatch(next); m != nil {
				cur.waitMode = m[1]
			}
		case strings.HasPrefix(line, "--------"): // the end of the section
			cur = nil
		}
	}
	var kept []innodbTrx
	for _, t := range out {
		if t.thread >= 0 {
			kept = append(kept, t)
		}
	}
	return kept
}

func (mysqlDialect) blockers(ctx context.Context, admin *sql.DB, waiter int64, stmt string) (*LockReport, error) {
	// The lock-wait tables first: when they show the statement waiting,
	// they name its blockers, and reading them is cheap (a copy).
	rep, lwErr := innodbLockWaits(ctx, admin, waiter, stmt)
	if lwErr == nil && len(rep.Holders) > 0 {
		return rep, nil
	}
	var typ, name, status string
	if err := admin.QueryRowContext(ctx, "SHOW ENGINE INNODB STATUS").Scan(&typ, &name, &status); err != nil {
		// Without the PROCESS privilege: what the lock-wait tables said.
		return rep, lwErr
	}
	trxs := parseInnoDBStatus(status)
	var w *innodbTrx
	for i := range trxs {
		if trxs[i].thread == waiter {
			w = &trxs[i]
		}
	}
	if w == nil || !w.waiting {
		return serverLockWait(ctx, admin, waiter)
	}
	return innodbInferBlockers(ctx, admin, w, trxs)
}

// serverLockWait tells whether the session waits for a lock of the server
// rather than of InnoDB (a metadata lock, LOCK TABLES), from its state in
// the process list: the report then names what it wants, not who holds it.
func serverLockWait(ctx context.Context, admin *sql.DB, waiter int64) (*LockReport, error) {
	var state string
	err := admin.QueryRowContext(ctx, "SELECT COALESCE(STATE, '') FROM information_schema.PROCESSLIST WHERE ID = ?", waiter).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return &LockReport{}, nil
	}
	if err != nil {
		return nil, err
	}
	if what, ok := strings.CutPrefix(state, "Waiting for "); ok && strings.HasSuffix(what, " lock") {
		return &LockReport{Wanted: what, ServerDetail: "the process list says \"" + state + "\": a lock of the server, not of InnoDB " +
			"(taken by LOCK TABLES or by DDL in another session), whose holder it does not name"}, nil
	}
	return &LockReport{}, nil
}

// innodbInferBlockers names the holders of the lock that w waits for by
// elimination (see the comment at the top of this file).
func innodbInferBlockers(ctx context.Context, admin *sql.DB, w *innodbTrx, trxs []innodbTrx) (*LockReport, error) {
	rep := &LockReport{inferred: true}
	table := w.waitTable
	if table == "" {
		table = "a table"
	}
	rep.Wanted = strings.TrimSpace(w.waitMode + " lock on " + table)
	var cands []innodbTrx
	for _, t := range trxs {
		if t.thread != w.thread && t.lockStructs > 0 {
			cands = append(cands, t)
		}
	}
	if len(cands) == 0 {
		return rep, nil
	}
	ids := make([]string, len(cands))
	for i, t := range cands {
		ids[i] = strconv.FormatInt(t.thread, 10)
	}
	rows, err := admin.QueryContext(ctx, `SELECT ID, COALESCE(DB, ''), COALESCE(COMMAND, ''), COALESCE(INFO, '')
		FROM information_schema.PROCESSLIST WHERE ID IN (`+strings.Join(ids, ", ")+`)`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type session struct{ db, command, info string }
	sessions := map[int64]session{}
	for rows.Next() {
		var id int64
		var s session
		if err := rows.Scan(&id, &s.db, &s.command, &s.info); err != nil {
			return nil, err
		}
		sessions[id] = s
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, t := range cands {
		s, ok := sessions[t.thread]
		if !ok {
			continue // the session ended since
		}
		if s.db != "" && w.waitSchema != "" && s.db != w.waitSchema {
			continue // works in another database
		}
		info, write, at := holderInfoAt(MySQL, t.thread)
		if info.Role == RoleUnknown {
			info.ID = int(t.thread)
		}
		h := LockHolder{Conn: info, Lock: "the conflicting lock on " + table, Since: -1, HeldFor: t.active, Statement: write}
		if !at.IsZero() {
			h.HeldFor = time.Since(at)
		}
		if s.command == "Sleep" || s.info == "" {
			h.Running = "nothing (idle in transaction)"
		} else {
			h.Running = statementHead(s.info)
		}
		if h.Statement == "" {
			h.Statement = h.Running
		}
		rep.Holders = append(rep.Holders, h)
	}
	db := w.waitSchema
	if db == "" {
		db = "the waited table's database"
	}
	switch len(rep.Holders) {
	case 0:
	case 1:
		rep.ServerDetail = fmt.Sprintf("InnoDB's lock-wait tables did not show this wait yet; the holder is the only other transaction "+
			"that SHOW ENGINE INNODB STATUS lists with locks in %s", db)
	default:
		rep.ServerDetail = fmt.Sprintf("InnoDB's lock-wait tables did not show this wait yet; the holder is one of the %d other transactions "+
			"that SHOW ENGINE INNODB STATUS lists with locks in %s", len(rep.Holders), db)
	}
	return rep, nil
}

// innodbLockWaits reads InnoDB's lock waits: MariaDB (and MySQL 5.7)
// through information_schema, MySQL 8 through the sys schema. Rows of
// another statement of the same session, which a stale copy of the
// information_schema tables may still show, are left out.
func innodbLockWaits(ctx context.Context, admin *sql.DB, waiter int64, stmt string) (*LockReport, error) {
	rows, err := admin.QueryContext(ctx, innodbLockWaitQueries[0], waiter)
	var me *mysql.MySQLError
	if errors.As(err, &me) && (me.Number == 1109 || me.Number == 1146) { // unknown table: MySQL 8
		rows, err = admin.QueryContext(ctx, innodbLockWaitQueries[1], waiter)
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	rep := &LockReport{}
	for rows.Next() {
		var id, micros int64
		var query, mode, table, wanted, waiting string
		if err := rows.Scan(&id, &query, &micros, &mode, &table, &wanted, &waiting); err != nil {
			return nil, err
		}
		if stmt != "" && statementHead(waiting) != stmt {
			continue
		}
		info, write := holderInfo(MySQL, id)
		if info.Role == RoleUnknown {
			info.ID = int(id)
		}
		lock := strings.TrimSpace(mode + " lock on " + table)
		if mode == "" {
			lock = "a conflicting lock"
		}
		h := LockHolder{Conn: info, Lock: lock, Since: -1, HeldFor: time.Duration(micros) * time.Microsecond, Statement: write}
		if h.Statement == "" {
			h.Statement = statementHead(query)
		}
		if query == "" {
			h.Running = "nothing (idle in transaction)"
		} else {
			h.Running = statementHead(query)
		}
		if wanted != "" {
			rep.Wanted = wanted + " lock on " + table
		}
		rep.Holders = append(rep.Holders, h)
	}
	return rep, rows.Err()
}

var innodbLockWaitQueries = []string{
	`SELECT b.trx_mysql_thread_id, COALESCE(b.trx_query, ''),
		TIMESTAMPDIFF(MICROSECOND, b.trx_started, NOW(6)),
		COALESCE(bl.lock_mode, ''), COALESCE(bl.lock_table, ''), COALESCE(rl.lock_mode, ''), COALESCE(r.trx_query, '')
	FROM information_schema.INNODB_LOCK_WAITS w
	JOIN information_schema.INNODB_TRX r ON r.trx_id = w.requesting_trx_id
	JOIN information_schema.INNODB_TRX b ON b.trx_id = w.blocking_trx_id
	LEFT JOIN information_schema.INNODB_LOCKS bl ON bl.lock_id = w.blocking_lock_id
	LEFT JOIN information_schema.INNODB_LOCKS rl ON rl.lock_id = w.requested_lock_id
	WHERE r.trx_mysql_thread_id = ?`,
	`SELECT blocking_pid, COALESCE(blocking_query, ''),
		TIMESTAMPDIFF(MICROSECOND, blocking_trx_started, NOW(6)),
		COALESCE(blocking_lock_mode, ''), COALESCE(locked_table, ''), COALESCE(waiting_lock_mode, ''), COALESCE(waiting_query, '')
	FROM sys.innodb_lock_waits WHERE waiting_pid = ?`,
}
