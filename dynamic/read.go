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
// table that does not exist; the error names the table ("dynamic: no such
// table: labels").
var ErrNoTable = errors.New("dynamic: no such table")

// Read returns the rows of table as a frame. Columns come in the table's
// order, without Append's _row_id column, with types mapped back from the
// table's declared types (see the package documentation). Rows come in the
// order Append wrote them, by _row_id; a table that Append did not create
// is read in the database's order, which only SQLite keeps stable. Reading
// back what Append wrote gives equal values, NaN and ±Inf excepted (they
// read back NULL).
func Read(ctx context.Context, q Querier, dialectName, table string) (*Frame, error) {
	d, err := lookupDialect(dialectName)
	if err != nil {
		return nil, err
	}
	qt, err := quoteIdent(d, table)
	if err != nil {
		return nil, fmt.Errorf("dynamic: table name: %w", err)
	}
	all, err := tableColumns(ctx, q, d, table)
	if err != nil {
		return nil, fmt.Errorf("dynamic: reading %s: %w", table, err)
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNoTable, table)
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
		sel = append(sel, mustQuote(d, c.name))
	}
	if len(cols) == 0 {
		return NewFrame()
	}
	query := fmt.Sprintf("SELECT %s FROM %s", strings.Join(sel, ", "), qt)
	if ordered {
		query += " ORDER BY " + mustQuote(d, rowIDColumn)
	}
	rows, err := q.QueryContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("dynamic: reading %s: %w", table, err)
	}
	defer rows.Close()
	out := make([]Column, len(cols))
	for i, c := range cols {
		out[i] = Column{Name: c.name, Type: c.typ, Values: []any{}}
	}
	dest := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range dest {
		ptrs[i] = &dest[i]
	}
	for r := 1; rows.Next(); r++ {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("dynamic: reading %s: row %d: %w", table, r, err)
		}
		for i, v := range dest {
			nv, err := fromDB(d, v, cols[i].typ)
			if err != nil {
				return nil, fmt.Errorf("dynamic: reading %s: row %d, column %q: %w", table, r, cols[i].name, err)
			}
			out[i].Values = append(out[i].Values, nv)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("dynamic: reading %s: %w", table, err)
	}
	return NewFrame(out...)
}

// Count returns the number of rows of table.
func Count(ctx context.Context, q Querier, dialectName, table string) (int64, error) {
	d, err := lookupDialect(dialectName)
	if err != nil {
		return 0, err
	}
	qt, err := quoteIdent(d, table)
	if err != nil {
		return 0, fmt.Errorf("dynamic: table name: %w", err)
	}
	cols, err := tableColumns(ctx, q, d, table)
	if err != nil {
		return 0, fmt.Errorf("dynamic: counting %s: %w", table, err)
	}
	if len(cols) == 0 {
		return 0, fmt.Errorf("%w: %s", ErrNoTable, table)
	}
	var n int64
	if err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+qt).Scan(&n); err != nil {
		return 0, fmt.Errorf("dynamic: counting %s: %w", table, err)
	}
	return n, nil
}

// fromDB converts a value scanned from the database to frame type t.
func fromDB(d dialect, v any, t Type) (any, error) {
	if v == nil {
		return nil, nil
	}
	if t == Timestamp {
		if ts, ok := d.decodeTime(v); ok {
			return ts, nil
		}
		return nil, fmt.Errorf("cannot read %T %v as a timestamp", v, v)
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
			case "1", "t", "true", "\x01":
				return true, nil
			case "0", "f", "false", "\x00":
				return false, nil
			}
		}
	case Text:
		switch x := v.(type) {
		case string:
			return x, nil
		case time.Time:
			return x.UTC().Format(time.RFC3339Nano), nil
		}
		return formatValue(v), nil
	}
	return nil, fmt.Errorf("cannot read %T %v as %s", v, v, t)
}
