-- +goose Up
-- Each row records the Stripe API version its data was rendered in: the
-- event's api_version for objects from snapshot events, the version of the
-- request for objects fetched from the API (STRIPE_API_VERSION). A relation
-- can then be checked for objects of more than one shape. NULL for rows
-- written before this migration, and for states whose version is unknown.
ALTER TABLE stripe.accounts ADD COLUMN api_version text;
ALTER TABLE stripe.application_fees ADD COLUMN api_version text;
ALTER TABLE stripe.balance_transactions ADD COLUMN api_version text;
ALTER TABLE stripe.bank_accounts ADD COLUMN api_version text;
ALTER TABLE stripe.billing_credit_grants ADD COLUMN api_version text;
ALTER TABLE stripe.cards ADD COLUMN api_version text;
ALTER TABLE stripe.charges ADD COLUMN api_version text;
ALTER TABLE stripe.checkout_sessions ADD COLUMN api_version text;
ALTER TABLE stripe.coupons ADD COLUMN api_version text;
ALTER TABLE stripe.credit_notes ADD COLUMN api_version text;
ALTER TABLE stripe.credit_note_line_items ADD COLUMN api_version text;
ALTER TABLE stripe.customers ADD COLUMN api_version text;
ALTER TABLE stripe.discounts ADD COLUMN api_version text;
ALTER TABLE stripe.disputes ADD COLUMN api_version text;
ALTER TABLE stripe.files ADD COLUMN api_version text;
ALTER TABLE stripe.invoices ADD COLUMN api_version text;
ALTER TABLE stripe.invoiceitems ADD COLUMN api_version text;
ALTER TABLE stripe.checkout_session_line_items ADD COLUMN api_version text;
ALTER TABLE stripe.invoice_line_items ADD COLUMN api_version text;
ALTER TABLE stripe.payment_intents ADD COLUMN api_version text;
ALTER TABLE stripe.payment_methods ADD COLUMN api_version text;
ALTER TABLE stripe.payouts ADD COLUMN api_version text;
ALTER TABLE stripe.plans ADD COLUMN api_version text;
ALTER TABLE stripe.prices ADD COLUMN api_version text;
ALTER TABLE stripe.products ADD COLUMN api_version text;
ALTER TABLE stripe.promotion_codes ADD COLUMN api_version text;
ALTER TABLE stripe.radar_early_fraud_warnings ADD COLUMN api_version text;
ALTER TABLE stripe.refunds ADD COLUMN api_version text;
ALTER TABLE stripe.reviews ADD COLUMN api_version text;
ALTER TABLE stripe.setup_intents ADD COLUMN api_version text;
ALTER TABLE stripe.sources ADD COLUMN api_version text;
ALTER TABLE stripe.subscriptions ADD COLUMN api_version text;
ALTER TABLE stripe.subscription_items ADD COLUMN api_version text;
ALTER TABLE stripe.subscription_schedules ADD COLUMN api_version text;
ALTER TABLE stripe.tax_ids ADD COLUMN api_version text;
ALTER TABLE stripe.tax_rates ADD COLUMN api_version text;
ALTER TABLE stripe.transfers ADD COLUMN api_version text;

-- +goose Down
ALTER TABLE stripe.accounts DROP COLUMN api_version;
ALTER TABLE stripe.application_fees DROP COLUMN api_version;
ALTER TABLE stripe.balance_transactions DROP COLUMN api_version;
ALTER TABLE stripe.bank_accounts DROP COLUMN api_version;
ALTER TABLE stripe.billing_credit_grants DROP COLUMN api_version;
ALTER TABLE stripe.cards DROP COLUMN api_version;
ALTER TABLE stripe.charges DROP COLUMN api_version;
ALTER TABLE stripe.checkout_sessions DROP COLUMN api_version;
ALTER TABLE stripe.coupons DROP COLUMN api_version;
ALTER TABLE stripe.credit_notes DROP COLUMN api_version;
ALTER TABLE stripe.credit_note_line_items DROP COLUMN api_version;
ALTER TABLE stripe.customers DROP COLUMN api_version;
ALTER TABLE stripe.discounts DROP COLUMN api_version;
ALTER TABLE stripe.disputes DROP COLUMN api_version;
ALTER TABLE stripe.files DROP COLUMN api_version;
ALTER TABLE stripe.invoices DROP COLUMN api_version;
ALTER TABLE stripe.invoiceitems DROP COLUMN api_version;
ALTER TABLE stripe.checkout_session_line_items DROP COLUMN api_version;
ALTER TABLE stripe.invoice_line_items DROP COLUMN api_version;
ALTER TABLE stripe.payment_intents DROP COLUMN api_version;
ALTER TABLE stripe.payment_methods DROP COLUMN api_version;
ALTER TABLE stripe.payouts DROP COLUMN api_version;
ALTER TABLE stripe.plans DROP COLUMN api_version;
ALTER TABLE stripe.prices DROP COLUMN api_version;
ALTER TABLE stripe.products DROP COLUMN api_version;
ALTER TABLE stripe.promotion_codes DROP COLUMN api_version;
ALTER TABLE stripe.radar_early_fraud_warnings DROP COLUMN api_version;
ALTER TABLE stripe.refunds DROP COLUMN api_version;
ALTER TABLE stripe.reviews DROP COLUMN api_version;
ALTER TABLE stripe.setup_intents DROP COLUMN api_version;
ALTER TABLE stripe.sources DROP COLUMN api_version;
ALTER TABLE stripe.subscriptions DROP COLUMN api_version;
ALTER TABLE stripe.subscription_items DROP COLUMN api_version;
ALTER TABLE stripe.subscription_schedules DROP COLUMN api_version;
ALTER TABLE stripe.tax_ids DROP COLUMN api_version;
ALTER TABLE stripe.tax_rates DROP COLUMN api_version;
ALTER TABLE stripe.transfers DROP COLUMN api_version;
