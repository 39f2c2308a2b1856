-- Billed operations, consulting requests and the log. These rows are
-- history: they keep their user (ON DELETE RESTRICT) and outlive the machine
-- they were about (ON DELETE SET NULL).

-- +goose Up
CREATE TABLE operations (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER  NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    machine_id INTEGER  REFERENCES machines (id) ON DELETE SET NULL,
    kind       TEXT     NOT NULL,
    created_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
);

CREATE INDEX operations_user_id_idx ON operations (user_id);
CREATE INDEX operations_machine_id_idx ON operations (machine_id);

CREATE TABLE billings (
    id           INTEGER PRIMARY KEY,
    operation_id INTEGER  NOT NULL REFERENCES operations (id) ON DELETE CASCADE,
    user_id      INTEGER  NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    machine_id   INTEGER  REFERENCES machines (id) ON DELETE SET NULL,
    cost_cents   BIGINT   NOT NULL,
    currency     TEXT     NOT NULL DEFAULT 'USD',
    created_at   DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
);

CREATE INDEX billings_user_id_idx ON billings (user_id, id);
CREATE INDEX billings_operation_id_idx ON billings (operation_id);
CREATE INDEX billings_machine_id_idx ON billings (machine_id);

CREATE TABLE consulting_requests (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    machine_id INTEGER  REFERENCES machines (id) ON DELETE SET NULL,
    subject    TEXT     NOT NULL,
    message    TEXT     NOT NULL DEFAULT '',
    status     TEXT     NOT NULL DEFAULT 'open',
    created_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    updated_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
);

CREATE INDEX consulting_requests_user_id_idx ON consulting_requests (user_id);
CREATE INDEX consulting_requests_machine_id_idx ON consulting_requests (machine_id);

CREATE TABLE log_entries (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER  REFERENCES users (id) ON DELETE SET NULL,
    machine_id INTEGER  REFERENCES machines (id) ON DELETE SET NULL,
    work_id    INTEGER  REFERENCES works (id) ON DELETE SET NULL,
    level      TEXT     NOT NULL DEFAULT 'info',
    message    TEXT     NOT NULL DEFAULT '',
    created_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
);

CREATE INDEX log_entries_user_id_idx ON log_entries (user_id, id);
CREATE INDEX log_entries_machine_id_idx ON log_entries (machine_id, id);
CREATE INDEX log_entries_work_id_idx ON log_entries (work_id, id);

-- +goose Down
DROP TABLE log_entries;
DROP TABLE consulting_requests;
DROP TABLE billings;
DROP TABLE operations;
