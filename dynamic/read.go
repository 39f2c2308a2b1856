package dynamic

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrNoTable is matched by errors.Is when Read or Count is asked for a
// table that does not exist.
var ErrNoTable = errors.New("dynamic: no such table")

type dbColumn struct {
	name string
	typ  Type
}

// tableColumns returns the columns of table in order, or nil when the
// table does not exist.
func tableColumns(ctx context.Context, q Querier, d *dialect, table string) ([]dbColumn, error) {
	var query string
	switch d.name {
	case "sqlite":
		query = "SELECT name, type, '' FROM pragma_table_info(?) ORDER BY cid"
	case "postgres":
		query = `SELECT column_name, data_type, '' FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`
	case "mysql":
		query = `SELECT column_name, data_type, column_type FROM information_schema.columns
			WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position`
	}
	rows, err := q.QueryContext(ctx, query, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols []dbColumn
	for rows.Next() {
		var name, dataType, colType string
		if err := rows.Scan(&name, &dataType, &colType); err != nil {
			return nil, err
		}
		cols = append(cols, dbColumn{name: name, typ: d.typeFromDB(dataType, colType)})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(cols) == 0 {
		return nil, nil
	}
	return cols, nil
}

// Read returns the rows of table as a frame, in the order they were
// appended when Append created the table (its hidden _row_id column gives
// the order), and in the database's order otherwise. Column types come from
// the table's declared types.
func Read(ctx context.Context, q Querier, dialectName, table string) (*Frame, error) {
	d, err := lookupDialect(dialectName)
	if err != nil {
		return nil, err
	}
	qt, err := d.quoteIdent(table)
	if err != nil {
		return nil, err
	}
	all, err := tableColumns(ctx, q, d, table)
	if err != nil {
		return nil, fmt.Errorf("dynamic: reading %s: %w", table, err)
	}
	if all == nil {
		return nil, fmt.Errorf("dynamic: reading %s: %w", table, ErrNoTable)
	}
	var cols []dbColumn
	var sel []string
	ordered := false
	for _, c := range all {
		if c.name == rowIDColumn {
			ordered = true
			continue
		}
		cols = append(cols, c)
		sel = append(sel, d.mustQuote(c.name))
	}
	query := fmt.Sprintf("SELECT %s FROM %s", strings.Join(sel, ", "), qt)
	if ordered {
		query += " ORDER BY " + d.mustQuote(rowIDColumn)
	}
	rows, err := q.QueryContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("dynamic: reading %s: %w", table, err)
	}
	defer rows.Close()
	out := make([]Column, len(cols))
	for i, c := range cols {
		out[i] = Column{Name: c.name, Type: c.typ}
	}
	dest := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range dest {
		ptrs[i] = &dest[i]
	}
	for r := 0; rows.Next(); r++ {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("dynamic: reading %s: %w", table, err)
		}
		for i, v := range dest {
			nv, err := fromDB(v, cols[i].typ)
			if err != nil {
				return nil, fmt.Errorf("dynamic: reading %s: row %d, column %q: %w", table, r+1, cols[i].name, err)
			}
			out[i].Values = append(out[i].Values, nv)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("dynamic: reading %s: %w", table, err)
	}
	for i := range out {
		if out[i].Values == nil {
			out[i].Values = []any{}
		}
	}
	return NewFrame(out...)
}

// Count returns the number of rows of table.
func Count(ctx context.Context, q Querier, dialectName, table string) (int64, error) {
	d, err := lookupDialect(dialectName)
	if err != nil {
		return 0, err
	}
	qt, err := d.quoteIdent(table)
	if err != nil {
		return 0, err
	}
	cols, err := tableColumns(ctx, q, d, table)
	if err != nil {
		return 0, fmt.Errorf("dynamic: counting %s: %w", table, err)
	}
	if cols == nil {
		return 0, fmt.Errorf("dynamic: counting %s: %w", table, ErrNoTable)
	}
	var n int64
	if err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+qt).Scan(&n); err != nil {
		return 0, fmt.Errorf("dynamic: counting %s: %w", table, err)
	}
	return n, nil
}

// fromDB converts a value scanned from the database to the frame type t.
func fromDB(v any, t Type) (any, error) {
	if v == nil {
		return nil, nil
	}
	if b, ok := v.([]byte); ok {
		v = string(b)
	}
	switch t {
	case Integer:
		switch x := v.(type) {
		case int64:
			return x, nil
		case int32:
			return int64(x), nil
		case uint64:
			return int64(x), nil
		case float64:
			return convert(x, Integer)
		case string:
			return strconv.ParseInt(x, 10, 64)
		}
	case Float:
		switch x := v.(type) {
		case float64:
			return x, nil
		case float32:
			return float64(x), nil
		case int64:
			return float64(x), nil
		case string:
			return strconv.ParseFloat(x, 64)
		}
	case Boolean:
		switch x := v.(type) {
		case bool:
			return x, nil
		case int64:
			return x != 0, nil
		case string:
			switch strings.ToLower(x) {
			case "1", "t", "true":
				return true, nil
			case "0", "f", "false":
				return false, nil
			}
		}
	case Timestamp:
		switch x := v.(type) {
		case time.Time:
			return x.UTC(), nil
		case string:
			if ts, ok := parseTime(x); ok {
				return ts, nil
			}
		}
	case Text:
		if s, ok := v.(string); ok {
			return s, nil
		}
		return formatValue(v), nil
	}
	return nil, fmt.Errorf("cannot read %T %v as %s", v, v, t)
}
