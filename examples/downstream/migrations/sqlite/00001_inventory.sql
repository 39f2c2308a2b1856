-- +goose Up
CREATE TABLE products (
    id          INTEGER PRIMARY KEY,
    sku         VARCHAR(32)  NOT NULL UNIQUE,
    name        VARCHAR(200) NOT NULL,
    price_cents BIGINT       NOT NULL CHECK (price_cents >= 0),
    stock       INTEGER      NOT NULL DEFAULT 0 CHECK (stock >= 0)
);

CREATE TABLE customers (
    id    INTEGER PRIMARY KEY,
    email VARCHAR(200) NOT NULL UNIQUE,
    name  VARCHAR(200) NOT NULL
);

CREATE TABLE orders (
    id          INTEGER PRIMARY KEY,
    customer_id INTEGER     NOT NULL REFERENCES customers (id),
    status      VARCHAR(20) NOT NULL DEFAULT 'placed',
    total_cents BIGINT      NOT NULL,
    placed_at   TIMESTAMP   NOT NULL
);

CREATE TABLE order_lines (
    id          INTEGER PRIMARY KEY,
    order_id    INTEGER NOT NULL REFERENCES orders (id),
    product_id  INTEGER NOT NULL REFERENCES products (id),
    qty         INTEGER NOT NULL CHECK (qty > 0),
    price_cents BIGINT  NOT NULL
);

-- +goose Down
DROP TABLE order_lines;
DROP TABLE orders;
DROP TABLE customers;
DROP TABLE products;
