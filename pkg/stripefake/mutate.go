package stripefake

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"
)

// Event is an event a mutation recorded, as it stands after its webhook
// delivery. The same event is listed by GET /v1/events.
type Event struct {
	ID       string
	Type     string
	Account  string // the connected account, or "" on the platform
	ObjectID string // data.object.id
	Created  time.Time
	// Delivered reports that the webhook POST was answered 2xx. It is false
	// when no WebhookURL is set, or DropWebhookFunc dropped the delivery.
	Delivered bool
	// Payload is the event's JSON as POSTed (or as it would have been)
	// without Options.ThinEvents.
	Payload []byte
	// ThinID is the id of the event's thin twin (ThinEventID(ID)), the
	// thin event of the same change that GET /v2/core/events lists.
	ThinID string
	// ThinPayload is the thin event's JSON, as POSTed (or as it would have
	// been) with Options.ThinEvents.
	ThinPayload []byte
}

// eventTypes are the event types Stripe sends when an object of each type is
// created, updated and deleted; "" where Stripe sends none. Objects missing
// from the table send <object>.created/.updated/.deleted.
var eventTypes = map[string][3]string{
	"subscription":              {"customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted"},
	"tax_id":                    {"customer.tax_id.created", "customer.tax_id.updated", "customer.tax_id.deleted"},
	"dispute":                   {"charge.dispute.created", "charge.dispute.updated", "charge.dispute.closed"},
	"charge":                    {"charge.succeeded", "charge.updated", ""},
	"refund":                    {"refund.created", "refund.updated", ""},
	"payment_method":            {"payment_method.attached", "payment_method.updated", "payment_method.detached"},
	"payment_intent":            {"payment_intent.created", "", ""},
	"setup_intent":              {"setup_intent.created", "", ""},
	"checkout.session":          {"checkout.session.completed", "", ""},
	"credit_note":               {"credit_note.created", "credit_note.updated", "credit_note.voided"},
	"subscription_schedule":     {"subscription_schedule.created", "subscription_schedule.updated", "subscription_schedule.canceled"},
	"promotion_code":            {"promotion_code.created", "promotion_code.updated", ""},
	"tax_rate":                  {"tax_rate.created", "tax_rate.updated", ""},
	"payout":                    {"payout.created", "payout.updated", ""},
	"transfer":                  {"transfer.created", "transfer.updated", ""},
	"application_fee":           {"application_fee.created", "", ""},
	"account":                   {"", "account.updated", ""},
	"review":                    {"review.opened", "", ""},
	"file":                      {"file.created", "", ""},
	"radar.early_fraud_warning": {"radar.early_fraud_warning.created", "radar.early_fraud_warning.updated", ""},
	"card":                      {"customer.source.created", "customer.source.updated", "customer.source.deleted"},
	"bank_account":              {"customer.source.created", "customer.source.updated", "customer.source.deleted"},
	"source":                    {"customer.source.created", "customer.source.updated", "customer.source.deleted"},
	"balance_transaction":       {"", "", ""},
	"subscription_item":         {"", "", ""}, // Stripe sends customer.subscription.updated instead
	"line_item":                 {"", "", ""},
	"credit_note_line_item":     {"", "", ""},
	"item":                      {"", "", ""},
}

func eventType(object string, verb int) string {
	if t, ok := eventTypes[object]; ok {
		return t[verb]
	}
	return object + "." + [3]string{"created", "updated", "deleted"}[verb]
}

const (
	verbCreated = iota
	verbUpdated
	verbDeleted
)

// parentFields name the field that ties a child object to the list it is
// listed in: a payment method under its customer, a refund under its charge.
var parentFields = map[string]string{
	"payment_method":    "customer",
	"tax_id":            "customer",
	"subscription_item": "subscription",
	"refund":            "charge",
	"card":              "customer", // external accounts: see AttachCard and Seed
	"bank_account":      "customer",
	"source":            "customer",
}

// Create stores a new object and records its creation event (customer.created,
// customer.subscription.created…). Customers, products, coupons and tax
// rates start from a realistic template, other types from id, object,
// created, livemode and metadata; fields are set over that. fields may
// carry the id, and an int64 created to backdate the object (the event is
// still stamped now). Creating an "account" on the platform adds a connected
// account that the Stripe-Account header can reach.
func (s *Server) Create(accountID, object string, fields map[string]any) (Event, error) {
	return s.commit(accountID, func(a *account, now int64) ([]*record, error) {
		g := newGen(rand.Uint64(), a, now)
		data := g.template(object, now)
		for k, v := range fields {
			data[k] = v
		}
		id, _ := data["id"].(string)
		if id == "" || a.get(object, id) != nil {
			return nil, invalid("id", "Object %s already exists or has no id.", id)
		}
		created := now
		if c, ok := data["created"].(int64); ok {
			created = c // a backdated object, e.g. to test created filters
		}
		r := &record{object: object, id: id, created: created, data: data}
		if f := parentFields[object]; f != "" {
			r.parent, _ = data[f].(string)
		}
		if object == "account" && !a.connected {
			s.accounts[id] = newAccount(id, true)
			s.accounts[id].self = r
		}
		a.insert(r)
		return a.event(rand.IntN, eventTypeOf(r, verbCreated), r, nil, now), nil
	})
}

// Update sets fields on an object as a POST to Stripe would: top-level
// fields are replaced, metadata keys are merged and an empty value removes
// a key. It records <type>.updated with previous_attributes.
func (s *Server) Update(accountID, object, id string, fields map[string]any) (Event, error) {
	return s.Mutate(accountID, object, id, func(obj map[string]any) {
		for k, v := range fields {
			if k != "metadata" {
				obj[k] = v
				continue
			}
			md, _ := obj["metadata"].(map[string]any)
			md = copyMap(md)
			for mk, mv := range asMap(v) {
				if mv == nil || mv == "" {
					delete(md, mk)
				} else {
					md[mk] = mv
				}
			}
			obj["metadata"] = md
		}
	})
}

// Mutate changes an object in place through fn and records the update event
// Stripe would send for it (customer.updated, customer.subscription.updated…)
// with previous_attributes. It records nothing when fn changes nothing, or
// when Stripe has no update event for the type (use MutateAs). fn must not
// change the id.
func (s *Server) Mutate(accountID, object, id string, fn func(obj map[string]any)) (Event, error) {
	return s.mutate(accountID, object, id, func(r *record) string { return eventTypeOf(r, verbUpdated) }, fn)
}

// MutateAs is Mutate recording an event of the given type, e.g.
// "invoice.paid" or "customer.subscription.deleted". previous_attributes is
// included for *.updated types only, as in Stripe. An empty type records none.
func (s *Server) MutateAs(accountID, object, id, typ string, fn func(obj map[string]any)) (Event, error) {
	return s.mutate(accountID, object, id, func(*record) string { return typ }, fn)
}

// mutate is MutateAs with the event type chosen from the record, since a
// card's depends on whether a customer or an account holds it.
func (s *Server) mutate(accountID, object, id string, typeOf func(*record) string, fn func(obj map[string]any)) (Event, error) {
	return s.commit(accountID, func(a *account, now int64) ([]*record, error) {
		r := a.get(object, id)
		if r == nil || r.deleted {
			return nil, missing(object, id, "id")
		}
		typ := typeOf(r)
		before, _ := a.render(r, nil)
		before = copyMap(before)
		fn(r.data)
		if r.data["id"] != id {
			r.data["id"] = id
			return nil, invalid("id", "The id of %s cannot change.", id)
		}
		after, _ := a.render(r, nil)
		prev := diff(before, after)
		if len(prev) == 0 || typ == "" {
			return nil, nil
		}
		if !strings.HasSuffix(typ, ".updated") {
			prev = nil
		}
		return a.event(rand.IntN, typ, r, prev, now), nil
	})
}

// Delete removes an object from every list and records <type>.deleted with
// the object as it was. A deleted customer still answers GET with
// {"deleted": true}; its subscriptions are canceled first, each with its own
// customer.subscription.deleted event, as Stripe does.
func (s *Server) Delete(accountID, object, id string) (Event, error) {
	return s.commit(accountID, func(a *account, now int64) ([]*record, error) {
		r := a.get(object, id)
		if r == nil || r.deleted {
			return nil, missing(object, id, "id")
		}
		var events []*record
		if object == "customer" {
			for _, sub := range a.list("subscription", "").all() {
				if sub.data["customer"] == id && sub.data["status"] != "canceled" {
					cancel(sub.data, now)
					events = append(events, a.event(rand.IntN, "customer.subscription.deleted", sub, nil, now)...)
				}
			}
		}
		events = append(events, a.event(rand.IntN, eventTypeOf(r, verbDeleted), r, nil, now)...)
		a.remove(r)
		if cust := a.get("customer", r.parent); group(r) == paymentSource && cust != nil && cust.data["default_source"] == id {
			// Stripe moves default_source to another source, or to null.
			var next any
			if rest := a.list(paymentSource, cust.id).all(); len(rest) > 0 {
				next = rest[0].id
			}
			cust.data["default_source"] = next
			events = append(events, a.event(rand.IntN, "customer.updated", cust, map[string]any{"default_source": id}, now)...)
		}
		return events, nil
	})
}

// CreateCustomer creates a customer with realistic defaults; see Create.
func (s *Server) CreateCustomer(accountID string, fields map[string]any) (Event, error) {
	return s.Create(accountID, "customer", fields)
}

// UpdateCustomer records customer.updated; see Update.
func (s *Server) UpdateCustomer(accountID, id string, fields map[string]any) (Event, error) {
	return s.Update(accountID, "customer", id, fields)
}

// DeleteCustomer records customer.deleted; see Delete.
func (s *Server) DeleteCustomer(accountID, id string) (Event, error) {
	return s.Delete(accountID, "customer", id)
}

// DeleteProduct records product.deleted; see Delete.
func (s *Server) DeleteProduct(accountID, id string) (Event, error) {
	return s.Delete(accountID, "product", id)
}

// CancelSubscription cancels a subscription now, as DELETE
// /v1/subscriptions/{id} does: status canceled, canceled_at and ended_at
// set, and customer.subscription.deleted recorded. The subscription stays
// listable with status=canceled or status=all.
func (s *Server) CancelSubscription(accountID, id string) (Event, error) {
	return s.MutateAs(accountID, "subscription", id, "customer.subscription.deleted", func(obj map[string]any) {
		cancel(obj, s.now().Unix())
	})
}

func cancel(sub map[string]any, now int64) {
	sub["status"] = "canceled"
	sub["canceled_at"] = now
	sub["ended_at"] = now
	sub["cancel_at_period_end"] = false
	sub["cancellation_details"] = map[string]any{"comment": nil, "feedback": nil, "reason": "cancellation_requested"}
}

// diff returns the previous values of what changed from before to after, the
// way Stripe fills previous_attributes: changed nested maps show only their
// changed keys, and keys that did not exist before are null.
func diff(before, after map[string]any) map[string]any {
	prev := map[string]any{}
	for k, b := range before {
		a, ok := after[k]
		switch {
		case !ok:
			prev[k] = b
		case reflect.DeepEqual(a, b):
		default:
			bm, bok := b.(map[string]any)
			am, aok := a.(map[string]any)
			if bok && aok && k != "items" && k != "lines" {
				prev[k] = diff(bm, am)
			} else {
				prev[k] = b
			}
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			prev[k] = nil
		}
	}
	return prev
}

func asMap(v any) map[string]any {
	switch m := v.(type) {
	case map[string]any:
		return m
	case map[string]string:
		out := make(map[string]any, len(m))
		for k, x := range m {
			out[k] = x
		}
		return out
	}
	return nil
}

// event records an event about r, with data.object a snapshot of r now,
// and its thin twin. It returns the snapshot event in a slice (none for an
// empty type) for commit.
func (a *account) event(intn func(int) int, typ string, r *record, prev map[string]any, created int64) []*record {
	if typ == "" {
		return nil
	}
	obj, _ := a.render(r, nil)
	data := map[string]any{"object": copyMap(obj)}
	if prev != nil {
		data["previous_attributes"] = prev
	}
	id := newID(intn, "event", a.token)
	ev := map[string]any{
		"id":               id,
		"object":           "event",
		"api_version":      LegacyAPIVersion, // the stored shape; rendered in another, see shaper.event
		"created":          created,
		"data":             data,
		"livemode":         false,
		"pending_webhooks": int64(0),
		"request":          map[string]any{"id": nil, "idempotency_key": nil},
		"type":             typ,
	}
	if a.connected {
		ev["account"] = a.id
	}
	rec := &record{object: "event", id: id, created: created, data: ev}
	a.insert(rec)
	a.insert(a.thinEvent(rec, r, typ, created))
	return []*record{rec}
}

// commit runs change under the lock, then delivers the events it recorded,
// in order, outside the lock, and returns the last one.
func (s *Server) commit(accountID string, change func(a *account, now int64) ([]*record, error)) (Event, error) {
	recs, events, err := s.apply(accountID, change)
	if err != nil {
		return Event{}, err
	}
	for i := range events {
		if !s.deliver(events[i]) {
			continue
		}
		events[i].Delivered = true
		s.mu.Lock()
		recs[i].data["pending_webhooks"] = int64(0)
		s.mu.Unlock()
	}
	if len(events) == 0 {
		return Event{}, nil
	}
	return events[len(events)-1], nil
}

func (s *Server) apply(accountID string, change func(a *account, now int64) ([]*record, error)) ([]*record, []Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.account(accountID)
	if a == nil {
		return nil, nil, missing("account", accountID, "account")
	}
	recs, err := change(a, s.now().Unix())
	if err != nil {
		return nil, nil, err
	}
	events := make([]Event, len(recs))
	for i, r := range recs {
		if s.opts.WebhookURL != "" && !s.opts.ThinEvents {
			r.data["pending_webhooks"] = int64(1) // in flight, as Stripe sends it
		}
		ev := Event{ID: r.id, Type: r.data["type"].(string), Created: time.Unix(r.created, 0)}
		if a.connected {
			ev.Account = a.id
		}
		ev.ObjectID, _ = r.data["data"].(map[string]any)["object"].(map[string]any)["id"].(string)
		if ev.Payload, err = marshal(s.webhookEvent(a, r)); err != nil {
			return nil, nil, fmt.Errorf("event %s: %w", r.id, err)
		}
		ev.ThinID = ThinEventID(r.id)
		if ev.ThinPayload, err = marshal(a.get(ThinEventObject, ev.ThinID).data); err != nil {
			return nil, nil, fmt.Errorf("event %s: %w", ev.ThinID, err)
		}
		events[i] = ev
	}
	return recs, events, nil
}

// deliver POSTs ev to the webhook URL, signed as Stripe signs (Stripe-Signature
// with t= and v1=, see https://docs.stripe.com/webhooks#verify-manually):
// the snapshot event, or with Options.ThinEvents its thin twin, which an
// event destination's signature covers the same way. Delivery is
// synchronous, so a test can assert right after a mutation.
func (s *Server) deliver(ev Event) bool {
	if s.opts.WebhookURL == "" {
		return false
	}
	if f := s.opts.DropWebhookFunc; f != nil && f(ev) {
		s.failed.Add(1)
		return false
	}
	if err := s.post(ev); err != nil {
		s.failed.Add(1)
		return false
	}
	s.delivered.Add(1)
	return true
}

func (s *Server) post(ev Event) error {
	payload := ev.Payload
	if s.opts.ThinEvents {
		payload = ev.ThinPayload
	}
	signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{
		Payload: payload, Secret: s.opts.WebhookSecret, Timestamp: time.Now(),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.opts.WebhookURL, bytes.NewReader(signed.Payload))
	if err != nil {
		return fmt.Errorf("webhook %s: %w", ev.ID, err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
	req.Header.Set("Stripe-Signature", signed.Header)
	resp, err := s.hc.Do(req)
	if err != nil {
		return fmt.Errorf("webhook %s: %w", ev.ID, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16)) // let the connection be reused
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook %s: status %d", ev.ID, resp.StatusCode)
	}
	return nil
}
