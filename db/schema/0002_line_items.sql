-- +goose Up
-- Line items live in nested lists that Stripe truncates to ten items inside
-- their parent (an invoice's lines, a credit note's lines, a checkout
-- session's line items). The syncer pages each list to its end and stores
-- every item here, whole, with the parent it came from: not every item names
-- its parent itself.

CREATE TABLE stripe.invoice_line_items (
    id             text PRIMARY KEY,
    account        text,
    livemode       boolean NOT NULL,
    deleted        boolean NOT NULL DEFAULT false,
    parent         text NOT NULL, -- the invoice
    type           text GENERATED ALWAYS AS (data->>'type') STORED,
    price          text GENERATED ALWAYS AS (coalesce(stripe.ref(data->'price'), data->'pricing'->'price_details'->>'price')) STORED,
    subscription   text GENERATED ALWAYS AS (stripe.ref(data->'subscription')) STORED,
    amount         bigint GENERATED ALWAYS AS (stripe.int(data->'amount')) STORED,
    currency       text GENERATED ALWAYS AS (data->>'currency') STORED,
    quantity       bigint GENERATED ALWAYS AS (stripe.int(data->'quantity')) STORED,
    period_start   timestamptz GENERATED ALWAYS AS (stripe.ts(data->'period'->'start')) STORED,
    period_end     timestamptz GENERATED ALWAYS AS (stripe.ts(data->'period'->'end')) STORED,
    data           jsonb NOT NULL,
    state_at       timestamptz NOT NULL,
    last_event_id  text,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX invoice_line_items_parent_idx ON stripe.invoice_line_items (parent);

CREATE TABLE stripe.credit_note_line_items (
    id             text PRIMARY KEY,
    account        text,
    livemode       boolean NOT NULL,
    deleted        boolean NOT NULL DEFAULT false,
    parent         text NOT NULL, -- the credit note
    type           text GENERATED ALWAYS AS (data->>'type') STORED,
    invoice_line_item text GENERATED ALWAYS AS (stripe.ref(data->'invoice_line_item')) STORED,
    amount         bigint GENERATED ALWAYS AS (stripe.int(data->'amount')) STORED,
    quantity       bigint GENERATED ALWAYS AS (stripe.int(data->'quantity')) STORED,
    data           jsonb NOT NULL,
    state_at       timestamptz NOT NULL,
    last_event_id  text,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX credit_note_line_items_parent_idx ON stripe.credit_note_line_items (parent);

CREATE TABLE stripe.checkout_session_line_items (
    id             text PRIMARY KEY,
    account        text,
    livemode       boolean NOT NULL,
    deleted        boolean NOT NULL DEFAULT false,
    parent         text NOT NULL, -- the checkout session
    price          text GENERATED ALWAYS AS (stripe.ref(data->'price')) STORED,
    quantity       bigint GENERATED ALWAYS AS (stripe.int(data->'quantity')) STORED,
    amount_total   bigint GENERATED ALWAYS AS (stripe.int(data->'amount_total')) STORED,
    currency       text GENERATED ALWAYS AS (data->>'currency') STORED,
    data           jsonb NOT NULL,
    state_at       timestamptz NOT NULL,
    last_event_id  text,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX checkout_session_line_items_parent_idx ON stripe.checkout_session_line_items (parent);

-- +goose Down
DROP TABLE stripe.checkout_session_line_items;
DROP TABLE stripe.credit_note_line_items;
DROP TABLE stripe.invoice_line_items;
