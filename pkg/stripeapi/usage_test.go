package stripeapi_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/events/eventstest"
	"github.com/stripesync/stripesync/pkg/stripeapi"
)

// requestsWith429 sends n requests through lim to a server that answers
// the first one 429 (Retry-After 0), which the limiter retries: n+1
// requests, one rate-limited.
func requestsWith429(t *testing.T, lim *stripeapi.Limiter, n int) {
	t.Helper()
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	hc := &http.Client{Transport: lim.Transport(http.DefaultTransport)}
	for i := range n {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/v1/customers/cus_"+string(rune('A'+i)), nil)
		require.NoError(t, err)
		resp, err := hc.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
}

func TestCollector(t *testing.T) {
	t.Parallel()
	lim := stripeapi.NewLimiter(100, 10)
	requestsWith429(t, lim, 3)
	reg := prometheus.NewRegistry()
	reg.MustRegister(stripeapi.Collector("stripe_sync_test", lim))

	want := `
# HELP stripe_sync_test_api_endpoint_rate_limited_total Stripe API answers 429, by endpoint.
# TYPE stripe_sync_test_api_endpoint_rate_limited_total counter
stripe_sync_test_api_endpoint_rate_limited_total{endpoint="GET /v1/customers/{id}"} 1
# HELP stripe_sync_test_api_endpoint_requests_total Stripe API requests sent, by endpoint (method and path, ids as {id}): each has its own rate limit.
# TYPE stripe_sync_test_api_endpoint_requests_total counter
stripe_sync_test_api_endpoint_requests_total{endpoint="GET /v1/customers/{id}"} 4
# HELP stripe_sync_test_api_rate_limited_total Stripe API answers 429.
# TYPE stripe_sync_test_api_rate_limited_total counter
stripe_sync_test_api_rate_limited_total 1
# HELP stripe_sync_test_api_requests_total Stripe API requests sent, retries included.
# TYPE stripe_sync_test_api_requests_total counter
stripe_sync_test_api_requests_total 4
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want),
		"stripe_sync_test_api_requests_total", "stripe_sync_test_api_rate_limited_total",
		"stripe_sync_test_api_endpoint_requests_total", "stripe_sync_test_api_endpoint_rate_limited_total"))
	// A 429 cut the global rate by a quarter, to 75; each of the three
	// successes brought back 1% of the most.
	families, err := reg.Gather()
	require.NoError(t, err)
	gauges := map[string]float64{}
	for _, f := range families {
		if f.GetType() == dto.MetricType_GAUGE {
			gauges[f.GetName()] = f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	require.InDelta(t, 100, gauges["stripe_sync_test_api_rate_limit"], 1e-9, "the budget")
	require.InDelta(t, 78, gauges["stripe_sync_test_api_rate_limit_current"], 1e-9)
}

func TestReportUsage(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ns := eventstest.RunServer(t)
	nc, err := nats.Connect(ns.ClientURL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	kv, err := js.CreateKeyValue(ctx, events.StateBucketConfig())
	require.NoError(t, err)

	lim := stripeapi.NewLimiter(20, 2)
	requestsWith429(t, lim, 2)
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- stripeapi.ReportUsage(rctx, kv, "syncer", slog.New(slog.NewTextHandler(t.Output(), nil)), lim)
	}()

	// The first record is written at once and counts from the limiter's
	// start.
	var key string
	var u events.APIUsage
	require.Eventually(t, func() bool {
		keys, err := kv.ListKeys(ctx)
		if err != nil {
			return false
		}
		for k := range keys.Keys() {
			key = k
		}
		if key == "" {
			return false
		}
		e, err := kv.Get(ctx, key)
		return err == nil && json.Unmarshal(e.Value(), &u) == nil
	}, 10*time.Second, 20*time.Millisecond)
	require.True(t, strings.HasPrefix(key, events.APIUsagePrefix+"syncer."), key)
	require.Equal(t, "syncer", u.Service)
	require.Equal(t, key, events.APIUsageKey("syncer", u.Instance))
	require.EqualValues(t, 3, u.Requests, "two requests and the retry of a 429")
	require.EqualValues(t, 1, u.RateLimited)
	require.EqualValues(t, 20, u.Limit)
	require.Less(t, u.Rate, 20.0, "a 429 lowered the rate")
	require.Positive(t, u.WindowSeconds)
	require.InDelta(t, 3/u.WindowSeconds, u.PerSecond(), 1e-9)
	require.WithinDuration(t, time.Now(), u.At, time.Minute)

	// Stopping deletes the record: a stopped process spends nothing.
	stop()
	require.NoError(t, <-done)
	_, err = kv.Get(ctx, key)
	require.ErrorIs(t, err, jetstream.ErrKeyNotFound)
}
