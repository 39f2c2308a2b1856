package registry_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/registry"
)

// tableExists reports whether the test's database has a table called name,
// exactly.
func tableExists(t *testing.T, db *dbtest.DB, name string) bool {
	t.Helper()
	q := map[string]string{
		"sqlite":   "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
		"postgres": "SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = ?",
		"mysql":    "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?",
	}[db.Dialect()]
	return count(t, db, q, name) > 0
}

// createTable makes a one-column table, as appending data would.
func createTable(t *testing.T, db *dbtest.DB, name string) {
	t.Helper()
	q := `"` + name + `"`
	if db.Dialect() == "mysql" {
		q = "`" + name + "`"
	}
	if _, err := db.ExecContext(t.Context(), "CREATE TABLE "+q+" (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	if !tableExists(t, db, name) {
		t.Fatalf("created table %s is not there", name)
	}
}

func TestDeleteMachine(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		r, _ := newRepo(t, db)
		ada := mustUser(t, r, "ada")
		doomed := mustMachine(t, r, ada, nil, "doomed")
		kept := mustMachine(t, r, ada, nil, "kept")
		createTable(t, db, doomed.DataTableName)
		createTable(t, db, doomed.DataTableName+registry.PredictionsSuffix)
		createTable(t, db, kept.DataTableName)

		// Every kind of row that hangs off a machine.
		if _, err := r.AcquireTableLock(ctx, doomed.ID, "appender", 60e9); err != nil {
			t.Fatal(err)
		}
		for _, m := range []registry.Machine{doomed, kept} {
			if _, err := r.RecordDataLinesOperation(ctx, registry.DataLinesOperation{MachineID: m.ID, UserID: ada.ID, RowsCount: 3, ColumnNames: []string{"a"}}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := r.CreateGraph(ctx, registry.Graph{MachineID: doomed.ID, UserID: ada.ID, Kind: "scatter"}); err != nil {
			t.Fatal(err)
		}
		w, err := r.EnqueueWork(ctx, registry.Work{MachineID: doomed.ID, UserID: ada.ID, Kind: "train"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.SaveNNModel(ctx, registry.NNModel{MachineID: doomed.ID, WorkID: new(w.ID), Kind: "linear"}); err != nil {
			t.Fatal(err)
		}
		op, bill, err := r.RecordOperation(ctx, registry.Operation{UserID: ada.ID, MachineID: new(doomed.ID), Kind: "train"}, 120, "USD")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.CreateConsultingRequest(ctx, registry.ConsultingRequest{UserID: ada.ID, MachineID: new(doomed.ID), Subject: "help"}); err != nil {
			t.Fatal(err)
		}
		if _, err := r.AddLog(ctx, registry.LogEntry{UserID: new(ada.ID), MachineID: new(doomed.ID), WorkID: new(w.ID), Message: "trained"}); err != nil {
			t.Fatal(err)
		}

		if err := r.DeleteMachine(ctx, doomed.ID); err != nil {
			t.Fatalf("DeleteMachine: %v", err)
		}

		_, err = r.GetMachine(ctx, doomed.ID)
		mustErr(t, "GetMachine after DeleteMachine", err, registry.ErrNotFound)
		for _, table := range []string{"machine_table_lock_writes", "data_lines_operations", "graphs", "nn_models", "works"} {
			if n := count(t, db, "SELECT COUNT(*) FROM "+table+" WHERE machine_id = ?", doomed.ID); n != 0 {
				t.Errorf("%s still has %d rows of the deleted machine", table, n)
			}
		}
		if ops, err := r.ListDataLinesOperations(ctx, kept.ID); err != nil || len(ops) != 1 {
			t.Errorf("the other machine's data lines operations = %v, %v; want 1", ops, err)
		}

		// History stays, without the machine.
		bills, err := r.ListBillings(ctx, ada.ID)
		if err != nil {
			t.Fatal(err)
		}
		bill.MachineID = nil
		if diff := cmp.Diff([]registry.Billing{bill}, bills); diff != "" {
			t.Errorf("billings after DeleteMachine (-want +got):\n%s", diff)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM operations WHERE id = ? AND machine_id IS NULL", op.ID); n != 1 {
			t.Errorf("the operation on the deleted machine: %d rows with no machine, want 1", n)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM consulting_requests WHERE machine_id IS NULL"); n != 1 {
			t.Errorf("the consulting request on the deleted machine: %d rows with no machine, want 1", n)
		}
		logs, err := r.ListLogs(ctx, registry.LogFilter{UserID: ada.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(logs) != 1 || logs[0].MachineID != nil || logs[0].WorkID != nil || logs[0].Message != "trained" {
			t.Errorf("the log entry of the deleted machine = %+v, want it kept with no machine or work", logs)
		}

		// Its tables are gone, the other machine's stays.
		for _, name := range []string{doomed.DataTableName, doomed.DataTableName + registry.PredictionsSuffix} {
			if tableExists(t, db, name) {
				t.Errorf("table %s survived DeleteMachine", name)
			}
		}
		if !tableExists(t, db, kept.DataTableName) {
			t.Errorf("DeleteMachine dropped another machine's table %s", kept.DataTableName)
		}

		err = r.DeleteMachine(ctx, doomed.ID)
		mustErr(t, "DeleteMachine twice", err, registry.ErrNotFound)
	})
}

// TestDeleteMachineLongName: a data table name so long that the
// predictions table's name would pass the identifier limit. PostgreSQL
// would truncate that name to 63 bytes and so could find, and drop, a
// table that belongs to something else.
func TestDeleteMachineLongName(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		r, _ := newRepo(t, db)
		ada := mustUser(t, r, "ada")
		long := "m_" + strings.Repeat("x", 55)
		m, err := r.CreateMachine(ctx, registry.Machine{OwnerUserID: ada.ID, Name: "long", DataTableName: long})
		if err != nil {
			t.Fatal(err)
		}
		decoy := (long + registry.PredictionsSuffix)[:63]
		createTable(t, db, long)
		createTable(t, db, decoy)
		if err := r.DeleteMachine(ctx, m.ID); err != nil {
			t.Fatal(err)
		}
		if tableExists(t, db, long) {
			t.Errorf("table %s survived DeleteMachine", long)
		}
		if !tableExists(t, db, decoy) {
			t.Errorf("DeleteMachine dropped %s, which is not its table", decoy)
		}
	})
}

// TestDeleteMachineWithoutTables: a machine that never got data has no
// tables to drop, and that is no error.
func TestDeleteMachineWithoutTables(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		r, _ := newRepo(t, db)
		m := mustMachine(t, r, mustUser(t, r, "ada"), nil, "empty")
		if err := r.DeleteMachine(t.Context(), m.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := r.GetMachine(t.Context(), m.ID); err == nil {
			t.Error("the machine survived DeleteMachine")
		}
	})
}

func TestDataLinesOperations(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		r, clk := newRepo(t, db)
		ada := mustUser(t, r, "ada")
		m := mustMachine(t, r, ada, nil, "salaries")

		first, err := r.RecordDataLinesOperation(ctx, registry.DataLinesOperation{MachineID: m.ID, UserID: ada.ID, RowsCount: 100, ColumnNames: []string{"age", "salary", "job title"}})
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(1500)
		second, err := r.RecordDataLinesOperation(ctx, registry.DataLinesOperation{MachineID: m.ID, UserID: ada.ID, RowsCount: 0})
		if err != nil {
			t.Fatal(err)
		}
		want := []registry.DataLinesOperation{
			{ID: first.ID, MachineID: m.ID, UserID: ada.ID, RowsCount: 100, ColumnsCount: 3, ColumnNames: []string{"age", "salary", "job title"}, CreatedAt: stored(t0)},
			{ID: second.ID, MachineID: m.ID, UserID: ada.ID, RowsCount: 0, ColumnsCount: 0, ColumnNames: []string{}, CreatedAt: stored(t0.Add(1500))},
		}
		if diff := cmp.Diff(want, []registry.DataLinesOperation{first, second}); diff != "" {
			t.Errorf("RecordDataLinesOperation (-want +got):\n%s", diff)
		}
		got, err := r.ListDataLinesOperations(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ListDataLinesOperations (-want +got):\n%s", diff)
		}

		for _, c := range []struct {
			op     registry.DataLinesOperation
			reason string
		}{
			{registry.DataLinesOperation{UserID: ada.ID}, "the machine is required"},
			{registry.DataLinesOperation{MachineID: m.ID}, "the user is required"},
			{registry.DataLinesOperation{MachineID: m.ID, UserID: ada.ID, RowsCount: -1}, "a negative row count"},
			{registry.DataLinesOperation{MachineID: m.ID, UserID: ada.ID, ColumnsCount: 2, ColumnNames: []string{"a"}}, "a count that disagrees with the names"},
		} {
			_, err := r.RecordDataLinesOperation(ctx, c.op)
			mustErr(t, c.reason, err, registry.ErrInvalid)
		}
	})
}
