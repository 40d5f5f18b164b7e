package processor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/stripesync/stripesync/db/dbtest"
	"github.com/stripesync/stripesync/pkg/catalog"
	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/events/eventstest"
	"github.com/stripesync/stripesync/pkg/stripefake"
	"github.com/stripesync/stripesync/services/processor/internal/store"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// pgxpool's background health check ends shortly after Close.
		goleak.IgnoreAnyFunction("github.com/jackc/pgx/v5/pgxpool.(*Pool).backgroundHealthCheck"))
}

type testBundle struct {
	dbURL string
	pool  *pgxpool.Pool
	nats  *eventstest.Server
	js    jetstream.JetStream
	env   map[string]string
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	return setupOn(t, dbtest.NewURL(t))
}

// setupAsOwner is setup on a database set up as db/roles.sql sets up the
// mirror's: the processor connects as the role that owns schema stripe and
// nothing else; the test reads as the admin.
func setupAsOwner(t *testing.T) *testBundle {
	t.Helper()
	r := dbtest.NewRoles(t)
	b := setupOn(t, r.AdminURL)
	b.env["DATABASE_URL"] = r.OwnerURL
	return b
}

func setupOn(t *testing.T, dbURL string) *testBundle {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	ns := eventstest.RunServer(t)
	nc, err := nats.Connect(ns.ClientURL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	_, err = events.DeclareStream(t.Context(), js, events.DefaultStreamOptions)
	require.NoError(t, err)
	return &testBundle{
		dbURL: dbURL, pool: pool, nats: ns, js: js,
		env: map[string]string{
			"DATABASE_URL":         dbURL,
			"NATS_URL":             ns.ClientURL(),
			"PROCESSOR_ADDR":       eventstest.FreeAddr(t),
			"PROCESSOR_BATCH_SIZE": "50",
			"LOG_LEVEL":            "debug",
		},
	}
}

// start runs the processor until the test ends, and waits until it is ready.
func (b *testBundle) start(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, nil, func(k string) string { return b.env[k] }, t.Output()) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + b.env["PROCESSOR_ADDR"] + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second, 20*time.Millisecond, "processor never became ready")
}

// publish puts an event on the stream as ingest does.
func (b *testBundle) publish(t *testing.T, e eventstest.Event) []byte {
	t.Helper()
	body := e.JSON(t)
	env, err := events.ParseEnvelope(body)
	require.NoError(t, err)
	_, err = events.NewPublisher(b.js).Publish(t.Context(), events.EventMsg(env, body))
	require.NoError(t, err)
	return body
}

func (b *testBundle) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(t.Context(), sql, args...).Scan(&n))
	return n
}

func (b *testBundle) waitCount(t *testing.T, want int, sql string, args ...any) {
	t.Helper()
	require.Eventually(t, func() bool { return b.count(t, sql, args...) == want }, 20*time.Second, 20*time.Millisecond,
		"waiting for %d from %s", want, sql)
}

// settled waits until the processor applied everything on the stream.
func (b *testBundle) settled(t *testing.T) {
	t.Helper()
	eventstest.WaitProcessed(t, b.js, 20*time.Second)
}

func customers(t *testing.T, n int, prefix string) []eventstest.Event {
	t.Helper()
	var evs []eventstest.Event
	for i := range n {
		cus := eventstest.With(eventstest.Object(t, "customer"), map[string]any{
			"id": fmt.Sprintf("cus_%s%d", prefix, i), "email": fmt.Sprintf("%s%d@example.com", prefix, i),
		})
		evs = append(evs, eventstest.NewEvent(fmt.Sprintf("evt_%s%d", prefix, i), "customer.created", cus))
	}
	return evs
}

func TestProcessor(t *testing.T) {
	t.Parallel()

	t.Run("EventsOnTheStreamLandInPostgres", func(t *testing.T) {
		t.Parallel()
		b := setupAsOwner(t)
		b.start(t)
		for _, e := range customers(t, 120, "land") {
			b.publish(t, e)
		}
		sub := eventstest.NewEvent("evt_sub", "customer.subscription.created", eventstest.Object(t, "subscription"))
		b.publish(t, sub)
		b.waitCount(t, 120, "SELECT count(*) FROM stripe.customers WHERE email LIKE 'land%'")
		b.waitCount(t, 1, "SELECT count(*) FROM stripe.subscriptions")
		b.settled(t)
		require.Equal(t, 121, b.count(t, "SELECT count(*) FROM stripe.events"))
	})

	t.Run("UnapplicableMessagesBecomeDeadLettersAndNeighboursLand", func(t *testing.T) {
		t.Parallel()
		b := setupAsOwner(t)
		for _, e := range customers(t, 10, "before") {
			b.publish(t, e)
		}
		// Not an event at all.
		_, err := b.js.Publish(t.Context(), "stripe.event.customer.created", []byte("this is not json"), jetstream.WithMsgID("garbage"))
		require.NoError(t, err)
		// An event PostgreSQL cannot store: jsonb refuses \u0000.
		b.publish(t, eventstest.NewEvent("evt_nul", "customer.updated",
			eventstest.With(eventstest.Object(t, "customer"), map[string]any{"id": "cus_nul", "name": "a\x00b"})))
		for _, e := range customers(t, 10, "after") {
			b.publish(t, e)
		}
		b.start(t) // everything waits on the stream, so it lands in shared batches

		b.waitCount(t, 20, "SELECT count(*) FROM stripe.customers")
		b.waitCount(t, 2, "SELECT count(*) FROM stripe.dead_letters")
		b.settled(t)
		var reason string
		var payload []byte
		require.NoError(t, b.pool.QueryRow(t.Context(),
			"SELECT reason, payload FROM stripe.dead_letters WHERE event_id = 'garbage'").Scan(&reason, &payload))
		require.Contains(t, reason, "not a Stripe event")
		require.Equal(t, "this is not json", string(payload))
		require.NoError(t, b.pool.QueryRow(t.Context(),
			"SELECT reason FROM stripe.dead_letters WHERE event_id = 'evt_nul'").Scan(&reason))
		require.Contains(t, reason, "unsupported Unicode escape sequence")
		require.Zero(t, b.count(t, "SELECT count(*) FROM stripe.customers WHERE id = 'cus_nul'"))
		// The event is in stripe.events all the same, with the reason.
		require.Equal(t, 1, b.count(t, "SELECT count(*) FROM stripe.events WHERE id = 'evt_nul' AND object_id = 'cus_nul' AND unapplied = $1", reason))
		require.Equal(t, 21, b.count(t, "SELECT count(*) FROM stripe.events"))
	})

	t.Run("StoppedBeforeAckRedeliversAndResultIsCorrect", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.env["PROCESSOR_ACK_WAIT"] = "1s"
		evs := customers(t, 40, "crash")
		for _, e := range evs {
			b.publish(t, e)
		}
		// A processor took every message and died before acking any; it had
		// committed the first half.
		stream, err := b.js.Stream(t.Context(), events.StreamName)
		require.NoError(t, err)
		cons, err := stream.CreateOrUpdateConsumer(t.Context(), events.ConsumerConfig(time.Second, 1000))
		require.NoError(t, err)
		batch, err := cons.FetchNoWait(len(evs))
		require.NoError(t, err)
		var taken []store.Event
		for m := range batch.Messages() {
			env, err := events.ParseEnvelope(m.Data())
			require.NoError(t, err)
			taken = append(taken, store.Event{Envelope: env, Raw: m.Data()})
		}
		require.NoError(t, batch.Error())
		require.Len(t, taken, len(evs))
		_, err = store.New(b.pool).Apply(t.Context(), store.Batch{Events: taken[:len(taken)/2]})
		require.NoError(t, err)

		b.start(t)
		b.waitCount(t, len(evs), "SELECT count(*) FROM stripe.customers")
		b.settled(t)
		require.Equal(t, len(evs), b.count(t, "SELECT count(*) FROM stripe.events"))
		require.Equal(t, len(evs), b.count(t, "SELECT count(*) FROM stripe.customers WHERE email = split_part(id, '_', 2) || '@example.com'"))
	})

	t.Run("DatabaseOutageIsRetriedNotLost", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		proxy := dbtest.NewProxy(t, b.dbURL)
		b.env["DATABASE_URL"] = proxy.URL(b.dbURL)
		b.start(t)

		proxy.SetDown(true)
		evs := customers(t, 30, "outage")
		for _, e := range evs {
			b.publish(t, e)
		}
		// The processor tries, fails, and hands the events back for later.
		require.Eventually(t, func() bool {
			return metric(t, b, "stripe_sync_processor_retries_total") > 0
		}, 20*time.Second, 20*time.Millisecond)
		require.Zero(t, b.count(t, "SELECT count(*) FROM stripe.events"))

		proxy.SetDown(false)
		b.waitCount(t, len(evs), "SELECT count(*) FROM stripe.customers")
		b.settled(t)
		require.Zero(t, b.count(t, "SELECT count(*) FROM stripe.dead_letters"))
	})

	t.Run("SameSecondTieIsSettledByTheStripeAPI", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		cus := eventstest.With(eventstest.Object(t, "customer"), map[string]any{"id": "cus_tie"})
		truth, err := json.Marshal(eventstest.With(cus, map[string]any{"name": "Truth"}))
		require.NoError(t, err)
		var gotAccount atomic.Value
		stripeAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer sk_test_tie" || r.URL.Path != "/v1/customers/cus_tie" {
				http.Error(w, `{"error":{"type":"invalid_request_error","message":"no such thing"}}`, http.StatusNotFound)
				return
			}
			gotAccount.Store(r.Header.Get("Stripe-Account"))
			w.Header().Set("Content-Type", "application/json")
			w.Write(truth)
		}))
		t.Cleanup(stripeAPI.Close)
		b.env["STRIPE_API_KEY"] = "sk_test_tie"
		b.env["STRIPE_API_BASE"] = stripeAPI.URL
		b.start(t)

		at := time.Now().Add(-time.Minute).Truncate(time.Second)
		for i, name := range []string{"Later at Stripe", "Earlier at Stripe"} {
			e := eventstest.NewEvent(fmt.Sprintf("evt_tie%d", i), "customer.updated", eventstest.With(cus, map[string]any{"name": name}))
			e.Created = at
			e.Account = "acct_tie"
			b.publish(t, e)
			b.waitCount(t, i+1, "SELECT count(*) FROM stripe.events")
		}
		b.waitCount(t, 1, "SELECT count(*) FROM stripe.customers WHERE data->>'name' = 'Truth' AND last_event_id IS NULL AND state_at > $1", at)
		require.Equal(t, "acct_tie", gotAccount.Load())
		require.Equal(t, 1.0, metric(t, b, "stripe_sync_processor_version_ties_total"))
	})

	t.Run("FetchedObjectsFollowTheVersionRule", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.start(t)
		at := time.Now().Add(-time.Hour).Truncate(time.Second)
		cus := eventstest.With(eventstest.Object(t, "customer"), map[string]any{"id": "cus_fetched"})

		ev := eventstest.NewEvent("evt_before", "customer.updated", eventstest.With(cus, map[string]any{"name": "Event"}))
		ev.Created = at
		b.publish(t, ev)
		b.waitCount(t, 1, "SELECT count(*) FROM stripe.customers WHERE data->>'name' = 'Event'")

		fetched, err := json.Marshal(eventstest.With(cus, map[string]any{"name": "Fetched"}))
		require.NoError(t, err)
		msg := events.Object{Resource: catalog.MustLookup("customer"), ID: "cus_fetched", Account: "acct_f", FetchedAt: at.Add(2 * time.Second), Data: fetched}.Msg()
		_, err = events.NewPublisher(b.js).Publish(t.Context(), msg)
		require.NoError(t, err)
		b.waitCount(t, 1, "SELECT count(*) FROM stripe.customers WHERE data->>'name' = 'Fetched' AND account = 'acct_f' AND last_event_id IS NULL")

		late := eventstest.NewEvent("evt_late", "customer.updated", eventstest.With(cus, map[string]any{"name": "Late"}))
		late.Created = at.Add(time.Second)
		b.publish(t, late)
		b.waitCount(t, 2, "SELECT count(*) FROM stripe.events")
		b.settled(t)
		require.Equal(t, 1, b.count(t, "SELECT count(*) FROM stripe.customers WHERE data->>'name' = 'Fetched'"))

		// An object whose subject and body disagree is kept as a dead letter.
		bad := events.Object{Resource: catalog.MustLookup("product"), ID: "cus_fetched", FetchedAt: at, Data: fetched}.Msg()
		_, err = events.NewPublisher(b.js).Publish(t.Context(), bad)
		require.NoError(t, err)
		b.waitCount(t, 1, "SELECT count(*) FROM stripe.dead_letters WHERE subject = 'stripe.object.product'")
		// With its headers: an object message cannot be replayed without
		// its fetch time.
		var fetchedAt string
		require.NoError(t, b.pool.QueryRow(t.Context(),
			"SELECT headers->'"+events.HeaderFetchedAt+"'->>0 FROM stripe.dead_letters WHERE subject = 'stripe.object.product'").Scan(&fetchedAt))
		require.Equal(t, bad.Header.Get(events.HeaderFetchedAt), fetchedAt)
	})
}

// metric reads a counter from the processor's /metrics.
func metric(t *testing.T, b *testBundle, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + b.env["PROCESSOR_ADDR"] + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	for line := range strings.SplitSeq(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			require.NoError(t, err)
			return f
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

func TestThinEvents(t *testing.T) {
	t.Parallel()
	// publishThin puts thin events about the customers on the stream, as
	// ingest does with what an event destination sends.
	publishThin := func(t *testing.T, b *testBundle, ids []string, perCustomer int) {
		t.Helper()
		p := events.NewPublisher(b.js)
		for n := range perCustomer {
			for _, id := range ids {
				raw := eventstest.NewThinEvent(fmt.Sprintf("evt_thin_%s_%d", id, n), "v1.customer.updated", "customer", id).JSON(t)
				env, err := events.ParseEnvelope(raw)
				require.NoError(t, err)
				require.NoError(t, p.PublishAsync(events.EventMsg(env, raw)))
			}
		}
		_, err := p.Wait(t.Context())
		require.NoError(t, err)
	}
	seed := func(t *testing.T, fake *stripefake.Server, n int) []string {
		t.Helper()
		var ids []string
		for i := range n {
			ev, err := fake.CreateCustomer("", map[string]any{"email": fmt.Sprintf("thin%d@example.com", i)})
			require.NoError(t, err)
			ids = append(ids, ev.ObjectID)
		}
		return ids
	}

	t.Run("ObjectsAreFetchedFromTheAPI", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		fake := stripefake.New(stripefake.Options{})
		b.env["STRIPE_API_KEY"] = stripefake.TestKey
		b.env["STRIPE_API_BASE"] = fake.Start(t)
		b.env["STRIPE_API_VERSION"] = "2026-10-28.endive"
		ids := seed(t, fake, 10)
		b.start(t)
		before := fake.Stats().Requests

		publishThin(t, b, ids, 20) // 200 events for 10 customers
		b.waitCount(t, 200, "SELECT count(*) FROM stripe.events WHERE type = 'v1.customer.updated'")
		b.waitCount(t, 10, "SELECT count(*) FROM stripe.customers WHERE api_version = '2026-10-28.endive' AND last_event_id IS NULL")
		b.waitCount(t, 0, "SELECT count(*) FROM stripe.pending_fetches")
		for i, id := range ids {
			var email string
			require.NoError(t, b.pool.QueryRow(t.Context(), "SELECT data->>'email' FROM stripe.customers WHERE id = $1", id).Scan(&email))
			require.Equal(t, fmt.Sprintf("thin%d@example.com", i), email, "the customer as the API has it")
		}
		fetches := int(fake.Stats().Requests - before)
		require.GreaterOrEqual(t, fetches, 10)
		require.LessOrEqual(t, fetches, 20, "200 thin events for 10 customers cost 10 to 20 fetches")
	})

	t.Run("WithoutAKeyObjectsWait", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.start(t)
		publishThin(t, b, []string{"cus_wait1", "cus_wait2", "cus_wait3"}, 2)
		b.waitCount(t, 6, "SELECT count(*) FROM stripe.events")
		require.Eventually(t, func() bool {
			return metric(t, b, "stripe_sync_processor_objects_awaiting_fetch") == 3
		}, 10*time.Second, 20*time.Millisecond)
		require.Zero(t, b.count(t, "SELECT count(*) FROM stripe.customers"))
	})
}

func TestConfigErrorsNameTheSetting(t *testing.T) {
	t.Parallel()
	const dbURL = "postgres://postgres@127.0.0.1:5432/none"
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, "DATABASE_URL"},
		{map[string]string{"DATABASE_URL": dbURL, "STRIPE_API_KEY": "pk_live_publishable"}, "STRIPE_API_KEY"},
		{map[string]string{"DATABASE_URL": dbURL, "STRIPE_API_BASE": "api.stripe.com"}, "STRIPE_API_BASE"},
		{map[string]string{"DATABASE_URL": dbURL, "PROCESSOR_BATCH_SIZE": "0"}, "PROCESSOR_BATCH_SIZE"},
		{map[string]string{"DATABASE_URL": dbURL, "PROCESSOR_WORKERS": "many"}, "PROCESSOR_WORKERS"},
		{map[string]string{"DATABASE_URL": dbURL, "PROCESSOR_ACK_WAIT": "10ms"}, "PROCESSOR_ACK_WAIT"},
		{map[string]string{"DATABASE_URL": dbURL, "NATS_STREAM_MAX_AGE": "-1h"}, "NATS_STREAM_MAX_AGE"},
	}
	for _, tt := range tests {
		err := Run(t.Context(), nil, func(k string) string { return tt.env[k] }, io.Discard)
		require.ErrorContains(t, err, tt.want)
		require.NotContains(t, err.Error(), "pk_live_publishable", "a key leaked into an error")
	}
}

func TestUnreachableDatabaseNamesAddressAndSetting(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now
	env := map[string]string{"DATABASE_URL": "postgres://postgres:hunter2@" + addr + "/stripe", "PROCESSOR_ADDR": "127.0.0.1:0"}
	err = Run(t.Context(), nil, func(k string) string { return env[k] }, io.Discard)
	require.EqualError(t, err, "PostgreSQL refused at "+addr+" (DATABASE_URL): connection refused")
}
