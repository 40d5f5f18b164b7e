package stripefake_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/pkg/stripefake"
)

func TestEndpointRateLimits(t *testing.T) {
	t.Parallel()
	seed := stripefake.SeedOptions{Customers: 12, RandSeed: 11}

	// The bucket refills one token every two seconds, far slower than the
	// requests come, so that what passes is the burst and no more.
	t.Run("ClientIgnoringTheEndpointLimitMeets429s", func(t *testing.T) {
		t.Parallel()
		b := setup(t, stripefake.Options{RateLimit: 1000, EndpointRateLimit: 0.5, EndpointBurst: 5, RecordRequests: true}, seed)
		ids := b.srv.IDs("", "customer")
		require.Len(t, ids, 12)

		var limited int
		for i, id := range ids[:10] {
			resp, _, m := b.get(t, "/v1/customers/"+id)
			if i < 5 {
				require.Equal(t, http.StatusOK, resp.StatusCode, "request %d is within the burst", i)
				continue
			}
			require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "request %d", i)
			require.Equal(t, stripefake.ReasonEndpointRate, resp.Header.Get("Stripe-Rate-Limited-Reason"))
			e := m["error"].(map[string]any)
			require.Equal(t, "rate_limit", e["code"])
			require.Equal(t, "invalid_request_error", e["type"])
			limited++
		}
		// Another endpoint, and the same path with a different method's
		// route, have buckets of their own.
		resp, _, _ := b.get(t, "/v1/customers")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		resp, _, _ = b.get(t, "/v1/customers/"+ids[0]+"/tax_ids")
		require.Equal(t, http.StatusOK, resp.StatusCode)

		st := b.srv.Stats()
		require.EqualValues(t, limited, st.RateLimited)
		require.EqualValues(t, limited, st.EndpointLimited)
		reqs := b.srv.Requests()
		require.Len(t, reqs, 12)
		for i, r := range reqs[:10] {
			require.Equal(t, "GET /v1/customers/{id}", r.Endpoint)
			if i >= 5 {
				require.Equal(t, stripefake.ReasonEndpointRate, r.Limited)
			}
		}
		require.Equal(t, "GET /v1/customers/{id}/tax_ids", reqs[11].Endpoint)
	})

	t.Run("EndpointRefusalTakesNoGlobalToken", func(t *testing.T) {
		t.Parallel()
		b := setup(t, stripefake.Options{RateLimit: 0.5, Burst: 3, EndpointRateLimit: 0.5, EndpointBurst: 1}, seed)
		for _, c := range []struct {
			path, reason string
		}{
			{"/v1/customers", ""},
			{"/v1/customers", stripefake.ReasonEndpointRate}, // the global bucket keeps its 2 tokens
			{"/v1/products", ""},
			{"/v1/prices", ""},
			{"/v1/charges", stripefake.ReasonGlobalRate}, // both are empty: the global level is named
		} {
			resp, _, _ := b.get(t, c.path)
			require.Equal(t, c.reason, resp.Header.Get("Stripe-Rate-Limited-Reason"), c.path)
			if c.reason == "" {
				require.Equal(t, http.StatusOK, resp.StatusCode, c.path)
			}
		}
		st := b.srv.Stats()
		require.EqualValues(t, 2, st.RateLimited)
		require.EqualValues(t, 1, st.EndpointLimited)
	})

	t.Run("RateLimitBringsStripesEndpointLimit", func(t *testing.T) {
		t.Parallel()
		b := setup(t, stripefake.Options{RateLimit: 1000, RecordRequests: true}, seed)
		for range 40 {
			b.get(t, "/v1/customers?limit=1")
		}
		var ok int
		for i, r := range b.srv.Requests() {
			if r.Limited == "" {
				ok++
			}
			if i < stripefake.DefaultEndpointRateLimit {
				require.Empty(t, r.Limited, "request %d is within the burst of 25", i)
			} else if r.Limited != "" {
				require.Equal(t, stripefake.ReasonEndpointRate, r.Limited)
			}
		}
		require.Less(t, ok, 40, "40 requests at once are over 25/s")
	})

	t.Run("ZeroOptionsLimitNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t, stripefake.Options{}, seed)
		for range 40 {
			resp, _, _ := b.get(t, "/v1/customers?limit=1")
			require.Equal(t, http.StatusOK, resp.StatusCode)
		}
		require.Nil(t, b.srv.Requests(), "recorded only on request")
	})

	t.Run("EndpointsAreRoutes", func(t *testing.T) {
		t.Parallel()
		b := setup(t, stripefake.Options{RecordRequests: true}, seed)
		cus := b.srv.IDs("", "customer")[0]
		paths := []string{
			"/v1/customers", "/v1/customers/" + cus, "/v1/customers/" + cus + "/tax_ids",
			"/v1/customers/" + cus + "/tax_ids/txi_1NoSuchTaxId0", "/v1/subscription_items?subscription=sub_1X",
			"/v1/no_such_thing",
		}
		for _, p := range paths {
			b.get(t, p)
		}
		var got []string
		for _, r := range b.srv.Requests() {
			got = append(got, r.Endpoint)
		}
		require.Equal(t, []string{
			"GET /v1/customers", "GET /v1/customers/{id}", "GET /v1/customers/{id}/tax_ids",
			"GET /v1/customers/{id}/tax_ids/{id}", "GET /v1/subscription_items",
			"GET /", // every unrouted request shares the catch-all
		}, got)
	})
}

func TestMostInWindow(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	reqs := []stripefake.Request{
		{At: at(0), Endpoint: "a"}, {At: at(999), Endpoint: "a"}, {At: at(1000), Endpoint: "a"},
		{At: at(1500), Endpoint: "a"}, {At: at(1999), Endpoint: "a"},
		{At: at(500), Endpoint: "b"}, {At: at(5000), Endpoint: "b"},
	}
	per, all := stripefake.MostInWindow(reqs, time.Second)
	// [1000, 2000) holds three of a; the window is half open, so 0 and 1000
	// are never in one.
	require.Equal(t, map[string]int{"a": 3, "b": 1}, per)
	require.Equal(t, 3, all) // [500, 1500): b's 500, a's 999 and 1000
	per, all = stripefake.MostInWindow(nil, time.Second)
	require.Empty(t, per)
	require.Zero(t, all)
}
