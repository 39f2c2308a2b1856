package registry_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/registry"
)

func TestMachines(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		r, clk := newRepo(t, db)
		ada := mustUser(t, r, "ada")
		lab, err := r.CreateTeam(ctx, registry.Team{Name: "lab"})
		if err != nil {
			t.Fatal(err)
		}

		m, err := r.CreateMachine(ctx, registry.Machine{
			OwnerUserID: ada.ID, OwnerTeamID: new(lab.ID), Name: "Salaries", Description: "predict salaries", DataTableName: "salaries_data",
		})
		if err != nil {
			t.Fatal(err)
		}
		want := registry.Machine{
			ID: m.ID, OwnerUserID: ada.ID, OwnerTeamID: new(lab.ID), Name: "Salaries", Description: "predict salaries",
			Status: "created", DataTableName: "salaries_data", CreatedAt: stored(t0), UpdatedAt: stored(t0),
		}
		if diff := cmp.Diff(want, m); diff != "" {
			t.Errorf("CreateMachine (-want +got):\n%s", diff)
		}
		got, err := r.GetMachine(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(m, got); diff != "" {
			t.Errorf("GetMachine (-want +got):\n%s", diff)
		}
		solo := mustMachine(t, r, ada, nil, "solo")
		if got, err := r.GetMachine(ctx, solo.ID); err != nil || got.OwnerTeamID != nil {
			t.Errorf("GetMachine(solo) = %+v, %v; want no team", got, err)
		}

		// Status updates stamp updated_at, and setting the same status
		// twice (no row change as MySQL counts it) is not "not found".
		clk.Advance(time.Minute)
		for range 2 {
			got, err = r.UpdateMachineStatus(ctx, m.ID, "training")
			if err != nil {
				t.Fatalf("UpdateMachineStatus: %v", err)
			}
		}
		want.Status, want.UpdatedAt = "training", stored(t0.Add(time.Minute))
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("UpdateMachineStatus (-want +got):\n%s", diff)
		}
		_, err = r.UpdateMachineStatus(ctx, m.ID+1000, "training")
		mustErr(t, "UpdateMachineStatus(unknown)", err, registry.ErrNotFound)
		_, err = r.UpdateMachineStatus(ctx, m.ID, "")
		mustErr(t, "UpdateMachineStatus(empty)", err, registry.ErrInvalid)
		_, err = r.GetMachine(ctx, m.ID+1000)
		mustErr(t, "GetMachine(unknown)", err, registry.ErrNotFound)

		bad := []struct {
			m      registry.Machine
			target error
			reason string
		}{
			{registry.Machine{OwnerUserID: ada.ID, DataTableName: "t_a"}, registry.ErrInvalid, "the name is required"},
			{registry.Machine{OwnerUserID: ada.ID, Name: " ", DataTableName: "t_b"}, registry.ErrInvalid, "a blank name is empty"},
			{registry.Machine{Name: "x", DataTableName: "t_c"}, registry.ErrInvalid, "the owner is required"},
			{registry.Machine{OwnerUserID: ada.ID, OwnerTeamID: new(int64(0)), Name: "x", DataTableName: "t_d"}, registry.ErrInvalid, "a team id must name a row"},
			{registry.Machine{OwnerUserID: ada.ID, Name: "x", DataTableName: "bad name"}, registry.ErrInvalid, "the table name must be an identifier"},
			{registry.Machine{OwnerUserID: ada.ID, Name: "x", DataTableName: "machines"}, registry.ErrInvalid, "a registry table cannot be a data table"},
			{registry.Machine{OwnerUserID: ada.ID, Name: "x", DataTableName: strings.Repeat("t", 64)}, registry.ErrInvalid, "the table name is at most 63 bytes"},
			{registry.Machine{OwnerUserID: ada.ID, Name: "x", DataTableName: "salaries_data"}, registry.ErrDuplicate, "data table names are unique"},
			{registry.Machine{OwnerUserID: ada.ID, Name: "x", DataTableName: "SALARIES_DATA"}, registry.ErrDuplicate, "uniqueness ignores case, as SQLite's table names do"},
		}
		for _, c := range bad {
			err := savepoint(t, db, r, func(r *registry.Repo) error {
				_, err := r.CreateMachine(ctx, c.m)
				return err
			})
			mustErr(t, c.reason, err, c.target)
		}
		err = savepoint(t, db, r, func(r *registry.Repo) error {
			_, err := r.CreateMachine(ctx, registry.Machine{OwnerUserID: ada.ID + 1000, Name: "x", DataTableName: "t_e"})
			return err
		})
		if err == nil || !strings.HasPrefix(err.Error(), "registry: ") {
			t.Errorf("CreateMachine(unknown owner) = %v, want a registry error", err)
		}
	})
}

// TestAccessScoping tries every user on every machine: a user sees a
// machine exactly when they own it or are a member of its team.
func TestAccessScoping(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		r, _ := newRepo(t, db)
		users := map[string]registry.User{}
		for _, n := range []string{"u1", "u2", "u3", "u4"} {
			users[n] = mustUser(t, r, n)
		}
		teams := map[string]registry.Team{}
		for _, n := range []string{"t1", "t2"} {
			tm, err := r.CreateTeam(ctx, registry.Team{Name: n})
			if err != nil {
				t.Fatal(err)
			}
			teams[n] = tm
		}
		for _, mb := range [][2]string{{"t1", "u2"}, {"t1", "u3"}, {"t2", "u3"}} {
			if _, err := r.AddTeamMember(ctx, teams[mb[0]].ID, users[mb[1]].ID, ""); err != nil {
				t.Fatal(err)
			}
		}
		team := func(n string) *registry.Team { tm := teams[n]; return &tm }
		machines := map[string]registry.Machine{
			"m1": mustMachine(t, r, users["u1"], nil, "m1"),        // u1's alone
			"m2": mustMachine(t, r, users["u1"], team("t1"), "m2"), // u1's, shared with t1
			"m3": mustMachine(t, r, users["u2"], nil, "m3"),        // u2's alone
			"m4": mustMachine(t, r, users["u3"], team("t2"), "m4"), // u3's, shared with t2 (u3 only)
			"m5": mustMachine(t, r, users["u4"], team("t1"), "m5"), // u4 owns it without being in t1
		}
		// Who sees what, worked out by hand from the memberships above:
		// u1 owns m1, m2; u2 owns m3 and is in t1 (m2, m5); u3 owns m4 and
		// is in t1 and t2; u4 owns m5 and is in no team.
		sees := map[string][]string{
			"u1": {"m1", "m2"},
			"u2": {"m2", "m3", "m5"},
			"u3": {"m2", "m4", "m5"},
			"u4": {"m5"},
		}
		for un, u := range users {
			allowed := map[string]bool{}
			for _, mn := range sees[un] {
				allowed[mn] = true
			}
			for mn, m := range machines {
				got, err := r.GetMachineForUser(ctx, u.ID, m.ID)
				switch {
				case allowed[mn] && err != nil:
					t.Errorf("%s cannot see %s: %v", un, mn, err)
				case allowed[mn] && got.ID != m.ID:
					t.Errorf("%s asked for %s (id %d) and got machine %d", un, mn, m.ID, got.ID)
				case !allowed[mn] && !errors.Is(err, registry.ErrNotFound):
					t.Errorf("%s sees %s (error %v), want ErrNotFound", un, mn, err)
				}
			}
			list, err := r.ListMachinesForUser(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, m := range list {
				names = append(names, m.Name)
			}
			if diff := cmp.Diff(sees[un], names); diff != "" {
				t.Errorf("ListMachinesForUser(%s) (-want +got):\n%s", un, diff)
			}
		}

		// Unknown users and machines see and are seen by nobody.
		ghost := users["u4"].ID + 1000
		if list, err := r.ListMachinesForUser(ctx, ghost); err != nil || len(list) != 0 {
			t.Errorf("ListMachinesForUser(unknown) = %v, %v; want none", list, err)
		}
		_, err := r.GetMachineForUser(ctx, ghost, machines["m1"].ID)
		mustErr(t, "GetMachineForUser(unknown user)", err, registry.ErrNotFound)
		_, err = r.GetMachineForUser(ctx, users["u1"].ID, machines["m5"].ID+1000)
		mustErr(t, "GetMachineForUser(unknown machine)", err, registry.ErrNotFound)

		// Leaving the team takes its machines away at once.
		if _, err := db.ExecContext(ctx, fmt.Sprintf("DELETE FROM team_members WHERE team_id = %d AND user_id = %d", teams["t1"].ID, users["u2"].ID)); err != nil {
			t.Fatal(err)
		}
		_, err = r.GetMachineForUser(ctx, users["u2"].ID, machines["m2"].ID)
		mustErr(t, "GetMachineForUser after leaving the team", err, registry.ErrNotFound)
	})
}
