-- Work items (training, prediction), the models they produce, and the
-- servers that run them.

-- +goose Up
CREATE TABLE works (
    id          INTEGER PRIMARY KEY,
    machine_id  INTEGER  NOT NULL REFERENCES machines (id) ON DELETE CASCADE,
    user_id     INTEGER  NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    kind        TEXT     NOT NULL,
    status      TEXT     NOT NULL DEFAULT 'queued'
        CONSTRAINT works_status_check CHECK (status IN ('queued', 'running', 'done', 'failed')),
    error       TEXT     NOT NULL DEFAULT '',
    queued_at   DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    started_at  DATETIME,
    finished_at DATETIME,
    created_at  DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    updated_at  DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
);

CREATE INDEX works_machine_id_status_idx ON works (machine_id, status);
CREATE INDEX works_user_id_idx ON works (user_id);

CREATE TABLE nn_models (
    id         INTEGER PRIMARY KEY,
    machine_id INTEGER  NOT NULL REFERENCES machines (id) ON DELETE CASCADE,
    work_id    INTEGER  REFERENCES works (id) ON DELETE SET NULL,
    kind       TEXT     NOT NULL,
    parameters TEXT     NOT NULL DEFAULT '{}',
    metrics    TEXT     NOT NULL DEFAULT '{}',
    created_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    updated_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
);

-- LatestNNModel reads the newest model of a machine.
CREATE INDEX nn_models_machine_id_created_at_idx ON nn_models (machine_id, created_at, id);
CREATE INDEX nn_models_work_id_idx ON nn_models (work_id);

CREATE TABLE servers (
    id         INTEGER PRIMARY KEY,
    name       TEXT     NOT NULL UNIQUE,
    address    TEXT     NOT NULL DEFAULT '',
    status     TEXT     NOT NULL DEFAULT 'up',
    created_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    updated_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
);

-- +goose Down
DROP TABLE servers;
DROP TABLE nn_models;
DROP TABLE works;
