-- +goose Up
-- Objects and events stay in their rows, compressed, instead of moving to
-- the relations' TOAST tables (storage MAIN instead of EXTENDED).
--
-- Why: a row longer than about 2 kB is compressed, and when it is still
-- longer its data moves out of line: cut into chunks, each a row of the
-- TOAST table with an entry in its index. Most events, invoices, charges and
-- subscriptions stay longer than 2 kB after lz4, so each of them cost two
-- or three more tuples and index entries to write, and to read back. With
-- MAIN, data moves out of line only when the compressed row does not fit in
-- a page (8 kB), which no object of the benchmark's does. The bytes on disk
-- are about the same (README, Storage): the compressed data is in the heap
-- instead of in the TOAST table.
--
-- Rows written before keep their TOASTed data: the setting is read when a
-- row is written; nothing is rewritten. New month partitions of
-- stripe.events copy it (LIKE … INCLUDING STORAGE).
-- +goose StatementBegin
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT c.relname
        FROM pg_attribute AS a
        JOIN pg_class AS c ON c.oid = a.attrelid
        JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE n.nspname = 'stripe' AND a.attname = 'data' AND NOT a.attisdropped AND c.relkind IN ('r', 'p')
        ORDER BY c.relname
    LOOP
        EXECUTE format('ALTER TABLE ONLY stripe.%I ALTER COLUMN data SET STORAGE MAIN', r.relname);
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT c.relname
        FROM pg_attribute AS a
        JOIN pg_class AS c ON c.oid = a.attrelid
        JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE n.nspname = 'stripe' AND a.attname = 'data' AND NOT a.attisdropped AND c.relkind IN ('r', 'p')
        ORDER BY c.relname
    LOOP
        EXECUTE format('ALTER TABLE ONLY stripe.%I ALTER COLUMN data SET STORAGE EXTENDED', r.relname);
    END LOOP;
END
$$;
-- +goose StatementEnd
