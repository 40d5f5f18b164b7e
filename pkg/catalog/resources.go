package catalog

import "net/url"

// resources is the catalog, sorted by object name. Objects that are not
// here are still kept whole in stripe.events.
var resources = []*Resource{
	{
		Object:   "account",
		Retrieve: "/v1/accounts/{id}",
		List:     &Listing{Path: "/v1/accounts", Created: true, PlatformOnly: true},
		Nested:   []NestedList{{Field: "external_accounts", Items: []string{"bank_account", "card"}, Path: "/v1/accounts/{id}/external_accounts"}},
		Columns: []Column{
			ts("created"), text("type"), text("email"), text("country"), flag("charges_enabled"),
			flag("payouts_enabled"),
		},
	},
	{
		Object:   "application_fee",
		Retrieve: "/v1/application_fees/{id}",
		List:     &Listing{Path: "/v1/application_fees", Created: true, PlatformOnly: true},
		Columns: []Column{
			ts("created"), ref("charge"), integer("amount"), integer("amount_refunded"), text("currency"),
		},
	},
	{
		Object:   "balance_transaction",
		Retrieve: "/v1/balance_transactions/{id}",
		List:     &Listing{Path: "/v1/balance_transactions", Created: true},
		Columns: []Column{
			ts("created"), ref("source"), text("type"), text("status"), integer("amount"), integer("fee"),
			integer("net"), text("currency"), ts("available_on"),
		},
	},
	{
		Object:  "bank_account",
		Deletes: []string{"customer.source.deleted", "customer.bank_account.deleted", "account.external_account.deleted"},
		Columns: []Column{
			ref("customer"), ref("connected_account", "account"), text("bank_name"), text("last4"),
			text("country"), text("currency"), text("status"),
		},
	},
	{
		Object:   "billing.credit_grant",
		Retrieve: "/v1/billing/credit_grants/{id}",
		List:     &Listing{Path: "/v1/billing/credit_grants"},
		Columns: []Column{
			ts("created"), ref("customer"), text("name"), text("category"),
			integer("amount", "amount.monetary.value"), text("currency", "amount.monetary.currency"),
			ts("effective_at"), ts("expires_at"), ts("voided_at"),
		},
	},
	{
		Object:  "card",
		Deletes: []string{"customer.source.deleted", "customer.card.deleted", "account.external_account.deleted"},
		Columns: []Column{
			ref("customer"), ref("connected_account", "account"), text("brand"), text("last4"),
			integer("exp_month"), integer("exp_year"), text("funding"), text("country"),
		},
	},
	{
		Object:   "charge",
		Retrieve: "/v1/charges/{id}",
		List:     &Listing{Path: "/v1/charges", Created: true},
		Columns: []Column{
			ts("created"), ref("customer"), ref("payment_intent"), ref("balance_transaction"),
			// invoice is gone since 2025-03-31.basil, with no field to replace it
			// (an invoice's payments are invoice_payment objects now): only
			// charges of older shapes fill it.
			ref("invoice"),
			text("status"), integer("amount"), integer("amount_refunded"), text("currency"), flag("paid"),
			flag("refunded"),
		},
	},
	{
		Object:   "checkout.session",
		Retrieve: "/v1/checkout/sessions/{id}",
		List:     &Listing{Path: "/v1/checkout/sessions", Created: true},
		Nested:   []NestedList{{Field: "line_items", Items: []string{"item"}, Path: "/v1/checkout/sessions/{id}/line_items"}},
		Columns: []Column{
			ts("created"), ref("customer"), ref("subscription"), ref("payment_intent"), ref("invoice"),
			text("mode"), text("status"), text("payment_status"),
		},
	},
	{
		Object:   "coupon",
		Retrieve: "/v1/coupons/{id}",
		List:     &Listing{Path: "/v1/coupons", Created: true},
		Deletes:  []string{"coupon.deleted"},
		Columns: []Column{
			ts("created"), text("name"), flag("valid"), text("duration"), num("percent_off"),
			integer("amount_off"), text("currency"),
		},
	},
	{
		Object:   "credit_note",
		Retrieve: "/v1/credit_notes/{id}",
		List:     &Listing{Path: "/v1/credit_notes"},
		Nested:   []NestedList{{Field: "lines", Items: []string{"credit_note_line_item"}, Path: "/v1/credit_notes/{id}/lines"}},
		Columns: []Column{
			ts("created"), ref("customer"), ref("invoice"), text("status"), integer("total"),
			text("currency"),
		},
	},
	{
		Object: "credit_note_line_item",
		Parent: "credit_note",
		Columns: []Column{
			text("type"), ref("invoice_line_item"), integer("amount"), integer("quantity"),
		},
	},
	{
		Object:   "customer",
		Retrieve: "/v1/customers/{id}",
		List:     &Listing{Path: "/v1/customers", Created: true},
		Embedded: []Embedded{{Field: "discount", Object: "discount"}},
		Deletes:  []string{"customer.deleted"},
		Columns: []Column{
			ts("created"), text("email"), text("name"), text("currency"), flag("delinquent"),
		},
	},
	{
		Object:  "discount",
		Deletes: []string{"customer.discount.deleted"},
		Columns: []Column{
			// No shape of a discount has a created field (it has start and end):
			// created is always NULL.
			ts("created"),
			ref("customer"), ref("subscription"), ref("invoice"), ref("promotion_code"),
			ref("coupon", "source.coupon", "coupon"), // source.coupon since 2025-09-30.clover
		},
	},
	{
		Object:   "dispute",
		Retrieve: "/v1/disputes/{id}",
		List:     &Listing{Path: "/v1/disputes", Created: true},
		Columns: []Column{
			ts("created"), ref("charge"), ref("payment_intent"), text("status"), text("reason"),
			integer("amount"), text("currency"),
		},
	},
	{
		Object:   "file",
		Retrieve: "/v1/files/{id}",
		List:     &Listing{Path: "/v1/files", Created: true},
		Columns: []Column{
			ts("created"), text("purpose"), text("type"), text("filename"), integer("size"),
		},
	},
	{
		Object:   "invoice",
		Retrieve: "/v1/invoices/{id}",
		List:     &Listing{Path: "/v1/invoices", Created: true},
		Nested:   []NestedList{{Field: "lines", Items: []string{"line_item"}, Path: "/v1/invoices/{id}/lines"}},
		Deletes:  []string{"invoice.deleted"},
		Columns: []Column{
			ts("created"), ref("customer"),
			ref("subscription", "parent.subscription_details.subscription", "subscription"), // parent since 2025-03-31.basil
			text("status"), text("number"),
			text("currency"), integer("total"), integer("amount_due"), integer("amount_paid"),
			integer("amount_remaining"), ts("due_date"), ts("period_start"), ts("period_end"),
		},
	},
	{
		Object:   "invoiceitem",
		Retrieve: "/v1/invoiceitems/{id}",
		List:     &Listing{Path: "/v1/invoiceitems", Created: true},
		Deletes:  []string{"invoiceitem.deleted"},
		Columns: []Column{
			ts("created", "date"), // an invoice item's creation time is its date, in every shape
			ref("customer"), ref("invoice"),
			ref("subscription", "parent.subscription_details.subscription", "subscription"), // parent since 2025-03-31.basil
			integer("amount"), text("currency"),
		},
	},
	{
		Object:   "item",
		relation: "checkout_session_line_items",
		Parent:   "checkout.session",
		Columns: []Column{
			ref("price"), integer("quantity"), integer("amount_total"), text("currency"),
		},
	},
	{
		Object:   "line_item",
		relation: "invoice_line_items",
		Parent:   "invoice",
		Columns: []Column{
			// type ("subscription", "invoiceitem") is gone since 2025-03-31.basil;
			// parent.type names the parent in other words
			// ("subscription_item_details", "invoice_item_details"), so it is
			// not read here: only lines of older shapes fill type.
			text("type"),
			ref("price", "pricing.price_details.price", "price"), // pricing since 2025-03-31.basil
			ref("subscription", "parent.subscription_item_details.subscription", "parent.invoice_item_details.subscription", "subscription"),
			integer("amount"), text("currency"), integer("quantity"), ts("period_start", "period.start"),
			ts("period_end", "period.end"),
		},
	},
	{
		Object:   "payment_intent",
		Retrieve: "/v1/payment_intents/{id}",
		List:     &Listing{Path: "/v1/payment_intents", Created: true},
		Columns: []Column{
			ts("created"), ref("customer"),
			ref("invoice"), // gone since 2025-03-31.basil, as on charges: only older shapes fill it
			ref("payment_method"), text("status"), integer("amount"), integer("amount_received"), text("currency"),
		},
	},
	{
		Object:   "payment_method",
		Retrieve: "/v1/payment_methods/{id}",
		List:     &Listing{Path: "/v1/customers/{id}/payment_methods", Per: "customer"},
		Columns: []Column{
			ts("created"), ref("customer"), text("type"),
		},
	},
	{
		Object:   "payout",
		Retrieve: "/v1/payouts/{id}",
		List:     &Listing{Path: "/v1/payouts", Created: true},
		Columns: []Column{
			ts("created"), text("status"), integer("amount"), text("currency"), ts("arrival_date"),
			ref("balance_transaction"),
		},
	},
	{
		Object:   "plan",
		Retrieve: "/v1/plans/{id}",
		List:     &Listing{Path: "/v1/plans", Created: true},
		Deletes:  []string{"plan.deleted"},
		Columns: []Column{
			ts("created"), ref("product"), flag("active"), integer("amount"), text("currency"),
			text("interval"),
		},
	},
	{
		Object:   "price",
		Retrieve: "/v1/prices/{id}",
		List:     &Listing{Path: "/v1/prices", Created: true},
		Deletes:  []string{"price.deleted"},
		Columns: []Column{
			ts("created"), ref("product"), flag("active"), text("type"), integer("unit_amount"),
			text("currency"), text("recurring_interval", "recurring.interval"), text("lookup_key"),
		},
	},
	{
		Object:   "product",
		Retrieve: "/v1/products/{id}",
		List:     &Listing{Path: "/v1/products", Created: true},
		Deletes:  []string{"product.deleted"},
		Columns: []Column{
			ts("created"), text("name"), flag("active"),
		},
	},
	{
		Object:   "promotion_code",
		Retrieve: "/v1/promotion_codes/{id}",
		List:     &Listing{Path: "/v1/promotion_codes", Created: true},
		Columns: []Column{
			ts("created"), text("code"), ref("coupon", "promotion.coupon", "coupon"), // promotion.coupon since 2025-09-30.clover
			ref("customer"), flag("active"),
		},
	},
	{
		Object:   "radar.early_fraud_warning",
		Retrieve: "/v1/radar/early_fraud_warnings/{id}",
		List:     &Listing{Path: "/v1/radar/early_fraud_warnings", Created: true},
		Columns: []Column{
			ts("created"), ref("charge"), ref("payment_intent"), text("fraud_type"), flag("actionable"),
		},
	},
	{
		Object:   "refund",
		Retrieve: "/v1/refunds/{id}",
		List:     &Listing{Path: "/v1/refunds", Created: true},
		Columns: []Column{
			ts("created"), ref("charge"), ref("payment_intent"), text("status"), text("reason"),
			integer("amount"), text("currency"),
		},
	},
	{
		Object:   "review",
		Retrieve: "/v1/reviews/{id}",
		List: &Listing{Path: "/v1/reviews", Created: true,
			Hides: "closed reviews: GET /v1/reviews returns those with open true only, and has no filter for the others"},
		Columns: []Column{
			ts("created"), ref("charge"), ref("payment_intent"), text("reason"), flag("open"),
		},
	},
	{
		Object:   "setup_intent",
		Retrieve: "/v1/setup_intents/{id}",
		List:     &Listing{Path: "/v1/setup_intents", Created: true},
		Columns: []Column{
			ts("created"), ref("customer"), ref("payment_method"), text("status"), text("usage"),
		},
	},
	{
		Object:   "source",
		Retrieve: "/v1/sources/{id}",
		List:     &Listing{Path: "/v1/customers/{id}/sources", Per: "customer", Yields: []string{"card", "bank_account"}},
		Deletes:  []string{"customer.source.deleted"},
		Columns: []Column{
			ts("created"), ref("customer"), text("type"), text("status"), text("usage"),
		},
	},
	{
		Object:   "subscription",
		Retrieve: "/v1/subscriptions/{id}",
		List:     &Listing{Path: "/v1/subscriptions", Filters: url.Values{"status": {"all"}}, Created: true},
		Nested:   []NestedList{{Field: "items", Items: []string{"subscription_item"}, Path: "/v1/subscription_items?subscription={id}"}},
		Embedded: []Embedded{{Field: "discount", Object: "discount"}},
		Columns: []Column{
			ts("created"), ref("customer"), text("status"), flag("cancel_at_period_end"), ts("canceled_at"),
			ts("ended_at"),
			// The current period is the first item's since 2025-03-31.basil.
			ts("current_period_end", "items.data.0.current_period_end", "current_period_end"),
			ts("current_period_start", "items.data.0.current_period_start", "current_period_start"),
		},
	},
	{
		Object:   "subscription_item",
		Retrieve: "/v1/subscription_items/{id}",
		Parent:   "subscription",
		Columns: []Column{
			ts("created"), ref("subscription"), ref("price"), integer("quantity"),
		},
	},
	{
		Object:   "subscription_schedule",
		Retrieve: "/v1/subscription_schedules/{id}",
		List:     &Listing{Path: "/v1/subscription_schedules", Created: true},
		Columns: []Column{
			ts("created"), ref("customer"), ref("subscription"), text("status"),
		},
	},
	{
		Object:  "tax_id",
		List:    &Listing{Path: "/v1/customers/{id}/tax_ids", Per: "customer"},
		Deletes: []string{"customer.tax_id.deleted"},
		Columns: []Column{
			ts("created"), ref("customer"), text("type"), text("value"), text("country"),
		},
	},
	{
		Object:   "tax_rate",
		Retrieve: "/v1/tax_rates/{id}",
		List:     &Listing{Path: "/v1/tax_rates", Created: true},
		Columns: []Column{
			ts("created"), text("display_name"), flag("active"), flag("inclusive"), num("percentage"),
			text("country"),
		},
	},
	{
		Object:   "transfer",
		Retrieve: "/v1/transfers/{id}",
		List:     &Listing{Path: "/v1/transfers", Created: true},
		Columns: []Column{
			ts("created"), ref("destination"), integer("amount"), text("currency"), flag("reversed"),
		},
	},
}
