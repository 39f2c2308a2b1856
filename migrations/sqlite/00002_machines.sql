-- Machines, the data appended into their tables, the write lock on those
-- tables, and the graphs drawn from them.

-- +goose Up
CREATE TABLE machines (
    id              INTEGER PRIMARY KEY,
    owner_user_id   INTEGER  NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    owner_team_id   INTEGER  REFERENCES teams (id) ON DELETE SET NULL,
    name            TEXT     NOT NULL,
    description     TEXT     NOT NULL DEFAULT '',
    status          TEXT     NOT NULL DEFAULT 'created',
    -- SQLite identifiers are case-insensitive: so is this name's uniqueness.
    data_table_name TEXT     NOT NULL UNIQUE COLLATE NOCASE,
    created_at      DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    updated_at      DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
);

CREATE INDEX machines_owner_user_id_idx ON machines (owner_user_id);
CREATE INDEX machines_owner_team_id_idx ON machines (owner_team_id);

CREATE TABLE data_lines_operations (
    id            INTEGER PRIMARY KEY,
    machine_id    INTEGER  NOT NULL REFERENCES machines (id) ON DELETE CASCADE,
    user_id       INTEGER  NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    rows_count    INTEGER  NOT NULL DEFAULT 0,
    columns_count INTEGER  NOT NULL DEFAULT 0,
    column_names  TEXT     NOT NULL DEFAULT '[]',
    created_at    DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
);

CREATE INDEX data_lines_operations_machine_id_idx ON data_lines_operations (machine_id, id);
CREATE INDEX data_lines_operations_user_id_idx ON data_lines_operations (user_id);

-- AUTOINCREMENT, unlike the other tables: a lock's id identifies one
-- tenure of the lock, so it must never be handed out again after the row is
-- deleted (a plain INTEGER PRIMARY KEY reuses the highest id), or a holder
-- whose lock expired and was taken over could release its successor's.
CREATE TABLE machine_table_lock_writes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    machine_id  INTEGER  NOT NULL UNIQUE REFERENCES machines (id) ON DELETE CASCADE,
    holder      TEXT     NOT NULL,
    acquired_at DATETIME NOT NULL,
    expires_at  DATETIME NOT NULL
);

CREATE TABLE graphs (
    id         INTEGER PRIMARY KEY,
    machine_id INTEGER  NOT NULL REFERENCES machines (id) ON DELETE CASCADE,
    user_id    INTEGER  NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    kind       TEXT     NOT NULL,
    spec       TEXT     NOT NULL DEFAULT '{}',
    created_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    updated_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
);

CREATE INDEX graphs_machine_id_idx ON graphs (machine_id);
CREATE INDEX graphs_user_id_idx ON graphs (user_id);

-- +goose Down
DROP TABLE graphs;
DROP TABLE machine_table_lock_writes;
DROP TABLE data_lines_operations;
DROP TABLE machines;
