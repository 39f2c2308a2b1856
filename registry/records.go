package registry

import (
	"context"
	"strings"
)

// CreateGraph stores a graph of a machine. Kind is required; Spec defaults
// to "{}".
func (r *Repo) CreateGraph(ctx context.Context, g Graph) (Graph, error) {
	if err := checkID("graph: machine", g.MachineID); err != nil {
		return Graph{}, err
	}
	if err := checkID("graph: user", g.UserID); err != nil {
		return Graph{}, err
	}
	if err := checkText("graph: kind", g.Kind, 64); err != nil {
		return Graph{}, err
	}
	if g.Spec == "" {
		g.Spec = "{}"
	}
	now := r.now()
	id, err := r.insert(ctx,
		"INSERT INTO graphs (machine_id, user_id, kind, spec, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
		g.MachineID, g.UserID, g.Kind, g.Spec, r.t(now), r.t(now))
	if err != nil {
		return Graph{}, r.wrap(err, "machine %d: create %q graph", g.MachineID, g.Kind)
	}
	g.ID, g.CreatedAt, g.UpdatedAt = id, now, now
	return g, nil
}

// CreateServer stores a server. Its name must be unique ([ErrDuplicate]);
// Status defaults to "up".
func (r *Repo) CreateServer(ctx context.Context, s Server) (Server, error) {
	if err := checkText("server: name", s.Name, 150); err != nil {
		return Server{}, err
	}
	if err := checkLen("server: address", s.Address, 255); err != nil {
		return Server{}, err
	}
	if s.Status == "" {
		s.Status = "up"
	}
	if err := checkLen("server: status", s.Status, 32); err != nil {
		return Server{}, err
	}
	now := r.now()
	id, err := r.insert(ctx,
		"INSERT INTO servers (name, address, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
		s.Name, s.Address, s.Status, r.t(now), r.t(now))
	if err != nil {
		return Server{}, r.wrap(err, "create server %q", s.Name)
	}
	s.ID, s.CreatedAt, s.UpdatedAt = id, now, now
	return s, nil
}

// CreateConsultingRequest stores a user's request for help. Subject is
// required; Status defaults to "open".
func (r *Repo) CreateConsultingRequest(ctx context.Context, c ConsultingRequest) (ConsultingRequest, error) {
	if err := checkID("consulting request: user", c.UserID); err != nil {
		return ConsultingRequest{}, err
	}
	if err := checkOptionalID("consulting request: machine", c.MachineID); err != nil {
		return ConsultingRequest{}, err
	}
	if err := checkText("consulting request: subject", c.Subject, 255); err != nil {
		return ConsultingRequest{}, err
	}
	if c.Status == "" {
		c.Status = "open"
	}
	if err := checkLen("consulting request: status", c.Status, 32); err != nil {
		return ConsultingRequest{}, err
	}
	now := r.now()
	id, err := r.insert(ctx,
		"INSERT INTO consulting_requests (user_id, machine_id, subject, message, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
		c.UserID, nullable(c.MachineID), c.Subject, c.Message, c.Status, r.t(now), r.t(now))
	if err != nil {
		return ConsultingRequest{}, r.wrap(err, "user %d: create consulting request %q", c.UserID, c.Subject)
	}
	c.ID, c.CreatedAt, c.UpdatedAt = id, now, now
	return c, nil
}

const logCols = "id, user_id, machine_id, work_id, level, message, created_at"

func scanLog(s rowScanner) (LogEntry, error) {
	var e LogEntry
	err := s.Scan(&e.ID, &e.UserID, &e.MachineID, &e.WorkID, &e.Level, &e.Message, timeDest{&e.CreatedAt})
	return e, err
}

// AddLog stores a log entry. Level defaults to [LogInfo]; an unknown level
// is refused.
func (r *Repo) AddLog(ctx context.Context, e LogEntry) (LogEntry, error) {
	if e.Level == "" {
		e.Level = LogInfo
	}
	if !e.Level.Valid() {
		return LogEntry{}, invalid("log entry: unknown level %q", e.Level)
	}
	for _, ref := range []struct {
		field string
		id    *int64
	}{{"log entry: user", e.UserID}, {"log entry: machine", e.MachineID}, {"log entry: work", e.WorkID}} {
		if err := checkOptionalID(ref.field, ref.id); err != nil {
			return LogEntry{}, err
		}
	}
	now := r.now()
	id, err := r.insert(ctx,
		"INSERT INTO log_entries (user_id, machine_id, work_id, level, message, created_at) VALUES (?, ?, ?, ?, ?, ?)",
		nullable(e.UserID), nullable(e.MachineID), nullable(e.WorkID), string(e.Level), e.Message, r.t(now))
	if err != nil {
		return LogEntry{}, r.wrap(err, "add log entry")
	}
	e.ID, e.CreatedAt = id, now
	return e, nil
}

// A LogFilter selects log entries: those of all the ids that are set
// (non-zero), at most Limit of them (0: all).
type LogFilter struct {
	UserID    int64
	MachineID int64
	WorkID    int64
	Limit     int
}

// ListLogs returns the log entries that match f, oldest first.
func (r *Repo) ListLogs(ctx context.Context, f LogFilter) ([]LogEntry, error) {
	if f.Limit < 0 {
		return nil, invalid("log filter: limit %d is negative", f.Limit)
	}
	var (
		where []string
		args  []any
	)
	for _, c := range []struct {
		col string
		id  int64
	}{{"user_id", f.UserID}, {"machine_id", f.MachineID}, {"work_id", f.WorkID}} {
		if c.id != 0 {
			where = append(where, c.col+" = ?")
			args = append(args, c.id)
		}
	}
	q := "SELECT " + logCols + " FROM log_entries"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id"
	if f.Limit > 0 {
		q += " LIMIT ?"
		args = append(args, f.Limit)
	}
	rows, err := r.query(ctx, q, args...)
	out, err := collect(rows, err, scanLog)
	return out, r.wrap(err, "log entries")
}
