package dbtest

import (
	"context"
	"crypto/sha256"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// PostgreSQL's part in implicit savepoints (stmtsavepoint.go): a failed
// statement aborts the transaction, and an ExecContext runs in one
// pipeline with the statements that set up its savepoint, and with those
// that set the next statement's: a query after it needs no round trip of
// its own for its savepoint.
//
// The pipeline is pgconn's, on the connection under pgx's stdlib driver:
// the extended protocol runs its messages one at a time, so the savepoint
// exists before the statement is even parsed, and a statement that fails
// to parse (a table the test dropped, say) is rolled back like one that
// fails to run. A statement with arguments is prepared once per
// connection, in the pipeline of its first run, and kept in the slot's
// statement cache; its arguments are encoded by pgx as stdlib encodes
// them. A statement without arguments goes as an unnamed one; several
// statements in one string, which only the simple protocol takes, fail to
// parse (SQLSTATE 42601) and are run again the ordinary way.

var (
	_ abortingEngine     = postgresDialect{}
	_ savepointPipeliner = postgresDialect{}
	_ stmtCacher         = postgresDialect{}
)

// txFailed reads the transaction status that the server reports after
// every statement: 'E' once a statement failed in it.
func (postgresDialect) txFailed(c driver.Conn) bool {
	pc, ok := c.(*stdlib.Conn)
	return ok && pc.Conn().PgConn().TxStatus() == 'E'
}

// abortedError reports SQLSTATE 25P02, in_failed_sql_transaction.
func (postgresDialect) abortedError(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "25P02"
}

// cacheStmt: the session prepares no statement of its own on PostgreSQL,
// pgx keeping a cache; the slot's cache holds those of execAfter.
func (postgresDialect) cacheStmt(int) bool { return false }

func (postgresDialect) execAfter(ctx context.Context, c driver.Conn, kept *stmtCache, prefix, post []string, query string,
	args []driver.NamedValue) (r pipeResult) {
	pc, ok := c.(*stdlib.Conn)
	if !ok {
		return r
	}
	values := make([]any, len(args))
	for i, a := range args {
		switch a.Value.(type) {
		case pgx.QueryRewriter, pgx.QueryExecMode, pgx.QueryResultFormats, pgx.QueryResultFormatsByOID:
			return r // pgx's own options (pgx.NamedArgs, say): pgx applies them
		}
		values[i] = a.Value
	}
	r.handled = true
	pg := pc.Conn().PgConn()
	if len(args) == 0 {
		pl := startPipeline(ctx, pg, prefix)
		pl.SendQueryParams(query, nil, nil, nil, nil)
		tag, _, err, spErr := finishPipeline(pl, prefix, post)
		if spErr != nil || !syntaxError(err) {
			r.res, r.err, r.spErr, r.fresh = driver.RowsAffected(tag.RowsAffected()), err, spErr, err == nil && len(post) > 0
			return r
		}
		// Several statements in one string, or a syntax error: the
		// simple protocol takes the first, and says the same of the
		// second.
		if _, rerr := execConn(ctx, c, "ROLLBACK TO SAVEPOINT "+implicitSavepoint, nil); rerr != nil {
			r.err = err
			return r
		}
		r.res, r.err = execConn(ctx, c, query, nil)
		return r
	}
	st, _ := kept.lookup(query).(*pgStmt)
	if st == nil {
		// Prepared in the savepoint's round trip; the statement runs in
		// the next.
		pl := startPipeline(ctx, pg, prefix)
		name := pgStmtName(query)
		pl.SendPrepare(name, query, nil)
		_, sd, err, spErr := finishPipeline(pl, prefix, nil)
		if spErr != nil || err != nil {
			r.err, r.spErr = err, spErr
			return r
		}
		st = &pgStmt{pg: pg, sd: sd}
		sd.Name, sd.SQL = name, query
		kept.put(query, st)
		prefix = nil
	}
	var eqb pgx.ExtendedQueryBuilder
	if err := eqb.Build(pc.Conn().TypeMap(), st.sd, values); err != nil {
		// Refused before it reached the server, as pgx would.
		if len(prefix) > 0 {
			if _, spErr := execConn(ctx, c, strings.Join(prefix, "; "), nil); spErr != nil {
				r.spErr = spErr
				return r
			}
		}
		r.err = err
		return r
	}
	pl := startPipeline(ctx, pg, prefix)
	pl.SendQueryStatement(st.sd, eqb.ParamValues, eqb.ParamFormats, eqb.ResultFormats)
	tag, _, err, spErr := finishPipeline(pl, prefix, post)
	if err != nil {
		// As pgx does with its own cache: a statement that failed is
		// prepared again next time, in case the tables it reads changed
		// under it.
		kept.drop(query)
	}
	r.res, r.err, r.spErr, r.fresh = driver.RowsAffected(tag.RowsAffected()), err, spErr, err == nil && len(post) > 0
	return r
}

// forget deallocates every statement kept on c, in one round trip.
func (postgresDialect) forget(ctx context.Context, c driver.Conn, kept *stmtCache) error {
	if kept != nil {
		kept.take() // DEALLOCATE ALL below drops them on the server
	}
	pc, ok := c.(*stdlib.Conn)
	if !ok {
		return nil
	}
	// pgx caches statements and their result descriptions by query. Those
	// prepared while the test's DDL was in effect describe columns the
	// rollback undid: the next test would get "cached plan must not
	// change result type", or decode with the wrong types.
	if err := pc.Conn().DeallocateAll(ctx); err != nil {
		return fmt.Errorf("dbtest: postgres: dropping the statements prepared under the test's DDL: %w", err)
	}
	return nil
}

// startPipeline opens a pipeline on pg with the statements of prefix.
func startPipeline(ctx context.Context, pg *pgconn.PgConn, prefix []string) *pgconn.Pipeline {
	pl := pg.StartPipeline(ctx)
	for _, q := range prefix {
		pl.SendQueryParams(q, nil, nil, nil, nil)
	}
	return pl
}

// finishPipeline sends the statements of post after the pipeline's last
// request, then reads the results: those of prefix, of the last request (a
// command tag or a statement description, or err), and of post. spErr is
// the failure of a statement of prefix or post: after one of prefix, the
// server skipped the rest.
func finishPipeline(pl *pgconn.Pipeline, prefix, post []string) (tag pgconn.CommandTag, sd *pgconn.StatementDescription, err, spErr error) {
	for _, q := range post {
		pl.SendQueryParams(q, nil, nil, nil, nil)
	}
	if err := pl.Sync(); err != nil {
		pl.Close()
		return tag, nil, nil, err
	}
	read := func() (any, pgconn.CommandTag, error) {
		res, err := pl.GetResults()
		var tag pgconn.CommandTag
		if rr, ok := res.(*pgconn.ResultReader); ok && err == nil {
			tag, err = rr.Close()
		}
		return res, tag, err
	}
	for range prefix {
		if _, _, spErr = read(); spErr != nil {
			break
		}
	}
	if spErr == nil {
		var res any
		res, tag, err = read()
		sd, _ = res.(*pgconn.StatementDescription)
	}
	if spErr == nil && err == nil {
		for range post {
			if _, _, spErr = read(); spErr != nil {
				break
			}
		}
	}
	cerr := pl.Close()
	var pe *pgconn.PgError
	if cerr != nil && !errors.As(cerr, &pe) && err == nil && spErr == nil {
		err = cerr // the connection failed after the results
	}
	return tag, sd, err, spErr
}

// syntaxError reports SQLSTATE 42601, which PostgreSQL also gives a string
// of several statements sent with the extended protocol.
func syntaxError(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "42601"
}

// pgStmt is a statement prepared on a PostgreSQL connection by execAfter,
// kept in the slot's statement cache for the connection's life. Only
// execAfter runs it.
type pgStmt struct {
	pg *pgconn.PgConn
	sd *pgconn.StatementDescription
}

// pgStmtName names the prepared statement of query: one name per query,
// apart from pgx's own ("stmtcache_...", "stmt_...").
func pgStmtName(query string) string {
	sum := sha256.Sum256([]byte(query))
	return "dbtest_" + hex.EncodeToString(sum[:16])
}

var errPgStmt = errors.New("dbtest: a statement of implicit savepoints runs only in their pipelines")

func (st *pgStmt) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return st.pg.Deallocate(ctx, st.sd.Name)
}

func (st *pgStmt) NumInput() int                              { return len(st.sd.ParamOIDs) }
func (st *pgStmt) Exec([]driver.Value) (driver.Result, error) { return nil, errPgStmt }
func (st *pgStmt) Query([]driver.Value) (driver.Rows, error)  { return nil, errPgStmt }
