package dynamic

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/go-sql-driver/mysql"
)

// MySQL's bulk path: LOAD DATA LOCAL INFILE from a reader registered with
// github.com/go-sql-driver/mysql (a "Reader::" name, which needs no
// allowAllFiles), streaming the values already checked and converted by
// encode as tab-separated text. It runs on whatever statement runner the
// INSERT path would use, so in the same transaction or savepoint.
//
// With LOCAL, the server cannot stop the transfer, so it turns what would
// be errors (a value that does not fit its column, a duplicate key) into
// warnings, whatever sql_mode says: any warning the load leaves fails the
// append, naming the row.

// streamLoader is a dialect that writes rows by streaming them to the
// server as a file. loadStream returns errBulkUnsupported when the server
// refuses, before any row is written.
type streamLoader interface {
	loadStream(ctx context.Context, ex execer, w *write, a *attempt) error
}

var infileSeq atomic.Uint64

func (mysqlDialect) loadStream(ctx context.Context, ex execer, w *write, a *attempt) error {
	name := fmt.Sprintf("dynamic-%d", infileSeq.Add(1))
	src := &infileSource{vals: a.vals, rows: w.rows, hook: w.opts.afterRows}
	mysql.RegisterReaderHandler(name, func() io.Reader { return src })
	defer mysql.DeregisterReaderHandler(name)

	var b strings.Builder
	fmt.Fprintf(&b, "LOAD DATA LOCAL INFILE 'Reader::%s' INTO TABLE %s CHARACTER SET utf8mb4"+
		` FIELDS TERMINATED BY '\t' ESCAPED BY '\\' LINES TERMINATED BY '\n' (%s)`,
		name, w.qtable, strings.Join(w.qcols, ", "))
	var err error
	if w.opts.beforeLoad != nil {
		err = w.opts.beforeLoad()
	}
	if err == nil {
		_, err = ex.ExecContext(ctx, b.String())
	}
	if src.err != nil {
		// The reader failed (the afterRows hook): the server has the rows
		// sent until then, which the rollback of the append removes.
		return src.err
	}
	if err != nil {
		if src.row == 0 && infileRefused(err) {
			return errBulkUnsupported
		}
		return fmt.Errorf("loading rows 1 to %d: %w", w.rows, err)
	}
	if src.row != w.rows {
		return fmt.Errorf("loading rows: the server read %d of %d rows", src.row, w.rows)
	}
	if err := loadWarnings(ctx, ex, w.rows); err != nil {
		return err
	}
	a.rows, a.bulk = int64(w.rows), true
	return nil
}

// infileRefused tells that the server (or the driver) does not take LOAD
// DATA LOCAL: MySQL 3948 (local_infile is OFF, MySQL 8's default), 1148
// (the same on MariaDB and older MySQL), 2068 (refused on the client's
// side), 1295 (the statement was sent as a prepared statement, by a driver
// wrapper that cannot run it otherwise).
func infileRefused(err error) bool {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return false
	}
	switch me.Number {
	case 3948, 1148, 2068, 1295:
		return true
	}
	return false
}

// loadWarnings turns the warnings of the load into an error naming the
// first ones; rows is the number of rows loaded, for the message.
func loadWarnings(ctx context.Context, ex execer, rows int) error {
	rs, err := ex.QueryContext(ctx, "SHOW WARNINGS LIMIT 3")
	if err != nil {
		return fmt.Errorf("reading the warnings of loading rows 1 to %d: %w", rows, err)
	}
	defer rs.Close()
	var msgs []string
	for rs.Next() {
		var level, msg string
		var code int
		if err := rs.Scan(&level, &code, &msg); err != nil {
			return err
		}
		msgs = append(msgs, fmt.Sprintf("%s %d: %s", level, code, msg))
	}
	if err := rs.Err(); err != nil {
		return err
	}
	if len(msgs) > 0 {
		return fmt.Errorf("loading rows 1 to %d: %w: %s", rows, ErrLoadWarning, strings.Join(msgs, "; "))
	}
	return nil
}

// ErrLoadWarning is matched (with errors.Is) by the error of a MySQL append
// through LOAD DATA that the server accepted with warnings: a value it
// truncated or converted, or a row it skipped as a duplicate key. The
// message carries the server's first warnings, which name the row (counted
// from 1, as in the frame). Nothing of the append stays.
var ErrLoadWarning = errors.New("dynamic: the server warned while loading the rows")

// infileSource streams the rows of vals as LOAD DATA text: fields
// separated by tabs, rows ended by newlines, NULL as \N, and backslash,
// tab, newline, carriage return and NUL escaped with a backslash.
type infileSource struct {
	vals [][]any
	rows int
	row  int // rows encoded so far
	hook func(written int64) error
	buf  []byte
	off  int
	err  error
}

func (s *infileSource) Read(p []byte) (int, error) {
	for len(s.buf)-s.off < len(p) && s.row < s.rows {
		if s.off > 0 {
			s.buf = s.buf[:copy(s.buf, s.buf[s.off:])]
			s.off = 0
		}
		if s.hook != nil && s.row > 0 {
			if s.err = s.hook(int64(s.row)); s.err != nil {
				return 0, s.err
			}
		}
		s.buf = s.appendRow(s.buf, s.row)
		s.row++
	}
	if s.off == len(s.buf) {
		if s.hook != nil && s.row > 0 && s.err == nil {
			s.err = s.hook(int64(s.row))
			s.hook = nil
			if s.err != nil {
				return 0, s.err
			}
		}
		return 0, io.EOF
	}
	n := copy(p, s.buf[s.off:])
	s.off += n
	return n, nil
}

func (s *infileSource) appendRow(b []byte, r int) []byte {
	for c := range s.vals {
		if c > 0 {
			b = append(b, '\t')
		}
		switch v := s.vals[c][r].(type) {
		case nil:
			b = append(b, '\\', 'N')
		case int64:
			b = strconv.AppendInt(b, v, 10)
		case float64:
			b = strconv.AppendFloat(b, v, 'g', -1, 64)
		case bool:
			if v {
				b = append(b, '1')
			} else {
				b = append(b, '0')
			}
		case string:
			b = appendEscaped(b, v)
		default:
			// A frame holds none; encode's values are of the types above.
			b = appendEscaped(b, fmt.Sprint(v))
		}
	}
	return append(b, '\n')
}

// appendEscaped appends v escaped for LOAD DATA's default ESCAPED BY '\\'.
func appendEscaped(b []byte, v string) []byte {
	start := 0
	for i := 0; i < len(v); i++ {
		var e byte
		switch v[i] {
		case '\\':
			e = '\\'
		case '\t':
			e = 't'
		case '\n':
			e = 'n'
		case '\r':
			e = 'r'
		case 0:
			e = '0'
		default:
			continue
		}
		b = append(b, v[start:i]...)
		b = append(b, '\\', e)
		start = i + 1
	}
	return append(b, v[start:]...)
}
