-- +goose Up
-- Subscription items become nested-list items like line items: each row
-- names the subscription whose items list held it, so that items removed
-- from a subscription can be marked deleted when the subscription's full
-- list is seen. Rows written before this migration get theirs from data.
ALTER TABLE stripe.subscription_items ADD COLUMN parent text;
UPDATE stripe.subscription_items SET parent = stripe.ref(data->'subscription');
CREATE INDEX subscription_items_parent_idx ON stripe.subscription_items (parent);

-- +goose Down
ALTER TABLE stripe.subscription_items DROP COLUMN parent;
