package stripefake

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// gen builds objects shaped as in Stripe's API reference (version
// 2023-10-16): https://docs.stripe.com/api. Fields a sync engine does not
// read are still present, mostly null, so that stored rows look real. Like
// Stripe, not every object has every common field: tax ids, balance
// transactions, events and files have no metadata; refunds, subscription
// items and accounts have no livemode; invoice items have date, not created.
type gen struct {
	r     *rand.Rand
	a     *account
	now   int64
	start int64 // the earliest created time to generate
}

func newGen(seed uint64, a *account, now int64) *gen {
	return &gen{r: rand.New(rand.NewPCG(seed, seed^0x5eed)), a: a, now: now, start: now}
}

const day = int64(24 * time.Hour / time.Second)

func (g *gen) id(object string) string    { return newID(g.r.IntN, object, g.a.token) }
func (g *gen) str(n int) string           { return randString(g.r.IntN, n) }
func (g *gen) chance(p float64) bool      { return g.r.Float64() < p }
func (g *gen) pick(xs []string) string    { return xs[g.r.IntN(len(xs))] }
func (g *gen) between(lo, hi int64) int64 { return lo + g.r.Int64N(max(1, hi-lo+1)) }

// later returns a time in (t, t+within] and not after now, so that children
// are created after their parents; t itself when t is now.
func (g *gen) later(t, within int64) int64 {
	hi := min(g.now, t+within)
	if hi <= t {
		return t
	}
	return t + 1 + g.r.Int64N(hi-t)
}

func (g *gen) metadata() map[string]any {
	switch g.r.IntN(5) {
	case 0:
		return map[string]any{"source": "seed", "tier": g.pick([]string{"gold", "silver", "bronze"})}
	case 1:
		return map[string]any{"internal_id": strconv.Itoa(100000 + g.r.IntN(900000))}
	}
	return map[string]any{}
}

// template returns a new object of the given type with realistic defaults,
// for Create.
func (g *gen) template(object string, now int64) map[string]any {
	switch object {
	case "customer":
		return g.customer(now)
	case "product":
		return g.product(now, g.pick(productNames))
	case "coupon":
		return g.coupon(now, 0)
	case "tax_rate":
		return g.taxRate(now, 0)
	}
	return map[string]any{"id": g.id(object), "object": object, "created": now, "livemode": false, "metadata": map[string]any{}}
}

var (
	firstNames = []string{"Jenny", "Ada", "Grace", "Linus", "Ken", "Barbara", "Donald", "Edsger", "Frances", "Alan",
		"Margaret", "Dennis", "Radia", "Tim", "Hedy", "Claude", "Katherine", "John", "Sophie", "Niklaus"}
	lastNames = []string{"Rosen", "Lovelace", "Hopper", "Torvalds", "Thompson", "Liskov", "Knuth", "Dijkstra", "Allen",
		"Turing", "Hamilton", "Ritchie", "Perlman", "Berners-Lee", "Lamarr", "Shannon", "Johnson", "McCarthy", "Wilson", "Wirth"}
	addresses = []map[string]any{
		{"city": "San Francisco", "country": "US", "line1": "510 Townsend St", "line2": nil, "postal_code": "94103", "state": "CA"},
		{"city": "New York", "country": "US", "line1": "354 Oyster Point Blvd", "line2": "Suite 12", "postal_code": "10013", "state": "NY"},
		{"city": "Berlin", "country": "DE", "line1": "Unter den Linden 10", "line2": nil, "postal_code": "10117", "state": nil},
		{"city": "Dublin", "country": "IE", "line1": "1 Grand Canal St Lower", "line2": nil, "postal_code": "D02 H210", "state": nil},
		{"city": "London", "country": "GB", "line1": "211 Old Street", "line2": nil, "postal_code": "EC1V 9NR", "state": nil},
	}
	tiers        = []string{"Starter", "Pro", "Business", "Enterprise", "Team", "Growth", "Premium", "Basic"}
	things       = []string{"Seats", "Storage", "Support", "Analytics", "API Calls", "Workspace", "Reports", "Backups"}
	productNames = func() []string {
		var out []string
		for _, t := range tiers {
			for _, x := range things {
				out = append(out, t+" "+x)
			}
		}
		return out
	}()
	cards = []struct{ brand, last4, funding, country string }{
		{"visa", "4242", "credit", "US"}, {"visa", "1881", "debit", "US"}, {"mastercard", "4444", "credit", "US"},
		{"mastercard", "8210", "debit", "DE"}, {"amex", "8431", "credit", "US"}, {"discover", "1117", "credit", "US"},
	}
	amounts = []int64{500, 900, 1500, 2000, 2900, 4900, 9900, 19900}
)

func (g *gen) customer(created int64) map[string]any {
	first, last := g.pick(firstNames), g.pick(lastNames)
	var address any
	if g.chance(0.6) {
		address = copyMap(addresses[g.r.IntN(len(addresses))])
	}
	var phone any
	if g.chance(0.3) {
		phone = fmt.Sprintf("+1415555%04d", g.r.IntN(10000))
	}
	return map[string]any{
		"id":             g.id("customer"),
		"object":         "customer",
		"address":        address,
		"balance":        int64(0),
		"created":        created,
		"currency":       nil,
		"default_source": nil,
		"delinquent":     false,
		"description":    nil,
		"discount":       nil,
		"email":          strings.ToLower(fmt.Sprintf("%s.%s.%d@example.com", first, strings.ReplaceAll(last, "-", ""), g.r.IntN(100000))),
		"invoice_prefix": strings.ToUpper(g.str(8)),
		"invoice_settings": map[string]any{
			"custom_fields": nil, "default_payment_method": nil, "footer": nil, "rendering_options": nil,
		},
		"livemode":              false,
		"metadata":              g.metadata(),
		"name":                  first + " " + last,
		"next_invoice_sequence": int64(1),
		"phone":                 phone,
		"preferred_locales":     []any{},
		"shipping":              nil,
		"tax_exempt":            "none",
		"test_clock":            nil,
	}
}

func (g *gen) product(created int64, name string) map[string]any {
	return map[string]any{
		"id": g.id("product"), "object": "product", "active": true, "attributes": []any{}, "created": created,
		"default_price": nil, "description": nil, "features": []any{}, "images": []any{}, "livemode": false,
		"metadata": g.metadata(), "name": name, "package_dimensions": nil, "shippable": nil,
		"statement_descriptor": nil, "tax_code": nil, "type": "service", "unit_label": nil, "updated": created, "url": nil,
	}
}

// price returns a one-time price when interval is "", else a recurring one.
func (g *gen) price(created int64, product, currency string, amount int64, interval string) map[string]any {
	var recurring any
	typ := "one_time"
	if interval != "" {
		typ = "recurring"
		recurring = map[string]any{"aggregate_usage": nil, "interval": interval, "interval_count": int64(1),
			"trial_period_days": nil, "usage_type": "licensed"}
	}
	return map[string]any{
		"id": g.id("price"), "object": "price", "active": true, "billing_scheme": "per_unit", "created": created,
		"currency": currency, "custom_unit_amount": nil, "livemode": false, "lookup_key": nil, "metadata": map[string]any{},
		"nickname": nil, "product": product, "recurring": recurring, "tax_behavior": "unspecified", "tiers_mode": nil,
		"transform_quantity": nil, "type": typ, "unit_amount": amount, "unit_amount_decimal": strconv.FormatInt(amount, 10),
	}
}

// plan renders a recurring price through the legacy Plans API, which Stripe
// keeps in step with Prices: same id, same amounts.
func plan(price map[string]any) map[string]any {
	rec := price["recurring"].(map[string]any)
	return map[string]any{
		"id": price["id"], "object": "plan", "active": price["active"], "aggregate_usage": nil,
		"amount": price["unit_amount"], "amount_decimal": price["unit_amount_decimal"], "billing_scheme": "per_unit",
		"created": price["created"], "currency": price["currency"], "interval": rec["interval"],
		"interval_count": rec["interval_count"], "livemode": false, "metadata": map[string]any{}, "nickname": nil,
		"product": price["product"], "tiers_mode": nil, "transform_usage": nil, "trial_period_days": nil,
		"usage_type": "licensed",
	}
}

// coupon returns one of four coupon shapes, chosen by kind.
func (g *gen) coupon(created int64, kind int) map[string]any {
	c := map[string]any{
		"id": g.id("coupon"), "object": "coupon", "amount_off": nil, "created": created, "currency": nil,
		"duration": "forever", "duration_in_months": nil, "livemode": false, "max_redemptions": nil,
		"metadata": map[string]any{}, "name": nil, "percent_off": nil, "redeem_by": nil,
		"times_redeemed": int64(g.r.IntN(20)), "valid": true,
	}
	switch kind % 4 {
	case 0:
		c["percent_off"], c["name"] = 10.0, "10% off forever"
	case 1:
		c["amount_off"], c["currency"], c["duration"], c["name"] = int64(500), "usd", "once", "$5 off once"
	case 2:
		c["percent_off"], c["duration"], c["duration_in_months"], c["name"] = 25.0, "repeating", int64(3), "25% off for 3 months"
	case 3:
		c["percent_off"], c["duration"], c["name"] = 50.0, "once", "Expired launch offer"
		c["redeem_by"], c["valid"], c["max_redemptions"] = created+30*day, false, int64(100)
	}
	return c
}

func (g *gen) taxRate(created int64, kind int) map[string]any {
	rates := []struct {
		name, country, state, jurisdiction, level, typ string
		pct                                            float64
		inclusive                                      bool
	}{
		{"VAT", "DE", "", "DE", "country", "vat", 19, false},
		{"Sales Tax", "US", "CA", "US - CA", "state", "sales_tax", 7.25, false},
		{"GST", "AU", "", "AU", "country", "gst", 10, true},
	}
	x := rates[kind%len(rates)]
	var state any
	if x.state != "" {
		state = x.state
	}
	return map[string]any{
		"id": g.id("tax_rate"), "object": "tax_rate", "active": true, "country": x.country, "created": created,
		"description": x.name + " " + x.country, "display_name": x.name, "effective_percentage": x.pct,
		"inclusive": x.inclusive, "jurisdiction": x.jurisdiction, "jurisdiction_level": x.level, "livemode": false,
		"metadata": map[string]any{}, "percentage": x.pct, "state": state, "tax_type": x.typ,
	}
}

func (g *gen) discount(created int64, coupon map[string]any, customer string, subscription, promo any) map[string]any {
	var end any
	if n, ok := coupon["duration_in_months"].(int64); ok {
		end = time.Unix(created, 0).AddDate(0, int(n), 0).Unix()
	}
	return map[string]any{
		"id": g.id("discount"), "object": "discount", "checkout_session": nil, "coupon": copyMap(coupon),
		"customer": customer, "end": end, "invoice": nil, "invoice_item": nil, "promotion_code": promo,
		"start": created, "subscription": subscription,
	}
}

func (g *gen) paymentMethod(created int64, cust map[string]any) map[string]any {
	c := cards[g.r.IntN(len(cards))]
	address := map[string]any{"city": nil, "country": nil, "line1": nil, "line2": nil, "postal_code": nil, "state": nil}
	if a, ok := cust["address"].(map[string]any); ok {
		address = copyMap(a)
	}
	return map[string]any{
		"id": g.id("payment_method"), "object": "payment_method",
		"billing_details": map[string]any{"address": address, "email": cust["email"], "name": cust["name"], "phone": nil},
		"card": map[string]any{
			"brand":   c.brand,
			"checks":  map[string]any{"address_line1_check": nil, "address_postal_code_check": nil, "cvc_check": "pass"},
			"country": c.country, "exp_month": int64(1 + g.r.IntN(12)), "exp_year": int64(time.Unix(created, 0).Year() + 1 + g.r.IntN(5)),
			"fingerprint": g.str(16), "funding": c.funding, "generated_from": nil, "last4": c.last4,
			"networks":             map[string]any{"available": []any{c.brand}, "preferred": nil},
			"three_d_secure_usage": map[string]any{"supported": true}, "wallet": nil,
		},
		"created": created, "customer": cust["id"], "livemode": false, "metadata": map[string]any{}, "type": "card",
	}
}

func (g *gen) taxID(created int64, customer string) map[string]any {
	return map[string]any{
		"id": g.id("tax_id"), "object": "tax_id", "country": "DE", "created": created, "customer": customer,
		"livemode": false, "type": "eu_vat", "value": fmt.Sprintf("DE%09d", g.r.IntN(1_000_000_000)),
		"verification": map[string]any{"status": "verified", "verified_address": nil, "verified_name": nil},
	}
}

func (g *gen) setupIntent(created int64, customer, pm string) map[string]any {
	id := g.id("setup_intent")
	return map[string]any{
		"id": id, "object": "setup_intent", "application": nil, "automatic_payment_methods": nil,
		"cancellation_reason": nil, "client_secret": id + "_secret_" + g.str(24), "created": created,
		"customer": customer, "description": nil, "flow_directions": nil, "last_setup_error": nil,
		"latest_attempt": "setatt_1" + g.str(5) + g.a.token + g.str(8), "livemode": false, "mandate": nil,
		"metadata": map[string]any{}, "next_action": nil, "on_behalf_of": nil, "payment_method": pm,
		"payment_method_configuration_details": nil,
		"payment_method_options":               map[string]any{"card": map[string]any{"mandate_options": nil, "network": nil, "request_three_d_secure": "automatic"}},
		"payment_method_types":                 []any{"card"}, "single_use_mandate": nil, "status": "succeeded", "usage": "off_session",
	}
}

func (g *gen) paymentIntent(created int64, amount int64, currency string, customer, pm, description any) map[string]any {
	id := g.id("payment_intent")
	return map[string]any{
		"id": id, "object": "payment_intent", "amount": amount, "amount_capturable": int64(0),
		"amount_details": map[string]any{"tip": map[string]any{}}, "amount_received": amount, "application": nil,
		"application_fee_amount": nil, "automatic_payment_methods": nil, "canceled_at": nil, "cancellation_reason": nil,
		"capture_method": "automatic", "client_secret": id + "_secret_" + g.str(25), "confirmation_method": "automatic",
		"created": created, "currency": currency, "customer": customer, "description": description, "invoice": nil,
		"last_payment_error": nil, "latest_charge": nil, "livemode": false, "metadata": map[string]any{},
		"next_action": nil, "on_behalf_of": nil, "payment_method": pm, "payment_method_configuration_details": nil,
		"payment_method_options": map[string]any{"card": map[string]any{"installments": nil, "mandate_options": nil,
			"network": nil, "request_three_d_secure": "automatic"}},
		"payment_method_types": []any{"card"}, "processing": nil, "receipt_email": nil, "review": nil,
		"setup_future_usage": nil, "shipping": nil, "source": nil, "statement_descriptor": nil,
		"statement_descriptor_suffix": nil, "status": "succeeded", "transfer_data": nil, "transfer_group": nil,
	}
}

func (g *gen) charge(created int64, pi, pm map[string]any) map[string]any {
	card := pm["card"].(map[string]any)
	return map[string]any{
		"id": g.id("charge"), "object": "charge", "amount": pi["amount"], "amount_captured": pi["amount"],
		"amount_refunded": int64(0), "application": nil, "application_fee": nil, "application_fee_amount": nil,
		"balance_transaction": nil, "billing_details": copyMap(pm["billing_details"].(map[string]any)),
		"calculated_statement_descriptor": "FAKESTRIPE", "captured": true, "created": created,
		"currency": pi["currency"], "customer": pi["customer"], "description": pi["description"], "disputed": false,
		"failure_balance_transaction": nil, "failure_code": nil, "failure_message": nil, "fraud_details": map[string]any{},
		"invoice": pi["invoice"], "livemode": false, "metadata": map[string]any{}, "on_behalf_of": nil,
		"outcome": map[string]any{"network_status": "approved_by_network", "reason": nil, "risk_level": "normal",
			"risk_score": int64(g.r.IntN(60)), "seller_message": "Payment complete.", "type": "authorized"},
		"paid": true, "payment_intent": pi["id"], "payment_method": pm["id"],
		"payment_method_details": map[string]any{"card": map[string]any{
			"amount_authorized": pi["amount"], "brand": card["brand"], "checks": copyMap(card["checks"].(map[string]any)),
			"country": card["country"], "exp_month": card["exp_month"], "exp_year": card["exp_year"],
			"fingerprint": card["fingerprint"], "funding": card["funding"], "installments": nil, "last4": card["last4"],
			"mandate": nil, "network": card["brand"], "three_d_secure": nil, "wallet": nil,
		}, "type": "card"},
		"receipt_email": nil, "receipt_number": nil,
		"receipt_url": "https://pay.stripe.com/receipts/payment/" + g.str(72), "refunded": false, "review": nil,
		"shipping": nil, "source_transfer": nil, "statement_descriptor": nil, "statement_descriptor_suffix": nil,
		"status": "succeeded", "transfer_data": nil, "transfer_group": nil,
	}
}

func (g *gen) refund(created int64, ch map[string]any, amount int64) map[string]any {
	return map[string]any{
		"id": g.id("refund"), "object": "refund", "amount": amount, "balance_transaction": nil, "charge": ch["id"],
		"created": created, "currency": ch["currency"],
		"destination_details": map[string]any{"card": map[string]any{"reference": g.str(12), "reference_status": "available",
			"reference_type": "acquirer_reference_number", "type": "refund"}, "type": "card"},
		"metadata": map[string]any{}, "payment_intent": ch["payment_intent"],
		"reason": g.pick([]string{"requested_by_customer", "duplicate", "fraudulent"}), "receipt_number": nil,
		"source_transfer_reversal": nil, "status": "succeeded", "transfer_reversal": nil,
	}
}

var evidenceFields = []string{"access_activity_log", "billing_address", "cancellation_policy",
	"cancellation_policy_disclosure", "cancellation_rebuttal", "customer_communication", "customer_email_address",
	"customer_name", "customer_purchase_ip", "customer_signature", "duplicate_charge_documentation",
	"duplicate_charge_explanation", "duplicate_charge_id", "product_description", "receipt", "refund_policy",
	"refund_policy_disclosure", "refund_refusal_explanation", "service_date", "service_documentation",
	"shipping_address", "shipping_carrier", "shipping_date", "shipping_documentation", "shipping_tracking_number",
	"uncategorized_file", "uncategorized_text"}

func (g *gen) dispute(created int64, ch map[string]any, evidenceFile any) map[string]any {
	evidence := make(map[string]any, len(evidenceFields))
	for _, f := range evidenceFields {
		evidence[f] = nil
	}
	evidence["uncategorized_file"] = evidenceFile
	status := g.pick([]string{"needs_response", "under_review", "won", "lost"})
	return map[string]any{
		"id": g.id("dispute"), "object": "dispute", "amount": ch["amount"], "balance_transactions": []any{},
		"charge": ch["id"], "created": created, "currency": ch["currency"], "evidence": evidence,
		"evidence_details": map[string]any{"due_by": created + 21*day, "has_evidence": evidenceFile != nil,
			"past_due": false, "submission_count": int64(0)},
		"is_charge_refundable": false, "livemode": false, "metadata": map[string]any{},
		"payment_intent": ch["payment_intent"],
		"payment_method_details": map[string]any{"card": map[string]any{
			"brand": ch["payment_method_details"].(map[string]any)["card"].(map[string]any)["brand"], "network_reason_code": "10.4"}, "type": "card"},
		"reason": g.pick([]string{"fraudulent", "product_not_received", "duplicate", "subscription_canceled"}),
		"status": status,
	}
}

func (g *gen) review(created int64, ch map[string]any) map[string]any {
	return map[string]any{
		"id": g.id("review"), "object": "review", "billing_zip": "94103", "charge": ch["id"],
		"closed_reason": "approved", "created": created, "ip_address": fmt.Sprintf("203.0.113.%d", g.r.IntN(255)),
		"ip_address_location": map[string]any{"city": "San Francisco", "country": "US", "latitude": 37.7749,
			"longitude": -122.4194, "region": "CA"},
		"livemode": false, "open": false, "opened_reason": "rule", "payment_intent": ch["payment_intent"],
		"reason": "approved", "session": nil,
	}
}

func (g *gen) earlyFraudWarning(created int64, ch map[string]any) map[string]any {
	return map[string]any{
		"id": g.id("radar.early_fraud_warning"), "object": "radar.early_fraud_warning", "actionable": true,
		"charge": ch["id"], "created": created, "fraud_type": "made_with_stolen_card", "livemode": false,
		"payment_intent": ch["payment_intent"],
	}
}

// balanceTransaction records money moving: amount is signed (refunds and
// payouts are negative), and card charges pay Stripe's 2.9% + 30¢.
func (g *gen) balanceTransaction(created int64, amount int64, currency, typ, source string) map[string]any {
	var fee int64
	var details []any
	if typ == "charge" || typ == "payment" {
		fee = amount*29/1000 + 30
		details = append(details, map[string]any{"amount": fee, "application": nil, "currency": currency,
			"description": "Stripe processing fees", "type": "stripe_fee"})
	}
	if details == nil {
		details = []any{}
	}
	availableOn := created + 2*day
	status := "available"
	if availableOn > g.now {
		status = "pending"
	}
	category := map[string]string{"charge": "charge", "refund": "refund", "payout": "payout", "transfer": "transfer",
		"application_fee": "platform_earning", "adjustment": "dispute"}[typ]
	return map[string]any{
		"id": g.id("balance_transaction"), "object": "balance_transaction", "amount": amount,
		"available_on": availableOn, "created": created, "currency": currency, "description": nil,
		"exchange_rate": nil, "fee": fee, "fee_details": details, "net": amount - fee,
		"reporting_category": category, "source": source, "status": status, "type": typ,
	}
}

func (g *gen) payout(created int64, amount int64, currency string) map[string]any {
	status := "paid"
	switch {
	case created > g.now-2*day:
		status = "in_transit"
	case g.chance(0.03):
		status = "failed"
	}
	return map[string]any{
		"id": g.id("payout"), "object": "payout", "amount": amount, "arrival_date": created + 2*day,
		"automatic": true, "balance_transaction": nil, "created": created, "currency": currency,
		"description": "STRIPE PAYOUT", "destination": "ba_1" + g.str(5) + g.a.token + g.str(8),
		"failure_balance_transaction": nil, "failure_code": nil, "failure_message": nil, "livemode": false,
		"metadata": map[string]any{}, "method": "standard", "original_payout": nil,
		"reconciliation_status": "completed", "reversed_by": nil, "source_type": "card",
		"statement_descriptor": nil, "status": status, "type": "bank_account",
	}
}

func (g *gen) transfer(created int64, amount int64, currency, destination, destToken string) map[string]any {
	id := g.id("transfer")
	return map[string]any{
		"id": id, "object": "transfer", "amount": amount, "amount_reversed": int64(0), "balance_transaction": nil,
		"created": created, "currency": currency, "description": nil, "destination": destination,
		"destination_payment": "py_1" + g.str(5) + destToken + g.str(8), "livemode": false, "metadata": map[string]any{},
		"reversals": emptyList("/v1/transfers/" + id + "/reversals"), "reversed": false, "source_transaction": nil,
		"source_type": "card", "transfer_group": nil,
	}
}

func (g *gen) applicationFee(created int64, amount int64, currency, account, charge, application string) map[string]any {
	id := g.id("application_fee")
	return map[string]any{
		"id": id, "object": "application_fee", "account": account, "amount": amount, "amount_refunded": int64(0),
		"application": application, "balance_transaction": nil, "charge": charge, "created": created,
		"currency": currency, "livemode": false, "originating_transaction": nil, "refunded": false,
		"refunds": emptyList("/v1/application_fees/" + id + "/refunds"),
	}
}

func (g *gen) file(created int64, purpose string) map[string]any {
	id := g.id("file")
	typ, name := "pdf", "evidence.pdf"
	if purpose == "business_logo" {
		typ, name = "png", "logo.png"
	}
	return map[string]any{
		"id": id, "object": "file", "created": created, "expires_at": nil, "filename": name,
		"links":   map[string]any{"object": "list", "data": []any{}, "has_more": false, "url": "/v1/file_links?file=" + id},
		"purpose": purpose, "size": int64(1000 + g.r.IntN(200000)), "title": nil, "type": typ,
		"url": "https://files.stripe.com/v1/files/" + id + "/contents",
	}
}

func emptyList(url string) map[string]any {
	return map[string]any{"object": "list", "data": []any{}, "has_more": false, "total_count": int64(0), "url": url}
}

// accountObject renders an account as GET /v1/accounts/{id} does.
func accountObject(id, typ, country, currency string, created int64, connected bool) map[string]any {
	requirements := map[string]any{"alternatives": []any{}, "current_deadline": nil, "currently_due": []any{},
		"disabled_reason": nil, "errors": []any{}, "eventually_due": []any{}, "past_due": []any{},
		"pending_verification": []any{}}
	a := map[string]any{
		"id": id, "object": "account",
		"business_profile": map[string]any{"mcc": "5734", "name": "Shop " + id[len(id)-6:], "product_description": nil,
			"support_address": nil, "support_email": nil, "support_phone": nil, "support_url": nil,
			"url": "https://example.com"},
		"business_type":   "company",
		"capabilities":    map[string]any{"card_payments": "active", "transfers": "active"},
		"charges_enabled": true, "country": country, "created": created, "default_currency": currency,
		"details_submitted": true, "email": "owner@" + strings.ToLower(id[len(id)-6:]) + ".example.com",
		"external_accounts":   emptyList("/v1/accounts/" + id + "/external_accounts"),
		"future_requirements": copyMap(requirements), "metadata": map[string]any{}, "payouts_enabled": true,
		"requirements": requirements,
		"settings": map[string]any{"payouts": map[string]any{"debit_negative_balances": true,
			"schedule": map[string]any{"delay_days": int64(2), "interval": "daily"}, "statement_descriptor": nil}},
		"tos_acceptance": map[string]any{"date": created}, "type": typ,
	}
	if connected {
		a["controller"] = map[string]any{"is_controller": true, "type": "application"}
	}
	return a
}
