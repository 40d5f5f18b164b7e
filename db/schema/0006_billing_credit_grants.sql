-- +goose Up
-- Billing credit grants: credits a customer can spend on metered usage
-- (https://docs.stripe.com/api/billing/credit-grant). Voided and expired
-- grants stay in Stripe's list; nothing deletes one.
CREATE TABLE stripe.billing_credit_grants (
    id             text PRIMARY KEY,
    account        text,
    livemode       boolean NOT NULL,
    deleted        boolean NOT NULL DEFAULT false,
    created        timestamptz GENERATED ALWAYS AS (stripe.ts(data->'created')) STORED,
    customer       text GENERATED ALWAYS AS (stripe.ref(data->'customer')) STORED,
    name           text GENERATED ALWAYS AS (data->>'name') STORED,
    category       text GENERATED ALWAYS AS (data->>'category') STORED,
    amount         bigint GENERATED ALWAYS AS (stripe.int(data->'amount'->'monetary'->'value')) STORED,
    currency       text GENERATED ALWAYS AS (data->'amount'->'monetary'->>'currency') STORED,
    effective_at   timestamptz GENERATED ALWAYS AS (stripe.ts(data->'effective_at')) STORED,
    expires_at     timestamptz GENERATED ALWAYS AS (stripe.ts(data->'expires_at')) STORED,
    voided_at      timestamptz GENERATED ALWAYS AS (stripe.ts(data->'voided_at')) STORED,
    data           jsonb NOT NULL,
    state_at       timestamptz NOT NULL,
    last_event_id  text,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX billing_credit_grants_customer_idx ON stripe.billing_credit_grants (customer);

-- +goose Down
DROP TABLE stripe.billing_credit_grants;
