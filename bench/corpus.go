package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
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
	body       []byte
}

// corpus makes n distinct events from stripe-mock's fixtures. Objects repeat
// (one in five events updates an object already sent), as in a live account.
func corpus(n int, seed uint64) ([]webhookEvent, error) {
	var f struct {
		Resources map[string]map[string]any `json:"resources"`
	}
	if err := json.Unmarshal(embedded.OpenAPIFixtures, &f); err != nil {
		return nil, fmt.Errorf("decode fixtures: %w", err)
	}
	total := 0
	for _, m := range mix {
		total += m.weight
	}
	rng := rand.New(rand.NewPCG(seed, seed))
	base := time.Now().Add(-time.Hour).Unix()
	out := make([]webhookEvent, 0, n)
	for i := range n {
		pick := rng.IntN(total)
		m := mix[0]
		for _, c := range mix {
			if pick < c.weight {
				m = c
				break
			}
			pick -= c.weight
		}
		obj := f.Resources[m.object]
		obj["id"] = fmt.Sprintf("%s_bench%d", prefix(m.object), objectNumber(rng, i))
		obj["created"] = base + int64(i)
		ev := map[string]any{
			"id":               fmt.Sprintf("evt_bench%d_%d", seed, i),
			"object":           "event",
			"api_version":      "2023-10-16",
			"created":          base + int64(i),
			"data":             map[string]any{"object": obj},
			"livemode":         false,
			"pending_webhooks": 1,
			"request":          map[string]any{"id": fmt.Sprintf("req_%d", i), "idempotency_key": nil},
			"type":             m.eventType,
		}
		body, err := json.Marshal(ev)
		if err != nil {
			return nil, err
		}
		out = append(out, webhookEvent{id: ev["id"].(string), object: m.object, body: body})
	}
	return out, nil
}

// objectNumber makes one event in five an update of an earlier object.
func objectNumber(rng *rand.Rand, i int) int {
	if i > 10 && rng.IntN(5) == 0 {
		return rng.IntN(i)
	}
	return i
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
