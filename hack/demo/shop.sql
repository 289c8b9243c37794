-- Sample data for make demo and the end-to-end SQL tests: a small shop.
CREATE TABLE customers (
  id INT PRIMARY KEY,
  name VARCHAR(64) NOT NULL,
  region VARCHAR(16) NOT NULL
);
CREATE TABLE orders (
  id INT PRIMARY KEY,
  customer_id INT NOT NULL,
  category VARCHAR(32) NOT NULL,
  amount DECIMAL(10,2) NOT NULL,
  order_date DATE NOT NULL
);
INSERT INTO customers VALUES
  (1, 'Ada Lovelace', 'EU'), (2, 'Grace Hopper', 'US'), (3, 'Katherine Johnson', 'US'),
  (4, 'Hedy Lamarr', 'EU'), (5, 'Radia Perlman', 'US');
INSERT INTO orders VALUES
  (1, 1, 'books', 12.50, '2026-01-03'), (2, 2, 'games', 59.99, '2026-01-05'),
  (3, 1, 'books', 8.00, '2026-02-11'), (4, 3, 'music', 15.25, '2026-02-14'),
  (5, 2, 'games', 19.99, '2026-03-02'), (6, 4, 'books', 31.40, '2026-03-09'),
  (7, 5, 'music', 9.90, '2026-03-15'), (8, 3, 'games', 44.00, '2026-04-01'),
  (9, 5, 'books', 22.75, '2026-04-08'), (10, 4, 'music', 12.00, '2026-04-20');
