package registry_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/easyautoml/dbharness/dbtest"
	"github.com/easyautoml/dbharness/registry"
)

func TestUsers(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		r, clk := newRepo(t, db)

		ada, err := r.CreateUser(ctx, registry.User{Username: "ada", Email: "ada@example.com", IsStaff: true})
		if err != nil {
			t.Fatal(err)
		}
		want := registry.User{ID: ada.ID, Username: "ada", Email: "ada@example.com", IsStaff: true, CreatedAt: stored(t0), UpdatedAt: stored(t0)}
		if diff := cmp.Diff(want, ada); diff != "" {
			t.Errorf("CreateUser (-want +got):\n%s", diff)
		}
		if ada.ID <= 0 {
			t.Errorf("CreateUser: id %d", ada.ID)
		}
		clk.Advance(time.Second)
		bob, err := r.CreateUser(ctx, registry.User{Username: "bob"})
		if err != nil {
			t.Fatal(err)
		}
		if bob.ID == ada.ID {
			t.Errorf("two users got id %d", bob.ID)
		}

		for _, get := range []struct {
			what string
			fn   func() (registry.User, error)
			want registry.User
		}{
			{"GetUser(ada)", func() (registry.User, error) { return r.GetUser(ctx, ada.ID) }, ada},
			{"GetUserByUsername(ada)", func() (registry.User, error) { return r.GetUserByUsername(ctx, "ada") }, ada},
			{"GetUser(bob)", func() (registry.User, error) { return r.GetUser(ctx, bob.ID) }, bob},
		} {
			got, err := get.fn()
			if err != nil {
				t.Errorf("%s: %v", get.what, err)
				continue
			}
			if diff := cmp.Diff(get.want, got); diff != "" {
				t.Errorf("%s read back (-want +got):\n%s", get.what, diff)
			}
		}

		_, err = r.GetUser(ctx, bob.ID+1000)
		mustErr(t, "GetUser(unknown)", err, registry.ErrNotFound)
		_, err = r.GetUserByUsername(ctx, "nobody")
		mustErr(t, "GetUserByUsername(unknown)", err, registry.ErrNotFound, `"nobody"`)

		err = savepoint(t, db, r, func(r *registry.Repo) error {
			_, err := r.CreateUser(ctx, registry.User{Username: "ada"})
			return err
		})
		mustErr(t, "CreateUser(duplicate)", err, registry.ErrDuplicate, `"ada"`)

		for _, c := range []struct {
			u      registry.User
			reason string
		}{
			{registry.User{}, "the username is required"},
			{registry.User{Username: "   "}, "a blank username is empty"},
			{registry.User{Username: strings.Repeat("u", 151)}, "usernames are at most 150 bytes"},
			{registry.User{Username: "carol", Email: strings.Repeat("e", 255)}, "emails are at most 254 bytes"},
		} {
			_, err := r.CreateUser(ctx, c.u)
			mustErr(t, c.reason, err, registry.ErrInvalid)
		}
	})
}

// TestTimesAreUTC: a clock in another zone still stores and reads back UTC
// instants, to the microsecond.
func TestTimesAreUTC(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		tokyo := time.FixedZone("JST", 9*3600)
		local := time.Date(2024, 12, 31, 23, 59, 59, 999999999, tokyo)
		r, err := registry.New(db, db.Dialect(), registry.WithClock(func() time.Time { return local }))
		if err != nil {
			t.Fatal(err)
		}
		u, err := r.CreateUser(t.Context(), registry.User{Username: "tz"})
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.GetUser(t.Context(), u.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := time.Date(2024, 12, 31, 14, 59, 59, 999999000, time.UTC)
		if !got.CreatedAt.Equal(want) || got.CreatedAt.Location() != time.UTC {
			t.Errorf("CreatedAt = %v, want %v in UTC", got.CreatedAt, want)
		}
	})
}

func TestTeams(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		r, _ := newRepo(t, db)
		ada, bob := mustUser(t, r, "ada"), mustUser(t, r, "bob")

		lab, err := r.CreateTeam(ctx, registry.Team{Name: "lab"})
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.GetTeam(ctx, lab.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(lab, got); diff != "" {
			t.Errorf("GetTeam (-want +got):\n%s", diff)
		}
		_, err = r.GetTeam(ctx, lab.ID+1000)
		mustErr(t, "GetTeam(unknown)", err, registry.ErrNotFound)
		_, err = r.CreateTeam(ctx, registry.Team{})
		mustErr(t, "CreateTeam(no name)", err, registry.ErrInvalid, "name")
		err = savepoint(t, db, r, func(r *registry.Repo) error {
			_, err := r.CreateTeam(ctx, registry.Team{Name: "lab"})
			return err
		})
		mustErr(t, "CreateTeam(duplicate)", err, registry.ErrDuplicate, `"lab"`)

		// Members are listed by user id whatever the order they joined in.
		if _, err := r.AddTeamMember(ctx, lab.ID, bob.ID, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := r.AddTeamMember(ctx, lab.ID, ada.ID, "owner"); err != nil {
			t.Fatal(err)
		}
		members, err := r.ListTeamMembers(ctx, lab.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := []registry.TeamMember{
			{TeamID: lab.ID, UserID: ada.ID, Role: "owner", CreatedAt: stored(t0)},
			{TeamID: lab.ID, UserID: bob.ID, Role: "member", CreatedAt: stored(t0)},
		}
		if diff := cmp.Diff(want, members); diff != "" {
			t.Errorf("ListTeamMembers (-want +got):\n%s", diff)
		}

		err = savepoint(t, db, r, func(r *registry.Repo) error {
			_, err := r.AddTeamMember(ctx, lab.ID, ada.ID, "member")
			return err
		})
		mustErr(t, "AddTeamMember(twice)", err, registry.ErrDuplicate)
		_, err = r.AddTeamMember(ctx, 0, ada.ID, "")
		mustErr(t, "AddTeamMember(team 0)", err, registry.ErrInvalid, "team")
		err = savepoint(t, db, r, func(r *registry.Repo) error {
			_, err := r.AddTeamMember(ctx, lab.ID+1000, ada.ID, "")
			return err
		})
		if err == nil {
			t.Error("AddTeamMember(unknown team) succeeded")
		}
		if members, err := r.ListTeamMembers(ctx, lab.ID+1000); err != nil || len(members) != 0 {
			t.Errorf("ListTeamMembers(unknown team) = %v, %v; want none", members, err)
		}
	})
}
