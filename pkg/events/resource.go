package events

// Resource maps a Stripe object name to the relation that mirrors it.
type Resource struct {
	// Object is the value of the "object" field Stripe puts on every object,
	// for example "customer" or "checkout.session".
	Object string
	// Table is the relation in schema stripe, Stripe's object name in plural
	// snake case, for example "customers" or "checkout_sessions".
	Table string
}

// Resources is the registry of the Stripe objects mirrored in relations of
// their own. Adding a resource takes a line here and a migration creating its
// table (db/schema); db's generator then writes its upsert query, and a test
// checks that every resource has a table of the expected shape.
//
// Objects that are not listed are still kept whole in stripe.events.
var Resources = []Resource{
	{Object: "account", Table: "accounts"},
	{Object: "application_fee", Table: "application_fees"},
	{Object: "balance_transaction", Table: "balance_transactions"},
	{Object: "charge", Table: "charges"},
	{Object: "checkout.session", Table: "checkout_sessions"},
	{Object: "coupon", Table: "coupons"},
	{Object: "credit_note", Table: "credit_notes"},
	{Object: "customer", Table: "customers"},
	{Object: "discount", Table: "discounts"},
	{Object: "dispute", Table: "disputes"},
	{Object: "file", Table: "files"},
	{Object: "invoice", Table: "invoices"},
	{Object: "invoiceitem", Table: "invoiceitems"},
	{Object: "payment_intent", Table: "payment_intents"},
	{Object: "payment_method", Table: "payment_methods"},
	{Object: "payout", Table: "payouts"},
	{Object: "plan", Table: "plans"},
	{Object: "price", Table: "prices"},
	{Object: "product", Table: "products"},
	{Object: "promotion_code", Table: "promotion_codes"},
	{Object: "radar.early_fraud_warning", Table: "radar_early_fraud_warnings"},
	{Object: "refund", Table: "refunds"},
	{Object: "review", Table: "reviews"},
	{Object: "setup_intent", Table: "setup_intents"},
	{Object: "subscription", Table: "subscriptions"},
	{Object: "subscription_item", Table: "subscription_items"},
	{Object: "subscription_schedule", Table: "subscription_schedules"},
	{Object: "tax_id", Table: "tax_ids"},
	{Object: "tax_rate", Table: "tax_rates"},
	{Object: "transfer", Table: "transfers"},
}

var resourceByObject = func() map[string]Resource {
	m := make(map[string]Resource, len(Resources))
	for _, r := range Resources {
		m[r.Object] = r
	}
	return m
}()

// ResourceFor returns the resource that mirrors Stripe objects named object,
// and false when the object is not mirrored in a relation of its own.
func ResourceFor(object string) (Resource, bool) {
	r, ok := resourceByObject[object]
	return r, ok
}
