package registry_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/registry"
)

func TestRecordOperation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		r, clk := newRepo(t, db)
		ada, bob := mustUser(t, r, "ada"), mustUser(t, r, "bob")
		m := mustMachine(t, r, ada, nil, "salaries")

		op, bill, err := r.RecordOperation(ctx, registry.Operation{UserID: ada.ID, MachineID: new(m.ID), Kind: "train"}, 1250, "USD")
		if err != nil {
			t.Fatal(err)
		}
		wantOp := registry.Operation{ID: op.ID, UserID: ada.ID, MachineID: new(m.ID), Kind: "train", CreatedAt: stored(t0)}
		if diff := cmp.Diff(wantOp, op); diff != "" {
			t.Errorf("RecordOperation: operation (-want +got):\n%s", diff)
		}
		clk.Advance(time.Hour)
		_, bill2, err := r.RecordOperation(ctx, registry.Operation{UserID: ada.ID, Kind: "consulting"}, 0, "EUR")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := r.RecordOperation(ctx, registry.Operation{UserID: bob.ID, Kind: "train"}, 99, "USD"); err != nil {
			t.Fatal(err)
		}
		want := []registry.Billing{
			{ID: bill.ID, OperationID: op.ID, UserID: ada.ID, MachineID: new(m.ID), CostCents: 1250, Currency: "USD", CreatedAt: stored(t0)},
			{ID: bill2.ID, OperationID: bill2.OperationID, UserID: ada.ID, CostCents: 0, Currency: "EUR", CreatedAt: stored(t0.Add(time.Hour))},
		}
		got, err := r.ListBillings(ctx, ada.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ListBillings (-want +got):\n%s", diff)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM operations WHERE id = ? AND kind = 'consulting'", bill2.OperationID); n != 1 {
			t.Errorf("the billing's operation: %d rows, want 1", n)
		}

		for _, c := range []struct {
			op       registry.Operation
			cost     int64
			currency string
			reason   string
		}{
			{registry.Operation{UserID: ada.ID, Kind: "x"}, -1, "USD", "a negative cost"},
			{registry.Operation{UserID: ada.ID, Kind: "x"}, 1, "usd", "currency codes are upper case"},
			{registry.Operation{UserID: ada.ID, Kind: "x"}, 1, "US", "currency codes have three letters"},
			{registry.Operation{UserID: ada.ID}, 1, "USD", "the kind is required"},
			{registry.Operation{Kind: "x"}, 1, "USD", "the user is required"},
		} {
			_, _, err := r.RecordOperation(ctx, c.op, c.cost, c.currency)
			mustErr(t, c.reason, err, registry.ErrInvalid)
		}

		// An operation that cannot be billed leaves no operation behind.
		before := count(t, db, "SELECT COUNT(*) FROM operations")
		err = savepoint(t, db, r, func(r *registry.Repo) error {
			_, _, err := r.RecordOperation(ctx, registry.Operation{UserID: ada.ID, MachineID: new(m.ID + 1000), Kind: "x"}, 1, "USD")
			return err
		})
		if err == nil {
			t.Error("RecordOperation on an unknown machine succeeded")
		}
		if after := count(t, db, "SELECT COUNT(*) FROM operations"); after != before {
			t.Errorf("a failed RecordOperation left %d operations behind", after-before)
		}
	})
}

func TestLogs(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		r, _ := newRepo(t, db)
		ada := mustUser(t, r, "ada")
		m := mustMachine(t, r, ada, nil, "salaries")
		w, err := r.EnqueueWork(ctx, registry.Work{MachineID: m.ID, UserID: ada.ID, Kind: "train"})
		if err != nil {
			t.Fatal(err)
		}
		entries := []registry.LogEntry{
			{Message: "platform started"},
			{UserID: new(ada.ID), Level: registry.LogDebug, Message: "login"},
			{UserID: new(ada.ID), MachineID: new(m.ID), Level: registry.LogWarning, Message: "table lock contended"},
			{UserID: new(ada.ID), MachineID: new(m.ID), WorkID: new(w.ID), Level: registry.LogError, Message: "training failed"},
		}
		for i, e := range entries {
			got, err := r.AddLog(ctx, e)
			if err != nil {
				t.Fatal(err)
			}
			if e.Level == "" {
				e.Level = registry.LogInfo
			}
			e.ID, e.CreatedAt = got.ID, stored(t0)
			if diff := cmp.Diff(e, got); diff != "" {
				t.Errorf("AddLog (-want +got):\n%s", diff)
			}
			entries[i] = e
		}
		for _, c := range []struct {
			f      registry.LogFilter
			want   []registry.LogEntry
			reason string
		}{
			{registry.LogFilter{}, entries, "no filter: everything, oldest first"},
			{registry.LogFilter{UserID: ada.ID}, entries[1:], "a user's entries"},
			{registry.LogFilter{MachineID: m.ID}, entries[2:], "a machine's entries"},
			{registry.LogFilter{WorkID: w.ID}, entries[3:], "a work's entries"},
			{registry.LogFilter{UserID: ada.ID, MachineID: m.ID, WorkID: w.ID}, entries[3:], "all filters at once"},
			{registry.LogFilter{Limit: 2}, entries[:2], "a limit"},
			{registry.LogFilter{MachineID: m.ID + 1000}, nil, "an unknown machine"},
		} {
			got, err := r.ListLogs(ctx, c.f)
			if err != nil {
				t.Fatalf("%s: %v", c.reason, err)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("ListLogs, %s (-want +got):\n%s", c.reason, diff)
			}
		}
		_, err = r.AddLog(ctx, registry.LogEntry{Level: "fatal"})
		mustErr(t, "AddLog(unknown level)", err, registry.ErrInvalid, `"fatal"`)
		_, err = r.ListLogs(ctx, registry.LogFilter{Limit: -1})
		mustErr(t, "ListLogs(negative limit)", err, registry.ErrInvalid)
	})
}

func TestServersConsultingGraphs(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		r, _ := newRepo(t, db)
		ada := mustUser(t, r, "ada")
		m := mustMachine(t, r, ada, nil, "salaries")

		s, err := r.CreateServer(ctx, registry.Server{Name: "gpu-1", Address: "10.0.0.7:9000"})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(registry.Server{ID: s.ID, Name: "gpu-1", Address: "10.0.0.7:9000", Status: "up", CreatedAt: stored(t0), UpdatedAt: stored(t0)}, s); diff != "" {
			t.Errorf("CreateServer (-want +got):\n%s", diff)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM servers WHERE id = ? AND name = 'gpu-1' AND status = 'up'", s.ID); n != 1 {
			t.Errorf("server row: %d, want 1", n)
		}
		err = savepoint(t, db, r, func(r *registry.Repo) error {
			_, err := r.CreateServer(ctx, registry.Server{Name: "gpu-1"})
			return err
		})
		mustErr(t, "CreateServer(duplicate)", err, registry.ErrDuplicate, `"gpu-1"`)
		_, err = r.CreateServer(ctx, registry.Server{})
		mustErr(t, "CreateServer(no name)", err, registry.ErrInvalid)

		c, err := r.CreateConsultingRequest(ctx, registry.ConsultingRequest{UserID: ada.ID, MachineID: new(m.ID), Subject: "R² is low", Message: "why?"})
		if err != nil {
			t.Fatal(err)
		}
		if c.Status != "open" || c.ID <= 0 {
			t.Errorf("CreateConsultingRequest = %+v, want an open request with an id", c)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM consulting_requests WHERE id = ? AND user_id = ? AND machine_id = ? AND status = 'open'", c.ID, ada.ID, m.ID); n != 1 {
			t.Errorf("consulting request row: %d, want 1", n)
		}
		_, err = r.CreateConsultingRequest(ctx, registry.ConsultingRequest{UserID: ada.ID})
		mustErr(t, "CreateConsultingRequest(no subject)", err, registry.ErrInvalid, "subject")

		g, err := r.CreateGraph(ctx, registry.Graph{MachineID: m.ID, UserID: ada.ID, Kind: "histogram"})
		if err != nil {
			t.Fatal(err)
		}
		if g.Spec != "{}" {
			t.Errorf("CreateGraph: spec %q, want {}", g.Spec)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM graphs WHERE id = ? AND machine_id = ? AND kind = 'histogram' AND spec = '{}'", g.ID, m.ID); n != 1 {
			t.Errorf("graph row: %d, want 1", n)
		}
		_, err = r.CreateGraph(ctx, registry.Graph{MachineID: m.ID, UserID: ada.ID})
		mustErr(t, "CreateGraph(no kind)", err, registry.ErrInvalid, "kind")
	})
}
