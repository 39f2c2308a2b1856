package registry_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log"
	"time"

	_ "github.com/ncruces/go-sqlite3/driver"
	_ "github.com/ncruces/go-sqlite3/embed"
	_ "github.com/ncruces/go-sqlite3/vfs/memdb"

	"github.com/easyautoml/dbharness/migrations"
	"github.com/easyautoml/dbharness/registry"
)

// openExample returns a migrated in-memory SQLite database.
func openExample(ctx context.Context, name string) *sql.DB {
	db, err := sql.Open("sqlite3", "file:/"+name+"?vfs=memdb&_pragma=foreign_keys(1)")
	if err != nil {
		log.Fatal(err)
	}
	p, err := migrations.NewProvider("sqlite", db)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := p.Up(ctx); err != nil {
		log.Fatal(err)
	}
	return db
}

// A user sees their own machines and their teams' machines; any other
// machine is not found.
func Example() {
	ctx := context.Background()
	db := openExample(ctx, "registry-example")
	defer db.Close()

	repo, err := registry.New(db, "sqlite")
	if err != nil {
		log.Fatal(err)
	}
	ada, _ := repo.CreateUser(ctx, registry.User{Username: "ada"})
	bob, _ := repo.CreateUser(ctx, registry.User{Username: "bob"})
	m, err := repo.CreateMachine(ctx, registry.Machine{OwnerUserID: ada.ID, Name: "Salaries", DataTableName: "salaries"})
	if err != nil {
		log.Fatal(err)
	}

	_, err = repo.GetMachineForUser(ctx, bob.ID, m.ID)
	fmt.Println("bob:", errors.Is(err, registry.ErrNotFound))

	lab, _ := repo.CreateTeam(ctx, registry.Team{Name: "lab"})
	repo.AddTeamMember(ctx, lab.ID, bob.ID, "")
	shared, _ := repo.CreateMachine(ctx, registry.Machine{OwnerUserID: ada.ID, OwnerTeamID: &lab.ID, Name: "Shared", DataTableName: "shared"})
	visible, _ := repo.ListMachinesForUser(ctx, bob.ID)
	fmt.Println("bob sees:", len(visible), visible[0].ID == shared.ID)
	// Output:
	// bob: true
	// bob sees: 1 true
}

// Two holders of one machine's table lock: the second is told who holds it
// and until when.
func ExampleRepo_AcquireTableLock() {
	ctx := context.Background()
	db := openExample(ctx, "registry-lock-example")
	defer db.Close()

	now := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	repo, err := registry.New(db, "sqlite", registry.WithClock(func() time.Time { return now }))
	if err != nil {
		log.Fatal(err)
	}
	ada, _ := repo.CreateUser(ctx, registry.User{Username: "ada"})
	m, _ := repo.CreateMachine(ctx, registry.Machine{OwnerUserID: ada.ID, Name: "Salaries", DataTableName: "salaries"})

	lock, err := repo.AcquireTableLock(ctx, m.ID, "appender", time.Minute)
	if err != nil {
		log.Fatal(err)
	}
	_, err = repo.AcquireTableLock(ctx, m.ID, "trainer", time.Minute)
	fmt.Println(err)
	fmt.Println(errors.Is(err, registry.ErrLockHeld))

	if err := repo.ReleaseTableLock(ctx, lock); err != nil {
		log.Fatal(err)
	}
	_, err = repo.AcquireTableLock(ctx, m.ID, "trainer", time.Minute)
	fmt.Println(err)
	// Output:
	// registry: machine 1: table lock held by "appender" until 2024-03-01T12:01:00Z
	// true
	// <nil>
}
