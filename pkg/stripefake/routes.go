package stripefake

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/stripesync/stripesync/pkg/catalog"
)

// listFilter is what a list endpoint takes beside paging, created and
// expand. It is the fake's own knowledge: the catalog says how the mirror
// lists a resource, not every parameter Stripe accepts.
type listFilter struct {
	eq []string // filters on the same-named field
	// filter builds a predicate from the params in params, for filters that
	// are more than equality.
	filter func(s *Server, a *account, q url.Values) (func(*record) bool, error)
	params []string
}

// listFilters are the filters of each list endpoint, by the object it lists;
// lists of other objects take none.
var listFilters = map[string]listFilter{
	"customer":       {eq: []string{"email", "test_clock"}},
	"product":        {eq: []string{"active", "shippable"}},
	"price":          {eq: []string{"active", "currency", "product", "type"}},
	"plan":           {eq: []string{"active", "product"}},
	"promotion_code": {eq: []string{"active", "code", "coupon", "customer"}},
	"subscription": {eq: []string{"customer", "collection_method", "test_clock"},
		filter: subscriptionFilter, params: []string{"status", "price"}},
	"subscription_schedule": {eq: []string{"customer"}},
	"invoice":               {eq: []string{"customer", "subscription", "status", "collection_method"}},
	"invoiceitem": {eq: []string{"customer", "invoice"},
		filter: invoiceItemFilter, params: []string{"pending"}},
	"credit_note":               {eq: []string{"customer", "invoice"}},
	"charge":                    {eq: []string{"customer", "payment_intent", "transfer_group"}},
	"refund":                    {eq: []string{"charge", "payment_intent"}},
	"dispute":                   {eq: []string{"charge", "payment_intent"}},
	"payment_intent":            {eq: []string{"customer"}},
	"payment_method":            {eq: []string{"type"}},
	"setup_intent":              {eq: []string{"customer", "payment_method"}},
	"checkout.session":          {eq: []string{"customer", "payment_intent", "subscription", "status"}},
	"tax_rate":                  {eq: []string{"active", "inclusive"}},
	"payout":                    {eq: []string{"status", "destination"}},
	"transfer":                  {eq: []string{"destination", "transfer_group"}},
	"balance_transaction":       {eq: []string{"type", "currency", "source"}},
	"application_fee":           {eq: []string{"charge"}},
	"radar.early_fraud_warning": {eq: []string{"charge", "payment_intent"}},
	"file":                      {eq: []string{"purpose"}},
	"event":                     {filter: eventFilter, params: []string{"type", "types[]", "delivery_success"}},
}

var boolParams = []string{"active", "shippable", "inclusive", "pending", "delivery_success"}

type handlerFunc func(a *account, r *http.Request) (any, error)

// routes serves the catalog's paths, each resource's retrieve, listing and
// nested lists, from the store of its object, and by hand the paths Stripe
// has beside them.
func (s *Server) routes() {
	for _, res := range catalog.All() {
		if res.Retrieve != "" {
			s.get(res.Retrieve, s.retrieve(res.Object, ""))
		}
		switch l := res.List; {
		case l == nil:
		case l.Per == "":
			s.get(l.Path, s.listTop(res.Object, l.Path, listFilters[res.Object]))
		default: // a customer's payment methods, tax ids, sources
			s.get(s.childList(l.Per, append([]string{res.Object}, l.Yields...), l.Path))
		}
		for _, n := range res.Nested { // an invoice's lines, a subscription's items
			s.get(s.childList(res.Object, n.Items, n.Path))
		}
	}

	// Events are not a resource of the catalog: the mirror keeps them whole.
	s.get("/v1/events", s.listTop("event", "/v1/events", listFilters["event"]))
	s.get("/v1/events/{id}", s.retrieve("event", ""))
	// Thin events, in the account that Stripe-Context names.
	s.get("/v2/core/events", s.listThinEvents)
	s.get("/v2/core/events/{id}", s.retrieveThinEvent)
	s.get("/v1/account", func(a *account, r *http.Request) (any, error) {
		if err := checkParams(query(r), []string{"expand[]"}); err != nil {
			return nil, err
		}
		return a.render(a.self, nil) // with its external accounts
	})
	// A charge's refunds, which the mirror lists account-wide.
	s.get("/v1/charges/{id}/refunds", s.listChildren("charge", "refund", "", nil))
	// Listing payment methods needs a customer unless it is a Treasury call,
	// and filters by type. https://docs.stripe.com/api/payment_methods/list
	s.get("/v1/payment_methods", s.listChildren("customer", "payment_method", "customer", listFilters["payment_method"].eq))
	// Objects retrieved under their parent, which they must belong to.
	s.get("/v1/customers/{id}/tax_ids/{child}", s.retrieve("tax_id", "customer"))
	s.get("/v1/customers/{id}/payment_methods/{child}", s.retrieve("payment_method", "customer"))
	// https://docs.stripe.com/api/cards/retrieve
	s.get("/v1/customers/{id}/sources/{child}", s.retrieve(paymentSource, "customer"))
	// https://docs.stripe.com/api/external_account_bank_accounts/retrieve
	s.get("/v1/accounts/{id}/external_accounts/{child}", s.retrieveExternalAccount)

	s.webhookRoutes() // POST /v1/webhook_endpoints, /v2/core/event_destinations
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &Error{Status: http.StatusNotFound, Type: "invalid_request_error",
			Message: fmt.Sprintf("Unrecognized request URL (%s: %s). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.", r.Method, r.URL.Path)})
	})
}

// get serves GET requests for pattern, a path with {id} and {child}
// wildcards as the catalog writes them.
func (s *Server) get(pattern string, h handlerFunc) {
	s.mux.HandleFunc("GET "+pattern, s.handle(h))
}

// childList returns the route and handler of a list of one parent's
// objects, at a catalog path naming the parent with {id} in the path or in
// a query parameter ("/v1/subscription_items?subscription={id}"). A list of
// several object types is one of the fake's mixed lists: a customer's
// sources (https://docs.stripe.com/api/cards/list), or a connected account's
// bank accounts and debit cards, which the platform reads too
// (https://docs.stripe.com/api/external_accounts). Both filter by object.
func (s *Server) childList(parent string, objects []string, path string) (string, handlerFunc) {
	pattern, param := parentRoute(path)
	c := collectionOf(objects)
	members, mixed := groupMembers[c]
	switch {
	case !mixed:
		return pattern, s.listChildren(parent, c, param, listFilters[c].eq)
	case c == externalAccount:
		return pattern, objectParam(s.listExternalAccounts, members)
	}
	return pattern, objectParam(s.listChildren(parent, c, param, []string{"object"}), members)
}

// parentRoute splits a catalog path into the route to serve and the query
// parameter that names the parent, "" when the path does.
func parentRoute(path string) (pattern, param string) {
	pattern, rawQuery, _ := strings.Cut(path, "?")
	if rawQuery == "" {
		return pattern, ""
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		panic(fmt.Sprintf("stripefake: catalog path %s: %v", path, err))
	}
	for k, vs := range q {
		if slices.Contains(vs, "{id}") {
			return pattern, k
		}
	}
	panic("stripefake: catalog path " + path + " names no parent")
}

// handle runs h under the lock and encodes its result, in the request's
// API version (see version.go), before unlocking, since rendered objects
// share maps with the stored ones.
func (s *Server) handle(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a, _ := r.Context().Value(accountKey{}).(*account)
		s.mu.Lock()
		v, err := h(a, r)
		var body []byte
		if err == nil {
			body, err = marshal(a.shaper(s.versionOf(r), s.opts.APIVersion).shape(v))
		}
		s.mu.Unlock()
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, body)
	}
}

// listTop lists every object of a type, at its own endpoint.
func (s *Server) listTop(object, url string, f listFilter) handlerFunc {
	return func(a *account, r *http.Request) (any, error) {
		lq, err := parseList(r, append(slices.Clone(f.eq), f.params...)...)
		if err != nil {
			return nil, err
		}
		pred, err := eqFilter(lq.q, f.eq)
		if err != nil {
			return nil, err
		}
		if f.filter != nil {
			extra, err := f.filter(s, a, lq.q)
			if err != nil {
				return nil, err
			}
			pred = and(pred, extra)
		}
		return a.page(a.list(object, ""), object, lq, pred, url)
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
