package dynamic

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
)

// schema creates the table, or adds the frame's new columns and checks the
// others, then makes the values ready for the table's column types. What it
// did is recorded in a, also when it fails half way.
func (w *write) schema(ctx context.Context, ex Querier, a *attempt) error {
	existing, err := tableColumns(ctx, ex, w.d, w.table)
	if err != nil {
		return fmt.Errorf("reading the table's columns: %w", err)
	}
	types := make([]Type, len(w.cols)) // the table's type of each frame column
	if len(existing) == 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "CREATE TABLE %s (%s %s", w.qtable, mustQuote(w.d, rowIDColumn), w.d.rowIDDef())
		for i, c := range w.cols {
			types[i] = storedType(c.Type)
			fmt.Fprintf(&b, ", %s %s", w.qcols[i], w.d.columnType(types[i]))
		}
		b.WriteString(")")
		b.WriteString(w.d.tableOptions())
		a.ddlRan = true
		if _, err := ex.ExecContext(ctx, b.String()); err != nil {
			return raced(err)
		}
		a.created = true
		return w.encode(types, a)
	}
	byKey := make(map[string]dbColumn, len(existing))
	for _, c := range existing {
		byKey[foldKey(c.name)] = c
	}
	var toAdd []int
	for i, c := range w.cols {
		e, ok := byKey[foldKey(c.Name)]
		if !ok {
			types[i] = storedType(c.Type)
			toAdd = append(toAdd, i)
			continue
		}
		if e.name != c.Name {
			return fmt.Errorf("column %q collides with the table's column %q: names must differ in more than case", c.Name, e.name)
		}
		if !fits(e.typ, c.Type) {
			hint := ""
			if e.typ == Integer && c.Type == Float {
				hint = fmt.Sprintf(" (if its values are whole numbers, build the frame with WithType(%q, Integer))", c.Name)
			}
			return fmt.Errorf("column %q is %s in the table (%s) but %s in the frame%s", c.Name, e.typ, e.decl, c.Type, hint)
		}
		types[i] = e.typ
	}
	for _, i := range toAdd {
		q := fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s", w.qtable, w.qcols[i], w.d.columnType(types[i]))
		a.ddlRan = true
		if _, err := ex.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("adding column %q: %w", w.cols[i].Name, raced(err))
		}
		a.added = append(a.added, i)
	}
	return w.encode(types, a)
}

// storedType is the type of a new table column for a frame column of type
// t: an all-NULL column becomes text.
func storedType(t Type) Type {
	if t == Unknown {
		return Text
	}
	return t
}

// fits reports whether frame values of type f go into a table column of
// type c. The same type fits; an all-NULL frame column fits anything;
// integers go into a float column (exactly, up to 2^53 in magnitude);
// anything goes into a text column, written as ReadCSV reads it back.
// Nothing else converts: a float frame column is an error for an integer
// table column, rather than a silent change of the table's type.
func fits(c, f Type) bool {
	return f == Unknown || c == f || c == Float && f == Integer || c == Text
}

// encode sets a.vals: each column's values as bound for the table's type.
// Columns that need no change share the frame's values.
func (w *write) encode(types []Type, a *attempt) error {
	a.vals = make([][]any, len(w.cols))
	for i, c := range w.cols {
		tt := types[i]
		if c.Type == Unknown || c.Type == tt && tt != Timestamp {
			a.vals[i] = c.Values
			continue
		}
		out := make([]any, len(c.Values))
		for r, v := range c.Values {
			switch {
			case v == nil:
			case tt == Timestamp:
				out[r] = w.d.encodeTime(v.(time.Time))
			case tt == Text:
				out[r] = formatValue(v)
			default:
				nv, err := convert(v, tt)
				if err != nil {
					return fmt.Errorf("column %q, row %d: %w", c.Name, r+1, err)
				}
				out[r] = nv
			}
		}
		a.vals[i] = out
	}
	return nil
}

// undo drops what the attempt created where DDL commits (MySQL), after the
// append failed with cause: the table it created, or the columns it added.
// ex is where to run it; when that connection is gone (a cancelled context
// makes the MySQL driver close it), spare is asked for another, if there is
// one. The result is cause, joined with what could not be undone.
func (w *write) undo(ctx context.Context, ex Querier, spare connPool, a *attempt, cause error) error {
	if !w.d.ddlCommits() || !a.ddl() {
		return cause
	}
	bctx := context.WithoutCancel(ctx)
	var stmts []string
	if a.created {
		stmts = []string{"DROP TABLE " + w.qtable}
	} else {
		for j := len(a.added) - 1; j >= 0; j-- {
			stmts = append(stmts, fmt.Sprintf("ALTER TABLE %s DROP COLUMN %s", w.qtable, w.qcols[a.added[j]]))
		}
	}
	var conn *sql.Conn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	for _, s := range stmts {
		_, err := ex.ExecContext(bctx, s)
		if err != nil && spare != nil && conn == nil && isBadConn(err) {
			if conn, err = spare.Conn(bctx); err == nil {
				ex = conn
				_, err = ex.ExecContext(bctx, s)
			}
		}
		if err != nil {
			what := "the table it created could not be dropped"
			if !a.created {
				what = "the columns it added could not be dropped"
			}
			return errors.Join(cause, fmt.Errorf("%s (%s): %w", what, s, err))
		}
	}
	return cause
}

// isBadConn reports an error of a connection that is closed or broken.
func isBadConn(err error) bool {
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, mysql.ErrInvalidConn)
}

// schemaRace is the error of a CREATE TABLE or ADD COLUMN that another
// connection ran first, between this append's look at the table and its
// DDL. An append that owns its transaction tries again, and then finds the
// table or column there.
type schemaRace struct{ err error }

func (e *schemaRace) Error() string {
	return e.err.Error() + " (another connection changed the table at the same time)"
}

func (e *schemaRace) Unwrap() error { return e.err }

// raced wraps err in a schemaRace when it says that the table or column
// already exists: PostgreSQL duplicate_table (42P07), duplicate_column
// (42701), duplicate_object (42710, the table's row type), or the unique
// violation (23505) of a concurrent CREATE TABLE on the catalog; MySQL 1050 (table exists) or 1060 (duplicate column).
// SQLite serializes writers: there the race cannot happen.
func raced(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "42P07" || pe.Code == "42701" || pe.Code == "42710" || pe.Code == "23505") {
		return &schemaRace{err}
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) && (me.Number == 1050 || me.Number == 1060) {
		return &schemaRace{err}
	}
	return err
}

func isSchemaRace(err error) bool {
	var r *schemaRace
	return errors.As(err, &r)
}
