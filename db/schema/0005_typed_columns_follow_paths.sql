-- +goose Up
-- Two typed columns read their paths in another form than every other
-- column (one path's value coalesced before it was read): they are made
-- again in the one form db.ColumnSQL writes, each path read on its own
-- and the first value kept, so that a JSON null at the first path falls
-- back to the next. PostgreSQL 15 cannot change a generated column's
-- expression in place; the column is dropped and added again, which
-- computes it for every row.
ALTER TABLE stripe.subscriptions DROP COLUMN current_period_end;
ALTER TABLE stripe.subscriptions ADD COLUMN current_period_end timestamptz
    GENERATED ALWAYS AS (coalesce(stripe.ts(data->'current_period_end'), stripe.ts(data->'items'->'data'->0->'current_period_end'))) STORED;

ALTER TABLE stripe.invoice_line_items DROP COLUMN price;
ALTER TABLE stripe.invoice_line_items ADD COLUMN price text
    GENERATED ALWAYS AS (coalesce(stripe.ref(data->'price'), stripe.ref(data->'pricing'->'price_details'->'price'))) STORED;

-- +goose Down
ALTER TABLE stripe.subscriptions DROP COLUMN current_period_end;
ALTER TABLE stripe.subscriptions ADD COLUMN current_period_end timestamptz
    GENERATED ALWAYS AS (stripe.ts(coalesce(data->'current_period_end', data->'items'->'data'->0->'current_period_end'))) STORED;
ALTER TABLE stripe.invoice_line_items DROP COLUMN price;
ALTER TABLE stripe.invoice_line_items ADD COLUMN price text
    GENERATED ALWAYS AS (coalesce(stripe.ref(data->'price'), data->'pricing'->'price_details'->>'price')) STORED;
