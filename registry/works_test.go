package registry_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/registry"
)

func TestWorkStatusTransitions(t *testing.T) {
	all := []registry.WorkStatus{registry.WorkQueued, registry.WorkRunning, registry.WorkDone, registry.WorkFailed}
	allowed := map[[2]registry.WorkStatus]bool{
		{registry.WorkQueued, registry.WorkRunning}: true,
		{registry.WorkRunning, registry.WorkDone}:   true,
		{registry.WorkRunning, registry.WorkFailed}: true,
	}
	for _, from := range all {
		if !from.Valid() {
			t.Errorf("%q.Valid() = false", from)
		}
		if got, want := from.Terminal(), from == registry.WorkDone || from == registry.WorkFailed; got != want {
			t.Errorf("%q.Terminal() = %v, want %v", from, got, want)
		}
		for _, to := range all {
			if got := from.CanTransitionTo(to); got != allowed[[2]registry.WorkStatus{from, to}] {
				t.Errorf("%q.CanTransitionTo(%q) = %v", from, to, got)
			}
		}
	}
	if registry.WorkStatus("paused").Valid() || registry.WorkStatus("").Valid() {
		t.Error("an unknown status is valid")
	}
}

// A workStep moves a work item.
type workStep string

const (
	start  workStep = "start"
	finish workStep = "finish"
	fail   workStep = "fail"
)

func (s workStep) do(r *registry.Repo, t *testing.T, id int64) (registry.Work, error) {
	switch s {
	case start:
		return r.StartWork(t.Context(), id)
	case finish:
		return r.FinishWork(t.Context(), id)
	case fail:
		return r.FailWork(t.Context(), id, "out of memory")
	}
	panic("unknown step " + s)
}

func TestWorkStateMachine(t *testing.T) {
	cases := []struct {
		name   string
		reason string
		steps  []workStep
		want   registry.WorkStatus // after the last step
		// wantFrom is set when the last step must be refused, from this
		// status, towards the status the step aims at.
		wantFrom registry.WorkStatus
	}{
		{"start", "a queued work starts", []workStep{start}, registry.WorkRunning, ""},
		{"finish", "a running work finishes", []workStep{start, finish}, registry.WorkDone, ""},
		{"fail", "a running work fails", []workStep{start, fail}, registry.WorkFailed, ""},
		{"finish queued", "a work must run before it is done", []workStep{finish}, "", registry.WorkQueued},
		{"fail queued", "a work must run before it fails", []workStep{fail}, "", registry.WorkQueued},
		{"start running", "a running work cannot start again", []workStep{start, start}, "", registry.WorkRunning},
		{"start done", "a done work is final", []workStep{start, finish, start}, "", registry.WorkDone},
		{"finish done", "a work is done once", []workStep{start, finish, finish}, "", registry.WorkDone},
		{"fail done", "a done work cannot fail afterwards", []workStep{start, finish, fail}, "", registry.WorkDone},
		{"start failed", "a failed work is not retried in place", []workStep{start, fail, start}, "", registry.WorkFailed},
		{"finish failed", "a failed work cannot be done", []workStep{start, fail, finish}, "", registry.WorkFailed},
		{"fail failed", "a work fails once", []workStep{start, fail, fail}, "", registry.WorkFailed},
	}
	target := map[workStep]registry.WorkStatus{start: registry.WorkRunning, finish: registry.WorkDone, fail: registry.WorkFailed}

	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		r, clk := newRepo(t, db)
		ada := mustUser(t, r, "ada")
		m := mustMachine(t, r, ada, nil, "salaries")
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				w, err := r.EnqueueWork(t.Context(), registry.Work{MachineID: m.ID, UserID: ada.ID, Kind: "train"})
				if err != nil {
					t.Fatal(err)
				}
				queuedAt := stored(clk.Now())
				var stamps []time.Time
				for i, s := range c.steps {
					clk.Advance(time.Second)
					stamps = append(stamps, stored(clk.Now()))
					got, err := s.do(r, t, w.ID)
					if i < len(c.steps)-1 {
						if err != nil {
							t.Fatalf("step %d (%s): %v", i, s, err)
						}
						continue
					}
					if c.wantFrom != "" {
						var te *registry.TransitionError
						if !errors.As(err, &te) || !errors.Is(err, registry.ErrInvalidTransition) {
							t.Fatalf("%s: %s gave %v, want a TransitionError (%s)", c.name, s, err, c.reason)
						}
						if te.From != c.wantFrom || te.To != target[s] || te.WorkID != w.ID {
							t.Errorf("TransitionError = %+v, want work %d from %q to %q", te, w.ID, c.wantFrom, target[s])
						}
						for _, word := range []string{string(c.wantFrom), string(target[s])} {
							if !strings.Contains(err.Error(), word) {
								t.Errorf("error %q does not name %q", err, word)
							}
						}
						// A refused move changes nothing.
						after, err := r.GetWork(t.Context(), w.ID)
						if err != nil {
							t.Fatal(err)
						}
						if after.Status != c.wantFrom {
							t.Errorf("after the refused %s, status %q, want %q", s, after.Status, c.wantFrom)
						}
						return
					}
					if err != nil {
						t.Fatalf("%s: %v (%s)", s, err, c.reason)
					}
					want := registry.Work{
						ID: w.ID, MachineID: m.ID, UserID: ada.ID, Kind: "train", Status: c.want,
						QueuedAt: queuedAt, CreatedAt: queuedAt, UpdatedAt: stamps[len(stamps)-1],
						StartedAt: &stamps[0],
					}
					if c.want.Terminal() {
						want.FinishedAt = &stamps[len(stamps)-1]
					}
					if c.want == registry.WorkFailed {
						want.Error = "out of memory"
					}
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("%s (-want +got):\n%s", c.reason, diff)
					}
					reread, err := r.GetWork(t.Context(), w.ID)
					if err != nil {
						t.Fatal(err)
					}
					if diff := cmp.Diff(got, reread); diff != "" {
						t.Errorf("GetWork after %s (-returned +read):\n%s", s, diff)
					}
				}
			})
		}

		t.Run("errors", func(t *testing.T) {
			w, err := r.EnqueueWork(t.Context(), registry.Work{MachineID: m.ID, UserID: ada.ID, Kind: "train"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.StartWork(t.Context(), w.ID); err != nil {
				t.Fatal(err)
			}
			_, err = r.FailWork(t.Context(), w.ID, " ")
			mustErr(t, "FailWork without a reason", err, registry.ErrInvalid, "reason")
			_, err = r.StartWork(t.Context(), w.ID+1000)
			mustErr(t, "StartWork(unknown)", err, registry.ErrNotFound)
			_, err = r.EnqueueWork(t.Context(), registry.Work{MachineID: m.ID, UserID: ada.ID})
			mustErr(t, "EnqueueWork without a kind", err, registry.ErrInvalid, "kind")
			_, err = r.GetWork(t.Context(), w.ID+1000)
			mustErr(t, "GetWork(unknown)", err, registry.ErrNotFound)
		})
	})
}

func TestNNModels(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		r, clk := newRepo(t, db)
		ada := mustUser(t, r, "ada")
		m := mustMachine(t, r, ada, nil, "salaries")
		other := mustMachine(t, r, ada, nil, "other")
		w, err := r.EnqueueWork(ctx, registry.Work{MachineID: m.ID, UserID: ada.ID, Kind: "train"})
		if err != nil {
			t.Fatal(err)
		}

		_, err = r.LatestNNModel(ctx, m.ID)
		mustErr(t, "LatestNNModel with no model", err, registry.ErrNotFound)

		// Created later but with a lower id, the first model must still be
		// the latest: created_at orders, not id. Its time is half a second
		// past the other's whole second, which a variable-width text time
		// on SQLite would sort first.
		base := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
		clk.Advance(base.Sub(clk.Now()) + 500*time.Millisecond)
		newer, err := r.SaveNNModel(ctx, registry.NNModel{
			MachineID: m.ID, WorkID: new(w.ID), Kind: "linear",
			Parameters: json.RawMessage(`{"coef":[1.5,-2],"intercept":0.25}`),
			Metrics:    json.RawMessage(`{"r2":0.91}`),
		})
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(-500 * time.Millisecond)
		older, err := r.SaveNNModel(ctx, registry.NNModel{MachineID: m.ID, Kind: "linear"})
		if err != nil {
			t.Fatal(err)
		}
		if older.ID <= newer.ID {
			t.Fatalf("ids %d then %d: the test needs them increasing", newer.ID, older.ID)
		}
		wantOlder := registry.NNModel{ID: older.ID, MachineID: m.ID, Kind: "linear", Parameters: json.RawMessage(`{}`), Metrics: json.RawMessage(`{}`), CreatedAt: base, UpdatedAt: base}
		if diff := cmp.Diff(wantOlder, older); diff != "" {
			t.Errorf("SaveNNModel with empty JSON (-want +got):\n%s", diff)
		}
		got, err := r.GetNNModel(ctx, newer.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(newer, got); diff != "" {
			t.Errorf("GetNNModel (-want +got):\n%s", diff)
		}
		latest, err := r.LatestNNModel(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if latest.ID != newer.ID {
			t.Errorf("LatestNNModel = model %d (created %v), want %d (created %v)", latest.ID, latest.CreatedAt, newer.ID, newer.CreatedAt)
		}
		if _, err := r.LatestNNModel(ctx, other.ID); !errors.Is(err, registry.ErrNotFound) {
			t.Errorf("LatestNNModel(other machine) = %v, want ErrNotFound: models belong to their machine", err)
		}

		// Equal times: the higher id wins.
		clk.Advance(time.Second)
		a, _ := r.SaveNNModel(ctx, registry.NNModel{MachineID: other.ID, Kind: "a"})
		b, _ := r.SaveNNModel(ctx, registry.NNModel{MachineID: other.ID, Kind: "b"})
		if latest, err := r.LatestNNModel(ctx, other.ID); err != nil || latest.ID != b.ID {
			t.Errorf("LatestNNModel among equal times = %d, %v; want %d (not %d)", latest.ID, err, b.ID, a.ID)
		}

		// Saving with an id replaces the model's contents.
		clk.Advance(time.Minute)
		older.Metrics = json.RawMessage(`{"r2":0.5}`)
		older.WorkID = new(w.ID)
		updated, err := r.SaveNNModel(ctx, older)
		if err != nil {
			t.Fatal(err)
		}
		wantOlder.Metrics, wantOlder.WorkID, wantOlder.UpdatedAt = older.Metrics, new(w.ID), stored(clk.Now())
		if diff := cmp.Diff(wantOlder, updated); diff != "" {
			t.Errorf("SaveNNModel(update) (-want +got):\n%s", diff)
		}
		_, err = r.SaveNNModel(ctx, registry.NNModel{ID: older.ID + 1000, MachineID: m.ID, Kind: "linear"})
		mustErr(t, "SaveNNModel(unknown id)", err, registry.ErrNotFound)
		_, err = r.GetNNModel(ctx, older.ID+1000)
		mustErr(t, "GetNNModel(unknown)", err, registry.ErrNotFound)

		for _, c := range []struct {
			m      registry.NNModel
			reason string
		}{
			{registry.NNModel{MachineID: m.ID, Kind: "x", Parameters: json.RawMessage(`{"a":`)}, "parameters must be JSON"},
			{registry.NNModel{MachineID: m.ID, Kind: "x", Metrics: json.RawMessage(`nope`)}, "metrics must be JSON"},
			{registry.NNModel{MachineID: m.ID}, "the kind is required"},
			{registry.NNModel{Kind: "x"}, "the machine is required"},
		} {
			_, err := r.SaveNNModel(ctx, c.m)
			mustErr(t, c.reason, err, registry.ErrInvalid)
		}
	})
}
