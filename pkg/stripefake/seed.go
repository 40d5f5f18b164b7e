package stripefake

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"time"
)

// SeedOptions sizes what Seed generates.
type SeedOptions struct {
	// Customers is the number of customers on the platform account. Each
	// customer brings its payment methods, subscriptions, invoices, charges
	// and the rest.
	Customers int
	// ConnectedAccounts is the number of connected accounts (acct_…) to add,
	// each with objects of its own.
	ConnectedAccounts int
	// ConnectedCustomers is the number of customers per connected account.
	// Zero means Customers.
	ConnectedCustomers int
	// RandSeed makes the output reproducible: the same seed, sizes, platform
	// id and Now give the same objects and ids.
	RandSeed uint64
	// Now ends the two years over which created times spread. Zero means the
	// server's clock. Objects created in the last 35 days also get their
	// creation events (those older than 30 days stay hidden from /v1/events).
	Now time.Time
}

// Seed fills s with a realistic account history: the catalog (products,
// prices, plans, coupons, promotion codes, tax rates), customers with
// payment methods, tax ids, setup intents and discounts, subscriptions with
// items and schedules, invoices with lines and invoice items, payment
// intents, charges, refunds, disputes, reviews, early fraud warnings,
// checkout sessions with line items, credit notes with lines, files,
// payouts and balance transactions; on the platform, connected accounts,
// transfers and application fees.
//
// Stripe's nested lists cut at 10 items, so the first customer of every
// account always has a subscription with 12 items (and a schedule), an
// invoice with 25 lines, a credit note with 12 lines, a checkout session with
// 12 line items, a charge with 12 refunds, a tax id, and a charge with a
// review, an early fraud warning and a dispute. The second customer (or the
// only one) has a canceled subscription. The rest is drawn at random.
//
// Legacy payment sources come last, from a random stream of their own so
// that they leave the ids and contents above as they were (bar the
// customers' default_source): the first customer of every account has a
// card, a bank account and a source object, about one in four of the other
// customers has 1–3 sources (mostly cards), and each connected account has
// 1–3 external accounts (bank accounts, now and then a debit card), and the
// first connected account seeded has 12, past the 10 its account object
// embeds.
func Seed(s *Server, opts SeedOptions) error {
	if opts.Customers < 0 || opts.ConnectedAccounts < 0 || opts.ConnectedCustomers < 0 {
		return fmt.Errorf("seed: negative size in %+v", opts)
	}
	now := opts.Now
	if now.IsZero() {
		now = s.now()
	}
	end := now.Unix()
	s.mu.Lock()
	defer s.mu.Unlock()
	r := rand.New(rand.NewPCG(opts.RandSeed, 0x5eed))
	platform := newSeeder(r, s.platform, end, end-2*365*day, "usd")
	var connected []*seeder
	for i := range opts.ConnectedAccounts {
		id := newID(r.IntN, "account", "")
		created := platform.between(platform.start, end-60*day)
		country, currency := []string{"US", "DE", "GB"}[i%3], []string{"usd", "eur", "gbp"}[i%3]
		typ := platform.pick([]string{"express", "standard", "custom"})
		rec := platform.put("account", "", created, accountObject(id, typ, country, currency, created, true))
		a := newAccount(id, true)
		a.self = rec
		s.accounts[id] = a
		c := newSeeder(r, a, end, created, currency)
		c.fill(cmp.Or(opts.ConnectedCustomers, opts.Customers))
		connected = append(connected, c)
	}
	platform.fill(opts.Customers)
	for _, c := range connected {
		platform.connect(c)
	}
	late := seedPaymentSources(opts.RandSeed, connected, platform)
	for _, sd := range append(append(connected, platform), late...) {
		sd.events()
	}
	return nil
}

// seeder generates one account's objects.
type seeder struct {
	gen
	currency string
	all      []*record // in creation order, for events
	names    map[string]string
	monthly  []*record // recurring prices
	yearly   []*record
	oneTime  []*record
	coupons  []*record
	promos   []*record
	charges  []*record
	// customers in creation order, for the sources seeded after them
	customers []*record
}

func newSeeder(r *rand.Rand, a *account, now, start int64, currency string) *seeder {
	return &seeder{gen: gen{r: r, a: a, now: now, start: start}, currency: currency, names: map[string]string{}}
}

func (sd *seeder) put(object, parent string, created int64, data map[string]any) *record {
	r := &record{object: object, id: data["id"].(string), created: created, parent: parent, data: data}
	sd.a.insert(r)
	sd.all = append(sd.all, r)
	return r
}

func (sd *seeder) fill(customers int) {
	sd.catalog(customers)
	for i := range customers {
		sd.customerHistory(i, customers)
	}
	for range max(2, customers/4) {
		t := sd.between(sd.start, sd.now)
		po := sd.put("payout", "", t, sd.payout(t, 1000+sd.r.Int64N(500000), sd.currency))
		po.data["balance_transaction"] = sd.txn(t, -po.data["amount"].(int64), "payout", po.id)
	}
}

func (sd *seeder) txn(t, amount int64, typ, source string) string {
	return sd.put("balance_transaction", "", t, sd.balanceTransaction(t, amount, sd.currency, typ, source)).id
}

// catalog makes tax rates, at least 12 products (so one subscription can
// hold 12 distinct prices), their prices and plans, coupons, promotion
// codes and a file.
func (sd *seeder) catalog(customers int) {
	span := sd.now - sd.start
	early := func() int64 { return sd.between(sd.start, sd.start+span/3) }
	for k := range 3 {
		t := early()
		sd.put("tax_rate", "", t, sd.taxRate(t, k))
	}
	perm := sd.r.Perm(len(productNames))
	for i := range min(max(12, customers/5), len(productNames)) {
		t := early()
		p := sd.product(t, productNames[perm[i]])
		if sd.chance(0.1) {
			p["active"] = false
		}
		prod := sd.put("product", "", t, p)
		sd.names[prod.id] = p["name"].(string)
		add := func(interval string, amount int64) *record {
			pt := sd.later(t, day)
			pr := sd.put("price", "", pt, sd.price(pt, prod.id, sd.currency, amount, interval))
			if interval != "" {
				sd.put("plan", "", pt, plan(pr.data))
			}
			return pr
		}
		amount := amounts[sd.r.IntN(len(amounts))]
		m := add("month", amount)
		p["default_price"] = m.id
		sd.monthly = append(sd.monthly, m)
		if sd.chance(0.35) {
			sd.yearly = append(sd.yearly, add("year", amount*10))
		}
		sd.oneTime = append(sd.oneTime, add("", amounts[sd.r.IntN(len(amounts))]))
	}
	codes := []string{"WELCOME", "FRIENDS", "SPRING", "LAUNCH"}
	for k := range 4 {
		t := early()
		c := sd.put("coupon", "", t, sd.coupon(t, k))
		sd.coupons = append(sd.coupons, c)
		pt := sd.later(t, 30*day)
		sd.promos = append(sd.promos, sd.put("promotion_code", "", pt, map[string]any{
			"id": sd.id("promotion_code"), "object": "promotion_code", "active": c.data["valid"], "code": fmt.Sprintf("%s%02d", codes[k], sd.r.IntN(100)),
			"coupon": copyMap(c.data), "created": pt, "customer": nil, "expires_at": nil, "livemode": false,
			"max_redemptions": nil, "metadata": map[string]any{},
			"restrictions":   map[string]any{"first_time_transaction": false, "minimum_amount": nil, "minimum_amount_currency": nil},
			"times_redeemed": int64(sd.r.IntN(10)),
		}))
	}
	t := early()
	sd.put("file", "", t, sd.file(t, "business_logo"))
}

// customerHistory makes customer i and everything that hangs off it. The
// first two customers carry the objects that exercise nested-list paging
// and hidden canceled subscriptions.
func (sd *seeder) customerHistory(i, n int) {
	span := sd.now - sd.start
	created := sd.between(sd.start, sd.now-3600)
	if i == 0 {
		created = sd.between(sd.start, sd.start+span/4) // room for many billing periods
	}
	cust := sd.put("customer", "", created, sd.customer(created))
	sd.customers = append(sd.customers, cust)
	var pms []*record
	for range 1 + sd.r.IntN(2) {
		t := sd.later(created, 7*day)
		pm := sd.put("payment_method", cust.id, t, sd.paymentMethod(t, cust.data))
		sd.put("setup_intent", "", t, sd.setupIntent(t, cust.id, pm.id))
		pms = append(pms, pm)
	}
	pm := pms[0]
	cust.data["invoice_settings"].(map[string]any)["default_payment_method"] = pm.id
	if i == 0 || sd.chance(0.3) {
		t := sd.later(created, 30*day)
		sd.put("tax_id", cust.id, t, sd.taxID(t, cust.id))
	}
	if sd.chance(0.1) {
		cust.data["discount"] = sd.discount(sd.later(created, day), sd.coupons[0].data, cust.id, nil, nil)
	}
	billed := false
	if i == 0 {
		sub := sd.subscription(cust, pm, 12, "active")
		if sub.data["schedule"] == nil {
			sd.schedule(sub, sd.a.list("subscription_item", sub.id).all(), false)
		}
		inv := sd.oneOffInvoice(cust, pm, 25)
		sd.creditNote(inv, 12)
		if ch := sd.a.get("charge", str(inv.data["charge"])); ch != nil {
			for range 11 {
				sd.refundCharge(ch, 100, sd.later(ch.created, 60*day))
			}
		}
		if pi, ch := sd.checkout(cust, pm, 12); ch != nil {
			sd.incidents(pi, ch, true, true, true)
		}
		billed = true
	}
	if i == 1 || n == 1 {
		sd.subscription(cust, pm, 1+sd.r.IntN(2), "canceled")
		billed = true
	}
	subs := 0
	if sd.chance(0.75) {
		subs = 1
		if sd.chance(0.12) {
			subs = 2
		}
	}
	for range subs {
		sd.subscription(cust, pm, 1+sd.r.IntN(3), "")
		billed = true
	}
	if sd.chance(0.2) {
		inv := sd.oneOffInvoice(cust, pm, 1+sd.r.IntN(3))
		if sd.chance(0.25) {
			sd.creditNote(inv, 1)
		}
		billed = true
	}
	if sd.chance(0.05) {
		t := sd.later(created, 30*day)
		sd.put("invoiceitem", "", t, sd.invoiceItem(t, cust, sd.oneTime[sd.r.IntN(len(sd.oneTime))], 1, nil))
	}
	if sd.chance(0.3) {
		sd.checkout(cust, pm, 1+sd.r.IntN(2))
		billed = true
	}
	if billed {
		cust.data["currency"] = sd.currency
	}
}

func str(v any) string { s, _ := v.(string); return s }

func addMonths(t int64, months int) int64 { return time.Unix(t, 0).UTC().AddDate(0, months, 0).Unix() }

// subscription makes a subscription with its items, invoices for its last
// (up to 3) billing periods and sometimes a schedule. An empty status is
// drawn: mostly active, some trialing, past_due, canceled…
func (sd *seeder) subscription(cust, pm *record, nItems int, status string) *record {
	pool, months, interval := sd.monthly, 1, "month"
	if nItems <= 2 && len(sd.yearly) > 0 && sd.chance(0.2) {
		pool, months, interval = sd.yearly, 12, "year"
	}
	nItems = min(nItems, len(pool))
	if status == "" {
		switch x := sd.r.Float64(); {
		case x < 0.14:
			status = "canceled"
		case x < 0.19:
			status = "trialing"
		case x < 0.23:
			status = "past_due"
		case x < 0.24:
			status = "unpaid"
		case x < 0.25:
			status = "incomplete_expired"
		default:
			status = "active"
		}
	}
	created := sd.later(cust.created, 90*day)
	if status == "trialing" {
		created = sd.between(max(cust.created+1, sd.now-10*day), sd.now)
	}
	end := sd.now
	var canceledAt, endedAt any
	cancellation := map[string]any{"comment": nil, "feedback": nil, "reason": nil}
	switch status {
	case "canceled":
		end = sd.between(min(created+day, sd.now), sd.now)
		canceledAt, endedAt = end, end
		cancellation["reason"] = sd.pick([]string{"cancellation_requested", "payment_failed"})
	case "incomplete_expired":
		if created+23*3600 > sd.now {
			status = "incomplete"
		} else {
			end = created + 23*3600
			endedAt = end
		}
	}
	var starts []int64
	for t := created; t <= end && len(starts) < 1000; t = addMonths(t, months) {
		starts = append(starts, t)
	}
	cur := starts[len(starts)-1]
	id := sd.id("subscription")
	var trialStart, trialEnd any
	if status == "trialing" {
		trialStart, trialEnd = created, created+14*day
	}
	var subPlan, quantity any
	perm := sd.r.Perm(len(pool))
	var items []*record
	for k := range nItems {
		price := pool[perm[k]].data
		q := int64(1)
		if sd.chance(0.3) {
			q = 1 + sd.r.Int64N(5)
		}
		items = append(items, &record{object: "subscription_item", data: map[string]any{
			"id": sd.id("subscription_item"), "object": "subscription_item", "billing_thresholds": nil,
			"created": created, "metadata": map[string]any{}, "plan": plan(price), "price": copyMap(price),
			"quantity": q, "subscription": id, "tax_rates": []any{},
		}})
		if nItems == 1 {
			subPlan, quantity = plan(price), q
		}
	}
	var discount any
	if sd.chance(0.1) {
		k := sd.r.IntN(3)
		discount = sd.discount(created, sd.coupons[k].data, cust.id, id, sd.promos[k].id)
	}
	var defaultPM any
	if sd.chance(0.5) {
		defaultPM = pm.id
	}
	sub := sd.put("subscription", "", created, map[string]any{
		"id": id, "object": "subscription", "application": nil, "application_fee_percent": nil,
		"automatic_tax": map[string]any{"enabled": false}, "billing_cycle_anchor": created,
		"billing_thresholds": nil, "cancel_at": nil, "cancel_at_period_end": false, "canceled_at": canceledAt,
		"cancellation_details": cancellation, "collection_method": "charge_automatically", "created": created,
		"currency": sd.currency, "current_period_end": addMonths(cur, months), "current_period_start": cur,
		"customer": cust.id, "days_until_due": nil, "default_payment_method": defaultPM, "default_source": nil,
		"default_tax_rates": []any{}, "description": nil, "discount": discount, "ended_at": endedAt,
		"latest_invoice": nil, "livemode": false, "metadata": sd.metadata(),
		"next_pending_invoice_item_invoice": nil, "on_behalf_of": nil, "pause_collection": nil,
		"payment_settings": map[string]any{"payment_method_options": nil, "payment_method_types": nil,
			"save_default_payment_method": "off"},
		"pending_invoice_item_interval": nil, "pending_setup_intent": nil, "pending_update": nil,
		"plan": subPlan, "quantity": quantity, "schedule": nil, "start_date": created, "status": status,
		"test_clock": nil, "transfer_data": nil, "trial_end": trialEnd,
		"trial_settings": map[string]any{"end_behavior": map[string]any{"missing_payment_method": "create_invoice"}},
		"trial_start":    trialStart,
	})
	for _, it := range items {
		it.id = it.data["id"].(string)
		sd.put("subscription_item", id, created, it.data)
	}
	first := max(0, len(starts)-3)
	for k := first; k < len(starts); k++ {
		last := k == len(starts)-1
		invStatus := "paid"
		switch {
		case status == "incomplete_expired":
			invStatus = "void"
		case status == "incomplete" || (last && (status == "past_due" || status == "unpaid")):
			invStatus = "open"
		case last && status == "canceled" && cancellation["reason"] == "payment_failed":
			invStatus = "uncollectible"
		}
		reason := "subscription_cycle"
		if k == 0 {
			reason = "subscription_create"
		}
		periodEnd := addMonths(starts[k], months)
		var specs []lineSpec
		for _, it := range items {
			price := it.data["price"].(map[string]any)
			amount := price["unit_amount"].(int64) * it.data["quantity"].(int64)
			if status == "trialing" {
				amount = 0
			}
			specs = append(specs, lineSpec{price: price, qty: it.data["quantity"].(int64), start: starts[k],
				end: periodEnd, amount: amount, sub: id, subItem: it.id, interval: interval})
		}
		inv := sd.invoice(sd.id("invoice"), cust, pm, starts[k], sub, specs, reason, invStatus)
		sub.data["latest_invoice"] = inv.id
	}
	if status == "active" && sd.chance(0.12) {
		sd.schedule(sub, items, sd.chance(0.4))
	}
	return sub
}

// lineSpec is one invoice line to be.
type lineSpec struct {
	price       map[string]any
	qty         int64
	start, end  int64
	amount      int64
	sub         string // for type subscription
	subItem     string
	interval    string
	invoiceItem string // for type invoiceitem
}

func (sd *seeder) invoiceItem(t int64, cust, price *record, qty int64, invoice any) map[string]any {
	unit := price.data["unit_amount"].(int64)
	return map[string]any{
		"id": sd.id("invoiceitem"), "object": "invoiceitem", "amount": unit * qty, "currency": sd.currency,
		"customer": cust.id, "date": t, "description": sd.names[str(price.data["product"])], "discountable": true,
		"discounts": []any{}, "invoice": invoice, "livemode": false, "metadata": map[string]any{},
		"period": map[string]any{"end": t, "start": t}, "plan": nil, "price": copyMap(price.data),
		"proration": false, "quantity": qty, "subscription": nil, "tax_rates": []any{}, "test_clock": nil,
		"unit_amount": unit, "unit_amount_decimal": price.data["unit_amount_decimal"],
	}
}

// oneOffInvoice bills n invoice items outside any subscription.
func (sd *seeder) oneOffInvoice(cust, pm *record, n int) *record {
	t := sd.later(cust.created, 400*day)
	id := sd.id("invoice")
	var specs []lineSpec
	for range n {
		price := sd.oneTime[sd.r.IntN(len(sd.oneTime))]
		qty := 1 + sd.r.Int64N(2)
		ii := sd.put("invoiceitem", "", t, sd.invoiceItem(t, cust, price, qty, id))
		specs = append(specs, lineSpec{price: price.data, qty: qty, start: t, end: t,
			amount: ii.data["amount"].(int64), invoiceItem: ii.id})
	}
	return sd.invoice(id, cust, pm, t, nil, specs, "manual", "paid")
}

func (sd *seeder) invoice(id string, cust, pm *record, created int64, sub *record, specs []lineSpec, reason, status string) *record {
	var total int64
	for _, l := range specs {
		total += l.amount
	}
	seq := cust.data["next_invoice_sequence"].(int64)
	cust.data["next_invoice_sequence"] = seq + 1
	finalized := min(sd.now, created+3600)
	transitions := map[string]any{"finalized_at": finalized, "marked_uncollectible_at": nil, "paid_at": nil, "voided_at": nil}
	var subID any
	subDetails := map[string]any{"metadata": nil}
	periodStart, periodEnd := created, created
	if sub != nil {
		subID = sub.id
		subDetails["metadata"] = copyMap(sub.data["metadata"].(map[string]any))
		if reason == "subscription_cycle" && len(specs) > 0 {
			periodStart = created - (specs[0].end - specs[0].start)
		}
	}
	hosted := "https://invoice.stripe.com/i/" + sd.a.id + "/test_" + sd.str(48)
	inv := map[string]any{
		"id": id, "object": "invoice", "account_country": "US", "account_name": "FakeStripe Test",
		"account_tax_ids": nil, "amount_due": total, "amount_paid": int64(0), "amount_remaining": total,
		"amount_shipping": int64(0), "application": nil, "application_fee_amount": nil, "attempt_count": int64(0),
		"attempted": false, "auto_advance": false, "automatic_tax": map[string]any{"enabled": false, "status": nil},
		"billing_reason": reason, "charge": nil, "collection_method": "charge_automatically", "created": created,
		"currency": sd.currency, "custom_fields": nil, "customer": cust.id,
		"customer_address": deepCopy(cust.data["address"]), "customer_email": cust.data["email"],
		"customer_name": cust.data["name"], "customer_phone": cust.data["phone"], "customer_shipping": nil,
		"customer_tax_exempt": "none", "customer_tax_ids": []any{}, "default_payment_method": nil,
		"default_source": nil, "default_tax_rates": []any{}, "description": nil, "discount": nil,
		"discounts": []any{}, "due_date": nil, "effective_at": finalized, "ending_balance": int64(0), "footer": nil,
		"from_invoice": nil, "hosted_invoice_url": hosted, "invoice_pdf": hosted + "/pdf?s=ap",
		"last_finalization_error": nil, "latest_revision": nil, "livemode": false, "metadata": map[string]any{},
		"next_payment_attempt": nil, "number": fmt.Sprintf("%s-%04d", cust.data["invoice_prefix"], seq),
		"on_behalf_of": nil, "paid": false, "paid_out_of_band": false, "payment_intent": nil,
		"payment_settings": map[string]any{"default_mandate": nil, "payment_method_options": nil, "payment_method_types": nil},
		"period_end":       periodEnd, "period_start": periodStart, "post_payment_credit_notes_amount": int64(0),
		"pre_payment_credit_notes_amount": int64(0), "quote": nil, "receipt_number": nil, "rendering": nil,
		"rendering_options": nil, "shipping_cost": nil, "shipping_details": nil, "starting_balance": int64(0),
		"statement_descriptor": nil, "status": status, "status_transitions": transitions, "subscription": subID,
		"subscription_details": subDetails, "subtotal": total, "subtotal_excluding_tax": total, "tax": nil,
		"test_clock": nil, "total": total, "total_discount_amounts": []any{}, "total_excluding_tax": total,
		"total_tax_amounts": []any{}, "transfer_data": nil, "webhooks_delivered_at": created,
	}
	if sub != nil {
		if d, ok := sub.data["discount"].(map[string]any); ok {
			inv["discount"] = copyMap(d)
			inv["discounts"] = []any{d["id"]}
		}
	}
	rec := sd.put("invoice", "", created, inv)
	for _, l := range specs {
		line := map[string]any{
			"id": sd.id("line_item"), "object": "line_item", "amount": l.amount, "amount_excluding_tax": l.amount,
			"currency": sd.currency, "description": nil, "discount_amounts": []any{}, "discountable": true,
			"discounts": []any{}, "invoice_item": nil, "livemode": false, "metadata": map[string]any{},
			"period": map[string]any{"end": l.end, "start": l.start}, "plan": nil, "price": copyMap(l.price),
			"proration": false, "proration_details": map[string]any{"credited_items": nil}, "quantity": l.qty,
			"subscription": nil, "subscription_item": nil, "tax_amounts": []any{}, "tax_rates": []any{},
			"type": "invoiceitem", "unit_amount_excluding_tax": fmt.Sprint(l.price["unit_amount"]),
		}
		name := sd.names[str(l.price["product"])]
		if l.invoiceItem != "" {
			line["invoice_item"], line["description"] = l.invoiceItem, name
		} else {
			line["type"], line["subscription"], line["subscription_item"] = "subscription", l.sub, l.subItem
			if l.price["recurring"] != nil {
				line["plan"] = plan(l.price)
			}
			line["description"] = fmt.Sprintf("%d × %s (at %s / %s)", l.qty, name, money(l.price["unit_amount"].(int64), sd.currency), l.interval)
		}
		sd.put("line_item", id, created, line)
	}
	switch status {
	case "paid":
		inv["amount_paid"], inv["amount_remaining"], inv["paid"] = total, int64(0), true
		inv["attempted"], inv["attempt_count"] = true, int64(1)
		transitions["paid_at"] = finalized
		if total > 0 {
			pi, ch := sd.pay(cust, pm, total, finalized, id, "Subscription update")
			if sub == nil {
				pi.data["description"], ch.data["description"] = nil, nil
			}
			inv["payment_intent"], inv["charge"] = pi.id, ch.id
		}
	case "open":
		inv["attempted"], inv["attempt_count"] = true, 1+sd.r.Int64N(3)
		if next := finalized + 3*day; next > sd.now {
			inv["next_payment_attempt"] = next
		}
	case "void":
		transitions["voided_at"] = sd.later(finalized, 5*day)
	case "uncollectible":
		transitions["marked_uncollectible_at"] = sd.later(finalized, 20*day)
	}
	return rec
}

func money(amount int64, currency string) string {
	sym := map[string]string{"usd": "$", "eur": "€", "gbp": "£"}[currency]
	return fmt.Sprintf("%s%d.%02d", sym, amount/100, amount%100)
}

// pay makes the payment intent, charge and balance transaction of a
// successful card payment, and now and then a review, an early fraud
// warning, a dispute or a refund.
func (sd *seeder) pay(cust, pm *record, amount, t int64, invoice, description any) (pi, ch *record) {
	pi = sd.put("payment_intent", "", t, sd.paymentIntent(t, amount, sd.currency, cust.id, pm.id, description))
	pi.data["invoice"] = invoice
	ch = sd.put("charge", "", t, sd.charge(t, pi.data, pm.data))
	pi.data["latest_charge"] = ch.id
	ch.data["balance_transaction"] = sd.txn(t, amount, "charge", ch.id)
	sd.charges = append(sd.charges, ch)
	sd.incidents(pi, ch, sd.chance(0.03), sd.chance(0.02), sd.chance(0.02))
	if sd.chance(0.06) {
		refund := max(1, amount/2)
		if invoice == nil && sd.chance(0.5) {
			refund = amount // full refunds only off invoices, which keeps room for credit notes
		}
		sd.refundCharge(ch, refund, sd.later(t, 30*day))
	}
	return pi, ch
}

// incidents adds a Radar review, an early fraud warning and a dispute
// (with its evidence file and balance transaction) to a charge.
func (sd *seeder) incidents(pi, ch *record, review, warning, dispute bool) {
	t := ch.created
	if review {
		rt := sd.later(t, 3600)
		rv := sd.put("review", "", rt, sd.review(rt, ch.data))
		ch.data["review"], pi.data["review"] = rv.id, rv.id
	}
	if warning {
		ft := sd.later(t, 7*day)
		sd.put("radar.early_fraud_warning", "", ft, sd.earlyFraudWarning(ft, ch.data))
	}
	if dispute {
		dt := sd.later(t, 30*day)
		file := sd.put("file", "", dt, sd.file(dt, "dispute_evidence"))
		dp := sd.put("dispute", "", dt, sd.dispute(dt, ch.data, file.id))
		amount := ch.data["amount"].(int64)
		txn := sd.put("balance_transaction", "", dt, sd.balanceTransaction(dt, -amount, sd.currency, "adjustment", dp.id))
		dp.data["balance_transactions"] = []any{copyMap(txn.data)}
		ch.data["disputed"] = true
	}
}

func (sd *seeder) refundCharge(ch *record, amount, t int64) *record {
	refunded := ch.data["amount_refunded"].(int64)
	amount = min(amount, ch.data["amount"].(int64)-refunded)
	re := sd.put("refund", ch.id, t, sd.refund(t, ch.data, amount))
	re.data["balance_transaction"] = sd.txn(t, -amount, "refund", re.id)
	ch.data["amount_refunded"] = refunded + amount
	ch.data["refunded"] = refunded+amount == ch.data["amount"].(int64)
	return re
}

// creditNote credits part of n lines of a paid invoice, refunding the charge.
func (sd *seeder) creditNote(inv *record, n int) {
	lines := sd.a.list("line_item", inv.id).all()
	if inv.data["status"] != "paid" || len(lines) == 0 {
		return
	}
	t := sd.later(inv.created, 30*day)
	id := sd.id("credit_note")
	var total int64
	for _, l := range lines[:min(n, len(lines))] {
		amount := max(1, min(100, l.data["amount"].(int64)))
		total += amount
		sd.put("credit_note_line_item", id, inv.created, map[string]any{
			"id": sd.id("credit_note_line_item"), "object": "credit_note_line_item", "amount": amount,
			"amount_excluding_tax": amount, "description": l.data["description"], "discount_amount": int64(0),
			"discount_amounts": []any{}, "invoice_line_item": l.id, "livemode": false, "quantity": int64(1),
			"tax_amounts": []any{}, "tax_rates": []any{}, "type": "invoice_line_item", "unit_amount": amount,
			"unit_amount_decimal": fmt.Sprint(amount), "unit_amount_excluding_tax": fmt.Sprint(amount),
		})
	}
	var refund any
	if ch := sd.a.get("charge", str(inv.data["charge"])); ch != nil {
		refund = sd.refundCharge(ch, total, t).id
	}
	inv.data["post_payment_credit_notes_amount"] = inv.data["post_payment_credit_notes_amount"].(int64) + total
	sd.put("credit_note", "", t, map[string]any{
		"id": id, "object": "credit_note", "amount": total, "amount_shipping": int64(0), "created": t,
		"currency": sd.currency, "customer": inv.data["customer"], "customer_balance_transaction": nil,
		"discount_amount": int64(0), "discount_amounts": []any{}, "effective_at": t, "invoice": inv.id,
		"livemode": false, "memo": "Goodwill credit", "metadata": map[string]any{},
		"number": fmt.Sprintf("%s-CN-01", inv.data["number"]), "out_of_band_amount": nil,
		"pdf":    "https://pay.stripe.com/credit_notes/" + sd.a.id + "/test_" + sd.str(40) + "/pdf",
		"reason": sd.pick([]string{"order_change", "product_unsatisfactory", "duplicate"}), "refund": refund,
		"shipping_cost": nil, "status": "issued", "subtotal": total, "subtotal_excluding_tax": total,
		"tax_amounts": []any{}, "total": total, "total_excluding_tax": total, "type": "post_payment", "voided_at": nil,
	})
}

// checkout makes a hosted checkout session in payment mode with n line items.
func (sd *seeder) checkout(cust, pm *record, n int) (pi, ch *record) {
	t := sd.later(cust.created, 500*day)
	id := sd.id("checkout.session")
	var total int64
	for range n {
		price := sd.oneTime[sd.r.IntN(len(sd.oneTime))].data
		qty := 1 + sd.r.Int64N(3)
		amount := price["unit_amount"].(int64) * qty
		total += amount
		sd.put("item", id, t, map[string]any{
			"id": sd.id("item"), "object": "item", "amount_discount": int64(0), "amount_subtotal": amount,
			"amount_tax": int64(0), "amount_total": amount, "currency": sd.currency,
			"description": sd.names[str(price["product"])], "price": copyMap(price), "quantity": qty,
		})
	}
	status, paymentStatus := "complete", "paid"
	var piID any
	if n < 10 && sd.chance(0.12) {
		status, paymentStatus = "expired", "unpaid"
	} else {
		pi, ch = sd.pay(cust, pm, total, sd.later(t, 600), nil, nil)
		piID = pi.id
	}
	sd.put("checkout.session", "", t, map[string]any{
		"id": id, "object": "checkout.session", "after_expiration": nil, "allow_promotion_codes": nil,
		"amount_subtotal": total, "amount_total": total, "automatic_tax": map[string]any{"enabled": false, "status": nil},
		"billing_address_collection": nil, "cancel_url": "https://example.com/cancel", "client_reference_id": nil,
		"client_secret": nil, "consent": nil, "consent_collection": nil, "created": t, "currency": sd.currency,
		"currency_conversion": nil, "custom_fields": []any{},
		"custom_text": map[string]any{"after_submit": nil, "shipping_address": nil, "submit": nil, "terms_of_service_acceptance": nil},
		"customer":    cust.id, "customer_creation": nil,
		"customer_details": map[string]any{"address": deepCopy(cust.data["address"]), "email": cust.data["email"],
			"name": cust.data["name"], "phone": nil, "tax_exempt": "none", "tax_ids": []any{}},
		"customer_email": nil, "expires_at": t + day, "invoice": nil, "invoice_creation": nil, "livemode": false,
		"locale": nil, "metadata": map[string]any{}, "mode": "payment", "payment_intent": piID, "payment_link": nil,
		"payment_method_collection": "if_required", "payment_method_configuration_details": nil,
		"payment_method_options": map[string]any{}, "payment_method_types": []any{"card"},
		"payment_status": paymentStatus, "phone_number_collection": map[string]any{"enabled": false},
		"recovered_from": nil, "setup_intent": nil, "shipping_address_collection": nil, "shipping_cost": nil,
		"shipping_details": nil, "shipping_options": []any{}, "status": status, "submit_type": nil,
		"subscription": nil, "success_url": "https://example.com/success",
		"total_details": map[string]any{"amount_discount": int64(0), "amount_shipping": int64(0), "amount_tax": int64(0)},
		"ui_mode":       "hosted", "url": nil,
	})
	return pi, ch
}

// schedule attaches a subscription schedule to sub, or one that already
// released it.
func (sd *seeder) schedule(sub *record, items []*record, released bool) {
	t := sub.created
	phaseEnd := addMonths(sub.data["current_period_end"].(int64), 2)
	var phaseItems []any
	for _, it := range items {
		price := it.data["price"].(map[string]any)["id"]
		phaseItems = append(phaseItems, map[string]any{"billing_thresholds": nil, "metadata": map[string]any{},
			"plan": price, "price": price, "quantity": it.data["quantity"], "tax_rates": []any{}})
	}
	id := sd.id("subscription_schedule")
	data := map[string]any{
		"id": id, "object": "subscription_schedule", "application": nil, "canceled_at": nil, "completed_at": nil,
		"created": t, "current_phase": map[string]any{"end_date": phaseEnd, "start_date": t}, "customer": sub.data["customer"],
		"default_settings": map[string]any{"application_fee_percent": nil, "automatic_tax": map[string]any{"enabled": false},
			"billing_cycle_anchor": "automatic", "billing_thresholds": nil, "collection_method": "charge_automatically",
			"default_payment_method": nil, "description": nil, "invoice_settings": map[string]any{"days_until_due": nil},
			"on_behalf_of": nil, "transfer_data": nil},
		"end_behavior": "release", "livemode": false, "metadata": map[string]any{},
		"phases": []any{map[string]any{"add_invoice_items": []any{}, "application_fee_percent": nil,
			"billing_cycle_anchor": nil, "billing_thresholds": nil, "collection_method": nil, "coupon": nil,
			"currency": sd.currency, "default_payment_method": nil, "default_tax_rates": []any{}, "description": nil,
			"end_date": phaseEnd, "invoice_settings": nil, "items": phaseItems, "metadata": map[string]any{},
			"on_behalf_of": nil, "proration_behavior": "create_prorations", "start_date": t, "transfer_data": nil,
			"trial_end": nil}},
		"released_at": nil, "released_subscription": nil, "renewal_interval": nil, "status": "active",
		"subscription": sub.id, "test_clock": nil,
	}
	if released {
		data["status"], data["current_phase"], data["subscription"] = "released", nil, nil
		data["released_at"], data["released_subscription"] = sd.later(t, 30*day), sub.id
	} else {
		sub.data["schedule"] = id
	}
	sd.put("subscription_schedule", "", t, data)
}

// connect makes the platform's side of a connected account: transfers to
// it, and application fees on its first charges.
func (sd *seeder) connect(c *seeder) {
	for range 2 {
		t := sd.between(c.start, sd.now)
		tr := sd.put("transfer", "", t, sd.transfer(t, 1000+sd.r.Int64N(100000), sd.currency, c.a.id, c.a.token))
		tr.data["balance_transaction"] = sd.txn(t, -tr.data["amount"].(int64), "transfer", tr.id)
	}
	app := "ca_" + sd.str(32)
	for _, ch := range c.charges[:min(3, len(c.charges))] {
		amount := max(1, ch.data["amount"].(int64)/10)
		fee := sd.put("application_fee", "", ch.created, sd.applicationFee(ch.created, amount, str(ch.data["currency"]), c.a.id, ch.id, app))
		fee.data["balance_transaction"] = sd.txn(ch.created, amount, "application_fee", fee.id)
		ch.data["application"], ch.data["application_fee"], ch.data["application_fee_amount"] = app, fee.id, amount
	}
}

// events records the creation events of the last 35 days, with data.object
// as the object stands at the end of seeding.
func (sd *seeder) events() {
	horizon := sd.now - 35*day
	for _, r := range sd.all {
		if r.created >= horizon && r.created <= sd.now {
			sd.a.event(sd.r.IntN, eventTypeOf(r, verbCreated), r, nil, r.created)
		}
	}
}
