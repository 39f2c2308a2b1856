package registry

import (
	"context"
)

const userCols = "id, username, email, is_staff, created_at, updated_at"

func scanUser(s rowScanner) (User, error) {
	var u User
	err := s.Scan(&u.ID, &u.Username, &u.Email, &u.IsStaff, timeDest{&u.CreatedAt}, timeDest{&u.UpdatedAt})
	return u, err
}

// CreateUser stores a new user and returns it with its id and timestamps.
// The username must be unique ([ErrDuplicate]).
func (r *Repo) CreateUser(ctx context.Context, u User) (User, error) {
	if err := checkText("user: username", u.Username, 150); err != nil {
		return User{}, err
	}
	if err := checkLen("user: email", u.Email, 254); err != nil {
		return User{}, err
	}
	now := r.now()
	id, err := r.insert(ctx,
		"INSERT INTO users (username, email, is_staff, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
		u.Username, u.Email, u.IsStaff, r.t(now), r.t(now))
	if err != nil {
		return User{}, r.wrap(err, "create user %q", u.Username)
	}
	u.ID, u.CreatedAt, u.UpdatedAt = id, now, now
	return u, nil
}

// GetUser returns the user with id, or [ErrNotFound].
func (r *Repo) GetUser(ctx context.Context, id int64) (User, error) {
	u, err := scanUser(r.queryRow(ctx, "SELECT "+userCols+" FROM users WHERE id = ?", id))
	return u, r.wrap(err, "user %d", id)
}

// GetUserByUsername returns the user named username, or [ErrNotFound].
func (r *Repo) GetUserByUsername(ctx context.Context, username string) (User, error) {
	u, err := scanUser(r.queryRow(ctx, "SELECT "+userCols+" FROM users WHERE username = ?", username))
	return u, r.wrap(err, "user %q", username)
}

const teamCols = "id, name, created_at, updated_at"

func scanTeam(s rowScanner) (Team, error) {
	var t Team
	err := s.Scan(&t.ID, &t.Name, timeDest{&t.CreatedAt}, timeDest{&t.UpdatedAt})
	return t, err
}

// CreateTeam stores a new team. Its name must be unique ([ErrDuplicate]).
func (r *Repo) CreateTeam(ctx context.Context, t Team) (Team, error) {
	if err := checkText("team: name", t.Name, 150); err != nil {
		return Team{}, err
	}
	now := r.now()
	id, err := r.insert(ctx,
		"INSERT INTO teams (name, created_at, updated_at) VALUES (?, ?, ?)",
		t.Name, r.t(now), r.t(now))
	if err != nil {
		return Team{}, r.wrap(err, "create team %q", t.Name)
	}
	t.ID, t.CreatedAt, t.UpdatedAt = id, now, now
	return t, nil
}

// GetTeam returns the team with id, or [ErrNotFound].
func (r *Repo) GetTeam(ctx context.Context, id int64) (Team, error) {
	t, err := scanTeam(r.queryRow(ctx, "SELECT "+teamCols+" FROM teams WHERE id = ?", id))
	return t, r.wrap(err, "team %d", id)
}

// AddTeamMember makes the user a member of the team with role ("member"
// when empty). A user is a member of a team once ([ErrDuplicate]).
func (r *Repo) AddTeamMember(ctx context.Context, teamID, userID int64, role string) (TeamMember, error) {
	if err := checkID("team member: team", teamID); err != nil {
		return TeamMember{}, err
	}
	if err := checkID("team member: user", userID); err != nil {
		return TeamMember{}, err
	}
	if role == "" {
		role = "member"
	}
	if err := checkLen("team member: role", role, 32); err != nil {
		return TeamMember{}, err
	}
	now := r.now()
	_, err := r.exec(ctx,
		"INSERT INTO team_members (team_id, user_id, role, created_at) VALUES (?, ?, ?, ?)",
		teamID, userID, role, r.t(now))
	if err != nil {
		return TeamMember{}, r.wrap(err, "add user %d to team %d", userID, teamID)
	}
	return TeamMember{TeamID: teamID, UserID: userID, Role: role, CreatedAt: now}, nil
}

// ListTeamMembers returns the members of a team, by user id.
func (r *Repo) ListTeamMembers(ctx context.Context, teamID int64) ([]TeamMember, error) {
	rows, err := r.query(ctx,
		"SELECT team_id, user_id, role, created_at FROM team_members WHERE team_id = ? ORDER BY user_id", teamID)
	out, err := collect(rows, err, func(s rowScanner) (TeamMember, error) {
		var m TeamMember
		err := s.Scan(&m.TeamID, &m.UserID, &m.Role, timeDest{&m.CreatedAt})
		return m, err
	})
	return out, r.wrap(err, "members of team %d", teamID)
}
