package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"
	"github.com/stripe/stripe-mock/embedded"
)

// mix is the share of each object among the generated events, roughly what a
// subscription business sends: many invoices, charges and payment intents.
var mix = []struct {
	object, eventType string
	weight            int
}{
	{"customer", "customer.updated", 15},
	{"subscription", "customer.subscription.updated", 10},
	{"invoice", "invoice.paid", 20},
	{"charge", "charge.succeeded", 15},
	{"payment_intent", "payment_intent.succeeded", 15},
	{"price", "price.updated", 5},
	{"checkout.session", "checkout.session.completed", 10},
	{"balance", "balance.available", 5}, // not mirrored in a table: events only
	{"refund", "charge.refund.updated", 5},
}

type webhookEvent struct {
	id, object string
	thin       bool
	body       []byte
}

// corpus makes n distinct snapshot events from stripe-mock's fixtures,
// created in the hour before now. Objects repeat (one in five events updates
// an object already sent), as in a live account.
func corpus(n int, seed uint64) ([]webhookEvent, error) {
	g, err := newGenerator(seed, time.Now().Add(-time.Hour), thinEvents{})
	if err != nil {
		return nil, err
	}
	out := make([]webhookEvent, n)
	for i := range out {
		out[i] = g.event(i)
	}
	return out, nil
}

// thinEvents says which share of a generator's events are thin
// (v1.customer.updated about one of customers, objects the fake Stripe API
// holds, so that the processor can fetch them).
type thinEvents struct {
	share     float64
	customers []string
}

// generator makes event i of a corpus on demand, the same event for the same
// seed and i, from any goroutine: a long steady run cannot hold its events in
// memory, nor sign them in advance (a signature is valid for five minutes).
type generator struct {
	seed uint64
	// base is the created time of event 0; event i is created i seconds
	// later, so that no two events of an object tie.
	base int64
	thin thinEvents
	// objects holds each mix entry's fixture as JSON, without its id and
	// created, which each event sets.
	objects [][]byte
	// weights is each mix entry's weight in this corpus, total their sum.
	weights []int
	total   int
}

func newGenerator(seed uint64, base time.Time, thin thinEvents) (*generator, error) {
	var f struct {
		Resources map[string]map[string]any `json:"resources"`
	}
	if err := json.Unmarshal(embedded.OpenAPIFixtures, &f); err != nil {
		return nil, fmt.Errorf("decode fixtures: %w", err)
	}
	if thin.share > 0 && len(thin.customers) == 0 {
		return nil, fmt.Errorf("thin events need customers to be about")
	}
	g := &generator{seed: seed, base: base.Unix(), thin: thin}
	for _, m := range mix {
		obj, ok := f.Resources[m.object]
		if !ok {
			return nil, fmt.Errorf("no fixture for %s", m.object)
		}
		delete(obj, "id")
		delete(obj, "created")
		b, err := json.Marshal(obj)
		if err != nil {
			return nil, err
		}
		g.objects = append(g.objects, b)
		g.weights = append(g.weights, m.weight)
		g.total += m.weight
	}
	return g, nil
}

// only keeps the snapshot events of the given types (of the mix) and drops
// the others; no types keeps them all.
func (g *generator) only(types []string) error {
	if len(types) == 0 {
		return nil
	}
	g.total = 0
	for k, m := range mix {
		g.weights[k] = 0
		if slices.Contains(types, m.eventType) {
			g.weights[k] = m.weight
			g.total += m.weight
		}
	}
	if g.total == 0 {
		return fmt.Errorf("none of %v is an event type of the mix", types)
	}
	return nil
}

// eventID is event i's id; eventIndex reads i back from an id, or says the
// id is not one of the generator's.
func (g *generator) eventID(i int) string { return fmt.Sprintf("evt_bench%d_%d", g.seed, i) }

func (g *generator) eventIndex(id string) (int, bool) {
	rest, ok := strings.CutPrefix(id, fmt.Sprintf("evt_bench%d_", g.seed))
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(rest)
	return i, err == nil && i >= 0
}

// thinEvent is a thin event as an event destination sends it
// (https://docs.stripe.com/api/v2/core/events/object).
type thinEvent struct {
	ID            string `json:"id"`
	Object        string `json:"object"`
	Type          string `json:"type"`
	Created       string `json:"created"`
	Livemode      bool   `json:"livemode"`
	RelatedObject struct {
		ID   string `json:"id"`
		Type string `json:"type"`
		URL  string `json:"url"`
	} `json:"related_object"`
}

// event makes event i.
func (g *generator) event(i int) webhookEvent {
	rng := rand.New(rand.NewPCG(g.seed, uint64(i)))
	id := g.eventID(i)
	created := g.base + int64(i)
	if g.thin.share > 0 && rng.Float64() < g.thin.share {
		cus := g.thin.customers[rng.IntN(len(g.thin.customers))]
		ev := thinEvent{ID: id, Object: "v2.core.event", Type: "v1.customer.updated",
			Created: time.Unix(created, 0).UTC().Format("2006-01-02T15:04:05.000Z")}
		ev.RelatedObject.ID, ev.RelatedObject.Type, ev.RelatedObject.URL = cus, "customer", "/v1/customers/"+cus
		body, err := json.Marshal(ev)
		if err != nil {
			panic(err) // a fixed struct of strings always encodes
		}
		return webhookEvent{id: id, object: "customer", thin: true, body: body}
	}
	k, number := g.object(i)
	m := mix[k]
	objectID := fmt.Sprintf("%s_bench%d", prefix(m.object), number)
	// A snapshot event as Stripe sends it
	// (https://docs.stripe.com/api/events/object), written out rather than
	// marshalled: at 5,000 events/s the sender shares the CPU with what it
	// measures. Every string in it is plain ASCII, which %q quotes as JSON
	// does.
	body := make([]byte, 0, len(g.objects[k])+320)
	body = fmt.Appendf(body, `{"id":%q,"object":"event","api_version":"2023-10-16","created":%d,"data":{"object":{"id":%q,"created":%d,`,
		id, created, objectID, created)
	body = append(body, g.objects[k][1:]...)
	body = fmt.Appendf(body, `},"livemode":false,"pending_webhooks":1,"request":{"id":"req_%d","idempotency_key":null},"type":%q}`, i, m.eventType)
	return webhookEvent{id: id, object: m.object, body: body}
}

// object picks the object of event i: its mix entry and its number. One
// event in five (after the first ten) updates the object of an earlier event.
func (g *generator) object(i int) (k, number int) {
	// A stream of its own, apart from the thin-or-snapshot draw, so that an
	// event's object is the same whichever kind it is.
	rng := rand.New(rand.NewPCG(g.seed^0x6f626a656374, uint64(i)))
	if i > 10 && rng.IntN(5) == 0 {
		return g.object(rng.IntN(i))
	}
	pick := rng.IntN(g.total)
	for pick >= g.weights[k] {
		pick -= g.weights[k]
		k++
	}
	return k, i
}

func prefix(object string) string {
	switch object {
	case "customer":
		return "cus"
	case "subscription":
		return "sub"
	case "invoice":
		return "in"
	case "charge":
		return "ch"
	case "payment_intent":
		return "pi"
	case "price":
		return "price"
	case "checkout.session":
		return "cs"
	case "refund":
		return "re"
	}
	return "obj"
}

func sign(body []byte, secret string) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret}).Header
}
