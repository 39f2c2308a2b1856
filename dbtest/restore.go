package dbtest

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ncruces/go-sqlite3"
	sqlitedriver "github.com/ncruces/go-sqlite3/driver"
)

// Restoring a database in place. A test without a transaction
// ([WithoutTransaction]) commits, and a transactional test whose writes
// escaped its rollback leaves committed rows too. Rather than drop the
// database and migrate a new one, dbtest brings it back to the state its
// migrations left: it drops the tables the test created, empties every
// table but goose's version table, restarts their identity counters, and
// inserts again the rows the migrations seeded. It does so only when the
// schema is still the one the migrations made, object for object (the
// schema fingerprint: tables, columns, indexes, constraints, views,
// triggers, routines...). Whatever it cannot bring back for a reason that
// is no fault of the test (a changed schema, say) means a new database
// instead, and the reason in the log.

// gooseVersionTable is goose's table of applied migrations: it keeps its
// rows.
const gooseVersionTable = "goose_db_version"

// ErrRestore is returned, wrapped, by [DB.Release] when a database could
// not be restored after a test without a transaction ([WithoutTransaction])
// committed to it: typically a connection the test left open still holds
// a lock on a table. The message names the statement that failed. The
// database is dropped instead, and the next test gets a new one.
var ErrRestore = errors.New("restoring the database after the test failed")

// rebuildError says the database cannot be brought back in place for a
// reason that is no fault of the test (it changed the migrated schema,
// say): the caller drops it and migrates a new one, and logs the reason.
type rebuildError struct{ reason string }

func (e *rebuildError) Error() string { return e.reason }

func rebuild(format string, args ...any) error {
	return &rebuildError{fmt.Sprintf(format, args...)}
}

// errSchemaChanged says the test changed the schema the migrations made.
var errSchemaChanged = rebuild("the test changed the migrated schema")

// baseState is what a clean database holds beyond its row counts: the
// schema fingerprint of each object, keyed by the table it belongs to,
// and the rows its migrations seeded.
type baseState struct {
	schema map[string]string
	// seeds are the rows of every table (but goose's) that the migrations
	// left rows in, in the columns an INSERT may set (not the generated
	// ones); empty for most schemas. On SQLite they are copied from the
	// template instead (slot.seedDB), and seeds only name the tables and
	// their columns.
	seeds []seedTable
	// seqs are PostgreSQL's sequences, with their state, and seqQuery
	// reads it: SELECT i, last_value, is_called FROM each sequence.
	seqs     []seqValue
	seqQuery string
	// autoInc is MySQL's AUTO_INCREMENT of each table: a table whose
	// counter moved is emptied even when it has no rows, and the counter
	// set back after the restore where it differs.
	autoInc map[string]int64
	// sqliteSeq are the rows of SQLite's sqlite_sequence: the
	// AUTOINCREMENT counter of each table.
	sqliteSeq []seqValue
}

type seedTable struct {
	table string
	cols  []string
	rows  [][]driver.Value
}

type seqValue struct {
	name     string
	value    int64
	isCalled bool
}

// schemaSQL lists each schema object as a (key, description) pair, keyed
// by the table it belongs to where it has one: each table's columns with
// their types, nullability, defaults, collations and generation
// expressions, its indexes and constraints, views and their definitions,
// triggers, routines, events and, on PostgreSQL, sequences, types,
// schemas, policies and extensions. Only what both MariaDB 10.11 and
// MySQL 8 have in information_schema is read.
func schemaSQL(b Backend) string {
	switch b {
	case Postgres:
		return `SELECT c.relname, c.relkind::text || ' ' || c.relrowsecurity::text || ' ' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' ' ||
				a.attnotnull::text || ' ' || a.attidentity::text || a.attgenerated::text || ' ' || a.attcollation::regcollation::text || ' ' ||
				coalesce(pg_get_expr(d.adbin, d.adrelid), '')
			FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
			LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
			WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c', 'S')
			UNION ALL
			SELECT c.relname, 'view ' || pg_get_viewdef(c.oid)
			FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('v', 'm')
			UNION ALL
			SELECT t.relname, 'index ' || i.relname || ' ' || pg_get_indexdef(x.indexrelid)
			FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
			WHERE t.relnamespace = current_schema()::regnamespace
			UNION ALL
			SELECT coalesce(t.relname, ''), 'constraint ' || k.conname || ' ' || pg_get_constraintdef(k.oid)
			FROM pg_constraint k LEFT JOIN pg_class t ON t.oid = k.conrelid
			WHERE k.connamespace = current_schema()::regnamespace
			UNION ALL
			SELECT t.relname, 'trigger ' || g.tgenabled::text || ' ' || pg_get_triggerdef(g.oid)
			FROM pg_trigger g JOIN pg_class t ON t.oid = g.tgrelid
			WHERE NOT g.tgisinternal AND t.relnamespace = current_schema()::regnamespace
			UNION ALL
			SELECT t.relname, 'policy ' || p.polname || ' ' || p.polcmd::text || ' ' || p.polpermissive::text || ' ' ||
				coalesce(pg_get_expr(p.polqual, p.polrelid), '') || ' ' || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '')
			FROM pg_policy p JOIN pg_class t ON t.oid = p.polrelid
			WHERE t.relnamespace = current_schema()::regnamespace
			UNION ALL
			SELECT c.relname, 'sequence ' || format_type(s.seqtypid, NULL) || ' ' || s.seqstart || ' ' || s.seqincrement || ' ' ||
				s.seqmin || ' ' || s.seqmax || ' ' || s.seqcache || ' ' || s.seqcycle::text
			FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
			WHERE c.relnamespace = current_schema()::regnamespace
			UNION ALL
			SELECT '', 'function ' || p.oid::regprocedure::text || ' ' || p.prokind::text || ' ' || pg_get_function_result(p.oid) || ' ' || md5(p.prosrc)
			FROM pg_proc p WHERE p.pronamespace = current_schema()::regnamespace
			UNION ALL
			SELECT '', 'type ' || t.typname || ' ' || t.typtype::text || ' ' || format_type(t.typbasetype, t.typtypmod) || ' ' ||
				coalesce((SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid), '')
			FROM pg_type t WHERE t.typnamespace = current_schema()::regnamespace AND t.typrelid = 0 AND t.typcategory <> 'A'
			UNION ALL
			SELECT '', 'schema ' || n.nspname FROM pg_namespace n
			WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
			UNION ALL
			SELECT '', 'extension ' || x.extname || ' ' || x.extversion FROM pg_extension x`
	case MySQL:
		return `SELECT table_name, CONCAT_WS(' ', 'column', column_name, column_type, is_nullable, COALESCE(column_default, 'NULL'),
				extra, COALESCE(collation_name, ''), COALESCE(generation_expression, ''))
			FROM information_schema.columns WHERE table_schema = DATABASE()
			UNION ALL
			SELECT table_name, CONCAT_WS(' ', 'table', table_type, COALESCE(engine, ''), COALESCE(table_collation, ''))
			FROM information_schema.tables WHERE table_schema = DATABASE()
			UNION ALL
			SELECT table_name, CONCAT_WS(' ', 'view', view_definition, check_option)
			FROM information_schema.views WHERE table_schema = DATABASE()
			UNION ALL
			SELECT table_name, CONCAT_WS(' ', 'index', index_name, seq_in_index, column_name, non_unique, COALESCE(sub_part, ''))
			FROM information_schema.statistics WHERE table_schema = DATABASE()
			UNION ALL
			SELECT '', CONCAT_WS(' ', 'check', constraint_name, check_clause)
			FROM information_schema.check_constraints WHERE constraint_schema = DATABASE()
			UNION ALL
			SELECT table_name, CONCAT_WS(' ', 'foreign key', constraint_name, referenced_table_name, update_rule, delete_rule)
			FROM information_schema.referential_constraints WHERE constraint_schema = DATABASE()
			UNION ALL
			SELECT table_name, CONCAT_WS(' ', 'key column', constraint_name, column_name, ordinal_position,
				COALESCE(referenced_table_name, ''), COALESCE(referenced_column_name, ''))
			FROM information_schema.key_column_usage WHERE table_schema = DATABASE()
			UNION ALL
			SELECT event_object_table, CONCAT_WS(' ', 'trigger', trigger_name, action_timing, event_manipulation, action_order, action_statement)
			FROM information_schema.triggers WHERE trigger_schema = DATABASE()
			UNION ALL
			SELECT '', CONCAT_WS(' ', 'routine', routine_type, routine_name, COALESCE(routine_definition, ''))
			FROM information_schema.routines WHERE routine_schema = DATABASE()
			UNION ALL
			SELECT '', CONCAT_WS(' ', 'event', event_name, status, COALESCE(event_definition, ''))
			FROM information_schema.events WHERE event_schema = DATABASE()`
	}
	return `SELECT tbl_name, type || ' ' || name || ' ' || coalesce(sql, '') FROM sqlite_master
		WHERE name NOT LIKE 'sqlite\_%' ESCAPE '\'`
}

// schemaFingerprint describes the schema of c's database, table by table.
func schemaFingerprint(ctx context.Context, b Backend, c driver.Conn) (map[string]string, error) {
	parts := map[string][]string{}
	err := eachRow(ctx, c, schemaSQL(b), nil, func(dest []driver.Value) {
		t, d := asString(dest[0]), asString(dest[1])
		parts[t] = append(parts[t], d)
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(parts))
	for t, p := range parts {
		sort.Strings(p)
		out[t] = strings.Join(p, "\n")
	}
	return out, nil
}

// sqlString quotes s as an SQL string literal.
func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func asString(v driver.Value) string {
	switch v := v.(type) {
	case string:
		return v
	case []byte:
		return string(v)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// captureBase records the base state of sl's clean database: its schema,
// the rows its migrations seeded and, on PostgreSQL, the sequences they
// advanced.
func captureBase(ctx context.Context, b Backend, sl *slot) (*baseState, error) {
	fp, err := schemaFingerprint(ctx, b, sl.conn)
	if err != nil {
		return nil, err
	}
	base := &baseState{schema: fp}
	for _, t := range slices.Sorted(maps.Keys(sl.baseline)) {
		if sl.baseline[t] == 0 || t == gooseVersionTable {
			continue
		}
		st := seedTable{table: t}
		if st.cols, err = insertableColumns(ctx, b, sl.conn, t); err != nil {
			return nil, fmt.Errorf("reading the columns of %s: %w", t, err)
		}
		if b != SQLite && len(st.cols) > 0 {
			q := "SELECT " + quoteList(b, st.cols) + " FROM " + quoteIdent(b, t)
			if _, st.rows, err = readRows(ctx, sl.conn, q); err != nil {
				return nil, fmt.Errorf("reading the rows the migrations seeded in %s: %w", t, err)
			}
		}
		base.seeds = append(base.seeds, st)
	}
	if b == MySQL {
		if base.autoInc, err = mysqlAutoIncrements(ctx, sl.conn); err != nil {
			return nil, err
		}
	}
	switch b {
	case Postgres:
		names, err := queryStrings(ctx, sl.conn, `SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
			JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE c.relkind = 'S' AND c.relnamespace = current_schema()::regnamespace ORDER BY 1`)
		if err != nil {
			return nil, err
		}
		if len(names) > 0 {
			parts := make([]string, len(names))
			for i, n := range names {
				parts[i] = fmt.Sprintf("SELECT %d, last_value, is_called FROM %s", i, n)
			}
			base.seqQuery = strings.Join(parts, " UNION ALL ")
			if base.seqs, err = postgresSequences(ctx, sl.conn, names, base.seqQuery); err != nil {
				return nil, err
			}
		}
	case SQLite:
		has, err := queryStrings(ctx, sl.conn, "SELECT name FROM sqlite_master WHERE name = 'sqlite_sequence'")
		if err != nil {
			return nil, err
		}
		if len(has) > 0 {
			err := eachRow(ctx, sl.conn, "SELECT name, seq FROM sqlite_sequence ORDER BY name", nil, func(dest []driver.Value) {
				base.sqliteSeq = append(base.sqliteSeq, seqValue{name: asString(dest[0]), value: asInt(dest[1])})
			})
			if err != nil {
				return nil, err
			}
		}
	}
	return base, nil
}

// postgresSequences reads the state of the sequences names, with query
// (baseState.seqQuery).
func postgresSequences(ctx context.Context, c driver.Conn, names []string, query string) ([]seqValue, error) {
	out := make([]seqValue, len(names))
	err := eachRow(ctx, c, query, nil, func(dest []driver.Value) {
		if i := asInt(dest[0]); int(i) < len(names) {
			called, _ := dest[2].(bool)
			out[i] = seqValue{names[i], asInt(dest[1]), called}
		}
	})
	return out, err
}

// insertableColumns names the columns of table that an INSERT may set, in
// order: all but the generated ones.
func insertableColumns(ctx context.Context, b Backend, c driver.Conn, table string) ([]string, error) {
	var q string
	switch b {
	case Postgres:
		q = `SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped
			AND attgenerated = '' ORDER BY attnum`
		table = pgQuote(table)
	case MySQL:
		q = `SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ?
			AND COALESCE(generation_expression, '') = '' ORDER BY ordinal_position`
	default:
		// hidden: 1 for a virtual table's hidden columns, 2 and 3 for
		// generated ones.
		q = "SELECT name FROM pragma_table_xinfo(?) WHERE hidden = 0 ORDER BY cid"
	}
	var cols []string
	err := eachRow(ctx, c, q, namedValues([]driver.Value{table}), func(dest []driver.Value) {
		cols = append(cols, asString(dest[0]))
	})
	return cols, err
}

func quoteList(b Backend, names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quoteIdent(b, n)
	}
	return strings.Join(q, ", ")
}

// mysqlAutoIncrements reads the AUTO_INCREMENT of every table. MySQL 8
// caches it in information_schema for a day unless told otherwise; MariaDB
// has no such cache, nor the variable.
func mysqlAutoIncrements(ctx context.Context, c driver.Conn) (map[string]int64, error) {
	execConn(ctx, c, "SET SESSION information_schema_stats_expiry = 0", nil)
	_, rows, err := readRows(ctx, c, `SELECT table_name, COALESCE(auto_increment, 0) FROM information_schema.tables
		WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'`)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(rows))
	for _, r := range rows {
		out[asString(r[0])] = asInt(r[1])
	}
	return out, nil
}

// readRows reads every row of a query into memory.
func readRows(ctx context.Context, c driver.Conn, query string) ([]string, [][]driver.Value, error) {
	rows, st, err := queryConn(ctx, c, query, nil)
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		rows.Close()
		if st != nil {
			st.Close()
		}
	}()
	cols := rows.Columns()
	var out [][]driver.Value
	for {
		dest := make([]driver.Value, len(cols))
		if err := rows.Next(dest); err == io.EOF {
			return cols, out, nil
		} else if err != nil {
			return nil, nil, err
		}
		for i, v := range dest {
			if b, ok := v.([]byte); ok {
				dest[i] = append([]byte(nil), b...)
			}
		}
		out = append(out, dest)
	}
}

// restore brings sl's database back to its base state, in place. It
// returns a *rebuildError when the database cannot be brought back for a
// reason that is no fault of the test, such as a changed schema (the
// caller then rebuilds the database), and otherwise the error of the
// statement that failed.
func restore(ctx context.Context, b Backend, sl *slot) error {
	if sl.conn == nil || sl.base == nil || sl.baseline == nil {
		return errSchemaChanged
	}
	if b == SQLite && sqliteFileMoved(sl.conn) {
		return errSchemaChanged
	}
	if sl.chained { // a transaction the last rollback began: not this one's
		if _, err := execConn(ctx, sl.conn, "ROLLBACK", nil); err != nil {
			return err
		}
		sl.chained = false
	}
	r := restorer{b: b, sl: sl}
	err := r.run(ctx)
	if cerr := r.finish(ctx); err == nil {
		err = cerr
	}
	if err == nil && b != SQLite {
		err = otherSessions(ctx, b, sl.conn)
	}
	return err
}

// otherSessionsSQL counts the sessions on the connection's database other
// than its own (PostgreSQL's background workers aside).
func otherSessionsSQL(b Backend) string {
	if b == Postgres {
		return `SELECT COUNT(*) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`
	}
	return "SELECT COUNT(*) FROM information_schema.processlist WHERE db = DATABASE() AND id <> CONNECTION_ID()"
}

// otherSessions returns a *rebuildError when connections other than c
// are still attached to its database: a pool or connection the test left
// open would go on reading and writing the next test's database.
// Dropping the database ends them. Connections closed just before take
// the server a moment to go: it waits up to a second for them.
func otherSessions(ctx context.Context, b Backend, c driver.Conn) error {
	var n int64
	for wait := time.Millisecond; ; wait *= 2 {
		err := eachRow(ctx, c, otherSessionsSQL(b), nil, func(dest []driver.Value) { n = asInt(dest[0]) })
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if wait > 512*time.Millisecond {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
	return rebuild("%d other %s still attached to it (a pool or connection the test left open; dropping the database ends %s)",
		n, plural(n, "connection is", "connections are"), plural(n, "it", "them"))
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// restorer runs the statements of one restore on a slot's connection.
type restorer struct {
	b     Backend
	sl    *slot
	fkOff bool // MySQL's FOREIGN_KEY_CHECKS or SQLite's foreign_keys is off
}

func (r *restorer) exec(ctx context.Context, query string, args ...driver.Value) error {
	if _, err := execConn(ctx, r.sl.conn, query, namedValues(args)); err != nil {
		return fmt.Errorf("%s: %w", statementHead(query), err)
	}
	return nil
}

func (r *restorer) run(ctx context.Context) error {
	names, err := queryStrings(ctx, r.sl.conn, listTablesSQL(r.b))
	if err != nil {
		return err
	}
	var created []string
	for _, n := range names {
		if _, ok := r.sl.baseline[n]; !ok {
			created = append(created, n)
		}
	}
	if r.b != Postgres {
		// Off for the connection, outside any transaction (SQLite ignores
		// the pragma inside one).
		q := "SET FOREIGN_KEY_CHECKS = 0"
		if r.b == SQLite {
			q = "PRAGMA foreign_keys = OFF"
		}
		if err := r.exec(ctx, q); err != nil {
			return err
		}
		r.fkOff = true
	}
	if len(created) > 0 {
		if err := r.dropTables(ctx, created); err != nil {
			return err
		}
		if r.b == Postgres {
			// Statements prepared on the connection for the dropped
			// tables would fail on a table of the same name with other
			// columns ("cached plan must not change result type"), as
			// after a test's DDL.
			if err := (postgresDialect{}).forget(ctx, r.sl.conn, r.sl.stmts); err != nil {
				return err
			}
		}
	}
	fp, err := schemaFingerprint(ctx, r.b, r.sl.conn)
	if err != nil {
		return err
	}
	if !maps.Equal(fp, r.sl.base.schema) {
		return errSchemaChanged
	}
	tables, err := r.changedTables(ctx)
	if err != nil {
		return err
	}
	switch r.b {
	case Postgres:
		err = r.restorePostgres(ctx, tables)
	case MySQL:
		err = r.restoreMySQL(ctx, tables)
	default:
		err = r.restoreSQLite(ctx, tables)
	}
	if err != nil {
		return err
	}
	now, err := countTables(ctx, r.b, r.sl.conn)
	if err != nil {
		return err
	}
	if diffs, _ := diffCounts(r.sl.baseline, now); len(diffs) > 0 {
		return rebuild("tables still differ after the restore: %s", strings.Join(diffs, ", "))
	}
	return nil
}

// changedTables names the tables to empty: those with rows, where the
// clean database has none, those the migrations seeded, and on MySQL
// those whose AUTO_INCREMENT moved. Emptying only these costs far less
// than emptying every table (TRUNCATE makes a new file for each). On
// SQLite, where DELETE FROM an empty table costs nothing, it is every
// table.
func (r *restorer) changedTables(ctx context.Context) ([]string, error) {
	var tables []string
	if r.b == SQLite {
		for _, t := range slices.Sorted(maps.Keys(r.sl.baseline)) {
			if t != gooseVersionTable {
				tables = append(tables, t)
			}
		}
		return tables, nil
	}
	now, err := countTables(ctx, r.b, r.sl.conn)
	if err != nil {
		return nil, err
	}
	var autoInc map[string]int64
	if r.b == MySQL {
		if autoInc, err = mysqlAutoIncrements(ctx, r.sl.conn); err != nil {
			return nil, err
		}
	}
	for _, t := range slices.Sorted(maps.Keys(r.sl.baseline)) {
		switch {
		case t == gooseVersionTable:
		case r.sl.baseline[t] > 0 || now[t] > 0,
			autoInc != nil && autoInc[t] != r.sl.base.autoInc[t]:
			tables = append(tables, t)
		}
	}
	return tables, nil
}

// finish turns the foreign key checks back on.
func (r *restorer) finish(ctx context.Context) error {
	if !r.fkOff {
		return nil
	}
	q := "SET FOREIGN_KEY_CHECKS = 1"
	if r.b == SQLite {
		q = "PRAGMA foreign_keys = ON"
	}
	return r.exec(ctx, q)
}

func (r *restorer) quoteAll(tables []string) string { return quoteList(r.b, tables) }

// dropTables drops the tables the test created.
func (r *restorer) dropTables(ctx context.Context, tables []string) error {
	switch r.b {
	case Postgres:
		return r.exec(ctx, "DROP TABLE IF EXISTS "+r.quoteAll(tables)+" CASCADE")
	case MySQL:
		return r.exec(ctx, "DROP TABLE IF EXISTS "+r.quoteAll(tables))
	}
	for _, t := range tables {
		if err := r.exec(ctx, "DROP TABLE IF EXISTS "+quoteIdent(r.b, t)); err != nil {
			return err
		}
	}
	return nil
}

// restorePostgres empties the tables, seeds them again, then sets every
// sequence back to its state in the clean database. It empties them with DELETE, the
// tables that refer to others first, in one transaction: for the few rows
// a test writes that costs a fraction of TRUNCATE, which makes new files
// for every table and, with CASCADE, for every table that refers to them.
// Tables whose foreign keys form a cycle, or with a trigger on DELETE, are
// truncated instead.
func (r *restorer) restorePostgres(ctx context.Context, tables []string) error {
	if len(tables) > 0 {
		order, err := r.postgresDeleteOrder(ctx, tables)
		if err != nil {
			return err
		}
		if order == nil {
			if err := r.exec(ctx, "TRUNCATE "+r.quoteAll(tables)+" RESTART IDENTITY CASCADE"); err != nil {
				return err
			}
		} else {
			var q strings.Builder
			for _, t := range order {
				fmt.Fprintf(&q, " DELETE FROM %s;", quoteIdent(r.b, t))
			}
			if err := r.execInTransaction(ctx, q.String()); err != nil {
				return err
			}
		}
	}
	if err := r.reseedServer(ctx); err != nil {
		return err
	}
	return r.resetSequences(ctx)
}

// resetSequences sets every sequence whose state (last_value, is_called)
// differs from the clean database's back to it, in one statement.
func (r *restorer) resetSequences(ctx context.Context) error {
	base := r.sl.base
	if base.seqQuery == "" {
		return nil
	}
	names := make([]string, len(base.seqs))
	for i, s := range base.seqs {
		names[i] = s.name
	}
	now, err := postgresSequences(ctx, r.sl.conn, names, base.seqQuery)
	if err != nil {
		return err
	}
	var sets []string
	var args []driver.Value
	for i, s := range base.seqs {
		if now[i] == s {
			continue
		}
		args = append(args, s.name, s.value, s.isCalled)
		n := len(args)
		sets = append(sets, fmt.Sprintf("setval($%d::regclass, $%d, $%d)", n-2, n-1, n))
	}
	if len(sets) == 0 {
		return nil
	}
	return r.exec(ctx, "SELECT "+strings.Join(sets, ", "), args...)
}

// restoreMySQL empties the tables, which restarts their AUTO_INCREMENT,
// and seeds them again. TRUNCATE is one statement a table: MySQL refuses
// several at once.
func (r *restorer) restoreMySQL(ctx context.Context, tables []string) error {
	for _, t := range tables {
		if err := r.exec(ctx, "TRUNCATE TABLE "+quoteIdent(r.b, t)); err != nil {
			return err
		}
	}
	if err := r.reseedServer(ctx); err != nil {
		return err
	}
	return r.resetAutoIncrements(ctx, tables)
}

// resetAutoIncrements sets the AUTO_INCREMENT of the tables the restore
// emptied back to the clean database's where TRUNCATE and the seeded rows
// left it elsewhere (a table made with AUTO_INCREMENT = 100, or whose
// migrations inserted and deleted rows).
func (r *restorer) resetAutoIncrements(ctx context.Context, tables []string) error {
	if len(tables) == 0 {
		return nil
	}
	now, err := mysqlAutoIncrements(ctx, r.sl.conn)
	if err != nil {
		return err
	}
	var altered bool
	for _, t := range tables {
		if want := r.sl.base.autoInc[t]; now[t] != want && want > 0 {
			if err := r.exec(ctx, fmt.Sprintf("ALTER TABLE %s AUTO_INCREMENT = %d", quoteIdent(r.b, t), want)); err != nil {
				return err
			}
			altered = true
		}
	}
	if !altered {
		return nil
	}
	if now, err = mysqlAutoIncrements(ctx, r.sl.conn); err != nil {
		return err
	}
	for _, t := range tables {
		if want := r.sl.base.autoInc[t]; now[t] != want {
			return rebuild("the AUTO_INCREMENT of %s is %d after the restore, not %d as in the migrated database", t, now[t], want)
		}
	}
	return nil
}

// reseedServer inserts the seeded rows again. With PostgreSQL's foreign
// keys on, a table whose rows refer to another's waits for it: each pass
// inserts the tables it can, until none is left. Rows that cannot go back
// mean a new database.
func (r *restorer) reseedServer(ctx context.Context) error {
	pending := r.sl.base.seeds
	for len(pending) > 0 {
		var next []seedTable
		var lastErr error
		for _, t := range pending {
			if err := r.insertSeed(ctx, t); err != nil {
				next, lastErr = append(next, t), err
			}
		}
		if len(next) == len(pending) {
			return rebuild("the rows the migrations seeded cannot be inserted again: %v", lastErr)
		}
		pending = next
	}
	return nil
}

// maxParams is the most bind parameters a statement may have: PostgreSQL's
// protocol and MySQL's prepared statements both count them in 16 bits.
const maxParams = 65535

// insertSeed inserts one table's seeded rows, as many in each statement
// as the bind parameters allow. On PostgreSQL, OVERRIDING SYSTEM VALUE
// lets it set an identity column GENERATED ALWAYS.
func (r *restorer) insertSeed(ctx context.Context, t seedTable) error {
	if len(t.cols) == 0 {
		return fmt.Errorf("%s has no column an INSERT can set", t.table)
	}
	head := "INSERT INTO " + quoteIdent(r.b, t.table) + " (" + quoteList(r.b, t.cols) + ")"
	if r.b == Postgres {
		head += " OVERRIDING SYSTEM VALUE"
	}
	per := max(1, maxParams/len(t.cols))
	for rows := range slices.Chunk(t.rows, per) {
		var q strings.Builder
		q.WriteString(head + " VALUES ")
		args := make([]driver.Value, 0, len(rows)*len(t.cols))
		for i, row := range rows {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(")
			for j, v := range row {
				if j > 0 {
					q.WriteString(", ")
				}
				args = append(args, v)
				if r.b == Postgres {
					fmt.Fprintf(&q, "$%d", len(args))
				} else {
					q.WriteString("?")
				}
			}
			q.WriteString(")")
		}
		if _, err := execConn(ctx, r.sl.conn, q.String(), namedValues(args)); err != nil {
			return fmt.Errorf("INSERT INTO %s (the rows the migrations seeded): %w", t.table, err)
		}
	}
	return nil
}

// restoreSQLite empties the tables and SQLite's AUTOINCREMENT counters in
// one transaction, with the triggers off, and copies the seeded rows back
// from the migrated template, attached for the purpose.
func (r *restorer) restoreSQLite(ctx context.Context, tables []string) error {
	hasSeq, err := queryStrings(ctx, r.sl.conn, "SELECT name FROM sqlite_master WHERE name = 'sqlite_sequence'")
	if err != nil {
		return err
	}
	seeds := r.sl.base.seeds
	if len(seeds) > 0 {
		if r.sl.seedDB == "" {
			return errors.New("no template to copy the seeded rows from")
		}
		if err := r.exec(ctx, "ATTACH DATABASE ? AS dbtest_seed", r.sl.seedDB); err != nil {
			return err
		}
		defer r.exec(context.WithoutCancel(ctx), "DETACH DATABASE dbtest_seed")
	}
	// The migrations' triggers stay out of it: one on DELETE would write
	// rows (an audit table's) while the restore empties the tables.
	if raw, ok := r.sl.conn.(sqlitedriver.Conn); ok {
		if on, err := raw.Raw().Config(sqlite3.DBCONFIG_ENABLE_TRIGGER); err == nil && on {
			if _, err := raw.Raw().Config(sqlite3.DBCONFIG_ENABLE_TRIGGER, false); err != nil {
				return fmt.Errorf("turning the triggers off: %w", err)
			}
			defer raw.Raw().Config(sqlite3.DBCONFIG_ENABLE_TRIGGER, true)
		}
	}
	var q strings.Builder
	for _, t := range tables {
		fmt.Fprintf(&q, " DELETE FROM main.%s;", quoteIdent(r.b, t))
	}
	for _, t := range seeds {
		n := quoteIdent(r.b, t.table)
		cols := quoteList(r.b, t.cols)
		fmt.Fprintf(&q, " INSERT INTO main.%s (%s) SELECT %s FROM dbtest_seed.%s;", n, cols, cols, n)
	}
	if len(hasSeq) > 0 {
		// The counters as the migrations left them, seeded rows or not.
		q.WriteString(" DELETE FROM main.sqlite_sequence;")
		for _, s := range r.sl.base.sqliteSeq {
			fmt.Fprintf(&q, " INSERT INTO main.sqlite_sequence (name, seq) VALUES (%s, %d);", sqlString(s.name), s.value)
		}
	}
	return r.execInTransaction(ctx, q.String())
}

// execInTransaction runs statements, a script that empties tables and
// fills them again, in one round trip and one transaction, rolled back
// when a statement fails.
func (r *restorer) execInTransaction(ctx context.Context, statements string) error {
	if _, err := execConn(ctx, r.sl.conn, "BEGIN;"+statements+" COMMIT", nil); err != nil {
		execConn(context.WithoutCancel(ctx), r.sl.conn, "ROLLBACK", nil)
		return fmt.Errorf("DELETE FROM each table: %w", err)
	}
	return nil
}

// postgresDeleteOrder orders tables so that a table comes before the
// tables its foreign keys refer to: deleting in that order never breaks a
// reference. Tables outside the list hold no rows (changedTables), so
// only references between listed tables matter. It returns nil when
// their foreign keys form a cycle, or when one of them has a trigger on
// DELETE: the trigger would write rows (an audit table's) while the
// restore empties them, and TRUNCATE fires no such trigger.
func (r *restorer) postgresDeleteOrder(ctx context.Context, tables []string) ([]string, error) {
	_, rows, err := readRows(ctx, r.sl.conn, `SELECT c.relname, p.relname
		FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid
		WHERE k.contype = 'f' AND c.relnamespace = current_schema()::regnamespace AND k.conrelid <> k.confrelid
		UNION ALL
		SELECT c.relname, NULL FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
		WHERE NOT g.tgisinternal AND g.tgtype & 8 <> 0 AND c.relnamespace = current_schema()::regnamespace`)
	if err != nil {
		return nil, err
	}
	listed := make(map[string]bool, len(tables))
	for _, t := range tables {
		listed[t] = true
	}
	for _, row := range rows {
		if row[1] == nil && listed[asString(row[0])] {
			return nil, nil // a trigger on DELETE
		}
	}
	// refs[p] counts the listed tables that refer to p and are not yet
	// ordered; p may go once none is left.
	refs := map[string]int{}
	children := map[string][]string{} // child -> the parents it refers to
	for _, row := range rows {
		child, parent := asString(row[0]), asString(row[1])
		if row[1] != nil && listed[child] && listed[parent] {
			refs[parent]++
			children[child] = append(children[child], parent)
		}
	}
	order := make([]string, 0, len(tables))
	done := make(map[string]bool, len(tables))
	for len(order) < len(tables) {
		progress := false
		for _, t := range tables {
			if done[t] || refs[t] > 0 {
				continue
			}
			done[t], progress = true, true
			order = append(order, t)
			for _, p := range children[t] {
				refs[p]--
			}
		}
		if !progress {
			return nil, nil
		}
	}
	return order, nil
}
