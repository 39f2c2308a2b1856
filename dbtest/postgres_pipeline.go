package dbtest

import (
	"context"
	"crypto/sha256"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// PostgreSQL's part in implicit savepoints (stmtsavepoint.go): a failed
// statement aborts the transaction, and an ExecContext runs in one
// pipeline with the statements that set up its savepoint.
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

func (postgresDialect) execAfter(ctx context.Context, c driver.Conn, kept *stmtCache, prefix []string, query string,
	args []driver.NamedValue) (driver.Result, error, error, bool) {
	pc, ok := c.(*stdlib.Conn)
	if !ok {
		return nil, nil, nil, false
	}
	values := make([]any, len(args))
	for i, a := range args {
		switch a.Value.(type) {
		case pgx.QueryRewriter, pgx.QueryExecMode, pgx.QueryResultFormats, pgx.QueryResultFormatsByOID:
			return nil, nil, nil, false // pgx's own options (pgx.NamedArgs, say): pgx applies them
		}
		values[i] = a.Value
	}
	pg := pc.Conn().PgConn()
	if len(args) == 0 {
		pl := startPipeline(ctx, pg, prefix)
		pl.SendQueryParams(query, nil, nil, nil, nil)
		tag, _, err, perr := finishPipeline(pl, len(prefix))
		if perr != nil || !syntaxError(err) {
			return driver.RowsAffected(tag.RowsAffected()), err, perr, true
		}
		// Several statements in one string, or a syntax error: the
		// simple protocol takes the first, and says the same of the
		// second.
		if _, rerr := execConn(ctx, c, "ROLLBACK TO SAVEPOINT "+implicitSavepoint, nil); rerr != nil {
			return nil, err, nil, true
		}
		res, err := execConn(ctx, c, query, nil)
		return res, err, nil, true
	}
	st, _ := kept.lookup(query).(*pgStmt)
	if st == nil {
		// Prepared in the savepoint's round trip; the statement runs in
		// the next.
		pl := startPipeline(ctx, pg, prefix)
		name := pgStmtName(query)
		pl.SendPrepare(name, query, nil)
		_, sd, err, perr := finishPipeline(pl, len(prefix))
		if perr != nil || err != nil {
			return nil, err, perr, true
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
			if _, perr := execConn(ctx, c, strings.Join(prefix, "; "), nil); perr != nil {
				return nil, nil, perr, true
			}
		}
		return nil, err, nil, true
	}
	pl := startPipeline(ctx, pg, prefix)
	pl.SendQueryStatement(st.sd, eqb.ParamValues, eqb.ParamFormats, eqb.ResultFormats)
	tag, _, err, perr := finishPipeline(pl, len(prefix))
	if err != nil {
		// As pgx does with its own cache: a statement that failed is
		// prepared again next time, in case the tables it reads changed
		// under it.
		kept.drop(query)
	}
	return driver.RowsAffected(tag.RowsAffected()), err, perr, true
}

// forget deallocates every statement kept on c, in one round trip.
func (postgresDialect) forget(ctx context.Context, c driver.Conn, kept *stmtCache) {
	pc, ok := c.(*stdlib.Conn)
	sts := kept.take()
	if !ok || len(sts) == 0 {
		return
	}
	pl := pc.Conn().PgConn().StartPipeline(ctx)
	for _, st := range sts {
		if ps, ok := st.(*pgStmt); ok {
			pl.SendDeallocate(ps.sd.Name)
		}
	}
	pl.Sync()
	pl.Close()
}

// startPipeline opens a pipeline on pg with the statements of prefix.
func startPipeline(ctx context.Context, pg *pgconn.PgConn, prefix []string) *pgconn.Pipeline {
	pl := pg.StartPipeline(ctx)
	for _, q := range prefix {
		pl.SendQueryParams(q, nil, nil, nil, nil)
	}
	return pl
}

// finishPipeline sends the pipeline, reads the results of its nPrefix
// first requests, then those of its last: a command tag or a statement
// description, or err. prefixErr is the failure of the prefix, after
// which the server skipped the last request.
func finishPipeline(pl *pgconn.Pipeline, nPrefix int) (tag pgconn.CommandTag, sd *pgconn.StatementDescription, err, prefixErr error) {
	if err := pl.Sync(); err != nil {
		pl.Close()
		return tag, nil, nil, err
	}
	read := func() (any, error) {
		res, err := pl.GetResults()
		if rr, ok := res.(*pgconn.ResultReader); ok && err == nil {
			tag, err = rr.Close()
		}
		return res, err
	}
	for range nPrefix {
		if _, prefixErr = read(); prefixErr != nil {
			break
		}
	}
	if prefixErr == nil {
		var res any
		tag = pgconn.CommandTag{}
		res, err = read()
		sd, _ = res.(*pgconn.StatementDescription)
	}
	cerr := pl.Close()
	var pe *pgconn.PgError
	if cerr != nil && !errors.As(cerr, &pe) && err == nil && prefixErr == nil {
		err = cerr // the connection failed after the results
	}
	return tag, sd, err, prefixErr
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
