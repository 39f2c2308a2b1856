-- +goose Up
CREATE TABLE items (
    id   INTEGER PRIMARY KEY,
    name VARCHAR(100) NOT NULL UNIQUE,
    qty  INTEGER NOT NULL DEFAULT 0
);

-- +goose Down
DROP TABLE items;
