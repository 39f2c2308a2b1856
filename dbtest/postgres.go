package dbtest

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// postgresDialect manages databases on a PostgreSQL server through pgx.
type postgresDialect struct{}

func (postgresDialect) backend() Backend        { return Postgres }
func (postgresDialect) beginSQL() string        { return "BEGIN" }
func (postgresDialect) implicitDDLCommit() bool { return false }

// inTransaction reads the transaction status that the server reports after
// every statement; it costs no round trip.
func (postgresDialect) inTransaction(_ context.Context, c driver.Conn) (bool, error) {
	pc, ok := c.(*stdlib.Conn)
	if !ok {
		return true, nil
	}
	return pc.Conn().PgConn().TxStatus() != 'I', nil
}

// canChain reports whether the server has ROLLBACK AND CHAIN (PostgreSQL
// 12 and later) and the connection's socket can be checked.
func (postgresDialect) canChain(c driver.Conn) bool {
	pc, ok := c.(*stdlib.Conn)
	if !ok {
		return false
	}
	pg := pc.Conn().PgConn()
	v := pg.ParameterStatus("server_version")
	major, err := strconv.Atoi(v[:len(v)-len(strings.TrimLeft(v, "0123456789"))])
	if err != nil || major < 12 {
		return false
	}
	_, known := socketAlive(pg.Conn())
	return known
}

// connAlive checks the socket: a server that closed the connection, or that
// said something unasked (a FATAL before closing), ends it.
func (postgresDialect) connAlive(_ context.Context, c driver.Conn) bool {
	pc, ok := c.(*stdlib.Conn)
	if !ok || pc.Conn().IsClosed() {
		return false
	}
	alive, _ := socketAlive(pc.Conn().PgConn().Conn())
	return alive
}

func (postgresDialect) setLockTimeout(ctx context.Context, c driver.Conn, d time.Duration) error {
	_, err := execConn(ctx, c, fmt.Sprintf("SET lock_timeout = %d", d.Milliseconds()), nil)
	return err
}

func (postgresDialect) connector(dsn string) (driver.Connector, error) {
	return (&stdlib.Driver{}).OpenConnector(dsn)
}

// dsn accepts both URL ("postgres://...") and keyword/value DSNs.
func (postgresDialect) dsn(base, db string, lockTimeout time.Duration, app string) (string, error) {
	params := [][2]string{
		{"application_name", app},
		{"lock_timeout", strconv.FormatInt(lockTimeout.Milliseconds(), 10)},
		{"timezone", "UTC"},
	}
	if strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://") {
		u, err := url.Parse(base)
		if err != nil {
			return "", fmt.Errorf("parsing the PostgreSQL URL %s: %w", redactDSN(base), urlError(err, base))
		}
		if db != "" {
			u.Path = "/" + db
		}
		q := u.Query()
		if !q.Has("connect_timeout") {
			q.Set("connect_timeout", "5")
		}
		for _, p := range params {
			q.Set(p[0], p[1])
		}
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	var b strings.Builder
	b.WriteString(base)
	if !strings.Contains(base, "connect_timeout") {
		b.WriteString(" connect_timeout=5")
	}
	if db != "" {
		params = append(params, [2]string{"dbname", db})
	}
	for _, p := range params {
		fmt.Fprintf(&b, " %s='%s'", p[0], strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(p[1]))
	}
	return b.String(), nil
}

func pgQuote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

func (postgresDialect) createSQL(db string) string { return "CREATE DATABASE " + pgQuote(db) }

// lockTimeoutStep: lock_timeout counts in milliseconds.
func (postgresDialect) lockTimeoutStep() time.Duration { return 0 }

// lockTimeoutError is PostgreSQL's lock_not_available; dbtest never needs
// it, the server keeping any lock timeout itself.
func (postgresDialect) lockTimeoutError(after time.Duration) error {
	return &pgconn.PgError{Severity: "ERROR", Code: "55P03", Message: fmt.Sprintf("canceling statement due to lock timeout (%v)", after)}
}

// deadlockTimeout is PostgreSQL's deadlock_timeout on dbtest's databases:
// the server looks for a deadlock only after a lock wait has lasted that
// long (1 s by default, as long as dbtest's lock timeout, which would then
// end the wait first and hide the deadlock).
const deadlockTimeout = 100 * time.Millisecond

// tuneSQL sets deadlock_timeout for every session of database db. It is a
// superuser setting (or one granted with GRANT SET ON PARAMETER); without
// the privilege the server's own value stays.
func (postgresDialect) tuneSQL(db string) []string {
	return []string{fmt.Sprintf("ALTER DATABASE %s SET deadlock_timeout = %d", pgQuote(db), deadlockTimeout.Milliseconds())}
}

func (postgresDialect) tunedDeadlockTimeout() time.Duration { return deadlockTimeout }

// deadlockSetting reads the deadlock_timeout of db's sessions
// (current_setting: the server's value, or one set for the role), and says
// what would let dbtest lower it.
func (postgresDialect) deadlockSetting(ctx context.Context, db *sql.DB) deadlockSetting {
	var ms int64
	var role string
	var version int
	err := db.QueryRowContext(ctx, `SELECT (extract(epoch FROM current_setting('deadlock_timeout')::interval) * 1000)::bigint,
		current_user, current_setting('server_version_num')::int`).Scan(&ms, &role, &version)
	if err != nil {
		return deadlockSetting{}
	}
	set := fmt.Sprintf("ALTER ROLE %s SET deadlock_timeout = '%dms'", pgQuote(role), deadlockTimeout.Milliseconds())
	advice := fmt.Sprintf("To let dbtest lower it, run the tests as a superuser, or have a superuser run %s", set)
	if version >= 150000 {
		advice = fmt.Sprintf("To let dbtest lower it, have a superuser run GRANT SET ON PARAMETER deadlock_timeout TO %s (or %s)", pgQuote(role), set)
	}
	return deadlockSetting{timeout: time.Duration(ms) * time.Millisecond, advice: advice}
}

func (postgresDialect) dropSQL(db string) string {
	return "DROP DATABASE IF EXISTS " + pgQuote(db) + " WITH (FORCE)"
}

// endSessions needs nothing: DROP DATABASE ... WITH (FORCE) ends them.
func (postgresDialect) endSessions(context.Context, sessionQuerier, string) {}

func (postgresDialect) listSQL() string {
	return `SELECT datname FROM pg_database WHERE datname LIKE 'dbtest\_%'`
}

// claim needs nothing more: the control connection's application_name,
// "dbtest:<token>", is visible in pg_stat_activity to every user.
func (postgresDialect) claim(context.Context, *sql.Conn, string) error { return nil }

func (postgresDialect) alive(ctx context.Context, conn *sql.Conn, token string) (bool, error) {
	var alive bool
	err := conn.QueryRowContext(ctx,
		`SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = $1)`,
		"dbtest:"+token).Scan(&alive)
	return alive, err
}

func (postgresDialect) version(ctx context.Context, conn *sql.Conn) string {
	var v string
	if err := conn.QueryRowContext(ctx, "SHOW server_version").Scan(&v); err != nil {
		return "PostgreSQL"
	}
	return "PostgreSQL " + v
}
