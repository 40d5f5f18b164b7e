package refetch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/db/dbtest"
	"github.com/stripesync/stripesync/pkg/catalog"
	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/events/eventstest"
	"github.com/stripesync/stripesync/pkg/stripeapi"
	"github.com/stripesync/stripesync/services/processor/internal/logtest"
	"github.com/stripesync/stripesync/services/processor/internal/refetch"
	"github.com/stripesync/stripesync/services/processor/internal/store"
)

// fakeStripe answers GET /v1/customers/{id} with the customers it holds and
// 404 for the others, recording each request's Stripe-Account.
type fakeStripe struct {
	mu        sync.Mutex
	customers map[string]map[string]any
	accounts  []string
}

func (f *fakeStripe) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.accounts = append(f.accounts, r.Header.Get("Stripe-Account"))
	c, ok := f.customers[r.PathValue("id")]
	if r.Method != http.MethodGet || !ok {
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"error":{"type":"invalid_request_error","message":"No such customer"}}`))
		return
	}
	json.NewEncoder(w).Encode(c)
}

func TestRefetcher(t *testing.T) {
	t.Parallel()
	type testBundle struct {
		fake      *fakeStripe
		store     *store.Store
		refetcher *refetch.Refetcher
		outcomes  *prometheus.Registry
		query     func(sql string, args ...any) []any
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		pool := dbtest.New(t)
		fake := &fakeStripe{customers: map[string]map[string]any{}}
		mux := http.NewServeMux()
		mux.Handle("/v1/customers/{id}", fake)
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		log := slog.New(slog.NewTextHandler(t.Output(), nil))
		api := stripeapi.New(srv.URL, "sk_test_refetch", stripeapi.NewLimiter(100, 10), log)
		st := store.New(pool)
		reg := prometheus.NewRegistry()
		r := refetch.New(log, api, st, reg)
		ctx := t.Context()
		done := make(chan struct{})
		go func() { defer close(done); r.Run(ctx) }()
		t.Cleanup(func() { <-done })
		return &testBundle{fake: fake, store: st, refetcher: r, outcomes: reg, query: func(sql string, args ...any) []any {
			var v any
			require.NoError(t, pool.QueryRow(t.Context(), sql, args...).Scan(&v))
			return []any{v}
		}}
	}
	base := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	tied := func(t *testing.T, b *testBundle, account string) map[string]any {
		t.Helper()
		cus := eventstest.With(eventstest.Object(t, "customer"), map[string]any{"id": "cus_tied", "name": "Stream order"})
		for _, id := range []string{"evt_t1", "evt_t2"} {
			e := eventstest.NewEvent(id, "customer.updated", cus)
			e.Created, e.Account = base, account
			raw := e.JSON(t)
			env, err := events.ParseEnvelope(raw)
			require.NoError(t, err)
			_, err = b.store.Apply(t.Context(), store.Batch{Events: []store.Event{{Envelope: env, Raw: raw}}})
			require.NoError(t, err)
		}
		return cus
	}

	t.Run("TieSettledByTheFetchedState", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		cus := tied(t, b, "acct_tied")
		b.fake.mu.Lock()
		b.fake.customers["cus_tied"] = eventstest.With(cus, map[string]any{"name": "At Stripe"})
		b.fake.mu.Unlock()

		before := time.Now()
		b.refetcher.Enqueue([]store.Tie{{Resource: catalog.MustLookup("customer"), ID: "cus_tied", Account: "acct_tied"}})
		require.Eventually(t, func() bool { return outcome(t, b.outcomes, "settled") == 1 }, 10*time.Second, 10*time.Millisecond)
		require.Equal(t, []any{"At Stripe"}, b.query("SELECT data->>'name' FROM stripe.customers WHERE id = 'cus_tied'"))
		require.Equal(t, []any{nil}, b.query("SELECT last_event_id FROM stripe.customers WHERE id = 'cus_tied'"), "fetched, not written by an event")
		stateAt := b.query("SELECT state_at FROM stripe.customers WHERE id = 'cus_tied'")[0].(time.Time)
		require.False(t, stateAt.Before(before.Truncate(time.Microsecond)), "as of the request, which is after both events")
		b.fake.mu.Lock()
		require.Equal(t, []string{"acct_tied"}, b.fake.accounts, "a connected account's object is fetched with Stripe-Account")
		b.fake.mu.Unlock()
	})

	t.Run("GoneAtStripeLeavesStreamOrder", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		tied(t, b, "")
		b.refetcher.Enqueue([]store.Tie{{Resource: catalog.MustLookup("customer"), ID: "cus_tied"}})
		require.Eventually(t, func() bool { return outcome(t, b.outcomes, "not_found") == 1 }, 10*time.Second, 10*time.Millisecond)
		require.Equal(t, []any{"Stream order"}, b.query("SELECT data->>'name' FROM stripe.customers WHERE id = 'cus_tied'"))
	})

	t.Run("NotRetrievableByID", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.refetcher.Enqueue([]store.Tie{{Resource: catalog.MustLookup("discount"), ID: "di_1"}})
		require.Eventually(t, func() bool { return outcome(t, b.outcomes, "not_retrievable") == 1 }, 10*time.Second, 10*time.Millisecond)
		b.fake.mu.Lock()
		require.Empty(t, b.fake.accounts, "no request for what Stripe cannot retrieve")
		b.fake.mu.Unlock()
	})
}

func TestRunPending(t *testing.T) {
	t.Parallel()
	pool := dbtest.New(t)
	fake := &fakeStripe{customers: map[string]map[string]any{}}
	for i := range 10 {
		id := fmt.Sprintf("cus_thin%d", i)
		fake.customers[id] = eventstest.With(eventstest.Object(t, "customer"), map[string]any{"id": id, "name": "Current " + id})
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/customers/{id}", fake)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	log := slog.New(slog.NewTextHandler(t.Output(), nil))
	api := stripeapi.New(srv.URL, "sk_test_thin", stripeapi.NewLimiter(100, 10), log, stripeapi.WithAPIVersion("2026-10-28.endive"))
	st := store.New(pool)
	reg := prometheus.NewRegistry()
	r := refetch.New(log, api, st, reg)
	done := make(chan struct{})
	go func() { defer close(done); r.RunPending(t.Context()) }()
	t.Cleanup(func() { <-done })

	// 200 thin events for 10 customers, in 20 batches, as a burst of
	// changes arrives; and the deletion of a customer Stripe no longer has.
	start := time.Now()
	for batch := range 20 {
		var evs []store.Event
		for i := range 10 {
			evs = append(evs, thinEvent(t, fmt.Sprintf("evt_%d_%d", batch, i), "v1.customer.updated", fmt.Sprintf("cus_thin%d", i), start))
		}
		if batch == 0 {
			evs = append(evs, thinEvent(t, "evt_gone", "v1.customer.updated", "cus_gone", start))
		}
		_, err := st.Apply(t.Context(), store.Batch{Events: evs})
		require.NoError(t, err)
	}
	var fetched, waiting int
	require.Eventually(t, func() bool {
		require.NoError(t, pool.QueryRow(t.Context(), "SELECT count(*) FROM stripe.customers WHERE data->>'name' LIKE 'Current %'").Scan(&fetched))
		require.NoError(t, pool.QueryRow(t.Context(), "SELECT count(*) FROM stripe.pending_fetches").Scan(&waiting))
		return fetched == 10 && waiting == 0
	}, 20*time.Second, 20*time.Millisecond, "fetched %d, waiting %d", fetched, waiting)

	fake.mu.Lock()
	requests := len(fake.accounts)
	fake.mu.Unlock()
	require.GreaterOrEqual(t, requests, 11)
	require.LessOrEqual(t, requests, 22, "200 events for 10 customers cost about one fetch each")

	var version string
	var stateAt time.Time
	var lastEvent *string
	require.NoError(t, pool.QueryRow(t.Context(), "SELECT api_version, state_at, last_event_id FROM stripe.customers WHERE id = 'cus_thin3'").
		Scan(&version, &stateAt, &lastEvent))
	require.Equal(t, "2026-10-28.endive", version, "the request's API version")
	require.Nil(t, lastEvent)
	require.True(t, stateAt.After(start), "as of the request, after the events")
	var gone bool
	require.NoError(t, pool.QueryRow(t.Context(), "SELECT deleted FROM stripe.customers WHERE id = 'cus_gone'").Scan(&gone))
	require.True(t, gone, "an object Stripe answers 404 for is marked deleted")
	require.Equal(t, float64(1), outcome(t, reg, "gone"))
}

// thinEvent is a thin event about customer id, as Stripe sends it.
func thinEvent(t *testing.T, id, eventType, customer string, created time.Time) store.Event {
	t.Helper()
	raw, err := json.Marshal(map[string]any{
		"id": id, "object": "v2.core.event", "type": eventType, "livemode": false,
		"created":        created.UTC().Format(time.RFC3339Nano),
		"related_object": map[string]any{"id": customer, "type": "customer", "url": "/v1/customers/" + customer},
	})
	require.NoError(t, err)
	env, err := events.ParseEnvelope(raw)
	require.NoError(t, err)
	return store.Event{Envelope: env, Raw: raw}
}

func TestEnqueueNeverBlocks(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.NewTextHandler(t.Output(), nil))
	api := stripeapi.New("http://127.0.0.1:1", "sk_test_x", stripeapi.NewLimiter(1, 1), log)
	reg := prometheus.NewRegistry()
	r := refetch.New(log, api, nil, reg) // not running: nothing drains the queue
	ties := make([]store.Tie, 1500)
	for i := range ties {
		ties[i] = store.Tie{Resource: catalog.MustLookup("customer"), ID: "cus_x"}
	}
	r.Enqueue(ties)
	require.Equal(t, float64(500), outcome(t, reg, "queue_full"), "what the queue cannot hold is counted, not waited for")
}

// outcome reads stripe_sync_processor_refetches_total{outcome=name}.
func outcome(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == name {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// countingStore is the real store, counting the claims that failed.
type countingStore struct {
	*store.Store
	failed atomic.Int64
}

func (s *countingStore) ClaimFetches(ctx context.Context, max int, lease time.Duration) ([]store.PendingFetch, error) {
	fs, err := s.Store.ClaimFetches(ctx, max, lease)
	if err != nil {
		s.failed.Add(1)
	}
	return fs, err
}

func TestRunPendingWarnsOncePerOutage(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.NewURL(t)
	proxy := dbtest.NewProxy(t, dbURL)
	pool, err := pgxpool.New(t.Context(), proxy.URL(dbURL))
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	logs := logtest.New(t)
	api := stripeapi.New("http://127.0.0.1:1", "sk_test_outage", stripeapi.NewLimiter(1, 1), logs.Logger())
	st := &countingStore{Store: store.New(pool)}
	r := refetch.New(logs.Logger(), api, st, prometheus.NewRegistry())
	done := make(chan struct{})
	go func() { defer close(done); r.RunPending(t.Context()) }()
	t.Cleanup(func() { <-done })

	const (
		failing   = "pending fetches cannot be claimed, retrying until the store recovers"
		recovered = "store recovered, pending fetches are claimed again"
	)
	for outage := 1; outage <= 2; outage++ {
		proxy.SetDown(true)
		// Many failed claims, one every idle poll.
		from := st.failed.Load()
		require.Eventually(t, func() bool { return st.failed.Load() >= from+10 }, 30*time.Second, 10*time.Millisecond,
			"outage %d: the refetcher stopped claiming", outage)
		require.Equal(t, outage, logs.Count(slog.LevelWarn, failing), "outage %d: one warning per outage, not one per claim", outage)
		require.Equal(t, outage, logs.Count(slog.LevelWarn, ""), "outage %d: no other warning", outage)

		proxy.SetDown(false)
		require.Eventually(t, func() bool { return logs.Count(slog.LevelInfo, recovered) == outage }, 30*time.Second, 10*time.Millisecond,
			"outage %d: its end was not logged", outage)
	}
	// Claims go on succeeding: the end of an outage is logged once.
	require.Never(t, func() bool { return logs.Count(slog.LevelInfo, recovered) > 2 }, time.Second, 50*time.Millisecond)
}
