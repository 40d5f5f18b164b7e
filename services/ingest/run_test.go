package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/events/eventstest"
	"github.com/stripesync/stripesync/pkg/stripefake"
	"github.com/stripesync/stripesync/services/ingest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	testSecret    = "whsec_current"
	rotatedSecret = "whsec_next"
)

type testBundle struct {
	nats *eventstest.Server
	url  string // ingest's base URL
	js   jetstream.JetStream
}

// setup starts a JetStream server and ingest (through run) against it, and
// waits until ingest is ready.
func setup(t *testing.T, extraEnv map[string]string) *testBundle {
	t.Helper()
	ns := eventstest.RunServer(t)
	addr := eventstest.FreeAddr(t)
	env := map[string]string{
		"NATS_URL":               ns.ClientURL(),
		"INGEST_ADDR":            addr,
		"STRIPE_WEBHOOK_SECRET":  testSecret + "," + rotatedSecret,
		"INGEST_PUBLISH_TIMEOUT": "2s",
		"LOG_LEVEL":              "debug",
	}
	for k, v := range extraEnv {
		env[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ingest.Run(ctx, nil, func(k string) string { return env[k] }, t.Output()) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})

	base := "http://" + addr
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond, "ingest never became ready")

	nc, err := nats.Connect(ns.ClientURL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	return &testBundle{nats: ns, url: base, js: js}
}

func post(t *testing.T, url string, body []byte, signature string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/webhooks/stripe", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set("Stripe-Signature", signature)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// stored returns the messages on the stream, in order.
func stored(t *testing.T, js jetstream.JetStream) []jetstream.RawStreamMsg {
	t.Helper()
	stream, err := js.Stream(t.Context(), events.StreamName)
	require.NoError(t, err)
	info, err := stream.Info(t.Context())
	require.NoError(t, err)
	var msgs []jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := stream.GetMsg(t.Context(), seq)
		require.NoError(t, err)
		msgs = append(msgs, *m)
	}
	return msgs
}

func customerEvent(t *testing.T, id string) []byte {
	t.Helper()
	return eventstest.NewEvent(id, "customer.created", eventstest.Object(t, "customer")).JSON(t)
}

func TestIngest(t *testing.T) {
	t.Parallel()

	t.Run("ValidEventsAreStoredVerbatim", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		sent := map[string][]byte{}
		for i, object := range []string{"customer", "invoice", "checkout.session", "radar.early_fraud_warning"} {
			ev := eventstest.NewEvent(fmt.Sprintf("evt_valid_%d", i), object+".updated", eventstest.Object(t, object))
			ev.APIVersion = "2099-01-01.future" // another version than stripe-go's: accepted all the same
			body := ev.JSON(t)
			// Stripe's own formatting: pretty-printed, to prove nothing is re-marshalled.
			var indented bytes.Buffer
			require.NoError(t, jsonIndent(&indented, body))
			body = indented.Bytes()
			status, _ := post(t, b.url, body, eventstest.Sign(body, testSecret, time.Now()))
			require.Equal(t, http.StatusOK, status)
			sent[ev.ID] = body
		}
		msgs := stored(t, b.js)
		require.Len(t, msgs, len(sent))
		for _, m := range msgs {
			id := m.Header.Get(nats.MsgIdHdr)
			require.Equal(t, sent[id], m.Data, "event %s", id)
			require.True(t, strings.HasPrefix(m.Subject, "stripe.event."), m.Subject)
		}
	})

	t.Run("RotatedSecretVerifies", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		body := customerEvent(t, "evt_rotated")
		status, _ := post(t, b.url, body, eventstest.Sign(body, rotatedSecret, time.Now()))
		require.Equal(t, http.StatusOK, status)
		require.Len(t, stored(t, b.js), 1)
	})

	t.Run("RejectedRequestsStoreNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t, map[string]string{"INGEST_MAX_BODY_BYTES": "4096"})
		good := customerEvent(t, "evt_rejected")
		tampered := bytes.Replace(good, []byte(`"evt_rejected"`), []byte(`"evt_tampered"`), 1)
		big := eventstest.NewEvent("evt_big", "customer.updated", eventstest.With(eventstest.Object(t, "customer"),
			map[string]any{"description": strings.Repeat("x", 5000)})).JSON(t)
		notEvent := []byte(`{"id":"cus_1","object":"customer"}`)
		notJSON := []byte(`{"id":"evt_1",`)
		badType := bytes.Replace(good, []byte(`"customer.created"`), []byte(`"customer.>"`), 1)
		now := time.Now()

		tests := []struct {
			name      string
			body      []byte
			signature string
			status    int
		}{
			{"MissingSignature", good, "", http.StatusBadRequest},
			{"MalformedSignature", good, "t=abc,v1=", http.StatusBadRequest},
			{"WrongSecret", good, eventstest.Sign(good, "whsec_wrong", now), http.StatusBadRequest},
			{"Expired", good, eventstest.Sign(good, testSecret, now.Add(-10*time.Minute)), http.StatusBadRequest},
			{"TamperedBody", tampered, eventstest.Sign(good, testSecret, now), http.StatusBadRequest},
			{"NotAnEvent", notEvent, eventstest.Sign(notEvent, testSecret, now), http.StatusBadRequest},
			{"MalformedJSON", notJSON, eventstest.Sign(notJSON, testSecret, now), http.StatusBadRequest},
			{"WildcardType", badType, eventstest.Sign(badType, testSecret, now), http.StatusBadRequest},
			{"Oversized", big, eventstest.Sign(big, testSecret, now), http.StatusRequestEntityTooLarge},
		}
		for _, tt := range tests {
			status, msg := post(t, b.url, tt.body, tt.signature)
			require.Equal(t, tt.status, status, "%s: %s", tt.name, msg)
		}
		require.Empty(t, stored(t, b.js))
	})

	t.Run("DuplicateDeliveryStoredOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		body := customerEvent(t, "evt_dup")
		for range 3 {
			// Stripe signs each delivery afresh.
			status, _ := post(t, b.url, body, eventstest.Sign(body, testSecret, time.Now()))
			require.Equal(t, http.StatusOK, status)
		}
		require.Len(t, stored(t, b.js), 1)
	})

	t.Run("JetStreamDownAnswers503ThenRecovers", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.nats.Stop()

		body := customerEvent(t, "evt_outage")
		status, _ := post(t, b.url, body, eventstest.Sign(body, testSecret, time.Now()))
		require.Equal(t, http.StatusServiceUnavailable, status)

		b.nats.Restart(t)
		require.Eventually(t, func() bool {
			status, _ := post(t, b.url, body, eventstest.Sign(body, testSecret, time.Now()))
			return status == http.StatusOK
		}, 15*time.Second, 100*time.Millisecond)
		nc, err := nats.Connect(b.nats.ClientURL())
		require.NoError(t, err)
		defer nc.Close()
		js, err := jetstream.New(nc)
		require.NoError(t, err)
		msgs := stored(t, js)
		require.Len(t, msgs, 1)
		require.Equal(t, body, msgs[0].Data)
	})
}

// TestIngestThinEvents holds thin events (https://docs.stripe.com/api/v2/core/events/object),
// which event destinations send, to the same promise as snapshot events:
// verified with the same Stripe-Signature, stored verbatim on the subject
// of their type with the event id as message id, and nothing stored
// otherwise.
func TestIngestThinEvents(t *testing.T) {
	t.Parallel()

	t.Run("SignedThinEventsAreStoredVerbatim", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		customer := eventstest.NewThinEvent("evt_thin_customer", "v1.customer.updated", "customer", "cus_123")
		customer.Context = "acct_123"
		customer.SnapshotEvent = "evt_1Snapshot"
		account := eventstest.NewThinEvent("evt_thin_account", "v2.core.account.updated", "v2.core.account", "acct_456")
		alert := eventstest.NewThinEvent("evt_thin_alert", "v2.core.health.event_generation_failure.resolved", "invoice", "in_1")
		noObject := eventstest.NewThinEvent("evt_thin_none", "v2.core.account.closed", "", "")
		want := map[string]struct {
			subject string
			body    []byte
		}{}
		for _, ev := range []eventstest.ThinEvent{customer, account, alert, noObject} {
			var indented bytes.Buffer // Stripe's own formatting: nothing is re-marshalled
			require.NoError(t, jsonIndent(&indented, ev.JSON(t)))
			body := indented.Bytes()
			status, msg := post(t, b.url, body, eventstest.Sign(body, testSecret, time.Now()))
			require.Equal(t, http.StatusOK, status, "%s: %s", ev.Type, msg)
			want[ev.ID] = struct {
				subject string
				body    []byte
			}{events.EventSubject(ev.Type), body}
		}
		msgs := stored(t, b.js)
		require.Len(t, msgs, len(want))
		for _, m := range msgs {
			id := m.Header.Get(nats.MsgIdHdr)
			require.Contains(t, want, id)
			require.Equal(t, want[id].subject, m.Subject, id)
			require.Equal(t, want[id].body, m.Data, id)
		}
		require.Equal(t, "stripe.event.v1.customer.updated", want[customer.ID].subject)
		require.Equal(t, "stripe.event.v2.core.account.updated", want[account.ID].subject)
	})

	t.Run("ThinDuplicateStoredOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		body := eventstest.NewThinEvent("evt_thin_dup", "v1.customer.updated", "customer", "cus_1").JSON(t)
		for _, secret := range []string{testSecret, rotatedSecret} {
			status, _ := post(t, b.url, body, eventstest.Sign(body, secret, time.Now()))
			require.Equal(t, http.StatusOK, status)
		}
		require.Len(t, stored(t, b.js), 1)
	})

	t.Run("RejectedThinEventsStoreNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		good := eventstest.NewThinEvent("evt_thin_rejected", "v1.customer.updated", "customer", "cus_1").JSON(t)
		var doc map[string]any
		require.NoError(t, json.Unmarshal(good, &doc))
		with := func(field string, v any) []byte {
			d := maps.Clone(doc)
			if v == nil {
				delete(d, field)
			} else {
				d[field] = v
			}
			body, err := json.Marshal(d)
			require.NoError(t, err)
			return body
		}
		tampered := bytes.Replace(good, []byte(`"cus_1"`), []byte(`"cus_2"`), 1)
		now := time.Now()
		tests := []struct {
			name      string
			body      []byte
			signature string
		}{
			{"WrongSecret", good, eventstest.Sign(good, "whsec_wrong", now)},
			{"Expired", good, eventstest.Sign(good, testSecret, now.Add(-10*time.Minute))},
			{"TamperedBody", tampered, eventstest.Sign(good, testSecret, now)},
			{"MissingSignature", good, ""},
			{"NoID", with("id", nil), ""},
			{"EmptyID", with("id", ""), ""},
			{"CreatedUnixTime", with("created", now.Unix()), ""},
			{"CreatedWithoutZone", with("created", "2026-10-01T12:00:00.123"), ""},
			{"CreatedNotATime", with("created", "yesterday"), ""},
			{"NoType", with("type", nil), ""},
			{"WildcardType", with("type", "v1.customer.>"), ""},
			{"RelatedObjectWithoutID", with("related_object", map[string]any{"type": "customer"}), ""},
		}
		for _, tt := range tests {
			sig := tt.signature
			if sig == "" && tt.name != "MissingSignature" {
				sig = eventstest.Sign(tt.body, testSecret, now) // well signed, but not a thin event
			}
			status, msg := post(t, b.url, tt.body, sig)
			require.Equal(t, http.StatusBadRequest, status, "%s: %s", tt.name, msg)
		}
		require.Empty(t, stored(t, b.js))
	})
}

// TestIngestFakeStripeThinDestination closes the loop with the fake Stripe
// API: an account whose event destination sends thin events delivers them
// to ingest, which stores each, as sent, on the subject of its type.
func TestIngestFakeStripeThinDestination(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections) // before ingest stops: no client goroutine outlives the test
	fake := stripefake.New(stripefake.Options{WebhookURL: b.url + "/webhooks/stripe", WebhookSecret: testSecret, ThinEvents: true,
		WebhookClient: &http.Client{Transport: tr, Timeout: 10 * time.Second}})
	require.NoError(t, stripefake.Seed(fake, stripefake.SeedOptions{Customers: 2, ConnectedAccounts: 1, RandSeed: 1}))
	acct := fake.ConnectedAccounts()[0]

	updated, err := fake.UpdateCustomer("", fake.IDs("", "customer")[0], map[string]any{"name": "Thin"})
	require.NoError(t, err)
	created, err := fake.CreateCustomer(acct, nil)
	require.NoError(t, err)
	for _, ev := range []stripefake.Event{updated, created} {
		require.True(t, ev.Delivered, "ingest refused %s", ev.ThinID)
	}

	msgs := stored(t, b.js)
	require.Len(t, msgs, 2)
	for i, want := range []stripefake.Event{updated, created} {
		require.Equal(t, want.ThinID, msgs[i].Header.Get(nats.MsgIdHdr))
		require.Equal(t, "stripe.event.v1."+want.Type, msgs[i].Subject)
		require.Equal(t, want.ThinPayload, msgs[i].Data)
	}
	env, err := events.ParseEnvelope(msgs[1].Data)
	require.NoError(t, err)
	require.Equal(t, acct, env.Account)
	require.Equal(t, created.ID, env.Thin.SnapshotEvent)
	require.Equal(t, "/v1/customers/"+created.ObjectID, env.Thin.RelatedObject.URL)
}

func TestConfigErrorsNameTheSetting(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, "STRIPE_WEBHOOK_SECRET"},
		{map[string]string{"STRIPE_WEBHOOK_SECRET": "sk_test_oops"}, "STRIPE_WEBHOOK_SECRET"},
		{map[string]string{"STRIPE_WEBHOOK_SECRET": "whsec_a", "STRIPE_WEBHOOK_TOLERANCE": "soon"}, "STRIPE_WEBHOOK_TOLERANCE"},
		{map[string]string{"STRIPE_WEBHOOK_SECRET": "whsec_a", "INGEST_MAX_BODY_BYTES": "10"}, "INGEST_MAX_BODY_BYTES"},
		{map[string]string{"STRIPE_WEBHOOK_SECRET": "whsec_a", "NATS_STREAM_STORAGE": "tape"}, "NATS_STREAM_STORAGE"},
		{map[string]string{"STRIPE_WEBHOOK_SECRET": "whsec_a", "NATS_STREAM_REPLICAS": "0"}, "NATS_STREAM_REPLICAS"},
	}
	for _, tt := range tests {
		err := ingest.Run(t.Context(), nil, func(k string) string { return tt.env[k] }, io.Discard)
		require.ErrorContains(t, err, tt.want)
		require.NotContains(t, err.Error(), "sk_test_oops", "a secret leaked into an error")
	}
}
