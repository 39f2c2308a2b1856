package registry_test

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/dynamic"
	"github.com/easyautoml/dbharness/fixtures"
	"github.com/easyautoml/dbharness/registry"
)

// baseAccess is who may use which machine of the base fixture set, by
// hand from fixtures/base: the rule applied by eye, so that a change of
// the fixtures that would leave the rule untested (no team machine, no
// member who is not the owner) shows.
var baseAccess = map[string][]string{
	"alice": {"alice_private", "research_shared"}, // owns both; research_shared is also her team's
	"bob":   {"research_shared"},                  // a member of research, owns nothing
	"carol": {"carol_private", "ops_shared"},      // owns both
	"dave":  nil,                                  // in no team, owns nothing
	"admin": nil,                                  // staff: no more than anyone else
}

// scopedOps are the operations a user does on a machine, each run for
// every user on every machine of the base set.
var scopedOps = []string{"read", "list", "work", "bill", "delete", "append"}

// TestScopingOverBaseFixtures tries every user of the base fixture set on
// every machine, with every operation a user does on a machine: it is
// allowed exactly when the user owns the machine or is a member of its
// team, as the rows loaded say; otherwise it answers ErrNotFound and
// writes nothing.
func TestScopingOverBaseFixtures(t *testing.T) {
	base, err := fixtures.Base()
	if err != nil {
		t.Fatal(err)
	}
	users, machines := base.Labels("users"), base.Labels("machines")
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		ids := fixtures.MustLoadBase(t, db)
		id := func(ref string) int64 {
			v, ok := ids.ID(ref)
			if !ok {
				t.Fatalf("no row %s", ref)
			}
			return v
		}
		r, _ := newRepo(t, db)

		// The rule, applied in Go to the rows as loaded.
		allowed := map[[2]string]bool{}
		for _, m := range machines {
			owner, team := machineOwners(t, db, id("machines."+m))
			for _, u := range users {
				uid := id("users." + u)
				allowed[[2]string{u, m}] = owner == uid || team != nil && isMember(t, db, *team, uid)
			}
		}
		for _, u := range users {
			var got []string
			for _, m := range machines {
				if allowed[[2]string{u, m}] {
					got = append(got, m)
				}
			}
			if diff := cmp.Diff(baseAccess[u], got); diff != "" {
				t.Fatalf("the rule on the base set gives %s (-by hand +from the rows):\n%s", u, diff)
			}
		}

		checked := map[string]int{}
		check := func(op, u, m string, err error) {
			t.Helper()
			checked[op]++
			switch want := allowed[[2]string{u, m}]; {
			case want && err != nil:
				t.Errorf("%s: %s may use %s, but: %v", op, u, m, err)
			case !want && !errors.Is(err, registry.ErrNotFound):
				t.Errorf("%s: %s may not use %s, yet the answer is %v (want ErrNotFound)", op, u, m, err)
			}
		}
		counts := func() [4]int {
			var n [4]int
			for i, table := range []string{"works", "operations", "billings", "data_lines_operations"} {
				n[i] = count(t, db, "SELECT COUNT(*) FROM "+table)
			}
			return n
		}
		for _, u := range users {
			uid := id("users." + u)
			list, err := r.ListMachinesForUser(ctx, uid)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range machines {
				mid := id("machines." + m)
				got, err := r.GetMachineForUser(ctx, uid, mid)
				if err == nil && got.ID != mid {
					t.Errorf("read: %s asked for %s (%d) and got machine %d", u, m, mid, got.ID)
				}
				check("read", u, m, err)

				err = registry.ErrNotFound
				if slices.ContainsFunc(list, func(x registry.Machine) bool { return x.ID == mid }) {
					err = nil
				}
				check("list", u, m, err)

				before := counts()
				_, err = r.EnqueueWork(ctx, registry.Work{MachineID: mid, UserID: uid, Kind: "train"})
				check("work", u, m, err)
				_, _, err = r.RecordOperation(ctx, registry.Operation{UserID: uid, MachineID: &mid, Kind: "train"}, 125, "EUR")
				check("bill", u, m, err)
				if after := counts(); !allowed[[2]string{u, m}] && after != before {
					t.Errorf("%s refused on %s, yet works, operations, billings, data lines went from %v to %v", u, m, before, after)
				}

				// Deleting is tried in a savepoint, undone after. No data
				// table exists yet, so no DDL commits on MySQL.
				err = savepoint(t, db, r, func(r *registry.Repo) error {
					err := r.DeleteMachineForUser(ctx, uid, mid)
					_, gerr := r.GetMachine(ctx, mid)
					if gone := errors.Is(gerr, registry.ErrNotFound); gone != (err == nil) {
						t.Errorf("delete: %s on %s answered %v, and the machine is gone: %v", u, m, err, gone)
					}
					return err
				})
				check("delete", u, m, err)
				if _, err := r.GetMachine(ctx, mid); err != nil {
					t.Fatalf("after the savepoint, machine %s: %v", m, err)
				}
			}
		}

		// Appends last: the first one allowed on a machine creates its
		// data table (on MySQL, DDL that commits; dbtest notes it).
		frame, err := dynamic.FromRows([]string{"x"}, [][]any{{int64(1)}})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range users {
			for _, m := range machines {
				mid := id("machines." + m)
				before := counts()
				_, err := r.AppendToMachine(ctx, db, mid, id("users."+u), frame)
				check("append", u, m, err)
				after := counts()
				if want := allowed[[2]string{u, m}]; want && after[3] != before[3]+1 || !want && after != before {
					t.Errorf("append: %s on %s: works, operations, billings, data lines went from %v to %v", u, m, before, after)
				}
				if _, err := r.GetTableLock(ctx, mid); !errors.Is(err, registry.ErrLockNotHeld) && !errors.Is(err, registry.ErrNotFound) {
					t.Errorf("append: %s on %s left the table lock: %v", u, m, err)
				}
			}
		}

		// The billings a user lists are theirs alone.
		for _, u := range users {
			bills, err := r.ListBillings(ctx, id("users."+u))
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			for _, m := range machines {
				if allowed[[2]string{u, m}] {
					want++
				}
			}
			for _, b := range bills {
				if b.UserID != id("users."+u) {
					t.Errorf("ListBillings(%s) holds billing %d of user %d", u, b.ID, b.UserID)
				}
			}
			if len(bills) != want {
				t.Errorf("ListBillings(%s): %d billings, want %d", u, len(bills), want)
			}
			checked["billings"]++
		}

		var ops []string
		for _, op := range scopedOps {
			ops = append(ops, op)
			if checked[op] != len(users)*len(machines) {
				t.Errorf("%s checked on %d pairs, want %d", op, checked[op], len(users)*len(machines))
			}
		}
		sort.Strings(ops)
		pairs := 0
		for _, n := range checked {
			pairs += n
		}
		t.Logf("%d users × %d machines × %d operations (%v), and %d billing lists: %d checks", len(users), len(machines), len(ops), ops, checked["billings"], pairs)
	})
}

// machineOwners reads a machine's owner and team from its row.
func machineOwners(t *testing.T, db *dbtest.DB, id int64) (int64, *int64) {
	t.Helper()
	var owner int64
	var team *int64
	if err := db.QueryRowContext(t.Context(), fmt.Sprintf("SELECT owner_user_id, owner_team_id FROM machines WHERE id = %d", id)).Scan(&owner, &team); err != nil {
		t.Fatal(err)
	}
	return owner, team
}

// isMember reads team_members.
func isMember(t *testing.T, db *dbtest.DB, team, user int64) bool {
	t.Helper()
	return count(t, db, "SELECT COUNT(*) FROM team_members WHERE team_id = ? AND user_id = ?", team, user) > 0
}
