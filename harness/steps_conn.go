package harness

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Connections of their own. A begin step opens a separate connection
// (sql.Open(db.RawDriverName(), db.RawDSN())) and begins a transaction on
// it; steps with conn: NAME run through that transaction, and commit or
// rollback ends it. Two such connections make a deadlock, a long read, or
// a writer that holds a lock while another waits.

// ownConn is a connection a begin step opened, with its transaction.
type ownConn struct {
	name string
	pool *sql.DB
	tx   *sql.Tx
}

// later tracks steps that run in the background (commit and rollback with
// after:), so that the run waits for them and reports their failures.
type later struct {
	wg   sync.WaitGroup
	mu   sync.Mutex
	errs []error
}

func (l *later) run(d time.Duration, fn func() error) {
	l.wg.Add(1)
	time.AfterFunc(d, func() {
		defer l.wg.Done()
		if err := fn(); err != nil {
			l.mu.Lock()
			l.errs = append(l.errs, err)
			l.mu.Unlock()
		}
	})
}

func (l *later) wait() error {
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return errors.Join(l.errs...)
}

func (r *run) begin(s *Step) error {
	pool, err := sql.Open(r.db.RawDriverName(), r.db.RawDSN())
	if err != nil {
		return err
	}
	tx, err := pool.BeginTx(r.ctx, nil)
	if err != nil {
		pool.Close()
		return err
	}
	name := s.str("as")
	r.conns[name] = &ownConn{name: name, pool: pool, tx: tx}
	r.extra = append(r.extra, pool)
	r.detail = "connection " + name + ": transaction begun"
	return nil
}

func (r *run) commit(s *Step) error   { return r.end(s, "commit") }
func (r *run) rollback(s *Step) error { return r.end(s, "rollback") }

// end commits or rolls back a connection's transaction, at once or, with
// after:, in the background while the next steps run.
func (r *run) end(s *Step, how string) error {
	name := s.str("conn")
	c, ok := r.conns[name]
	if !ok {
		return fmt.Errorf("harness: no connection %q", name)
	}
	delete(r.conns, name)
	do := func() error {
		var err error
		if how == "commit" {
			err = c.tx.Commit()
		} else {
			err = c.tx.Rollback()
		}
		if err != nil && !(how == "rollback" && errors.Is(err, sql.ErrTxDone)) {
			return fmt.Errorf("%s:%d: step %d (%s): %w", r.sc.File, s.Line, s.Index, s.Kind, err)
		}
		return nil
	}
	if !s.has("after") {
		r.detail = "connection " + name + ": " + how + " done"
		if err := do(); err != nil {
			return errors.Unwrap(err)
		}
		return nil
	}
	d, _ := time.ParseDuration(s.str("after"))
	r.later.run(d, do)
	r.detail = fmt.Sprintf("connection %s: %s in %v, while the next steps run", name, how, d)
	return nil
}

// concurrently runs each statement on its connection, all at once, and
// waits for them all. Expecting an error, it passes when at least one
// statement fails with that kind and every failure is of that kind: which
// of two deadlocked transactions the server stops is its choice.
func (r *run) concurrently(s *Step) error {
	var list []struct {
		Conn  string `yaml:"conn"`
		Query string `yaml:"query"`
	}
	s.decode("statements", &list)
	errs := make([]error, len(list))
	took := make([]time.Duration, len(list))
	var wg sync.WaitGroup
	for i, st := range list {
		c, ok := r.conns[st.Conn]
		if !ok {
			return fmt.Errorf("harness: no connection %q", st.Conn)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			_, errs[i] = c.tx.ExecContext(context.WithoutCancel(r.ctx), st.Query)
			took[i] = time.Since(start)
		}()
	}
	wg.Wait()
	var parts []string
	var failed []error
	for i, st := range list {
		out := "done"
		if errs[i] != nil {
			out = "failed: " + firstLine(errs[i].Error())
			failed = append(failed, errs[i])
		}
		parts = append(parts, fmt.Sprintf("%s %s after %s", st.Conn, out, FormatDuration(took[i])))
	}
	r.detail = strings.Join(parts, "; ")
	if len(failed) == 0 {
		return nil
	}
	if s.Expect != "" {
		for _, err := range failed {
			if !matches(s.Expect, err) {
				return err
			}
		}
	}
	return failed[0]
}
