package stripefake

import (
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"sync"
)

// The API versions the fake knows by name. It renders any version from
// LegacyAPIVersion on: each object in the shape of the requested version,
// by applying the breaking changes below that came out by then.
const (
	// LegacyAPIVersion is the version stripe-go v76 pins and sends as
	// Stripe-Version on every request, and the shape in which the fake
	// stores every object: the shape changes are applied to it when an
	// object is rendered, never to the store.
	LegacyAPIVersion = "2023-10-16"
	// CurrentAPIVersion is Stripe's current version, the default of
	// Options.APIVersion and Options.WebhookAPIVersion.
	CurrentAPIVersion = "2026-10-28.endive"
)

// apiVersionForm is the form of Stripe's API versions: a date, and since
// 2024 the release's name ("2025-03-31.basil").
var apiVersionForm = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}(\.[a-z]+)?$`)

// checkAPIVersion refuses what is not a Stripe API version, and versions
// older than the shape the fake stores, which it cannot render.
func checkAPIVersion(v string) error {
	if !apiVersionForm.MatchString(v) {
		return &Error{Status: http.StatusBadRequest, Type: "invalid_request_error",
			Message: fmt.Sprintf("Invalid Stripe API version: %s", v)}
	}
	if v[:10] < LegacyAPIVersion {
		return &Error{Status: http.StatusBadRequest, Type: "invalid_request_error",
			Message: fmt.Sprintf("Invalid Stripe API version: %s (the fake renders %s and later)", v, LegacyAPIVersion)}
	}
	return nil
}

type versionKey struct{}

// requestVersion is the version r asks for in Stripe-Version, or the
// account's default, Options.APIVersion, as in Stripe
// (https://docs.stripe.com/api/versioning).
func (s *Server) requestVersion(r *http.Request) (string, error) {
	v := r.Header.Get("Stripe-Version")
	if v == "" {
		return s.opts.APIVersion, nil
	}
	if err := checkAPIVersion(v); err != nil {
		return "", err
	}
	return v, nil
}

// versionOf is the version ServeHTTP resolved for r.
func (s *Server) versionOf(r *http.Request) string {
	if v, ok := r.Context().Value(versionKey{}).(string); ok {
		return v
	}
	return s.opts.APIVersion
}

// change is one breaking change to the shape of one object type: apply
// turns out, a shallow copy of an object in the shape before the change,
// into its shape after. It may set and delete out's keys, but must copy a
// nested hash or array before changing it, since those are shared with the
// store. in is the object as stored and parent the stored object it is
// rendered in (nil at the top level of a response or an event), for changes
// that move a parent's field to its children.
type change struct {
	since  string // the first version with the change: "2025-03-31.basil"
	object string
	apply  func(sh *shaper, out, in, parent map[string]any)
}

// changes are the changes between LegacyAPIVersion and CurrentAPIVersion
// to the objects the fake renders, oldest first, each with its changelog
// entry under https://docs.stripe.com/changelog/. Where no entry could be
// found, the shape follows the OpenAPI spec and fixtures of stripe-mock
// v0.203.0 (2026-08-26.dahlia), and the comment says so.
var changes = []change{
	// 2024-04-10/renames-features-attribute-product-object
	{since: "2024-04-10", object: "product", apply: func(_ *shaper, out, _, _ map[string]any) {
		rename(out, "features", "marketing_features")
	}},

	// basil/2025-03-31/adds-new-parent-field-to-invoicing-objects: an
	// invoice names its subscription (or quote) in parent.
	// basil/2025-03-31/add-support-for-multiple-partial-payments-on-invoices:
	// payment_intent, charge, paid and paid_out_of_band are gone (payments
	// are invoice_payment objects, /v1/invoice_payments), amount_overpaid is
	// new. basil/2025-03-31/invoice-tax-configurations: total_tax_amounts
	// becomes total_taxes. The singular discount and tax are gone too (not
	// in the dahlia spec and fixture; basil's
	// deprecate-singular-coupon-promotion-code moved discounts to
	// discounts).
	{since: "2025-03-31", object: "invoice", apply: func(_ *shaper, out, _, _ map[string]any) {
		var parent any
		switch {
		case out["subscription"] != nil:
			var metadata any
			if d, ok := out["subscription_details"].(map[string]any); ok {
				metadata = d["metadata"]
			}
			parent = map[string]any{"type": "subscription_details", "quote_details": nil,
				"subscription_details": map[string]any{"metadata": metadata, "subscription": out["subscription"]}}
		case out["quote"] != nil:
			parent = map[string]any{"type": "quote_details", "subscription_details": nil,
				"quote_details": map[string]any{"quote": idOf(out["quote"])}}
		}
		out["parent"] = parent
		drop(out, "subscription", "subscription_details", "quote", "payment_intent", "charge", "paid",
			"paid_out_of_band", "discount", "tax", "total_tax_amounts")
		out["amount_overpaid"] = int64(0)
		out["total_taxes"] = []any{}
	}},
	// basil/2025-03-31/adds-new-parent-field-to-invoicing-objects: a line
	// names what it bills in parent (type, subscription_item, invoice_item,
	// proration and proration_details move there).
	// basil/2025-03-31/invoice-pricing-configurations: price and plan become
	// pricing.price_details. basil/2025-03-31/invoice-tax-configurations:
	// tax_amounts and tax_rates become taxes, amount_excluding_tax and
	// unit_amount_excluding_tax are gone. The line names its invoice. The
	// top-level subscription stays: the dahlia spec and fixture still have
	// it.
	{since: "2025-03-31", object: "line_item", apply: func(sh *shaper, out, _, parent map[string]any) {
		details := map[string]any{"proration": out["proration"], "proration_details": out["proration_details"]}
		p := map[string]any{"invoice_item_details": nil, "subscription_item_details": nil}
		if out["type"] == "subscription" {
			details["invoice_item"], details["subscription"], details["subscription_item"] = nil, out["subscription"], out["subscription_item"]
			p["type"], p["subscription_item_details"] = "subscription_item_details", details
		} else {
			details["invoice_item"], details["subscription"] = out["invoice_item"], out["subscription"]
			p["type"], p["invoice_item_details"] = "invoice_item_details", details
		}
		out["parent"] = p
		out["pricing"] = pricing(out["price"])
		out["invoice"] = sh.invoiceOf(out, parent)
		out["taxes"] = []any{}
		drop(out, "type", "subscription_item", "invoice_item", "proration", "proration_details", "price", "plan",
			"tax_amounts", "tax_rates", "amount_excluding_tax", "unit_amount_excluding_tax")
	}},
	// basil/2025-03-31/adds-new-parent-field-to-invoicing-objects and
	// invoice-pricing-configurations: an invoice item names its
	// subscription in parent and its price in pricing (unit_amount and
	// unit_amount_decimal move there too).
	{since: "2025-03-31", object: "invoiceitem", apply: func(_ *shaper, out, _, _ map[string]any) {
		var parent any
		if sub := out["subscription"]; sub != nil {
			parent = map[string]any{"type": "subscription_details",
				"subscription_details": map[string]any{"subscription": sub, "subscription_item": out["subscription_item"]}}
		}
		out["parent"] = parent
		out["pricing"] = pricing(out["price"])
		drop(out, "subscription", "subscription_item", "price", "plan", "unit_amount", "unit_amount_decimal")
	}},
	// basil/2025-03-31/deprecate-subscription-current-period-start-and-end:
	// the current period is each item's. deprecate-singular-coupon-promotion-code:
	// the singular discount is gone, discounts holds its id.
	{since: "2025-03-31", object: "subscription", apply: func(_ *shaper, out, _, _ map[string]any) {
		discounts := []any{}
		if d, ok := out["discount"].(map[string]any); ok {
			discounts = append(discounts, d["id"])
		}
		out["discounts"] = discounts
		drop(out, "current_period_start", "current_period_end", "discount")
	}},
	{since: "2025-03-31", object: "subscription_item", apply: func(sh *shaper, out, in, parent map[string]any) {
		sub := parent
		if sub == nil || sub["object"] != "subscription" {
			sub = sh.subscriptionOf(in)
		}
		out["current_period_start"], out["current_period_end"] = sub["current_period_start"], sub["current_period_end"]
		out["discounts"] = []any{}
	}},
	// basil/2025-03-31/add-support-for-multiple-partial-payments-on-invoices:
	// charges and payment intents no longer name an invoice.
	{since: "2025-03-31", object: "charge", apply: func(_ *shaper, out, _, _ map[string]any) { drop(out, "invoice") }},
	{since: "2025-03-31", object: "payment_intent", apply: func(_ *shaper, out, _, _ map[string]any) { drop(out, "invoice") }},
	// basil: refund becomes the refunds array (the SDKs' basil releases
	// list the removal), and invoice-tax-configurations: tax_amounts
	// becomes total_taxes.
	{since: "2025-03-31", object: "credit_note", apply: func(_ *shaper, out, _, _ map[string]any) {
		refunds := []any{}
		if r := out["refund"]; r != nil {
			refunds = append(refunds, map[string]any{"amount_refunded": out["total"], "payment_record_refund": nil,
				"refund": r, "type": "refund"})
		}
		out["refunds"] = refunds
		out["total_taxes"] = []any{}
		drop(out, "refund", "tax_amounts")
	}},
	// basil/2025-03-31/invoice-tax-configurations: tax_amounts becomes
	// taxes, the *_excluding_tax amounts are gone. tax_rates stays: the
	// dahlia spec and fixture still have it on credit note lines.
	{since: "2025-03-31", object: "credit_note_line_item", apply: func(_ *shaper, out, _, _ map[string]any) {
		out["taxes"] = []any{}
		drop(out, "tax_amounts", "amount_excluding_tax", "unit_amount_excluding_tax")
	}},
	// basil: shipping_details moves to collected_information (the SDKs'
	// basil releases list the removal).
	{since: "2025-03-31", object: "checkout.session", apply: func(_ *shaper, out, _, _ map[string]any) {
		var collected any
		if sd := out["shipping_details"]; sd != nil {
			collected = map[string]any{"shipping_details": sd}
		}
		out["collected_information"] = collected
		drop(out, "shipping_details")
	}},
	// basil/2025-03-31/deprecate-singular-coupon-promotion-code: a phase's
	// coupon becomes its discounts.
	{since: "2025-03-31", object: "subscription_schedule", apply: func(_ *shaper, out, _, _ map[string]any) {
		phases, _ := out["phases"].([]any)
		phases = slices.Clone(phases) // shared with the store
		for i, ph := range phases {
			if ph, ok := ph.(map[string]any); ok {
				ph = maps.Clone(ph)
				discounts := []any{}
				if c := ph["coupon"]; c != nil {
					discounts = append(discounts, map[string]any{"coupon": idOf(c), "discount": nil, "promotion_code": nil})
				}
				ph["discounts"] = discounts
				delete(ph, "coupon")
				phases[i] = ph
			}
		}
		out["phases"] = phases
	}},
	// basil removes legacy usage-based billing (usage records): prices and
	// plans lose aggregate_usage and name a meter instead (dahlia spec).
	{since: "2025-03-31", object: "price", apply: func(_ *shaper, out, _, _ map[string]any) {
		if rec, ok := out["recurring"].(map[string]any); ok {
			rec = maps.Clone(rec) // shared with the store
			delete(rec, "aggregate_usage")
			rec["meter"] = nil
			out["recurring"] = rec
		}
	}},
	{since: "2025-03-31", object: "plan", apply: func(_ *shaper, out, _, _ map[string]any) {
		drop(out, "aggregate_usage")
		out["meter"] = nil
	}},

	// clover/2025-09-30/add-discount-source-property: a discount's coupon
	// moves to source.coupon, no longer expanded.
	{since: "2025-09-30", object: "discount", apply: func(_ *shaper, out, _, _ map[string]any) {
		out["source"] = map[string]any{"type": "coupon", "coupon": idOf(out["coupon"])}
		drop(out, "coupon")
	}},
	// clover/2025-09-30/polymorphic-coupon: a promotion code's coupon moves
	// to promotion.coupon, no longer expanded.
	{since: "2025-09-30", object: "promotion_code", apply: func(_ *shaper, out, _, _ map[string]any) {
		out["promotion"] = map[string]any{"type": "coupon", "coupon": idOf(out["coupon"])}
		drop(out, "coupon")
	}},
	// clover/2025-12-15/invoice-line-item-subtotal (additive).
	{since: "2025-12-15", object: "line_item", apply: func(_ *shaper, out, _, _ map[string]any) {
		out["subtotal"] = out["amount"]
	}},

	// dahlia/2026-03-25/updates-available-checkout-session-ui-modes.
	{since: "2026-03-25", object: "checkout.session", apply: func(_ *shaper, out, _, _ map[string]any) {
		if m, ok := map[any]string{"hosted": "hosted_page", "embedded": "embedded_page", "custom": "elements"}[out["ui_mode"]]; ok {
			out["ui_mode"] = m
		}
	}},
}

// changesAt are the changes in force at each version's date, by object,
// computed once per date.
var changesAt sync.Map // "2025-03-31" → map[string][]change

// changesFor returns the changes in force at version, a checked one.
func changesFor(version string) map[string][]change {
	date := version[:10]
	if m, ok := changesAt.Load(date); ok {
		return m.(map[string][]change)
	}
	m := map[string][]change{}
	for _, c := range changes {
		if date >= c.since {
			m[c.object] = append(m[c.object], c)
		}
	}
	changesAt.Store(date, m)
	return m
}

// shaper renders what the fake stores in one API version. It is the only
// place that knows a shape other than the stored one: every response, event
// and webhook passes through it. Callers hold s.mu.
type shaper struct {
	a       *account
	version string
	changes map[string][]change
	// events is the version events are rendered in: the account's default
	// version at their creation, as in Stripe, or the webhook endpoint's.
	events string
}

func (a *account) shaper(version, events string) *shaper {
	return &shaper{a: a, version: version, changes: changesFor(version), events: events}
}

// value returns v, a response or part of one, with every object in it in
// the shaper's version, and whether that changed anything. It copies on
// write: what it leaves as it was is still shared with the store, and
// must only be read (under s.mu, like everything render returns).
func (sh *shaper) value(v any, parent map[string]any) (any, bool) {
	switch v := v.(type) {
	case map[string]any:
		return sh.object(v, parent)
	case []any:
		var out []any
		for i, x := range v {
			if y, changed := sh.value(x, parent); changed {
				if out == nil {
					out = slices.Clone(v)
				}
				out[i] = y
			}
		}
		if out != nil {
			return out, true
		}
	}
	return v, false
}

// object shapes a map: a Stripe object, a list (whose items keep the
// list's parent), or any other hash inside an object.
func (sh *shaper) object(in, parent map[string]any) (map[string]any, bool) {
	object, _ := in["object"].(string)
	_, hasID := in["id"].(string)
	switch {
	case object == "event" && hasID:
		return sh.event(in), true
	case in["deleted"] == true:
		return in, false // {"id", "object", "deleted"} in every version
	}
	self := parent
	if hasID && object != "" {
		self = in
	}
	var out map[string]any
	for k, x := range in {
		if k == "metadata" {
			continue // free-form: never an object, even with an "object" key
		}
		if y, changed := sh.value(x, self); changed {
			if out == nil {
				out = maps.Clone(in)
			}
			out[k] = y
		}
	}
	var cs []change
	if hasID {
		cs = sh.changes[object]
	}
	if len(cs) == 0 {
		if out == nil {
			return in, false
		}
		return out, true
	}
	if out == nil {
		out = maps.Clone(in)
	}
	for _, c := range cs {
		c.apply(sh, out, in, parent)
	}
	return out, true
}

// shape is value for a whole response.
func (sh *shaper) shape(v any) any {
	v, _ = sh.value(v, nil)
	return v
}

// event renders an event in sh.events: api_version, data.object and
// data.previous_attributes, which is what changed between the object's
// previous and new state as that version shows them.
func (sh *shaper) event(in map[string]any) map[string]any {
	out := maps.Clone(in)
	out["api_version"] = sh.events
	data, _ := in["data"].(map[string]any)
	obj, _ := data["object"].(map[string]any)
	if obj == nil {
		return out
	}
	esh := sh.a.shaper(sh.events, sh.events)
	shaped, _ := esh.object(obj, nil)
	d := map[string]any{"object": shaped}
	if prev, ok := data["previous_attributes"].(map[string]any); ok {
		before, _ := esh.object(overlay(obj, prev), nil)
		d["previous_attributes"] = diff(before, shaped)
	}
	out["data"] = d
	return out
}

// overlay returns the state before a change: after, with the previous
// values of previous_attributes put back (see diff).
func overlay(after, prev map[string]any) map[string]any {
	out := maps.Clone(after)
	for k, p := range prev {
		pm, pok := p.(map[string]any)
		am, aok := after[k].(map[string]any)
		if pok && aok && k != "items" && k != "lines" {
			out[k] = overlay(am, pm)
		} else {
			out[k] = p
		}
	}
	return out
}

// invoiceOf is the id of the invoice a line belongs to: its parent's, or
// when the line is rendered on its own (GET /v1/invoices/{id}/lines) the
// store's.
func (sh *shaper) invoiceOf(line, parent map[string]any) any {
	if parent != nil && parent["object"] == "invoice" {
		return parent["id"]
	}
	if id, ok := line["id"].(string); ok {
		if r := sh.a.get("line_item", id); r != nil && r.parent != "" {
			return r.parent
		}
	}
	return nil
}

// subscriptionOf is the stored subscription of an item rendered on its own.
func (sh *shaper) subscriptionOf(item map[string]any) map[string]any {
	if id, ok := item["subscription"].(string); ok {
		if r := sh.a.get("subscription", id); r != nil {
			return r.data
		}
	}
	return map[string]any{}
}

// pricing is the pricing hash of an invoice item or line billing price
// (https://docs.stripe.com/api/invoice-line-item/object#invoice_line_item_object-pricing),
// or nil when there is none.
func pricing(price any) any {
	p, ok := price.(map[string]any)
	if !ok {
		if price == nil {
			return nil
		}
		return map[string]any{"type": "price_details", "price_details": map[string]any{"price": price, "product": nil},
			"unit_amount_decimal": nil}
	}
	return map[string]any{"type": "price_details",
		"price_details":       map[string]any{"price": p["id"], "product": idOf(p["product"])},
		"unit_amount_decimal": p["unit_amount_decimal"]}
}

// idOf is the id of a field that holds an id or an expanded object.
func idOf(v any) any {
	if m, ok := v.(map[string]any); ok {
		return m["id"]
	}
	return v
}

func drop(m map[string]any, keys ...string) {
	for _, k := range keys {
		delete(m, k)
	}
}

func rename(m map[string]any, from, to string) {
	if v, ok := m[from]; ok {
		m[to] = v
		delete(m, from)
	}
}

// ObjectAt returns a deep copy of an object as GET would render it in the
// given API version, nested lists included, and whether it exists (deleted
// objects do not, nor does anything in a version the fake cannot render).
func (s *Server) ObjectAt(accountID, object, id, version string) (map[string]any, bool) {
	if checkAPIVersion(version) != nil {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.account(accountID)
	if a == nil {
		return nil, false
	}
	r := a.get(object, id)
	if r == nil || r.deleted {
		return nil, false
	}
	m, err := a.render(r, nil)
	if err != nil {
		return nil, false
	}
	return deepCopy(a.shaper(version, s.opts.APIVersion).shape(m)).(map[string]any), true
}

// webhookEvent is ev as the webhook endpoint receives it: rendered in
// Options.WebhookAPIVersion.
func (s *Server) webhookEvent(a *account, ev *record) map[string]any {
	return a.shaper(s.opts.WebhookAPIVersion, s.opts.WebhookAPIVersion).event(ev.data)
}
