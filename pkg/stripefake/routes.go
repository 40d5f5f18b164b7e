package stripefake

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// resource is a top-level endpoint pair: GET /v1/{path} lists, GET
// /v1/{path}/{id} retrieves.
type resource struct {
	path   string
	object string
	eq     []string // filters on the same-named field
	// filter builds a predicate from the params in params, for filters that
	// are more than equality.
	filter func(s *Server, a *account, q url.Values) (func(*record) bool, error)
	params []string
}

var resources = []resource{
	{path: "customers", object: "customer", eq: []string{"email", "test_clock"}},
	{path: "products", object: "product", eq: []string{"active", "shippable"}},
	{path: "prices", object: "price", eq: []string{"active", "currency", "product", "type"}},
	{path: "plans", object: "plan", eq: []string{"active", "product"}},
	{path: "coupons", object: "coupon"},
	{path: "promotion_codes", object: "promotion_code", eq: []string{"active", "code", "coupon", "customer"}},
	{path: "subscriptions", object: "subscription", eq: []string{"customer", "collection_method", "test_clock"},
		filter: subscriptionFilter, params: []string{"status", "price"}},
	{path: "subscription_schedules", object: "subscription_schedule", eq: []string{"customer"}},
	{path: "invoices", object: "invoice", eq: []string{"customer", "subscription", "status", "collection_method"}},
	{path: "invoiceitems", object: "invoiceitem", eq: []string{"customer", "invoice"},
		filter: invoiceItemFilter, params: []string{"pending"}},
	{path: "credit_notes", object: "credit_note", eq: []string{"customer", "invoice"}},
	{path: "charges", object: "charge", eq: []string{"customer", "payment_intent", "transfer_group"}},
	{path: "refunds", object: "refund", eq: []string{"charge", "payment_intent"}},
	{path: "disputes", object: "dispute", eq: []string{"charge", "payment_intent"}},
	{path: "payment_intents", object: "payment_intent", eq: []string{"customer"}},
	{path: "setup_intents", object: "setup_intent", eq: []string{"customer", "payment_method"}},
	{path: "checkout/sessions", object: "checkout.session", eq: []string{"customer", "payment_intent", "subscription", "status"}},
	{path: "tax_rates", object: "tax_rate", eq: []string{"active", "inclusive"}},
	{path: "payouts", object: "payout", eq: []string{"status", "destination"}},
	{path: "transfers", object: "transfer", eq: []string{"destination", "transfer_group"}},
	{path: "balance_transactions", object: "balance_transaction", eq: []string{"type", "currency", "source"}},
	{path: "application_fees", object: "application_fee", eq: []string{"charge"}},
	{path: "accounts", object: "account"},
	{path: "radar/early_fraud_warnings", object: "radar.early_fraud_warning", eq: []string{"charge", "payment_intent"}},
	{path: "reviews", object: "review"},
	{path: "files", object: "file", eq: []string{"purpose"}},
	{path: "events", object: "event", filter: eventFilter, params: []string{"type", "types[]", "delivery_success"}},
}

var boolParams = []string{"active", "shippable", "inclusive", "pending", "delivery_success"}

type handlerFunc func(a *account, r *http.Request) (any, error)

func (s *Server) routes() {
	for _, res := range resources {
		s.mux.HandleFunc("GET /v1/"+res.path, s.handle(s.listTop(res)))
		s.mux.HandleFunc("GET /v1/"+res.path+"/{id}", s.handle(s.retrieve(res.object, "")))
	}
	s.mux.HandleFunc("GET /v1/account", s.handle(func(a *account, r *http.Request) (any, error) {
		if err := checkParams(query(r), []string{"expand[]"}); err != nil {
			return nil, err
		}
		return a.render(a.self, nil) // with its external accounts
	}))

	s.mux.HandleFunc("GET /v1/subscription_items", s.handle(s.listChildren("subscription", "subscription_item", "subscription", nil)))
	s.mux.HandleFunc("GET /v1/subscription_items/{id}", s.handle(s.retrieve("subscription_item", "")))
	s.mux.HandleFunc("GET /v1/invoices/{id}/lines", s.handle(s.listChildren("invoice", "line_item", "", nil)))
	s.mux.HandleFunc("GET /v1/credit_notes/{id}/lines", s.handle(s.listChildren("credit_note", "credit_note_line_item", "", nil)))
	s.mux.HandleFunc("GET /v1/checkout/sessions/{id}/line_items", s.handle(s.listChildren("checkout.session", "item", "", nil)))
	s.mux.HandleFunc("GET /v1/charges/{id}/refunds", s.handle(s.listChildren("charge", "refund", "", nil)))
	s.mux.HandleFunc("GET /v1/customers/{id}/tax_ids", s.handle(s.listChildren("customer", "tax_id", "", nil)))
	s.mux.HandleFunc("GET /v1/customers/{id}/tax_ids/{child}", s.handle(s.retrieve("tax_id", "customer")))
	// Listing payment methods needs a customer unless it is a Treasury call,
	// and filters by type. https://docs.stripe.com/api/payment_methods/list
	s.mux.HandleFunc("GET /v1/payment_methods", s.handle(s.listChildren("customer", "payment_method", "customer", []string{"type"})))
	s.mux.HandleFunc("GET /v1/customers/{id}/payment_methods", s.handle(s.listChildren("customer", "payment_method", "", []string{"type"})))
	s.mux.HandleFunc("GET /v1/customers/{id}/payment_methods/{child}", s.handle(s.retrieve("payment_method", "customer")))
	s.mux.HandleFunc("GET /v1/payment_methods/{id}", s.handle(s.retrieve("payment_method", "")))
	// Legacy cards, bank accounts and sources of a customer, in one list.
	// https://docs.stripe.com/api/cards/list
	s.mux.HandleFunc("GET /v1/customers/{id}/sources", s.handle(objectParam(
		s.listChildren("customer", paymentSource, "", []string{"object"}), groupMembers[paymentSource])))
	s.mux.HandleFunc("GET /v1/customers/{id}/sources/{child}", s.handle(s.retrieve(paymentSource, "customer")))
	// A connected account's bank accounts and debit cards, read by the
	// platform. https://docs.stripe.com/api/external_accounts
	s.mux.HandleFunc("GET /v1/accounts/{id}/external_accounts", s.handle(objectParam(
		s.listExternalAccounts, groupMembers[externalAccount])))
	s.mux.HandleFunc("GET /v1/accounts/{id}/external_accounts/{child}", s.handle(s.retrieveExternalAccount))

	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &Error{Status: http.StatusNotFound, Type: "invalid_request_error",
			Message: fmt.Sprintf("Unrecognized request URL (%s: %s). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.", r.Method, r.URL.Path)})
	})
}

// handle runs h under the lock and encodes its result before unlocking,
// since rendered objects share maps with the stored ones.
func (s *Server) handle(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a, _ := r.Context().Value(accountKey{}).(*account)
		s.mu.Lock()
		v, err := h(a, r)
		var body []byte
		if err == nil {
			body, err = marshal(v)
		}
		s.mu.Unlock()
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, body)
	}
}

func (s *Server) listTop(res resource) handlerFunc {
	url := "/v1/" + res.path
	return func(a *account, r *http.Request) (any, error) {
		lq, err := parseList(r, append(slices.Clone(res.eq), res.params...)...)
		if err != nil {
			return nil, err
		}
		pred, err := eqFilter(lq.q, res.eq)
		if err != nil {
			return nil, err
		}
		if res.filter != nil {
			extra, err := res.filter(s, a, lq.q)
			if err != nil {
				return nil, err
			}
			pred = and(pred, extra)
		}
		return a.page(a.list(res.object, ""), res.object, lq, pred, url)
	}
}

// listChildren lists the child objects of one parent, named by the {id}
// path value or, when param is set, by that required query parameter.
func (s *Server) listChildren(parentObject, child, param string, eq []string) handlerFunc {
	return func(a *account, r *http.Request) (any, error) {
		extra := slices.Clone(eq)
		if param != "" {
			extra = append(extra, param)
		}
		lq, err := parseList(r, extra...)
		if err != nil {
			return nil, err
		}
		parentID, url := r.PathValue("id"), r.URL.Path
		if param != "" {
			parentID = lq.q.Get(param)
			if parentID == "" {
				return nil, invalid(param, "Missing required param: %s.", param)
			}
		}
		if p := a.get(parentObject, parentID); p == nil || p.deleted {
			where := param
			if where == "" {
				where = "id"
			}
			return nil, missing(parentObject, parentID, where)
		}
		pred, err := eqFilter(lq.q, eq)
		if err != nil {
			return nil, err
		}
		return a.page(a.list(child, parentID), child, lq, pred, url)
	}
}

// retrieve answers GET /v1/{path}/{id}. With parentField set, the object must
// belong to the {id} in the path ({child} is its own id).
func (s *Server) retrieve(object, parentField string) handlerFunc {
	return func(a *account, r *http.Request) (any, error) {
		q := query(r)
		if err := checkParams(q, []string{"expand[]"}); err != nil {
			return nil, err
		}
		id := r.PathValue("id")
		if parentField != "" {
			id = r.PathValue("child")
		}
		rec := a.find(object, id)
		switch {
		case rec == nil,
			rec.deleted && object != "customer", // deleted customers stay readable, as {"deleted": true}
			parentField != "" && rec.data[parentField] != r.PathValue("id"),
			object == "event" && rec.created < s.now().Add(-EventRetention).Unix():
			return nil, missing(object, id, "id")
		}
		return a.render(rec, q["expand[]"])
	}
}

func eqFilter(q url.Values, fields []string) (func(*record) bool, error) {
	type cond struct{ field, v string }
	var conds []cond
	for _, f := range fields {
		v := q.Get(f)
		if v == "" {
			continue
		}
		if slices.Contains(boolParams, f) {
			if _, _, err := parseBool(q, f); err != nil {
				return nil, err
			}
		}
		conds = append(conds, cond{f, v})
	}
	if len(conds) == 0 {
		return nil, nil
	}
	return func(r *record) bool {
		for _, c := range conds {
			if !equal(r.data[c.field], c.v) {
				return false
			}
		}
		return true
	}, nil
}

func and(a, b func(*record) bool) func(*record) bool {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return func(r *record) bool { return a(r) && b(r) }
}

// subscriptionFilter hides canceled subscriptions unless status asks for
// them: "canceled", "ended" (canceled or incomplete_expired), or "all".
// https://docs.stripe.com/api/subscriptions/list#list_subscriptions-status
func subscriptionFilter(_ *Server, a *account, q url.Values) (func(*record) bool, error) {
	var pred func(*record) bool
	switch status := q.Get("status"); status {
	case "":
		pred = func(r *record) bool { return r.data["status"] != "canceled" }
	case "all":
	case "ended":
		pred = func(r *record) bool {
			return r.data["status"] == "canceled" || r.data["status"] == "incomplete_expired"
		}
	case "active", "past_due", "unpaid", "canceled", "incomplete", "incomplete_expired", "trialing", "paused":
		pred = func(r *record) bool { return r.data["status"] == status }
	default:
		return nil, invalid("status", "Invalid status: must be one of active, past_due, unpaid, canceled, incomplete, incomplete_expired, trialing, all, ended, or paused")
	}
	if price := q.Get("price"); price != "" {
		pred = and(pred, func(r *record) bool {
			for _, it := range a.list("subscription_item", r.id).all() {
				if p, _ := it.data["price"].(map[string]any); p != nil && p["id"] == price {
					return true
				}
			}
			return false
		})
	}
	return pred, nil
}

func invoiceItemFilter(_ *Server, _ *account, q url.Values) (func(*record) bool, error) {
	pending, set, err := parseBool(q, "pending")
	if err != nil || !set {
		return nil, err
	}
	return func(r *record) bool { return (r.data["invoice"] == nil) == pending }, nil
}

// eventFilter keeps the last 30 days of events and applies type (with *
// wildcards), types[] (up to 20 exact names) and delivery_success.
// https://docs.stripe.com/api/events/list
func eventFilter(s *Server, _ *account, q url.Values) (func(*record) bool, error) {
	horizon := s.now().Add(-EventRetention).Unix()
	pred := func(r *record) bool { return r.created >= horizon }
	typ, types := q.Get("type"), q["types[]"]
	switch {
	case typ != "" && len(types) > 0:
		return nil, invalid("types", "You may pass either type or types, but not both.")
	case len(types) > 20:
		return nil, invalid("types", "You may pass at most 20 types.")
	case typ != "":
		pred = and(pred, func(r *record) bool { return matchType(typ, r.data["type"].(string)) })
	case len(types) > 0:
		pred = and(pred, func(r *record) bool { return slices.Contains(types, r.data["type"].(string)) })
	}
	ok, set, err := parseBool(q, "delivery_success")
	if err != nil {
		return nil, err
	}
	if set {
		pred = and(pred, func(r *record) bool { return (r.data["pending_webhooks"] == int64(0)) == ok })
	}
	return pred, nil
}

// matchType matches an event type against a pattern where * stands for any
// run of characters: "invoice.*" matches "invoice.paid".
func matchType(pattern, typ string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == typ
	}
	if !strings.HasPrefix(typ, parts[0]) {
		return false
	}
	typ = typ[len(parts[0]):]
	for i, p := range parts[1:] {
		last := i == len(parts)-2
		switch {
		case last:
			return strings.HasSuffix(typ, p)
		default:
			j := strings.Index(typ, p)
			if j < 0 {
				return false
			}
			typ = typ[j+len(p):]
		}
	}
	return true
}
