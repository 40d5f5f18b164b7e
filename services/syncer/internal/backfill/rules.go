package backfill

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Rule says how to list one resource completely. The rules are data: what
// makes Stripe's lists complete is written here, once per resource.
type Rule struct {
	// Table names the resource, as its relation does.
	Table string
	// Path is the list endpoint; for PerCustomer rules it holds a %s for the
	// customer id.
	Path string
	// Filters are fixed query parameters. Some lists hide objects unless
	// asked: subscriptions leave out canceled ones without status=all.
	Filters url.Values
	// Created says the list filters by created, so a large resource can be
	// split into ranges listed at once, and --since applies.
	Created bool
	// PlatformOnly rules are not listed for connected accounts.
	PlatformOnly bool
	// PerCustomer rules are listed once per customer (payment methods, tax
	// ids and sources have no account-wide list).
	PerCustomer bool
	// Nested are lists inside each object, which Stripe truncates to ten
	// items; they are paged to the end and each item published on its own.
	Nested []Nested
	// Embedded are fields holding a whole object of another resource, such
	// as a customer's discount, which has no list of its own.
	Embedded []string
}

// Nested is a list field of an object and where to page the rest of it.
type Nested struct {
	// Field holds the list, e.g. "lines".
	Field string
	// Path lists the items of one parent: a %s for the parent id, or, with
	// ParentParam, a plain path filtered by the parent.
	Path        string
	ParentParam string
}

func (n Nested) params(parentID string) (string, url.Values) {
	if n.ParentParam != "" {
		return n.Path, url.Values{n.ParentParam: {parentID}}
	}
	return fmt.Sprintf(n.Path, url.PathEscape(parentID)), nil
}

var all = url.Values{"status": {"all"}}

// Rules lists every resource the syncer backfills. Resources that have no
// list of their own (subscription items, discounts, line items) come from
// the rules of the objects that hold them; see derived.
var Rules = []Rule{
	{Table: "accounts", Path: "/v1/accounts", Created: true, PlatformOnly: true,
		Nested: []Nested{{Field: "external_accounts", Path: "/v1/accounts/%s/external_accounts"}}},
	{Table: "application_fees", Path: "/v1/application_fees", Created: true, PlatformOnly: true},
	{Table: "balance_transactions", Path: "/v1/balance_transactions", Created: true},
	{Table: "charges", Path: "/v1/charges", Created: true},
	{Table: "checkout_sessions", Path: "/v1/checkout/sessions", Created: true,
		Nested: []Nested{{Field: "line_items", Path: "/v1/checkout/sessions/%s/line_items"}}},
	{Table: "coupons", Path: "/v1/coupons", Created: true},
	{Table: "credit_notes", Path: "/v1/credit_notes",
		Nested: []Nested{{Field: "lines", Path: "/v1/credit_notes/%s/lines"}}},
	{Table: "customers", Path: "/v1/customers", Created: true, Embedded: []string{"discount"}},
	{Table: "disputes", Path: "/v1/disputes", Created: true},
	{Table: "files", Path: "/v1/files", Created: true},
	{Table: "invoiceitems", Path: "/v1/invoiceitems", Created: true},
	{Table: "invoices", Path: "/v1/invoices", Created: true,
		Nested: []Nested{{Field: "lines", Path: "/v1/invoices/%s/lines"}}},
	{Table: "payment_intents", Path: "/v1/payment_intents", Created: true},
	{Table: "payment_methods", Path: "/v1/customers/%s/payment_methods", PerCustomer: true},
	{Table: "payouts", Path: "/v1/payouts", Created: true},
	{Table: "plans", Path: "/v1/plans", Created: true},
	{Table: "prices", Path: "/v1/prices", Created: true},
	{Table: "products", Path: "/v1/products", Created: true},
	{Table: "promotion_codes", Path: "/v1/promotion_codes", Created: true},
	{Table: "radar_early_fraud_warnings", Path: "/v1/radar/early_fraud_warnings", Created: true},
	{Table: "refunds", Path: "/v1/refunds", Created: true},
	{Table: "reviews", Path: "/v1/reviews", Created: true},
	{Table: "setup_intents", Path: "/v1/setup_intents", Created: true},
	{Table: "sources", Path: "/v1/customers/%s/sources", PerCustomer: true},
	{Table: "subscription_schedules", Path: "/v1/subscription_schedules", Created: true},
	{Table: "subscriptions", Path: "/v1/subscriptions", Filters: all, Created: true, Embedded: []string{"discount"},
		Nested: []Nested{{Field: "items", Path: "/v1/subscription_items", ParentParam: "subscription"}}},
	{Table: "tax_ids", Path: "/v1/customers/%s/tax_ids", PerCustomer: true},
	{Table: "tax_rates", Path: "/v1/tax_rates", Created: true},
	{Table: "transfers", Path: "/v1/transfers", Created: true},
}

// derived maps the resources without a list of their own to the rules that
// yield them.
var derived = map[string][]string{
	// A customer's sources and a connected account's external accounts.
	"cards":                       {"sources", "accounts"},
	"bank_accounts":               {"sources", "accounts"},
	"subscription_items":          {"subscriptions"},
	"discounts":                   {"customers", "subscriptions"},
	"invoice_line_items":          {"invoices"},
	"credit_note_line_items":      {"credit_notes"},
	"checkout_session_line_items": {"checkout_sessions"},
}

// customersRule enumerates the customers of PerCustomer rules.
var customersRule = Rule{Table: "customers", Path: "/v1/customers", Created: true}

// Select returns the rules that backfill the named resources, all of them
// when names is empty.
func Select(names []string) ([]Rule, error) {
	if len(names) == 0 {
		return Rules, nil
	}
	var want []string
	for _, n := range names {
		n = strings.TrimSpace(n)
		if parents, ok := derived[n]; ok {
			want = append(want, parents...)
			continue
		}
		if !slices.ContainsFunc(Rules, func(r Rule) bool { return r.Table == n }) {
			return nil, fmt.Errorf("unknown resource %q: name it like its relation, e.g. customers, invoice_line_items", n)
		}
		want = append(want, n)
	}
	var rules []Rule
	for _, r := range Rules {
		if slices.Contains(want, r.Table) {
			rules = append(rules, r)
		}
	}
	return rules, nil
}

func ruleFor(table string) (Rule, bool) {
	i := slices.IndexFunc(Rules, func(r Rule) bool { return r.Table == table })
	if i < 0 {
		return Rule{}, false
	}
	return Rules[i], true
}
