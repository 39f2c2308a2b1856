package dbtest

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
)

// Helpers that run statements on a driver.Conn of any driver, using the
// context-aware fast paths where the driver has them.

func namedValues(args []driver.Value) []driver.NamedValue {
	nv := make([]driver.NamedValue, len(args))
	for i, v := range args {
		nv[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return nv
}

func plainValues(args []driver.NamedValue) ([]driver.Value, error) {
	v := make([]driver.Value, len(args))
	for i, a := range args {
		if a.Name != "" {
			return nil, errors.New("dbtest: the driver does not support named parameters")
		}
		v[i] = a.Value
	}
	return v, nil
}

func execConn(ctx context.Context, c driver.Conn, query string, args []driver.NamedValue) (driver.Result, error) {
	if e, ok := c.(driver.ExecerContext); ok {
		res, err := e.ExecContext(ctx, query, args)
		if !errors.Is(err, driver.ErrSkip) {
			return res, err
		}
	}
	st, err := prepareConn(ctx, c, query)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return stmtExec(ctx, st, args)
}

// queryConn runs a query; when it had to prepare a statement, it returns it
// so that the caller closes it with the rows.
func queryConn(ctx context.Context, c driver.Conn, query string, args []driver.NamedValue) (driver.Rows, driver.Stmt, error) {
	if q, ok := c.(driver.QueryerContext); ok {
		rows, err := q.QueryContext(ctx, query, args)
		if !errors.Is(err, driver.ErrSkip) {
			return rows, nil, err
		}
	}
	st, err := prepareConn(ctx, c, query)
	if err != nil {
		return nil, nil, err
	}
	rows, err := stmtQuery(ctx, st, args)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return rows, st, nil
}

func prepareConn(ctx context.Context, c driver.Conn, query string) (driver.Stmt, error) {
	if p, ok := c.(driver.ConnPrepareContext); ok {
		return p.PrepareContext(ctx, query)
	}
	return c.Prepare(query)
}

func stmtExec(ctx context.Context, st driver.Stmt, args []driver.NamedValue) (driver.Result, error) {
	if e, ok := st.(driver.StmtExecContext); ok {
		return e.ExecContext(ctx, args)
	}
	v, err := plainValues(args)
	if err != nil {
		return nil, err
	}
	//lint:ignore SA1019 the fallback for drivers without StmtExecContext
	return st.Exec(v)
}

func stmtQuery(ctx context.Context, st driver.Stmt, args []driver.NamedValue) (driver.Rows, error) {
	if q, ok := st.(driver.StmtQueryContext); ok {
		return q.QueryContext(ctx, args)
	}
	v, err := plainValues(args)
	if err != nil {
		return nil, err
	}
	//lint:ignore SA1019 the fallback for drivers without StmtQueryContext
	return st.Query(v)
}

// eachRow runs a query and calls f with each row it returns; dest is
// reused from one row to the next. A read that fails part-way (a lost
// connection, a cancelled context) is an error, not a short result.
func eachRow(ctx context.Context, c driver.Conn, query string, args []driver.NamedValue, f func(dest []driver.Value)) error {
	rows, st, err := queryConn(ctx, c, query, args)
	if err != nil {
		return err
	}
	defer func() {
		rows.Close()
		if st != nil {
			st.Close()
		}
	}()
	dest := make([]driver.Value, len(rows.Columns()))
	for {
		err := rows.Next(dest)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		f(dest)
	}
}
