package registry

import (
	"context"
	"encoding/json"
	"fmt"
)

const workCols = "id, machine_id, user_id, kind, status, error, queued_at, started_at, finished_at, created_at, updated_at"

func scanWork(s rowScanner) (Work, error) {
	var w Work
	err := s.Scan(&w.ID, &w.MachineID, &w.UserID, &w.Kind, &w.Status, &w.Error,
		timeDest{&w.QueuedAt}, nullTimeDest{&w.StartedAt}, nullTimeDest{&w.FinishedAt},
		timeDest{&w.CreatedAt}, timeDest{&w.UpdatedAt})
	return w, err
}

// EnqueueWork stores a new work item, queued now. Kind is required; the
// status, error and timestamps given are ignored. The work's user must be
// allowed to see its machine (see [Repo.GetMachineForUser]): otherwise the
// answer is [ErrNotFound], and nothing is written.
func (r *Repo) EnqueueWork(ctx context.Context, w Work) (Work, error) {
	if err := checkID("work: machine", w.MachineID); err != nil {
		return Work{}, err
	}
	if err := checkID("work: user", w.UserID); err != nil {
		return Work{}, err
	}
	if err := checkText("work: kind", w.Kind, 64); err != nil {
		return Work{}, err
	}
	if _, err := r.GetMachineForUser(ctx, w.UserID, w.MachineID); err != nil {
		return Work{}, fmt.Errorf("registry: user %d: enqueue %q work: %w", w.UserID, w.Kind, err)
	}
	now := r.now()
	id, err := r.insert(ctx,
		"INSERT INTO works (machine_id, user_id, kind, status, error, queued_at, created_at, updated_at) VALUES (?, ?, ?, ?, '', ?, ?, ?)",
		w.MachineID, w.UserID, w.Kind, string(WorkQueued), r.t(now), r.t(now), r.t(now))
	if err != nil {
		return Work{}, r.wrap(err, "machine %d: enqueue %q work", w.MachineID, w.Kind)
	}
	return Work{
		ID: id, MachineID: w.MachineID, UserID: w.UserID, Kind: w.Kind,
		Status: WorkQueued, QueuedAt: now, CreatedAt: now, UpdatedAt: now,
	}, nil
}

// GetWork returns the work with id, or [ErrNotFound].
func (r *Repo) GetWork(ctx context.Context, id int64) (Work, error) {
	w, err := scanWork(r.queryRow(ctx, "SELECT "+workCols+" FROM works WHERE id = ?", id))
	return w, r.wrap(err, "work %d", id)
}

// StartWork moves a queued work to running and sets StartedAt. From any
// other status it answers a [*TransitionError] ([ErrInvalidTransition]).
func (r *Repo) StartWork(ctx context.Context, id int64) (Work, error) {
	return r.transition(ctx, id, WorkRunning, "started_at", "")
}

// FinishWork moves a running work to done and sets FinishedAt. From any
// other status it answers a [*TransitionError] ([ErrInvalidTransition]).
func (r *Repo) FinishWork(ctx context.Context, id int64) (Work, error) {
	return r.transition(ctx, id, WorkDone, "finished_at", "")
}

// FailWork moves a running work to failed, records why, and sets
// FinishedAt. From any other status it answers a [*TransitionError]
// ([ErrInvalidTransition]). The reason must not be empty.
func (r *Repo) FailWork(ctx context.Context, id int64, reason string) (Work, error) {
	if err := checkText("work: failure reason", reason, 1<<16); err != nil {
		return Work{}, err
	}
	return r.transition(ctx, id, WorkFailed, "finished_at", reason)
}

// transition moves work id to status to, stamping column stamp with now.
func (r *Repo) transition(ctx context.Context, id int64, to WorkStatus, stamp, reason string) (Work, error) {
	w, err := r.GetWork(ctx, id)
	if err != nil {
		return Work{}, err
	}
	if !w.Status.CanTransitionTo(to) {
		return Work{}, &TransitionError{WorkID: id, From: w.Status, To: to}
	}
	now := r.now()
	// The status in the WHERE clause makes the move atomic: of two
	// concurrent moves from the same status, one finds nothing to update.
	res, err := r.exec(ctx,
		"UPDATE works SET status = ?, "+stamp+" = ?, error = ?, updated_at = ? WHERE id = ? AND status = ?",
		string(to), r.t(now), reason, r.t(now), id, string(w.Status))
	if err != nil {
		return Work{}, r.wrap(err, "work %d: %s → %s", id, w.Status, to)
	}
	if n, err := res.RowsAffected(); err != nil {
		return Work{}, r.wrap(err, "work %d: %s → %s", id, w.Status, to)
	} else if n == 0 {
		// Someone moved it first; report the status it has now.
		cur, err := r.GetWork(ctx, id)
		if err != nil {
			return Work{}, err
		}
		return Work{}, &TransitionError{WorkID: id, From: cur.Status, To: to}
	}
	return r.GetWork(ctx, id)
}

const nnModelCols = "id, machine_id, work_id, kind, parameters, metrics, created_at, updated_at"

func scanNNModel(s rowScanner) (NNModel, error) {
	var (
		m               NNModel
		params, metrics string
	)
	err := s.Scan(&m.ID, &m.MachineID, &m.WorkID, &m.Kind, &params, &metrics, timeDest{&m.CreatedAt}, timeDest{&m.UpdatedAt})
	m.Parameters, m.Metrics = json.RawMessage(params), json.RawMessage(metrics)
	return m, err
}

// jsonText returns v as stored: "{}" when empty, and an ErrInvalid naming
// field when it is not JSON.
func jsonText(field string, v json.RawMessage) (string, error) {
	if len(v) == 0 {
		return "{}", nil
	}
	if !json.Valid(v) {
		return "", invalid("%s: not valid JSON", field)
	}
	return string(v), nil
}

// SaveNNModel stores a model: a new one when ID is 0, else it replaces the
// kind, work, parameters and metrics of model ID ([ErrNotFound] when there
// is none). Parameters and Metrics must be JSON ("{}" when empty).
func (r *Repo) SaveNNModel(ctx context.Context, m NNModel) (NNModel, error) {
	if err := checkID("nn model: machine", m.MachineID); err != nil {
		return NNModel{}, err
	}
	if err := checkOptionalID("nn model: work", m.WorkID); err != nil {
		return NNModel{}, err
	}
	if err := checkText("nn model: kind", m.Kind, 64); err != nil {
		return NNModel{}, err
	}
	params, err := jsonText("nn model: parameters", m.Parameters)
	if err != nil {
		return NNModel{}, err
	}
	metrics, err := jsonText("nn model: metrics", m.Metrics)
	if err != nil {
		return NNModel{}, err
	}
	now := r.now()
	if m.ID == 0 {
		id, err := r.insert(ctx,
			"INSERT INTO nn_models (machine_id, work_id, kind, parameters, metrics, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
			m.MachineID, nullable(m.WorkID), m.Kind, params, metrics, r.t(now), r.t(now))
		if err != nil {
			return NNModel{}, r.wrap(err, "machine %d: save %q model", m.MachineID, m.Kind)
		}
		m.ID, m.CreatedAt, m.UpdatedAt = id, now, now
		m.Parameters, m.Metrics = json.RawMessage(params), json.RawMessage(metrics)
		return m, nil
	}
	if _, err := r.exec(ctx,
		"UPDATE nn_models SET work_id = ?, kind = ?, parameters = ?, metrics = ?, updated_at = ? WHERE id = ? AND machine_id = ?",
		nullable(m.WorkID), m.Kind, params, metrics, r.t(now), m.ID, m.MachineID); err != nil {
		return NNModel{}, r.wrap(err, "nn model %d: save", m.ID)
	}
	got, err := scanNNModel(r.queryRow(ctx,
		"SELECT "+nnModelCols+" FROM nn_models WHERE id = ? AND machine_id = ?", m.ID, m.MachineID))
	return got, r.wrap(err, "nn model %d of machine %d", m.ID, m.MachineID)
}

// GetNNModel returns the model with id, or [ErrNotFound].
func (r *Repo) GetNNModel(ctx context.Context, id int64) (NNModel, error) {
	m, err := scanNNModel(r.queryRow(ctx, "SELECT "+nnModelCols+" FROM nn_models WHERE id = ?", id))
	return m, r.wrap(err, "nn model %d", id)
}

// LatestNNModel returns the machine's most recently created model (the
// highest id among equal times), or [ErrNotFound] when it has none.
func (r *Repo) LatestNNModel(ctx context.Context, machineID int64) (NNModel, error) {
	m, err := scanNNModel(r.queryRow(ctx,
		"SELECT "+nnModelCols+" FROM nn_models WHERE machine_id = ? ORDER BY created_at DESC, id DESC LIMIT 1", machineID))
	return m, r.wrap(err, "latest nn model of machine %d", machineID)
}
