-- kata:no-transaction
CREATE TABLE IF NOT EXISTS items (id int, label text);
INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 50) AS g;
CREATE INDEX CONCURRENTLY IF NOT EXISTS items_label ON items (label);
BEGIN;
UPDATE items SET label = label || ';' WHERE id = 1;
COMMIT;
START TRANSACTION ISOLATION LEVEL SERIALIZABLE;
SAVEPOINT s;
ROLLBACK TO SAVEPOINT s;
END;
BEGIN; ABORT;
VACUUM items;
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS items_id ON items (id);
