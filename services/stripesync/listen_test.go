package stripesync_test

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/stripesync/stripesync/pkg/stripefake"
	"github.com/stripesync/stripesync/services/stripesync"
)

// ingestRecorder stands in for ingest: it verifies each delivery's
// signature with stripe-go, as ingest does, and counts the events by id.
type ingestRecorder struct {
	t      *testing.T
	secret string
	mu     sync.Mutex
	got    map[string]int // event id → deliveries
	types  map[string]string
}

func (r *ingestRecorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := webhook.ValidatePayload(body, req.Header.Get("Stripe-Signature"), r.secret); err != nil {
		r.t.Errorf("signature: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var ev struct{ ID, Type string }
	if err := json.Unmarshal(body, &ev); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got[ev.ID]++
	r.types[ev.ID] = ev.Type
	w.WriteHeader(http.StatusOK)
}

func (r *ingestRecorder) snapshot() (got map[string]int, types map[string]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.got), maps.Clone(r.types)
}

func TestListen(t *testing.T) {
	t.Parallel()
	const secret = "whsec_listen_test"

	type testBundle struct {
		fake   *stripefake.Server
		ingest *ingestRecorder
		out    *syncBuffer
	}
	setup := func(t *testing.T, args ...string) *testBundle {
		t.Helper()
		fake := stripefake.New(stripefake.Options{})
		require.NoError(t, stripefake.Seed(fake, stripefake.SeedOptions{Customers: 2, RandSeed: 3}))
		apiURL := fake.Start(t)
		rec := &ingestRecorder{t: t, secret: secret, got: map[string]int{}, types: map[string]string{}}
		srv := httptest.NewServer(rec)
		t.Cleanup(srv.Close)
		env := map[string]string{"STRIPE_API_KEY": stripefake.TestKey, "STRIPE_API_BASE": apiURL, "STRIPE_WEBHOOK_SECRET": secret + ",whsec_other"}
		ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
		b := &testBundle{fake: fake, ingest: rec, out: &syncBuffer{}}
		done := make(chan error, 1)
		go func() {
			done <- stripesync.Run(ctx, append([]string{"listen", "-forward-to", srv.URL, "-interval", "50ms"}, args...), func(k string) string { return env[k] }, b.out)
		}()
		t.Cleanup(func() {
			cancel()
			require.NoError(t, <-done)
		})
		require.Eventually(t, func() bool { return strings.Contains(b.out.String(), "forwarding new events") }, 10*time.Second, 10*time.Millisecond)
		return b
	}

	t.Run("ForwardsNewEventsOnceSigned", func(t *testing.T) {
		t.Parallel()
		b := setup(t, "-thin")
		cust := b.fake.IDs("", "customer")[0]
		up, err := b.fake.UpdateCustomer("", cust, map[string]any{"name": "Listen One"})
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			got, _ := b.ingest.snapshot()
			return got[up.ID] == 1 && got[up.ThinID] == 1
		}, 10*time.Second, 10*time.Millisecond)
		up2, err := b.fake.UpdateCustomer("", cust, map[string]any{"name": "Listen Two"})
		require.NoError(t, err)
		require.Eventually(t, func() bool { got, _ := b.ingest.snapshot(); return got[up2.ID] == 1 && got[up2.ThinID] == 1 }, 10*time.Second, 10*time.Millisecond)
		// The polls that found up2 listed up and its twin again (the overlap).
		got, types := b.ingest.snapshot()
		for id, n := range got {
			require.Equal(t, 1, n, "event %s forwarded %d times", id, n)
		}
		require.Len(t, got, 4, "only the events after the start: %v", types)
		require.Equal(t, "v1.customer.updated", types[up.ThinID])
		require.Regexp(t, `(?m)^\d\d:\d\d:\d\d `+up.ID+` customer.updated 200$`, b.out.String())
	})

	t.Run("FiltersByType", func(t *testing.T) {
		t.Parallel()
		b := setup(t, "-events", "product.*")
		_, err := b.fake.UpdateCustomer("", b.fake.IDs("", "customer")[0], map[string]any{"name": "Not Forwarded"})
		require.NoError(t, err)
		del, err := b.fake.DeleteProduct("", b.fake.IDs("", "product")[0])
		require.NoError(t, err)
		require.Eventually(t, func() bool { got, _ := b.ingest.snapshot(); return got[del.ID] == 1 }, 10*time.Second, 10*time.Millisecond)
		// The customer's event came first: the poll that found the
		// product's had listed it too.
		_, types := b.ingest.snapshot()
		for _, typ := range types {
			require.True(t, strings.HasPrefix(typ, "product."), "forwarded %s", typ)
		}
	})

	t.Run("RefusesLiveKeys", func(t *testing.T) {
		t.Parallel()
		for _, key := range []string{"sk_live_123", "rk_live_123"} {
			err := stripesync.Run(t.Context(), []string{"listen"}, func(k string) string {
				return map[string]string{"STRIPE_API_KEY": key}[k]
			}, io.Discard)
			require.ErrorContains(t, err, "test mode only")
		}
	})
}
