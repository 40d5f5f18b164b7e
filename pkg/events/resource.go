package events

// Resource maps a Stripe object name to the relation that mirrors it.
type Resource struct {
	// Object is the value of the "object" field Stripe puts on every object,
	// for example "customer" or "checkout.session".
	Object string
	// Table is the relation in schema stripe, Stripe's object name in plural
	// snake case, for example "customers" or "checkout_sessions".
	Table string
	// Path is the API collection the object is retrieved from by id
	// (Path + "/" + id), for example "/v1/checkout/sessions"; empty when
	// Stripe has no such endpoint for it (discounts; tax ids, cards and bank
	// accounts, which live under their customer or account).
	Path string
	// Parent is set for items of a nested list (an invoice's lines): the
	// object whose list holds them. Such a table has a parent column, filled
	// from the message, because not every item names its parent itself.
	Parent string
	// Lists are the fields of this object that hold a list of child objects
	// (an invoice's "lines"). The processor stores the children it finds
	// there, and when a list is complete (has_more false) marks the
	// children it no longer holds deleted.
	Lists []List
}

// List is a field holding a nested list and the object its items are.
type List struct {
	Field string
	Child string
}

// Resources is the registry of the Stripe objects mirrored in relations of
// their own. Adding a resource takes a line here and a migration creating its
// table (db/schema); db's generator then writes its upsert query, and a test
// checks that every resource has a table of the expected shape.
//
// Objects that are not listed are still kept whole in stripe.events.
var Resources = []Resource{
	{Object: "account", Table: "accounts", Path: "/v1/accounts"},
	{Object: "application_fee", Table: "application_fees", Path: "/v1/application_fees"},
	{Object: "balance_transaction", Table: "balance_transactions", Path: "/v1/balance_transactions"},
	{Object: "bank_account", Table: "bank_accounts"},
	{Object: "card", Table: "cards"},
	{Object: "charge", Table: "charges", Path: "/v1/charges"},
	{Object: "checkout.session", Table: "checkout_sessions", Path: "/v1/checkout/sessions", Lists: []List{{Field: "line_items", Child: "item"}}},
	{Object: "coupon", Table: "coupons", Path: "/v1/coupons"},
	{Object: "credit_note", Table: "credit_notes", Path: "/v1/credit_notes", Lists: []List{{Field: "lines", Child: "credit_note_line_item"}}},
	{Object: "credit_note_line_item", Table: "credit_note_line_items", Parent: "credit_note"},
	{Object: "customer", Table: "customers", Path: "/v1/customers"},
	{Object: "discount", Table: "discounts"},
	{Object: "dispute", Table: "disputes", Path: "/v1/disputes"},
	{Object: "file", Table: "files", Path: "/v1/files"},
	{Object: "invoice", Table: "invoices", Path: "/v1/invoices", Lists: []List{{Field: "lines", Child: "line_item"}}},
	{Object: "invoiceitem", Table: "invoiceitems", Path: "/v1/invoiceitems"},
	{Object: "item", Table: "checkout_session_line_items", Parent: "checkout.session"},
	{Object: "line_item", Table: "invoice_line_items", Parent: "invoice"},
	{Object: "payment_intent", Table: "payment_intents", Path: "/v1/payment_intents"},
	{Object: "payment_method", Table: "payment_methods", Path: "/v1/payment_methods"},
	{Object: "payout", Table: "payouts", Path: "/v1/payouts"},
	{Object: "plan", Table: "plans", Path: "/v1/plans"},
	{Object: "price", Table: "prices", Path: "/v1/prices"},
	{Object: "product", Table: "products", Path: "/v1/products"},
	{Object: "promotion_code", Table: "promotion_codes", Path: "/v1/promotion_codes"},
	{Object: "radar.early_fraud_warning", Table: "radar_early_fraud_warnings", Path: "/v1/radar/early_fraud_warnings"},
	{Object: "refund", Table: "refunds", Path: "/v1/refunds"},
	{Object: "review", Table: "reviews", Path: "/v1/reviews"},
	{Object: "setup_intent", Table: "setup_intents", Path: "/v1/setup_intents"},
	{Object: "source", Table: "sources", Path: "/v1/sources"},
	{Object: "subscription", Table: "subscriptions", Path: "/v1/subscriptions", Lists: []List{{Field: "items", Child: "subscription_item"}}},
	{Object: "subscription_item", Table: "subscription_items", Path: "/v1/subscription_items", Parent: "subscription"},
	{Object: "subscription_schedule", Table: "subscription_schedules", Path: "/v1/subscription_schedules"},
	{Object: "tax_id", Table: "tax_ids"},
	{Object: "tax_rate", Table: "tax_rates", Path: "/v1/tax_rates"},
	{Object: "transfer", Table: "transfers", Path: "/v1/transfers"},
}

var resourceByObject, resourceByTable = func() (map[string]Resource, map[string]Resource) {
	byObject := make(map[string]Resource, len(Resources))
	byTable := make(map[string]Resource, len(Resources))
	for _, r := range Resources {
		byObject[r.Object] = r
		byTable[r.Table] = r
	}
	return byObject, byTable
}()

// ResourceFor returns the resource that mirrors Stripe objects named object,
// and false when the object is not mirrored in a relation of its own.
func ResourceFor(object string) (Resource, bool) {
	r, ok := resourceByObject[object]
	return r, ok
}

// ResourceForTable returns the resource mirrored in the relation named table.
func ResourceForTable(table string) (Resource, bool) {
	r, ok := resourceByTable[table]
	return r, ok
}
