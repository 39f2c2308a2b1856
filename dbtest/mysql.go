package dbtest

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// mysqlDialect manages databases on a MySQL or MariaDB server.
type mysqlDialect struct{}

func (mysqlDialect) backend() Backend        { return MySQL }
func (mysqlDialect) beginSQL() string        { return "START TRANSACTION" }
func (mysqlDialect) implicitDDLCommit() bool { return true }

// cacheStmt: a statement with arguments is prepared on the server, a round
// trip of its own, before it runs; one without runs as text at once.
func (mysqlDialect) cacheStmt(nargs int) bool { return nargs > 0 }

// costlyTxCheck: inTransaction costs a round trip, so the session asks it
// only after a statement that might have ended the transaction.
func (mysqlDialect) costlyTxCheck() {}

// inTransaction asks MariaDB's in_transaction variable. MySQL 8 has no such
// variable; there the answer is "open" and the rollback runs anyway.
func (mysqlDialect) inTransaction(ctx context.Context, c driver.Conn) (bool, error) {
	rows, st, err := queryConn(ctx, c, "SELECT @@in_transaction", nil)
	if err != nil {
		return true, nil
	}
	defer func() {
		rows.Close()
		if st != nil {
			st.Close()
		}
	}()
	dest := make([]driver.Value, len(rows.Columns()))
	if err := rows.Next(dest); err != nil {
		return true, nil
	}
	return asInt(dest[0]) != 0, nil
}

// canChain: MySQL and MariaDB have ROLLBACK AND CHAIN; the driver checks
// the socket where socketChecks says it can.
func (mysqlDialect) canChain(driver.Conn) bool { return socketChecks }

// connAlive asks the driver to check the connection's socket, as it does for a
// connection that database/sql takes from its pool: no round trip.
func (mysqlDialect) connAlive(ctx context.Context, c driver.Conn) bool {
	r, ok := c.(driver.SessionResetter)
	return ok && r.ResetSession(ctx) == nil
}

// setLockTimeout sets InnoDB's row-lock wait and the metadata-lock wait,
// both in whole seconds (at least one).
func (mysqlDialect) setLockTimeout(ctx context.Context, c driver.Conn, d time.Duration) error {
	s := mysqlSeconds(d)
	_, err := execConn(ctx, c, fmt.Sprintf("SET SESSION innodb_lock_wait_timeout = %s, SESSION lock_wait_timeout = %s", s, s), nil)
	return err
}

func mysqlSeconds(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10)
}

func (mysqlDialect) connector(dsn string) (driver.Connector, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, redactErr(err, dsn)
	}
	return mysql.NewConnector(cfg)
}

func (mysqlDialect) dsn(base, db string, lockTimeout time.Duration, app string) (string, error) {
	cfg, err := mysql.ParseDSN(base)
	if err != nil {
		return "", fmt.Errorf("parsing the MySQL DSN %s: %w", redactDSN(base), redactErr(err, base))
	}
	if db != "" {
		cfg.DBName = db
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	cfg.CheckConnLiveness = true // what mysqlDialect.connAlive relies on
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	s := mysqlSeconds(lockTimeout)
	cfg.Params["innodb_lock_wait_timeout"] = s
	cfg.Params["lock_wait_timeout"] = s
	cfg.Params["time_zone"] = "'+00:00'"
	cfg.ConnectionAttributes = "program_name:" + strings.NewReplacer(":", "-", ",", "-").Replace(app)
	return cfg.FormatDSN(), nil
}

func myQuote(name string) string { return "`" + strings.ReplaceAll(name, "`", "``") + "`" }

func (mysqlDialect) createSQL(db string) string {
	return "CREATE DATABASE " + myQuote(db) + " CHARACTER SET utf8mb4"
}

// lockTimeoutStep: innodb_lock_wait_timeout counts in whole seconds.
func (mysqlDialect) lockTimeoutStep() time.Duration { return time.Second }

// lockTimeoutError is MySQL's lock-wait timeout, error 1205 (the server
// gives it for row locks and metadata locks alike).
func (mysqlDialect) lockTimeoutError(after time.Duration) error {
	return &mysql.MySQLError{Number: 1205, SQLState: [5]byte{'H', 'Y', '0', '0', '0'},
		Message: fmt.Sprintf("Lock wait timeout exceeded; try restarting transaction (dbtest stopped the statement at its %v lock timeout)", after)}
}

// tuneSQL: InnoDB looks for deadlocks as soon as a lock wait begins.
func (mysqlDialect) tuneSQL(string) []string { return nil }

func (mysqlDialect) dropSQL(db string) string { return "DROP DATABASE IF EXISTS " + myQuote(db) }

// endSessions kills the sessions on db, as PostgreSQL's DROP DATABASE
// ... WITH (FORCE) does.
func (mysqlDialect) endSessions(ctx context.Context, q sessionQuerier, db string) {
	rows, err := q.QueryContext(ctx,
		"SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()", db)
	if err != nil {
		return
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if rows.Scan(&id) == nil {
			ids = append(ids, id)
		}
	}
	rows.Close()
	for _, id := range ids {
		q.ExecContext(ctx, fmt.Sprintf("KILL %d", id)) // gone already: nothing to do
	}
}

func (mysqlDialect) listSQL() string {
	return `SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'dbtest\_%'`
}

// claim takes a named lock that the server releases when the control
// connection ends, however the process ended.
func (mysqlDialect) claim(ctx context.Context, conn *sql.Conn, token string) error {
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 0)", "dbtest:"+token).Scan(&got); err != nil {
		return err
	}
	if got.Int64 != 1 {
		return fmt.Errorf("named lock dbtest:%s is taken", token)
	}
	return nil
}

func (mysqlDialect) alive(ctx context.Context, conn *sql.Conn, token string) (bool, error) {
	var free sql.NullInt64
	err := conn.QueryRowContext(ctx, "SELECT IS_FREE_LOCK(?)", "dbtest:"+token).Scan(&free)
	return free.Int64 != 1, err
}

func (mysqlDialect) version(ctx context.Context, conn *sql.Conn) string {
	var v string
	if err := conn.QueryRowContext(ctx, "SELECT VERSION()").Scan(&v); err != nil {
		return "MySQL"
	}
	if strings.Contains(strings.ToLower(v), "mariadb") {
		return "MariaDB " + v
	}
	return "MySQL " + v
}
