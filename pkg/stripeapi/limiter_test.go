package stripeapi_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/pkg/stripeapi"
)

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
