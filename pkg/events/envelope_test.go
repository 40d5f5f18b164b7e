package events_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/pkg/catalog"
	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/events/eventstest"
)

func TestParseEnvelope(t *testing.T) {
	t.Parallel()
	good := eventstest.NewEvent("evt_1", "customer.subscription.updated", eventstest.Object(t, "subscription"))
	good.Account = "acct_1"
	env, err := events.ParseEnvelope(good.JSON(t))
	require.NoError(t, err)
	require.Equal(t, "evt_1", env.ID)
	require.Equal(t, "customer.subscription.updated", env.Type)
	require.Equal(t, "acct_1", env.Account)
	require.Equal(t, good.Created.Unix(), env.Created.Unix())
	require.Equal(t, "2023-10-16", env.APIVersion)
	ref, err := catalog.ParseRef(env.Object)
	require.NoError(t, err)
	require.Equal(t, "subscription", ref.Object)

	bad := map[string]string{
		"NotJSON":          `{"id":`,
		"NotAnObject":      `[1,2]`,
		"NotAnEvent":       `{"id":"cus_1","object":"customer","type":"x","created":1,"data":{"object":{}}}`,
		"NoID":             `{"object":"event","type":"x","created":1,"data":{"object":{}}}`,
		"NoCreated":        `{"id":"evt_1","object":"event","type":"x","data":{"object":{}}}`,
		"NoType":           `{"id":"evt_1","object":"event","created":1,"data":{"object":{}}}`,
		"WildcardType":     `{"id":"evt_1","object":"event","type":"customer.*","created":1,"data":{"object":{}}}`,
		"EmptyWordInType":  `{"id":"evt_1","object":"event","type":"customer..created","created":1,"data":{"object":{}}}`,
		"UpperCaseType":    `{"id":"evt_1","object":"event","type":"Customer.created","created":1,"data":{"object":{}}}`,
		"DataObjectString": `{"id":"evt_1","object":"event","type":"x","created":1,"data":{"object":"cus_1"}}`,
		"NoDataObject":     `{"id":"evt_1","object":"event","type":"x","created":1,"data":{}}`,
		"TrailingGarbage":  `{"id":"evt_1","object":"event","type":"x","created":1,"data":{"object":{}}} x`,
		// PostgreSQL's text cannot hold U+0000: refused, not accepted and lost.
		"NULInID":         `{"id":"evt_\u0000","object":"event","type":"x","created":1,"data":{"object":{}}}`,
		"NULInAccount":    `{"id":"evt_1","object":"event","type":"x","created":1,"account":"acct_\u0000","data":{"object":{}}}`,
		"NULInAPIVersion": `{"id":"evt_1","object":"event","type":"x","created":1,"api_version":"\u0000","data":{"object":{}}}`,
		"NULInRelated":    `{"id":"evt_1","object":"v2.core.event","type":"x","created":"2026-10-01T12:00:00Z","related_object":{"id":"cus_\u0000","type":"customer"}}`,
	}
	for name, body := range bad {
		_, err := events.ParseEnvelope([]byte(body))
		require.ErrorIs(t, err, events.ErrNotEvent, name)
	}
}

func TestParseEnvelopeThin(t *testing.T) {
	t.Parallel()

	t.Run("V1ResourceOfAConnectedAccount", func(t *testing.T) {
		t.Parallel()
		ev := eventstest.NewThinEvent("evt_thin_1", "v1.customer.updated", "customer", "cus_123")
		ev.Created = time.Date(2026, 10, 1, 12, 0, 0, 123e6, time.UTC)
		ev.Context = "acct_123"
		ev.SnapshotEvent = "evt_1Snapshot"
		ev.Changes = map[string]any{"email": map[string]any{"previous": "a@example.com", "current": "b@example.com"}}
		env, err := events.ParseEnvelope(ev.JSON(t))
		require.NoError(t, err)
		require.Equal(t, events.Envelope{
			ID:      "evt_thin_1",
			Type:    "v1.customer.updated",
			Created: time.Date(2026, 10, 1, 12, 0, 0, 123e6, time.UTC),
			Account: "acct_123",
			Thin: &events.Thin{
				RelatedObject: &events.RelatedObject{ID: "cus_123", Type: "customer", URL: "/v1/customers/cus_123"},
				SnapshotEvent: "evt_1Snapshot",
				Context:       "acct_123",
			},
		}, env)
		require.Equal(t, "stripe.event.v1.customer.updated", events.EventSubject(env.Type))
	})

	t.Run("AsStripeDocumentsIt", func(t *testing.T) {
		t.Parallel()
		// The shape of https://docs.stripe.com/api/v2/core/events/object,
		// with fields the envelope does not read and a created time in
		// another zone.
		body := `{
  "id": "evt_test_65R9Ijk8bKCuJp8",
  "object": "v2.core.event",
  "changes": {"status": {"previous": "active", "current": "past_due"}},
  "context": null,
  "created": "2026-10-01T14:00:00.5+02:00",
  "livemode": true,
  "reason": {"type": "request", "request": {"id": "req_v24", "idempotency_key": "6b3c"}},
  "related_object": {"id": "sub_1", "type": "subscription", "url": "/v1/subscriptions/sub_1"},
  "snapshot_event": "evt_1QZ",
  "type": "v1.customer.subscription.updated"
}`
		env, err := events.ParseEnvelope([]byte(body))
		require.NoError(t, err)
		require.True(t, env.Livemode)
		require.Empty(t, env.Account, "null context is the platform")
		require.Equal(t, time.Date(2026, 10, 1, 12, 0, 0, 5e8, time.UTC), env.Created)
		require.Empty(t, env.APIVersion)
		require.Nil(t, env.Object)
		require.Equal(t, "sub_1", env.Thin.RelatedObject.ID)
	})

	t.Run("WithoutRelatedObject", func(t *testing.T) {
		t.Parallel()
		body := eventstest.NewThinEvent("evt_thin_2", "v2.core.account.updated", "", "").JSON(t)
		env, err := events.ParseEnvelope(body)
		require.NoError(t, err)
		require.Equal(t, "v2.core.account.updated", env.Type)
		require.NotNil(t, env.Thin)
		require.Nil(t, env.Thin.RelatedObject)
		require.Empty(t, env.Account)
	})

	t.Run("V2ObjectAndHealthAlert", func(t *testing.T) {
		t.Parallel()
		acct := eventstest.NewThinEvent("evt_thin_3", "v2.core.account.updated", "v2.core.account", "acct_1")
		env, err := events.ParseEnvelope(acct.JSON(t))
		require.NoError(t, err)
		require.Equal(t, events.RelatedObject{ID: "acct_1", Type: "v2.core.account", URL: "/v2/core/accounts/acct_1"}, *env.Thin.RelatedObject)

		// The alert names the object whose event Stripe failed to generate.
		alert := eventstest.NewThinEvent("evt_thin_4", "v2.core.health.event_generation_failure.resolved", "invoice", "in_1")
		env, err = events.ParseEnvelope(alert.JSON(t))
		require.NoError(t, err)
		require.Equal(t, "stripe.event.v2.core.health.event_generation_failure.resolved", events.EventSubject(env.Type))
		require.Equal(t, "/v1/invoices/in_1", env.Thin.RelatedObject.URL)
	})

	const ok = `"id":"evt_1","object":"v2.core.event","type":"v1.customer.updated"`
	bad := map[string]string{
		"NoID":                `{"object":"v2.core.event","type":"v1.customer.updated","created":"2026-10-01T12:00:00.123Z"}`,
		"NoType":              `{"id":"evt_1","object":"v2.core.event","created":"2026-10-01T12:00:00.123Z"}`,
		"NoCreated":           `{` + ok + `}`,
		"NullCreated":         `{` + ok + `,"created":null}`,
		"CreatedUnixNumber":   `{` + ok + `,"created":1759320000}`,
		"CreatedUnixString":   `{` + ok + `,"created":"1759320000"}`,
		"CreatedNoZone":       `{` + ok + `,"created":"2026-10-01T12:00:00.123"}`,
		"CreatedDateOnly":     `{` + ok + `,"created":"2026-10-01"}`,
		"WildcardType":        `{"id":"evt_1","object":"v2.core.event","type":"v1.customer.*","created":"2026-10-01T12:00:00Z"}`,
		"RelatedNotAnObject":  `{` + ok + `,"created":"2026-10-01T12:00:00Z","related_object":"cus_1"}`,
		"RelatedNoID":         `{` + ok + `,"created":"2026-10-01T12:00:00Z","related_object":{"type":"customer","url":"/v1/customers/"}}`,
		"RelatedNoType":       `{` + ok + `,"created":"2026-10-01T12:00:00Z","related_object":{"id":"cus_1"}}`,
		"ContextNotAString":   `{` + ok + `,"created":"2026-10-01T12:00:00Z","context":{"account":"acct_1"}}`,
		"OtherV2Object":       `{"id":"evt_1","object":"v2.core.event_destination","type":"x","created":"2026-10-01T12:00:00Z"}`,
		"SnapshotWithRFC3339": `{"id":"evt_1","object":"event","type":"customer.updated","created":"2026-10-01T12:00:00Z","data":{"object":{}}}`,
	}
	for name, body := range bad {
		_, err := events.ParseEnvelope([]byte(body))
		require.ErrorIs(t, err, events.ErrNotEvent, name)
	}
}

// FuzzParseEnvelope holds the parser to its promise on any input: whatever
// it accepts is usable by every service. Its corpus in
// testdata/fuzz/FuzzParseEnvelope has snapshot and thin events, valid and
// nearly valid.
func FuzzParseEnvelope(f *testing.F) {
	f.Add([]byte(`{"id":"evt_1","object":"event","type":"a.b","created":1,"data":{"object":{"id":"x"}}}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"id":"evt_1","object":"event","type":"a..b","created":-1,"data":{"object":[]}}`))
	f.Add([]byte(`{"id":"evt_1","object":"v2.core.event","type":"v1.customer.updated","created":"2026-10-01T12:00:00.123Z","context":"acct_1","related_object":{"id":"cus_1","type":"customer","url":"/v1/customers/cus_1"},"snapshot_event":"evt_0"}`))
	f.Add([]byte(`{"id":"evt_1","object":"v2.core.event","type":"v2.core.account.updated","created":"2026-10-01T12:00:00Z"}`))
	f.Add([]byte(`{"id":"evt_1","object":"v2.core.event","type":"v1.x","created":1,"related_object":{}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		env, err := events.ParseEnvelope(body)
		if err != nil {
			require.ErrorIs(t, err, events.ErrNotEvent)
			return
		}
		// Whatever is accepted is usable: a subject token, and an object
		// for a snapshot event or a reference for a thin one.
		require.NotEmpty(t, env.ID)
		require.NotContains(t, events.EventSubject(env.Type), "*")
		require.NotContains(t, events.EventSubject(env.Type), ">")
		require.NotContains(t, env.Type, " ")
		require.Equal(t, time.UTC, env.Created.Location())
		if env.Thin == nil {
			require.Equal(t, byte('{'), env.Object[0])
			return
		}
		require.Nil(t, env.Object)
		require.Empty(t, env.APIVersion)
		require.Equal(t, env.Thin.Context, env.Account)
		if ro := env.Thin.RelatedObject; ro != nil {
			require.NotEmpty(t, ro.ID)
			require.NotEmpty(t, ro.Type)
		}
	})
}

// BenchmarkParseEnvelope decodes a snapshot invoice.paid (stripe-mock's
// invoice, 4 kB) and a thin v1.invoice.paid (300 bytes), the two bodies
// ingest reads per webhook.
func BenchmarkParseEnvelope(b *testing.B) {
	thin := eventstest.NewThinEvent("evt_1", "v1.invoice.paid", "invoice", "in_1")
	thin.Context, thin.SnapshotEvent = "acct_1", "evt_0"
	for _, bc := range []struct {
		name string
		body []byte
	}{
		{"Snapshot", eventstest.NewEvent("evt_1", "invoice.paid", eventstest.Object(b, "invoice")).JSON(b)},
		{"Thin", thin.JSON(b)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.body)))
			for b.Loop() {
				if _, err := events.ParseEnvelope(bc.body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
