-- Machines, the data appended into their tables, the write lock on those
-- tables, and the graphs drawn from them.

-- +goose Up
CREATE TABLE machines (
    id              BIGINT       NOT NULL AUTO_INCREMENT,
    owner_user_id   BIGINT       NOT NULL,
    owner_team_id   BIGINT       NULL,
    name            VARCHAR(255) NOT NULL,
    description     TEXT         NOT NULL DEFAULT (''),
    status          VARCHAR(32)  NOT NULL DEFAULT 'created',
    -- The table's case-insensitive collation keeps names that differ only
    -- in case unique, as on the other backends.
    data_table_name VARCHAR(63)  NOT NULL,
    created_at      DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at      DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    UNIQUE KEY machines_data_table_name_key (data_table_name),
    KEY machines_owner_user_id_idx (owner_user_id),
    KEY machines_owner_team_id_idx (owner_team_id),
    CONSTRAINT machines_owner_user_id_fkey FOREIGN KEY (owner_user_id) REFERENCES users (id) ON DELETE RESTRICT,
    CONSTRAINT machines_owner_team_id_fkey FOREIGN KEY (owner_team_id) REFERENCES teams (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE data_lines_operations (
    id            BIGINT      NOT NULL AUTO_INCREMENT,
    machine_id    BIGINT      NOT NULL,
    user_id       BIGINT      NOT NULL,
    rows_count    BIGINT      NOT NULL DEFAULT 0,
    columns_count INT         NOT NULL DEFAULT 0,
    column_names  TEXT        NOT NULL DEFAULT ('[]'),
    created_at    DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    KEY data_lines_operations_machine_id_idx (machine_id, id),
    KEY data_lines_operations_user_id_idx (user_id),
    CONSTRAINT data_lines_operations_machine_id_fkey FOREIGN KEY (machine_id) REFERENCES machines (id) ON DELETE CASCADE,
    CONSTRAINT data_lines_operations_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE RESTRICT
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE machine_table_lock_writes (
    id          BIGINT       NOT NULL AUTO_INCREMENT,
    machine_id  BIGINT       NOT NULL,
    holder      VARCHAR(255) NOT NULL,
    acquired_at DATETIME(6)  NOT NULL,
    expires_at  DATETIME(6)  NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY machine_table_lock_writes_machine_id_key (machine_id),
    CONSTRAINT machine_table_lock_writes_machine_id_fkey FOREIGN KEY (machine_id) REFERENCES machines (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE graphs (
    id         BIGINT      NOT NULL AUTO_INCREMENT,
    machine_id BIGINT      NOT NULL,
    user_id    BIGINT      NOT NULL,
    kind       VARCHAR(64) NOT NULL,
    spec       TEXT        NOT NULL DEFAULT ('{}'),
    created_at DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    KEY graphs_machine_id_idx (machine_id),
    KEY graphs_user_id_idx (user_id),
    CONSTRAINT graphs_machine_id_fkey FOREIGN KEY (machine_id) REFERENCES machines (id) ON DELETE CASCADE,
    CONSTRAINT graphs_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE RESTRICT
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE graphs;
DROP TABLE machine_table_lock_writes;
DROP TABLE data_lines_operations;
DROP TABLE machines;
