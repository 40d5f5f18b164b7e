package stripeapi_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/pkg/catalog"
	"github.com/stripesync/stripesync/pkg/stripeapi"
	"github.com/stripesync/stripesync/pkg/stripefake"
)

func TestEndpoint(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		method, path, want string
	}{
		{"GET", "/v1/customers", "GET /v1/customers"},
		{"GET", "/v1/customers/cus_NffrFeUfNV2Hib", "GET /v1/customers/{id}"},
		{"POST", "/v1/customers/cus_NffrFeUfNV2Hib", "POST /v1/customers/{id}"},
		{"GET", "/v1/customers/cus_000/tax_ids", "GET /v1/customers/{id}/tax_ids"},
		{"GET", "/v1/customers/cus_NffrFeUfNV2Hib/tax_ids/txi_1NuMB12eZvKYlo2C", "GET /v1/customers/{id}/tax_ids/{id}"},
		{"GET", "/v1/checkout/sessions/cs_test_a1b2c3", "GET /v1/checkout/sessions/{id}"},
		{"GET", "/v1/checkout/sessions/cs_test_a1b2c3/line_items", "GET /v1/checkout/sessions/{id}/line_items"},
		{"GET", "/v1/invoices/in_1MtHbELkdIwHu7ixl4OzzPMv/lines", "GET /v1/invoices/{id}/lines"},
		{"GET", "/v1/invoices/upcoming", "GET /v1/invoices/upcoming"},
		{"GET", "/v1/customers/search", "GET /v1/customers/search"},
		{"GET", "/v1/account", "GET /v1/account"},
		{"GET", "/v1/balance/history", "GET /v1/balance/history"},
		{"GET", "/v1/country_specs/US", "GET /v1/country_specs/{id}"},
		{"GET", "/v1/coupons/25OFF", "GET /v1/coupons/{id}"},
		{"GET", "/v1/coupons/summer", "GET /v1/coupons/summer"}, // taken for a name
		{"GET", "/v1/products/gold%2Fplan", "GET /v1/products/{id}"},
		{"GET", "/v1/3d_secure/tdsrc_1Mr3Yd", "GET /v1/3d_secure/{id}"}, // after the version, a name
		{"GET", "/v2/core/events/evt_test_65R9Ijk8dDUqYvUOvL0", "GET /v2/core/events/{id}"},
		{"GET", "/v2/core/accounts/acct_1Nv0FGQ9RKHgCVdK", "GET /v2/core/accounts/{id}"},
		{"GET", "/stripe/v1/customers/cus_1", "GET /stripe/v1/customers/{id}"}, // a base URL with a path
		{"GET", "/", "GET /"},
	} {
		require.Equal(t, c.want, stripeapi.Endpoint(c.method, c.path), "%s %s", c.method, c.path)
	}
}

// TestEndpointIsTheFakesRoute holds Endpoint to the routes of the fake, which
// serves every path of the catalog: for each, the client and the fake count
// a request against the same endpoint.
func TestEndpointIsTheFakesRoute(t *testing.T) {
	t.Parallel()
	fake := stripefake.New(stripefake.Options{RecordRequests: true})
	url := fake.Start(t)

	var paths []string
	fill := func(p string) string {
		p, _, _ = strings.Cut(p, "?")
		return strings.ReplaceAll(p, "{id}", "x_1NffrFeUfNV2Hib")
	}
	for _, r := range catalog.All() {
		if r.Retrieve != "" {
			paths = append(paths, fill(r.Retrieve))
		}
		if r.List != nil {
			paths = append(paths, fill(r.List.Path))
		}
		for _, n := range r.Nested {
			paths = append(paths, fill(n.Path))
		}
	}
	paths = append(paths, "/v1/customers/cus_1/tax_ids/txi_1", "/v1/events/evt_1", "/v1/account")
	for _, p := range paths {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url+p, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+stripefake.TestKey)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
	}
	got := fake.Requests()
	require.Len(t, got, len(paths))
	for i, p := range paths {
		require.Equal(t, got[i].Endpoint, stripeapi.Endpoint(http.MethodGet, p), p)
		require.NotEqual(t, "GET /", got[i].Endpoint, "the fake serves %s", p)
	}
}

func TestLimiter(t *testing.T) {
	t.Parallel()

	type testBundle struct {
		fake *stripefake.Server
		api  *stripeapi.Client
		lim  *stripeapi.Limiter
		ids  []string // customers
	}
	setup := func(t *testing.T, lim *stripeapi.Limiter) *testBundle {
		t.Helper()
		fake := stripefake.New(stripefake.Options{RecordRequests: true}) // records, limits nothing
		require.NoError(t, stripefake.Seed(fake, stripefake.SeedOptions{Customers: 10, RandSeed: 3}))
		log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
		return &testBundle{fake: fake, api: stripeapi.New(fake.Start(t), stripefake.TestKey, lim, log), lim: lim, ids: fake.IDs("", "customer")}
	}
	// fetch gets n objects from each of three endpoints, interleaved, from
	// eight workers.
	fetch := func(t *testing.T, b *testBundle, n int) {
		t.Helper()
		jobs := make(chan string)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Go(func() {
				for p := range jobs {
					if _, _, err := b.api.Get(t.Context(), p, ""); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		for i := range n {
			id := b.ids[i%len(b.ids)]
			for _, p := range []string{"/v1/customers/" + id, "/v1/customers/" + id + "/tax_ids", "/v1/customers"} {
				jobs <- p
			}
		}
		close(jobs)
		wg.Wait()
		close(errs)
		require.NoError(t, <-errs)
	}
	endpoints := []string{"GET /v1/customers", "GET /v1/customers/{id}", "GET /v1/customers/{id}/tax_ids"}

	t.Run("EachEndpointKeepsItsRate", func(t *testing.T) {
		t.Parallel()
		b := setup(t, stripeapi.NewLimiter(1000, 100, stripeapi.WithEndpointRate(20)))
		fetch(t, b, 45) // 20 at once, 20 a second later, 5 a second after

		per, all := stripefake.MostInWindow(b.fake.Requests(), time.Second)
		t.Logf("busiest second: %v per endpoint, %d over all", per, all)
		require.Len(t, per, 3)
		for _, e := range endpoints {
			require.LessOrEqual(t, per[e], 20, e)
		}
		require.Greater(t, all, 20, "endpoints have a budget each")
		var stats []stripeapi.EndpointStats
		for _, e := range endpoints {
			stats = append(stats, stripeapi.EndpointStats{Endpoint: e, Requests: 45, Rate: 20})
		}
		require.Equal(t, stats, b.lim.Endpoints())
		require.EqualValues(t, 135, b.lim.Requests())
	})

	t.Run("GlobalRateHoldsAllEndpoints", func(t *testing.T) {
		t.Parallel()
		b := setup(t, stripeapi.NewLimiter(20, 1))
		fetch(t, b, 15)

		reqs := b.fake.Requests()
		per, all := stripefake.MostInWindow(reqs, time.Second)
		t.Logf("busiest second: %v per endpoint, %d over all", per, all)
		// A token bucket lets burst + rate × t go in t: the 45 requests
		// take at least 44/20 s from the first to the last. Their arrival
		// times are read at the fake, after a trip whose length varies
		// with the machine's load, so the first may arrive late by a
		// little (150 ms allowed); a limiter that did not hold all the
		// endpoints to one rate would send them in a fraction of that.
		require.Len(t, reqs, 45)
		span := reqs[len(reqs)-1].At.Sub(reqs[0].At)
		require.GreaterOrEqual(t, span, 44*time.Second/20-150*time.Millisecond, "45 requests at 20/s with a burst of 1")
		require.Greater(t, all, 0)
		for _, e := range endpoints {
			require.Positive(t, per[e], e)
		}
		require.EqualValues(t, 45, b.lim.Requests())
	})

	t.Run("QueuedRequestGivesUpWithItsContext", func(t *testing.T) {
		t.Parallel()
		b := setup(t, stripeapi.NewLimiter(1000, 100, stripeapi.WithEndpointRate(0.1)))
		_, _, err := b.api.Get(t.Context(), "/v1/customers/"+b.ids[0], "")
		require.NoError(t, err)
		// The endpoint's next request may go in ten seconds.
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() {
			_, _, err := b.api.Get(ctx, "/v1/customers/"+b.ids[1], "")
			done <- err
		}()
		const endpoint = "GET /v1/customers/{id}"
		require.Eventually(t, func() bool { return b.lim.Waiting(endpoint) == 1 }, 5*time.Second, time.Millisecond)
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
		require.Zero(t, b.lim.Waiting(endpoint))
		require.Len(t, b.fake.Requests(), 1)
	})
}

// TestLimiterSlowsTheLevelStripeNames answers the first request 429 with
// each Stripe-Rate-Limited-Reason Stripe sends, and the retry 200, and looks
// at the rate of both levels after: cut by a quarter at the level named,
// then raised by 1% of its maximum by the success.
func TestLimiterSlowsTheLevelStripeNames(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		reason                 string
		endpointRate           float64 // 0: the level is off
		wantGlobal, wantEndpnt float64
	}{
		{"endpoint-rate", 25, 1000, 19},
		{"endpoint-concurrency", 25, 1000, 19},
		{"resource-specific", 25, 1000, 19},
		{"global-rate", 25, 760, 25},
		{"global-concurrency", 25, 760, 25},
		{"", 25, 760, 25}, // a lock_timeout, or no reason at all
		{"endpoint-rate", 0, 760, 0},
	} {
		t.Run(c.reason, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if calls.Add(1) == 1 {
					w.Header().Set("Retry-After", "0")
					if c.reason != "" {
						w.Header().Set("Stripe-Rate-Limited-Reason", c.reason)
					}
					http.Error(w, `{"error":{"type":"invalid_request_error","code":"rate_limit"}}`, http.StatusTooManyRequests)
					return
				}
				w.Write([]byte(`{}`))
			}))
			t.Cleanup(srv.Close)

			lim := stripeapi.NewLimiter(1000, 10, stripeapi.WithEndpointRate(c.endpointRate))
			client := &http.Client{Transport: lim.Transport(http.DefaultTransport)}
			resp, err := client.Get(srv.URL + "/v1/customers/cus_NffrFeUfNV2Hib")
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)

			require.InDelta(t, c.wantGlobal, lim.Rate(), 1e-9)
			require.Equal(t, []stripeapi.EndpointStats{{
				Endpoint: "GET /v1/customers/{id}", Requests: 2, RateLimited: 1, Rate: c.wantEndpnt,
			}}, lim.Endpoints())
			require.EqualValues(t, 2, lim.Requests())
			require.EqualValues(t, 1, lim.RateLimited())
		})
	}
}

func TestLimiterWaitsOutRateLimits(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			w.Header().Set("Retry-After", "0")
			w.Header().Set("Stripe-Rate-Limited-Reason", "global-rate")
			http.Error(w, `{"error":{"type":"invalid_request_error","code":"rate_limit"}}`, http.StatusTooManyRequests)
			return
		}
		w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)

	lim := stripeapi.NewLimiter(1000, 10)
	client := &http.Client{Transport: lim.Transport(http.DefaultTransport)}
	resp, err := client.Get(srv.URL)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.EqualValues(t, 3, lim.Requests())
	require.EqualValues(t, 2, lim.RateLimited())
}

// TestLimiterMeetsTheFakesLimits runs the limiter at the fake's limits, both
// levels enforced, and expects no 429 at all.
func TestLimiterMeetsTheFakesLimits(t *testing.T) {
	t.Parallel()
	fake := stripefake.New(stripefake.Options{RateLimit: 40, EndpointRateLimit: 15, RecordRequests: true})
	require.NoError(t, stripefake.Seed(fake, stripefake.SeedOptions{Customers: 10, RandSeed: 4}))
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	lim := stripeapi.NewLimiter(40, 4, stripeapi.WithEndpointRate(15))
	api := stripeapi.New(fake.Start(t), stripefake.TestKey, lim, log)

	ids := fake.IDs("", "customer")
	var wg sync.WaitGroup
	var failed atomic.Int64
	for w := range 6 {
		wg.Go(func() {
			for i := range 10 {
				id := ids[(w+i)%len(ids)]
				p := []string{"/v1/customers/" + id, "/v1/customers/" + id + "/tax_ids", "/v1/customers"}[(w+i)%3]
				if _, _, err := api.Get(t.Context(), p, ""); err != nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	require.Zero(t, failed.Load())
	require.Zero(t, fake.Stats().RateLimited, "%+v", fake.Requests())
	require.Zero(t, lim.RateLimited())
	per, _ := stripefake.MostInWindow(fake.Requests(), time.Second)
	for e, n := range per {
		require.LessOrEqual(t, n, 15, e)
	}
}

// TestLimitersShareEndpointLevels runs two limiters, each with global room
// for more than an endpoint allows, on shared endpoint levels (a replica's
// backfills and catch-ups), both listing one endpoint at once: together
// they keep to its rate, and the fake answers no 429; each counts its own
// requests.
func TestLimitersShareEndpointLevels(t *testing.T) {
	t.Parallel()
	const perEndpoint, each = 8, 24
	fake := stripefake.New(stripefake.Options{RateLimit: 1000, EndpointRateLimit: perEndpoint, RecordRequests: true})
	require.NoError(t, stripefake.Seed(fake, stripefake.SeedOptions{Customers: 3, RandSeed: 5}))
	url := fake.Start(t)
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	levels := stripeapi.NewEndpointLevels(perEndpoint)
	lims := []*stripeapi.Limiter{
		stripeapi.NewLimiter(40, 4, stripeapi.WithEndpointLevels(levels)),
		stripeapi.NewLimiter(40, 4, stripeapi.WithEndpointLevels(levels)),
	}
	var wg sync.WaitGroup
	var failed atomic.Int64
	for _, lim := range lims {
		api := stripeapi.New(url, stripefake.TestKey, lim, log)
		for range 4 {
			wg.Go(func() {
				for range each / 4 {
					if _, _, err := api.Get(t.Context(), "/v1/customers", ""); err != nil {
						failed.Add(1)
					}
				}
			})
		}
	}
	wg.Wait()
	require.Zero(t, failed.Load())
	require.Zero(t, fake.Stats().RateLimited, "answers 429")
	per, _ := stripefake.MostInWindow(fake.Requests(), time.Second)
	require.LessOrEqual(t, per["GET /v1/customers"], perEndpoint, "requests in one second, both limiters")
	for _, lim := range lims {
		require.EqualValues(t, each, lim.Requests())
		require.Zero(t, lim.RateLimited())
	}
}
