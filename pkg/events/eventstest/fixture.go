package eventstest

import (
	"encoding/json"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"
	"github.com/stripe/stripe-mock/embedded"
)

var fixtures = sync.OnceValues(func() (map[string]json.RawMessage, error) {
	var f struct {
		Resources map[string]json.RawMessage `json:"resources"`
	}
	if err := json.Unmarshal(embedded.OpenAPIFixtures, &f); err != nil {
		return nil, fmt.Errorf("decode stripe-mock fixtures: %w", err)
	}
	return f.Resources, nil
})

// Object returns a fresh copy of stripe-mock's fixture for the Stripe object
// named object ("customer", "checkout.session", …): the shape Stripe's
// OpenAPI specification gives it, with every field present.
func Object(t testing.TB, object string) map[string]any {
	t.Helper()
	all, err := fixtures()
	if err != nil {
		t.Fatal(err)
	}
	raw, ok := all[object]
	if !ok {
		t.Fatalf("stripe-mock has no fixture for object %q", object)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("decode fixture %q: %v", object, err)
	}
	return m
}

// Event is a Stripe event under construction.
type Event struct {
	ID         string
	Type       string
	Created    time.Time
	Account    string
	Livemode   bool
	APIVersion string
	Object     map[string]any
}

// NewEvent wraps object in an event of type eventType, created now.
func NewEvent(id, eventType string, object map[string]any) Event {
	return Event{
		ID:         id,
		Type:       eventType,
		Created:    time.Now(),
		APIVersion: "2023-10-16",
		Object:     object,
	}
}

// JSON renders the event as Stripe does
// (https://docs.stripe.com/api/events/object).
func (e Event) JSON(t testing.TB) []byte {
	t.Helper()
	ev := map[string]any{
		"id":               e.ID,
		"object":           "event",
		"api_version":      e.APIVersion,
		"created":          e.Created.Unix(),
		"data":             map[string]any{"object": e.Object},
		"livemode":         e.Livemode,
		"pending_webhooks": 1,
		"request":          map[string]any{"id": "req_" + e.ID, "idempotency_key": nil},
		"type":             e.Type,
	}
	if e.Account != "" {
		ev["account"] = e.Account
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatalf("encode event: %v", err)
	}
	return b
}

// With returns a copy of object with the given fields replaced.
func With(object map[string]any, fields map[string]any) map[string]any {
	c := maps.Clone(object)
	maps.Copy(c, fields)
	return c
}

// Sign returns the Stripe-Signature header Stripe would send with payload,
// signed with secret at time at.
func Sign(payload []byte, secret string, at time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{
		Payload:   payload,
		Secret:    secret,
		Timestamp: at,
	}).Header
}
