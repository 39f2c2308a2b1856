-- Work items (training, prediction), the models they produce, and the
-- servers that run them.

-- +goose Up
CREATE TABLE works (
    id          BIGINT      NOT NULL AUTO_INCREMENT,
    machine_id  BIGINT      NOT NULL,
    user_id     BIGINT      NOT NULL,
    kind        VARCHAR(64) NOT NULL,
    status      VARCHAR(16) NOT NULL DEFAULT 'queued',
    error       TEXT        NOT NULL DEFAULT (''),
    queued_at   DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    started_at  DATETIME(6) NULL,
    finished_at DATETIME(6) NULL,
    created_at  DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at  DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    KEY works_machine_id_status_idx (machine_id, status),
    KEY works_user_id_idx (user_id),
    CONSTRAINT works_status_check CHECK (status IN ('queued', 'running', 'done', 'failed')),
    CONSTRAINT works_machine_id_fkey FOREIGN KEY (machine_id) REFERENCES machines (id) ON DELETE CASCADE,
    CONSTRAINT works_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE RESTRICT
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE nn_models (
    id         BIGINT      NOT NULL AUTO_INCREMENT,
    machine_id BIGINT      NOT NULL,
    work_id    BIGINT      NULL,
    kind       VARCHAR(64) NOT NULL,
    parameters TEXT        NOT NULL DEFAULT ('{}'),
    metrics    TEXT        NOT NULL DEFAULT ('{}'),
    created_at DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    -- LatestNNModel reads the newest model of a machine.
    KEY nn_models_machine_id_created_at_idx (machine_id, created_at, id),
    KEY nn_models_work_id_idx (work_id),
    CONSTRAINT nn_models_machine_id_fkey FOREIGN KEY (machine_id) REFERENCES machines (id) ON DELETE CASCADE,
    CONSTRAINT nn_models_work_id_fkey FOREIGN KEY (work_id) REFERENCES works (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE servers (
    id         BIGINT       NOT NULL AUTO_INCREMENT,
    name       VARCHAR(150) NOT NULL,
    address    VARCHAR(255) NOT NULL DEFAULT '',
    status     VARCHAR(32)  NOT NULL DEFAULT 'up',
    created_at DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    UNIQUE KEY servers_name_key (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE servers;
DROP TABLE nn_models;
DROP TABLE works;
