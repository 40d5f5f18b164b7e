-- +goose Up
-- Typed columns follow their fields into the shapes of API versions after
-- 2023-10-16, up to 2026-08-26.dahlia: each reads the current shape's path
-- first and the old path after it, so rows of either shape fill it.
--   2025-03-31.basil: an invoice's and an invoice item's subscription sit in
--     parent.subscription_details; a line item's in
--     parent.subscription_item_details or parent.invoice_item_details, and
--     its price in pricing.price_details; a subscription's current period is
--     its items' (current_period_start is new here).
--   2025-09-30.clover: a discount's coupon is source.coupon, a promotion
--     code's promotion.coupon (read already; only the order changes).
-- invoiceitems.created read a field no invoice item ever had: its creation
-- time is date. PostgreSQL 15 cannot change a generated column's expression
-- in place; each column is dropped and added again (one rewrite per table),
-- and the indexes on a dropped column are made again.
ALTER TABLE stripe.invoices
    DROP COLUMN subscription,
    ADD COLUMN subscription text
        GENERATED ALWAYS AS (coalesce(stripe.ref(data->'parent'->'subscription_details'->'subscription'), stripe.ref(data->'subscription'))) STORED;
CREATE INDEX invoices_subscription_idx ON stripe.invoices (subscription);

ALTER TABLE stripe.invoiceitems
    DROP COLUMN created,
    DROP COLUMN subscription,
    ADD COLUMN created timestamptz
        GENERATED ALWAYS AS (stripe.ts(data->'date')) STORED,
    ADD COLUMN subscription text
        GENERATED ALWAYS AS (coalesce(stripe.ref(data->'parent'->'subscription_details'->'subscription'), stripe.ref(data->'subscription'))) STORED;
CREATE INDEX invoiceitems_subscription_idx ON stripe.invoiceitems (subscription);

ALTER TABLE stripe.invoice_line_items
    DROP COLUMN price,
    DROP COLUMN subscription,
    ADD COLUMN price text
        GENERATED ALWAYS AS (coalesce(stripe.ref(data->'pricing'->'price_details'->'price'), stripe.ref(data->'price'))) STORED,
    ADD COLUMN subscription text
        GENERATED ALWAYS AS (coalesce(stripe.ref(data->'parent'->'subscription_item_details'->'subscription'), stripe.ref(data->'parent'->'invoice_item_details'->'subscription'), stripe.ref(data->'subscription'))) STORED;

ALTER TABLE stripe.subscriptions
    DROP COLUMN current_period_end,
    ADD COLUMN current_period_end timestamptz
        GENERATED ALWAYS AS (coalesce(stripe.ts(data->'items'->'data'->0->'current_period_end'), stripe.ts(data->'current_period_end'))) STORED,
    ADD COLUMN current_period_start timestamptz
        GENERATED ALWAYS AS (coalesce(stripe.ts(data->'items'->'data'->0->'current_period_start'), stripe.ts(data->'current_period_start'))) STORED;

ALTER TABLE stripe.discounts
    DROP COLUMN coupon,
    ADD COLUMN coupon text
        GENERATED ALWAYS AS (coalesce(stripe.ref(data->'source'->'coupon'), stripe.ref(data->'coupon'))) STORED;

ALTER TABLE stripe.promotion_codes
    DROP COLUMN coupon,
    ADD COLUMN coupon text
        GENERATED ALWAYS AS (coalesce(stripe.ref(data->'promotion'->'coupon'), stripe.ref(data->'coupon'))) STORED;

-- +goose Down
ALTER TABLE stripe.promotion_codes
    DROP COLUMN coupon,
    ADD COLUMN coupon text
        GENERATED ALWAYS AS (coalesce(stripe.ref(data->'coupon'), stripe.ref(data->'promotion'->'coupon'))) STORED;

ALTER TABLE stripe.discounts
    DROP COLUMN coupon,
    ADD COLUMN coupon text
        GENERATED ALWAYS AS (coalesce(stripe.ref(data->'coupon'), stripe.ref(data->'source'->'coupon'))) STORED;

ALTER TABLE stripe.subscriptions
    DROP COLUMN current_period_start,
    DROP COLUMN current_period_end,
    ADD COLUMN current_period_end timestamptz
        GENERATED ALWAYS AS (coalesce(stripe.ts(data->'current_period_end'), stripe.ts(data->'items'->'data'->0->'current_period_end'))) STORED;

ALTER TABLE stripe.invoice_line_items
    DROP COLUMN subscription,
    DROP COLUMN price,
    ADD COLUMN subscription text
        GENERATED ALWAYS AS (stripe.ref(data->'subscription')) STORED,
    ADD COLUMN price text
        GENERATED ALWAYS AS (coalesce(stripe.ref(data->'price'), stripe.ref(data->'pricing'->'price_details'->'price'))) STORED;

ALTER TABLE stripe.invoiceitems
    DROP COLUMN subscription,
    DROP COLUMN created,
    ADD COLUMN subscription text
        GENERATED ALWAYS AS (stripe.ref(data->'subscription')) STORED,
    ADD COLUMN created timestamptz
        GENERATED ALWAYS AS (stripe.ts(data->'created')) STORED;
CREATE INDEX invoiceitems_subscription_idx ON stripe.invoiceitems (subscription);

ALTER TABLE stripe.invoices
    DROP COLUMN subscription,
    ADD COLUMN subscription text
        GENERATED ALWAYS AS (stripe.ref(data->'subscription')) STORED;
CREATE INDEX invoices_subscription_idx ON stripe.invoices (subscription);
