-- +goose Up
CREATE TABLE products (
    id          BIGINT AUTO_INCREMENT PRIMARY KEY,
    sku         VARCHAR(32)  NOT NULL UNIQUE,
    name        VARCHAR(200) NOT NULL,
    price_cents BIGINT       NOT NULL CHECK (price_cents >= 0),
    stock       INTEGER      NOT NULL DEFAULT 0 CHECK (stock >= 0)
) ENGINE = InnoDB;

CREATE TABLE customers (
    id    BIGINT AUTO_INCREMENT PRIMARY KEY,
    email VARCHAR(200) NOT NULL UNIQUE,
    name  VARCHAR(200) NOT NULL
) ENGINE = InnoDB;

CREATE TABLE orders (
    id          BIGINT AUTO_INCREMENT PRIMARY KEY,
    customer_id BIGINT      NOT NULL,
    status      VARCHAR(20) NOT NULL DEFAULT 'placed',
    total_cents BIGINT      NOT NULL,
    placed_at   DATETIME(6) NOT NULL,
    FOREIGN KEY (customer_id) REFERENCES customers (id)
) ENGINE = InnoDB;

CREATE TABLE order_lines (
    id          BIGINT AUTO_INCREMENT PRIMARY KEY,
    order_id    BIGINT  NOT NULL,
    product_id  BIGINT  NOT NULL,
    qty         INTEGER NOT NULL CHECK (qty > 0),
    price_cents BIGINT  NOT NULL,
    FOREIGN KEY (order_id) REFERENCES orders (id),
    FOREIGN KEY (product_id) REFERENCES products (id)
) ENGINE = InnoDB;

-- +goose Down
DROP TABLE order_lines;
DROP TABLE orders;
DROP TABLE customers;
DROP TABLE products;
