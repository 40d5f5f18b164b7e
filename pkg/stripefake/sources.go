package stripefake

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Cards, bank accounts and sources are listed together, newest first, in
// two mixed lists that these pseudo object types name: the legacy sources of
// a customer (GET /v1/customers/{id}/sources) and the external accounts of a
// connected account (GET /v1/accounts/{id}/external_accounts). Each record
// keeps its real object type and is also in the list of that type under the
// same parent, which the object=card|bank_account filter and ChildIDs read.
const (
	paymentSource   = "payment_source"
	externalAccount = "external_account"
)

// groupMembers are the object types each mixed list holds, as its object
// filter accepts them.
var groupMembers = map[string][]string{
	paymentSource:   {"card", "bank_account", "source"},
	externalAccount: {"bank_account", "card"},
}

// collectionOf returns the collection that holds a list of the given object
// types: the type itself, or the mixed list of exactly those members.
func collectionOf(objects []string) string {
	if len(objects) == 1 {
		return objects[0]
	}
	for g, members := range groupMembers {
		if len(members) == len(objects) && !slices.ContainsFunc(objects, func(o string) bool { return !slices.Contains(members, o) }) {
			return g
		}
	}
	panic(fmt.Sprintf("stripefake: no mixed list holds %s", strings.Join(objects, ", ")))
}

// group returns the mixed list r belongs to, or "". A card or bank account
// under an acct_ parent is an external account; under a customer, a source.
func group(r *record) string {
	switch r.object {
	case "card", "bank_account", "source":
		switch {
		case r.parent == "":
			return ""
		case r.object != "source" && strings.HasPrefix(r.parent, "acct_"):
			return externalAccount
		}
		return paymentSource
	}
	return ""
}

// find is get that also resolves an id within a mixed list, whatever its
// member type: the cursors and retrieves of the sources endpoints.
func (a *account) find(object, id string) *record {
	members, ok := groupMembers[object]
	if !ok {
		return a.get(object, id)
	}
	for _, m := range members {
		if r := a.get(m, id); r != nil && group(r) == object {
			return r
		}
	}
	return nil
}

// eventTypeOf is eventType for a stored object: an external account sends
// account.external_account.*, not the customer.source.* of a customer's card.
func eventTypeOf(r *record, verb int) string {
	if group(r) == externalAccount {
		return "account.external_account." + [3]string{"created", "updated", "deleted"}[verb]
	}
	return eventType(r.object, verb)
}

// objectParam refuses an object filter outside allowed before h runs.
func objectParam(h handlerFunc, allowed []string) handlerFunc {
	return func(a *account, r *http.Request) (any, error) {
		if v := r.URL.Query().Get("object"); v != "" && !slices.Contains(allowed, v) {
			return nil, invalid("object", "Invalid object: must be one of %s", describeKinds(allowed))
		}
		return h(a, r)
	}
}

// externalOwner returns the account whose external accounts the request
// reads. The platform reads any connected account's without a
// Stripe-Account header; a request scoped to an account reads only its own.
func (s *Server) externalOwner(a *account, r *http.Request) (*account, error) {
	id := r.PathValue("id")
	if id == a.id {
		return a, nil
	}
	if t := s.accounts[id]; !a.connected && t != nil && t.connected {
		return t, nil
	}
	return nil, missing("account", id, "account")
}

func (s *Server) listExternalAccounts(a *account, r *http.Request) (any, error) {
	lq, err := parseList(r, "object")
	if err != nil {
		return nil, err
	}
	owner, err := s.externalOwner(a, r)
	if err != nil {
		return nil, err
	}
	pred, err := eqFilter(lq.q, []string{"object"})
	if err != nil {
		return nil, err
	}
	return owner.page(owner.list(externalAccount, owner.id), externalAccount, lq, pred, r.URL.Path)
}

func (s *Server) retrieveExternalAccount(a *account, r *http.Request) (any, error) {
	q := query(r)
	if err := checkParams(q, []string{"expand[]"}); err != nil {
		return nil, err
	}
	owner, err := s.externalOwner(a, r)
	if err != nil {
		return nil, err
	}
	id := r.PathValue("child")
	rec := owner.find(externalAccount, id)
	if rec == nil || rec.deleted || rec.parent != owner.id {
		return nil, missing(externalAccount, id, "id")
	}
	return owner.render(rec, q["expand[]"])
}

// AttachCard attaches a new card to a customer, as POST
// /v1/customers/{id}/sources with a card token does. fields override the
// generated card (brand, last4, metadata…) and may carry its id. The first
// source of a customer becomes its default_source, which records
// customer.updated first; customer.source.created is recorded last and
// returned.
func (s *Server) AttachCard(accountID, customerID string, fields map[string]any) (Event, error) {
	return s.commit(accountID, func(a *account, now int64) ([]*record, error) {
		cust := a.get("customer", customerID)
		if cust == nil || cust.deleted {
			return nil, missing("customer", customerID, "customer")
		}
		g := newGen(rand.Uint64(), a, now)
		data := g.card(now, cust.data)
		maps.Copy(data, fields)
		data["object"], data["customer"] = "card", customerID
		id, _ := data["id"].(string)
		if id == "" || a.find(paymentSource, id) != nil {
			return nil, invalid("id", "Object %s already exists or has no id.", id)
		}
		r := &record{object: "card", id: id, created: now, parent: customerID, data: data}
		a.insert(r)
		var events []*record
		if cust.data["default_source"] == nil {
			cust.data["default_source"] = id
			events = a.event(rand.IntN, "customer.updated", cust, map[string]any{"default_source": nil}, now)
		}
		return append(events, a.event(rand.IntN, "customer.source.created", r, nil, now)...), nil
	})
}

// cardBrands are the brand names of the legacy card object, which differ
// from a payment method's lowercase card.brand.
var cardBrands = map[string]string{"visa": "Visa", "mastercard": "MasterCard", "amex": "American Express", "discover": "Discover"}

// card returns a customer's card as the legacy Cards API renders it
// (https://docs.stripe.com/api/cards/object): billing address fields from
// the customer, and no account field.
func (g *gen) card(created int64, cust map[string]any) map[string]any {
	c := cards[g.r.IntN(len(cards))]
	addr, _ := cust["address"].(map[string]any)
	field := func(k string) any {
		if addr == nil {
			return nil
		}
		return addr[k]
	}
	var check any
	if addr != nil {
		check = "pass"
	}
	return map[string]any{
		"id": g.id("card"), "object": "card", "address_city": field("city"), "address_country": field("country"),
		"address_line1": field("line1"), "address_line1_check": check, "address_line2": field("line2"),
		"address_state": field("state"), "address_zip": field("postal_code"), "address_zip_check": check,
		"brand": cardBrands[c.brand], "country": c.country, "customer": cust["id"], "cvc_check": "pass",
		"dynamic_last4": nil, "exp_month": int64(1 + g.r.IntN(12)),
		"exp_year": int64(time.Unix(created, 0).Year() + 1 + g.r.IntN(5)), "fingerprint": g.str(16),
		"funding": c.funding, "last4": c.last4, "metadata": g.metadata(), "name": cust["name"],
		"tokenization_method": nil,
	}
}

// bankAccount returns a customer's US bank account (ACH through the legacy
// Sources API): https://docs.stripe.com/api/customer_bank_accounts/object.
func (g *gen) bankAccount(cust map[string]any) map[string]any {
	status := "verified"
	if g.chance(0.2) {
		status = "new"
	}
	return map[string]any{
		"id": g.id("bank_account"), "object": "bank_account", "account_holder_name": cust["name"],
		"account_holder_type": "individual", "account_type": nil, "bank_name": "STRIPE TEST BANK", "country": "US",
		"currency": "usd", "customer": cust["id"], "fingerprint": g.str(16), "last4": "6789",
		"metadata": g.metadata(), "routing_number": "110000000", "status": status,
	}
}

// source returns a reusable card source (src_…), the pre-PaymentMethods way
// to save a card: https://docs.stripe.com/api/sources/object.
func (g *gen) source(created int64, cust map[string]any) map[string]any {
	c := g.card(created, cust)
	id := g.id("source")
	card := map[string]any{"three_d_secure": "optional"}
	for _, k := range []string{"address_line1_check", "address_zip_check", "brand", "country", "cvc_check",
		"dynamic_last4", "exp_month", "exp_year", "fingerprint", "funding", "last4", "name", "tokenization_method"} {
		card[k] = c[k]
	}
	return map[string]any{
		"id": id, "object": "source", "amount": nil, "card": card, "client_secret": id + "_secret_" + g.str(24),
		"created": created, "currency": nil, "customer": cust["id"], "flow": "none", "livemode": false,
		"metadata": map[string]any{},
		"owner": map[string]any{"address": deepCopy(cust["address"]), "email": cust["email"], "name": cust["name"],
			"phone": cust["phone"], "verified_address": nil, "verified_email": nil, "verified_name": nil, "verified_phone": nil},
		"statement_descriptor": nil, "status": "chargeable", "type": "card", "usage": "reusable",
	}
}

// externalBank returns a connected account's payout bank account:
// https://docs.stripe.com/api/external_account_bank_accounts/object.
func (g *gen) externalBank(acct map[string]any, currency string, isDefault bool) map[string]any {
	country, routing, last4 := "US", any("110000000"), "6789"
	switch currency {
	case "eur":
		country, routing, last4 = "DE", nil, "3000" // an IBAN has no routing number
	case "gbp":
		country, routing, last4 = "GB", "108800", "2345"
	}
	reqs := func() map[string]any {
		return map[string]any{"currently_due": []any{}, "errors": []any{}, "past_due": []any{}, "pending_verification": []any{}}
	}
	return map[string]any{
		"id": g.id("bank_account"), "object": "bank_account", "account": acct["id"],
		"account_holder_name": acct["business_profile"].(map[string]any)["name"], "account_holder_type": "company",
		"account_type": nil, "available_payout_methods": []any{"standard"}, "bank_name": "STRIPE TEST BANK",
		"country": country, "currency": currency, "default_for_currency": isDefault, "fingerprint": g.str(16),
		"future_requirements": reqs(), "last4": last4, "metadata": map[string]any{}, "requirements": reqs(),
		"routing_number": routing, "status": "new",
	}
}

// externalCard returns a debit card a connected account takes instant
// payouts to: a card object with account, currency and
// default_for_currency, and no customer. Only Visa and Mastercard debit
// cards take payouts; the last4 are those of Stripe's payout test cards.
func (g *gen) externalCard(created int64, acct map[string]any, currency string) map[string]any {
	c := g.card(created, map[string]any{})
	delete(c, "customer")
	c["brand"], c["last4"] = "Visa", "5556"
	if g.chance(0.5) {
		c["brand"], c["last4"] = "MasterCard", "8210"
	}
	c["account"], c["country"], c["currency"], c["default_for_currency"] = acct["id"], acct["country"], currency, false
	c["available_payout_methods"], c["funding"], c["metadata"] = []any{"standard", "instant"}, "debit", map[string]any{}
	return c
}

// sidecar returns a seeder on sd's account drawing from r, so that objects
// added after the original seed leave every object seeded before them, and
// their ids, as they were.
func (sd *seeder) sidecar(r *rand.Rand) *seeder {
	return &seeder{gen: gen{r: r, a: sd.a, now: sd.now, start: sd.start}, currency: sd.currency}
}

// customerSources gives the first customer a card, a bank account and a
// source (so that every member of the list and its object filter shows up),
// and about one in four of the others 1–3 sources, mostly cards. The oldest
// source is the customer's default_source, as the first attached one is.
func (sd *seeder) customerSources(customers []*record) {
	for i, cust := range customers {
		kinds := []string{"card", "bank_account", "source"}
		if i > 0 {
			if !sd.chance(0.25) {
				continue
			}
			kinds = kinds[:0:0]
			for range 1 + sd.r.IntN(3) {
				switch x := sd.r.Float64(); {
				case x < 0.75:
					kinds = append(kinds, "card")
				case x < 0.93:
					kinds = append(kinds, "bank_account")
				default:
					kinds = append(kinds, "source")
				}
			}
		}
		t := cust.created
		for k, kind := range kinds {
			t = sd.later(t, 60*day)
			var data map[string]any
			switch kind {
			case "card":
				data = sd.card(t, cust.data)
			case "bank_account":
				data = sd.bankAccount(cust.data)
			default:
				data = sd.source(t, cust.data)
			}
			r := sd.put(kind, cust.id, t, data)
			if k == 0 {
				cust.data["default_source"] = r.id
			}
		}
	}
}

// externalAccounts gives the connected account n external accounts, bank
// accounts and now and then a debit card. The oldest is a bank account and
// the default for the account's currency.
func (sd *seeder) externalAccounts(n int) {
	acct := sd.a.self.data
	t := sd.start
	for k := range n {
		t = sd.later(t, 30*day)
		data := sd.externalBank(acct, sd.currency, k == 0)
		if k > 0 && sd.chance(0.25) {
			data = sd.externalCard(t, acct, sd.currency)
		}
		sd.put(data["object"].(string), sd.a.id, t, data)
	}
}

// seedPaymentSources adds customer sources and external accounts to a
// seed, from a random stream of their own (see sidecar), and returns the
// seeders whose creation events are still to record.
func seedPaymentSources(seed uint64, connected []*seeder, platform *seeder) []*seeder {
	r := rand.New(rand.NewPCG(seed, 0x50c5))
	var out []*seeder
	for i, c := range connected {
		x := c.sidecar(r)
		n := 1 + r.IntN(3)
		if i == 0 {
			n = 12 // past the 10 that account.external_accounts embeds
		}
		x.externalAccounts(n)
		out = append(out, x)
	}
	for _, sd := range append(connected, platform) {
		x := sd.sidecar(r)
		x.customerSources(sd.customers)
		out = append(out, x)
	}
	return out
}

// describeKinds is for error messages: "card, bank_account, or source".
func describeKinds(kinds []string) string {
	if len(kinds) < 2 {
		return strings.Join(kinds, "")
	}
	return fmt.Sprintf("%s, or %s", strings.Join(kinds[:len(kinds)-1], ", "), kinds[len(kinds)-1])
}
