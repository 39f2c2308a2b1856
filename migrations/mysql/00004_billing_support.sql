-- Billed operations, consulting requests and the log. These rows are
-- history: they keep their user (ON DELETE RESTRICT) and outlive the machine
-- they were about (ON DELETE SET NULL).

-- +goose Up
CREATE TABLE operations (
    id         BIGINT      NOT NULL AUTO_INCREMENT,
    user_id    BIGINT      NOT NULL,
    machine_id BIGINT      NULL,
    kind       VARCHAR(64) NOT NULL,
    created_at DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    KEY operations_user_id_idx (user_id),
    KEY operations_machine_id_idx (machine_id),
    CONSTRAINT operations_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE RESTRICT,
    CONSTRAINT operations_machine_id_fkey FOREIGN KEY (machine_id) REFERENCES machines (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE billings (
    id           BIGINT      NOT NULL AUTO_INCREMENT,
    operation_id BIGINT      NOT NULL,
    user_id      BIGINT      NOT NULL,
    machine_id   BIGINT      NULL,
    cost_cents   BIGINT      NOT NULL,
    currency     VARCHAR(3)  NOT NULL DEFAULT 'USD',
    created_at   DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    KEY billings_user_id_idx (user_id, id),
    KEY billings_operation_id_idx (operation_id),
    KEY billings_machine_id_idx (machine_id),
    CONSTRAINT billings_operation_id_fkey FOREIGN KEY (operation_id) REFERENCES operations (id) ON DELETE CASCADE,
    CONSTRAINT billings_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE RESTRICT,
    CONSTRAINT billings_machine_id_fkey FOREIGN KEY (machine_id) REFERENCES machines (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE consulting_requests (
    id         BIGINT       NOT NULL AUTO_INCREMENT,
    user_id    BIGINT       NOT NULL,
    machine_id BIGINT       NULL,
    subject    VARCHAR(255) NOT NULL,
    message    TEXT         NOT NULL DEFAULT (''),
    status     VARCHAR(32)  NOT NULL DEFAULT 'open',
    created_at DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    KEY consulting_requests_user_id_idx (user_id),
    KEY consulting_requests_machine_id_idx (machine_id),
    CONSTRAINT consulting_requests_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT consulting_requests_machine_id_fkey FOREIGN KEY (machine_id) REFERENCES machines (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE log_entries (
    id         BIGINT      NOT NULL AUTO_INCREMENT,
    user_id    BIGINT      NULL,
    machine_id BIGINT      NULL,
    work_id    BIGINT      NULL,
    level      VARCHAR(16) NOT NULL DEFAULT 'info',
    message    TEXT        NOT NULL DEFAULT (''),
    created_at DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    KEY log_entries_user_id_idx (user_id, id),
    KEY log_entries_machine_id_idx (machine_id, id),
    KEY log_entries_work_id_idx (work_id, id),
    CONSTRAINT log_entries_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT log_entries_machine_id_fkey FOREIGN KEY (machine_id) REFERENCES machines (id) ON DELETE SET NULL,
    CONSTRAINT log_entries_work_id_fkey FOREIGN KEY (work_id) REFERENCES works (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE log_entries;
DROP TABLE consulting_requests;
DROP TABLE billings;
DROP TABLE operations;
