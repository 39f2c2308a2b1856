-- Users, teams and team membership.
--
-- Timestamps are DATETIME text written by the registry as fixed-width
-- RFC 3339 in UTC with microseconds ("2006-01-02T15:04:05.000000Z"), so
-- that they sort and compare as text; the defaults use the same shape.

-- +goose Up
CREATE TABLE users (
    id         INTEGER PRIMARY KEY,
    username   TEXT     NOT NULL UNIQUE,
    email      TEXT     NOT NULL DEFAULT '',
    is_staff   BOOLEAN  NOT NULL DEFAULT FALSE,
    created_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    updated_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
);

CREATE TABLE teams (
    id         INTEGER PRIMARY KEY,
    name       TEXT     NOT NULL UNIQUE,
    created_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    updated_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
);

CREATE TABLE team_members (
    team_id    INTEGER  NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id    INTEGER  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT     NOT NULL DEFAULT 'member',
    created_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    PRIMARY KEY (team_id, user_id)
);

-- Access scoping looks up the teams of a user.
CREATE INDEX team_members_user_id_idx ON team_members (user_id);

-- +goose Down
DROP TABLE team_members;
DROP TABLE teams;
DROP TABLE users;
