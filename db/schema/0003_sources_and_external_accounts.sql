-- +goose Up
-- Payment sources of customers (cards and bank accounts attached with the
-- legacy Sources API, and Source objects) and external accounts of connected
-- accounts (the cards and bank accounts payouts go to). A card or bank
-- account names its owner: customer for a source, connected_account (the
-- object's "account" field) for an external account.

CREATE TABLE stripe.cards (
    id                text PRIMARY KEY,
    account           text,
    livemode          boolean NOT NULL,
    deleted           boolean NOT NULL DEFAULT false,
    customer          text GENERATED ALWAYS AS (stripe.ref(data->'customer')) STORED,
    connected_account text GENERATED ALWAYS AS (stripe.ref(data->'account')) STORED,
    brand             text GENERATED ALWAYS AS (data->>'brand') STORED,
    last4             text GENERATED ALWAYS AS (data->>'last4') STORED,
    exp_month         bigint GENERATED ALWAYS AS (stripe.int(data->'exp_month')) STORED,
    exp_year          bigint GENERATED ALWAYS AS (stripe.int(data->'exp_year')) STORED,
    funding           text GENERATED ALWAYS AS (data->>'funding') STORED,
    country           text GENERATED ALWAYS AS (data->>'country') STORED,
    data              jsonb NOT NULL,
    state_at          timestamptz NOT NULL,
    last_event_id     text,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cards_customer_idx ON stripe.cards (customer);
CREATE INDEX cards_connected_account_idx ON stripe.cards (connected_account);

CREATE TABLE stripe.bank_accounts (
    id                text PRIMARY KEY,
    account           text,
    livemode          boolean NOT NULL,
    deleted           boolean NOT NULL DEFAULT false,
    customer          text GENERATED ALWAYS AS (stripe.ref(data->'customer')) STORED,
    connected_account text GENERATED ALWAYS AS (stripe.ref(data->'account')) STORED,
    bank_name         text GENERATED ALWAYS AS (data->>'bank_name') STORED,
    last4             text GENERATED ALWAYS AS (data->>'last4') STORED,
    country           text GENERATED ALWAYS AS (data->>'country') STORED,
    currency          text GENERATED ALWAYS AS (data->>'currency') STORED,
    status            text GENERATED ALWAYS AS (data->>'status') STORED,
    data              jsonb NOT NULL,
    state_at          timestamptz NOT NULL,
    last_event_id     text,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bank_accounts_customer_idx ON stripe.bank_accounts (customer);
CREATE INDEX bank_accounts_connected_account_idx ON stripe.bank_accounts (connected_account);

CREATE TABLE stripe.sources (
    id                text PRIMARY KEY,
    account           text,
    livemode          boolean NOT NULL,
    deleted           boolean NOT NULL DEFAULT false,
    created           timestamptz GENERATED ALWAYS AS (stripe.ts(data->'created')) STORED,
    customer          text GENERATED ALWAYS AS (stripe.ref(data->'customer')) STORED,
    type              text GENERATED ALWAYS AS (data->>'type') STORED,
    status            text GENERATED ALWAYS AS (data->>'status') STORED,
    usage             text GENERATED ALWAYS AS (data->>'usage') STORED,
    data              jsonb NOT NULL,
    state_at          timestamptz NOT NULL,
    last_event_id     text,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sources_customer_idx ON stripe.sources (customer);

-- +goose Down
DROP TABLE stripe.sources;
DROP TABLE stripe.bank_accounts;
DROP TABLE stripe.cards;
