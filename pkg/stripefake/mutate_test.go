package stripefake_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/stripesync/stripesync/pkg/stripefake"
)

func eventIDs(t *testing.T, b *testBundle, params *stripe.EventListParams) []string {
	t.Helper()
	it := b.api.Events.List(params)
	var ids []string
	for it.Next() {
		ids = append(ids, it.Event().ID)
	}
	require.NoError(t, it.Err())
	return ids
}

func TestEvents(t *testing.T) {
	t.Parallel()

	var clock atomic.Pointer[time.Time]
	clock.Store(&now)
	b := setup(t, stripefake.Options{NowFunc: func() time.Time { return *clock.Load() }},
		stripefake.SeedOptions{Customers: 40, RandSeed: 7})
	cust := b.srv.IDs("", "customer")[3]

	// A change 40 days ago, past the 30-day horizon.
	old := now.Add(-40 * 24 * time.Hour)
	clock.Store(&old)
	oldEvt, err := b.srv.UpdateCustomer("", cust, map[string]any{"metadata": map[string]any{"plan": "legacy"}})
	require.NoError(t, err)

	later := now.Add(time.Hour)
	clock.Store(&later)
	updated, err := b.srv.UpdateCustomer("", cust, map[string]any{"email": "new@example.com", "metadata": map[string]any{"plan": "", "tier": "gold"}})
	require.NoError(t, err)
	require.Equal(t, "customer.updated", updated.Type)
	require.Equal(t, cust, updated.ObjectID)

	var sub string
	for _, id := range b.srv.IDs("", "subscription") {
		if o, _ := b.srv.Object("", "subscription", id); o["status"] == "active" {
			sub = id
		}
	}
	canceled, err := b.srv.CancelSubscription("", sub)
	require.NoError(t, err)
	require.Equal(t, "customer.subscription.deleted", canceled.Type)
	product := b.srv.IDs("", "product")[0]
	deleted, err := b.srv.DeleteProduct("", product)
	require.NoError(t, err)
	require.Equal(t, "product.deleted", deleted.Type)

	t.Run("UpdatedCarriesPreviousAttributes", func(t *testing.T) {
		t.Parallel()
		ev, err := b.api.Events.Get(updated.ID, nil)
		require.NoError(t, err)
		require.Equal(t, stripefake.CurrentAPIVersion, ev.APIVersion, "rendered in the account's default version, whatever the request's")
		require.Equal(t, "new@example.com", ev.Data.Object["email"])
		require.Equal(t, map[string]any{"tier": "gold"}, ev.Data.Object["metadata"])
		require.NotEqual(t, "new@example.com", ev.Data.PreviousAttributes["email"])
		require.Equal(t, map[string]any{"plan": "legacy", "tier": nil}, ev.Data.PreviousAttributes["metadata"])
		require.Equal(t, later.Unix(), ev.Created)
	})

	t.Run("TypeFilterAndHorizon", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, []string{updated.ID}, eventIDs(t, b, &stripe.EventListParams{Type: stripe.String("customer.updated")}))
		require.Contains(t, b.srv.IDs("", "event"), oldEvt.ID, "kept, but past the horizon")

		_, err := b.api.Events.Get(oldEvt.ID, nil)
		var serr *stripe.Error
		require.ErrorAs(t, err, &serr)
		require.Equal(t, http.StatusNotFound, serr.HTTPStatusCode)

		all := eventIDs(t, b, &stripe.EventListParams{ListParams: stripe.ListParams{Limit: stripe.Int64(100)}})
		require.NotContains(t, all, oldEvt.ID)
		require.Less(t, len(all), len(b.srv.IDs("", "event")))
		it := b.api.Events.List(&stripe.EventListParams{})
		for it.Next() {
			require.GreaterOrEqual(t, it.Event().Created, later.Add(-stripefake.EventRetention).Unix())
		}
		require.NoError(t, it.Err())
	})

	t.Run("Wildcard", func(t *testing.T) {
		t.Parallel()
		it := b.api.Events.List(&stripe.EventListParams{Type: stripe.String("customer.*")})
		var types []string
		var ids []string
		for it.Next() {
			types = append(types, string(it.Event().Type))
			ids = append(ids, it.Event().ID)
		}
		require.NoError(t, it.Err())
		for _, typ := range types {
			require.True(t, strings.HasPrefix(typ, "customer."), typ)
		}
		require.Contains(t, ids, updated.ID)
		require.Contains(t, ids, canceled.ID)
		require.NotContains(t, ids, deleted.ID)
	})

	t.Run("TypesAndCreated", func(t *testing.T) {
		t.Parallel()
		got := eventIDs(t, b, &stripe.EventListParams{Types: stripe.StringSlice([]string{"product.deleted", "customer.subscription.deleted"})})
		require.ElementsMatch(t, []string{canceled.ID, deleted.ID}, got)

		got = eventIDs(t, b, &stripe.EventListParams{CreatedRange: &stripe.RangeQueryParams{GreaterThan: now.Unix()}})
		require.ElementsMatch(t, []string{updated.ID, canceled.ID, deleted.ID}, got)

		resp, _, _ := b.get(t, "/v1/events?type=a&types[]=b")
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	})

	t.Run("MutationsChangeWhatListsShow", func(t *testing.T) {
		t.Parallel()
		_, _, m := b.get(t, "/v1/products?limit=100")
		require.NotContains(t, listIDs(t, m), product)
		resp, _, _ := b.get(t, "/v1/products/"+product)
		require.Equal(t, http.StatusNotFound, resp.StatusCode)

		_, _, m = b.get(t, "/v1/subscriptions?limit=100&customer="+canceled.ObjectID)
		require.NotContains(t, listIDs(t, m), sub)
		_, _, m = b.get(t, "/v1/subscriptions/"+sub)
		require.Equal(t, "canceled", m["status"])
		require.Equal(t, later.Unix(), int64(m["canceled_at"].(float64)))
	})
}

func TestCreateOnConnectedAccount(t *testing.T) {
	t.Parallel()
	b := setup(t, stripefake.Options{}, stripefake.SeedOptions{Customers: 2, ConnectedAccounts: 1, RandSeed: 8})
	acct := b.srv.ConnectedAccounts()[0]

	ev, err := b.srv.CreateCustomer(acct, map[string]any{"email": "jenny@example.com"})
	require.NoError(t, err)
	require.Equal(t, "customer.created", ev.Type)
	require.Equal(t, acct, ev.Account)
	require.Regexp(t, `^cus_\w{14}$`, ev.ObjectID)

	_, _, m := b.get(t, "/v1/events/"+ev.ID, "Stripe-Account", acct)
	require.Equal(t, acct, m["account"])
	require.Equal(t, "jenny@example.com", m["data"].(map[string]any)["object"].(map[string]any)["email"])

	params := &stripe.CustomerListParams{Email: stripe.String("jenny@example.com")}
	params.SetStripeAccount(acct)
	it := b.api.Customers.List(params)
	require.True(t, it.Next())
	require.Equal(t, ev.ObjectID, it.Customer().ID)
	require.False(t, it.Next())
	require.NoError(t, it.Err())

	_, err = b.srv.UpdateCustomer("acct_1Unknown", ev.ObjectID, nil)
	require.Error(t, err)
	_, err = b.srv.UpdateCustomer("", ev.ObjectID, map[string]any{"name": "x"})
	var ferr *stripefake.Error
	require.ErrorAs(t, err, &ferr)
	require.Equal(t, "resource_missing", ferr.Code)
}

// receiver is a webhook endpoint that verifies signatures like ingest does.
type receiver struct {
	mu       sync.Mutex
	received []string // event ids, in order
	failType string   // answer 500 to events of this type
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := webhook.ValidatePayload(body, r.Header.Get("Stripe-Signature"), "whsec_test_secret"); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var env struct{ ID, Type string }
	if err := json.Unmarshal(body, &env); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if env.Type == rc.failType {
		http.Error(w, "boom", http.StatusInternalServerError)
		return
	}
	rc.mu.Lock()
	rc.received = append(rc.received, env.ID)
	rc.mu.Unlock()
}

func (rc *receiver) ids() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.received...)
}

func TestWebhooks(t *testing.T) {
	t.Parallel()

	type testBundle2 struct {
		*testBundle
		rc *receiver
	}
	setupHooks := func(t *testing.T, secret string, drop func(stripefake.Event) bool) *testBundle2 {
		t.Helper()
		rc := &receiver{failType: "product.deleted"}
		hook := httptest.NewServer(rc)
		t.Cleanup(hook.Close)
		b := setup(t, stripefake.Options{WebhookURL: hook.URL, WebhookSecret: secret, DropWebhookFunc: drop},
			stripefake.SeedOptions{Customers: 5, RandSeed: 9})
		return &testBundle2{testBundle: b, rc: rc}
	}

	t.Run("SignedDeliveryVerifies", func(t *testing.T) {
		t.Parallel()
		b := setupHooks(t, "whsec_test_secret", nil)
		cust := b.srv.IDs("", "customer")[0]

		ev, err := b.srv.UpdateCustomer("", cust, map[string]any{"name": "Jenny Rosen"})
		require.NoError(t, err)
		require.True(t, ev.Delivered)
		require.Equal(t, []string{ev.ID}, b.rc.ids())

		var sent map[string]any
		require.NoError(t, json.Unmarshal(ev.Payload, &sent))
		require.EqualValues(t, 1, sent["pending_webhooks"], "pending while in flight, as Stripe sends it")
		_, _, m := b.get(t, "/v1/events/"+ev.ID)
		require.EqualValues(t, 0, m["pending_webhooks"])

		require.Equal(t, []string{ev.ID}, eventIDs(t, b.testBundle, &stripe.EventListParams{
			DeliverySuccess: stripe.Bool(true), CreatedRange: &stripe.RangeQueryParams{GreaterThanOrEqual: now.Unix()}}))
		require.EqualValues(t, 1, b.srv.Stats().WebhooksDelivered)
	})

	t.Run("WrongSecretIsRefused", func(t *testing.T) {
		t.Parallel()
		b := setupHooks(t, "whsec_other", nil)
		ev, err := b.srv.UpdateCustomer("", b.srv.IDs("", "customer")[0], map[string]any{"name": "X"})
		require.NoError(t, err)
		require.False(t, ev.Delivered)
		require.Empty(t, b.rc.ids())
	})

	t.Run("FailedAndDroppedDeliveriesAreListedUndelivered", func(t *testing.T) {
		t.Parallel()
		b := setupHooks(t, "whsec_test_secret", func(ev stripefake.Event) bool { return ev.Type == "customer.deleted" })
		custs := b.srv.IDs("", "customer")

		failed, err := b.srv.DeleteProduct("", b.srv.IDs("", "product")[0]) // the receiver answers 500
		require.NoError(t, err)
		require.False(t, failed.Delivered)
		dropped, err := b.srv.DeleteCustomer("", custs[0]) // cancels the subscriptions first, delivered
		require.NoError(t, err)
		require.Equal(t, "customer.deleted", dropped.Type)
		require.False(t, dropped.Delivered)
		ok, err := b.srv.UpdateCustomer("", custs[1], map[string]any{"name": "Y"})
		require.NoError(t, err)
		require.True(t, ok.Delivered)

		// What a syncer's catch-up reads: the events webhooks did not bring.
		undelivered := eventIDs(t, b.testBundle, &stripe.EventListParams{DeliverySuccess: stripe.Bool(false)})
		require.ElementsMatch(t, []string{failed.ID, dropped.ID}, undelivered)
		require.NotContains(t, b.rc.ids(), dropped.ID)
		require.Contains(t, b.rc.ids(), ok.ID)

		st := b.srv.Stats()
		require.EqualValues(t, 2, st.WebhooksFailed)
		require.EqualValues(t, len(b.rc.ids()), st.WebhooksDelivered)
	})
}

func TestRateLimits(t *testing.T) {
	t.Parallel()
	seed := stripefake.SeedOptions{Customers: 30, RandSeed: 10}

	t.Run("TokenBucketAnswers429", func(t *testing.T) {
		t.Parallel()
		b := setup(t, stripefake.Options{RateLimit: 0.5, Burst: 2}, seed)
		for range 2 {
			resp, _, _ := b.get(t, "/v1/customers")
			require.Equal(t, http.StatusOK, resp.StatusCode)
		}
		resp, _, m := b.get(t, "/v1/customers")
		require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
		require.Equal(t, "global-rate", resp.Header.Get("Stripe-Rate-Limited-Reason"))
		require.Empty(t, resp.Header.Get("Retry-After"))
		e := m["error"].(map[string]any)
		require.Equal(t, "rate_limit", e["code"])
		require.Equal(t, "invalid_request_error", e["type"])
		require.EqualValues(t, 1, b.srv.Stats().RateLimited)
		require.EqualValues(t, 3, b.srv.Stats().Requests)
	})

	// stripe-go retries a 429 only when it is a lock_timeout (or when Stripe
	// sends Stripe-Should-Retry: true, which it does not for rate limits), so
	// a syncer must back off and resume from its cursor itself.
	t.Run("CallerResumesAfterRateLimit", func(t *testing.T) {
		t.Parallel()
		b := setup(t, stripefake.Options{Force429Func: stripefake.StormFunc(2, 1)}, seed)
		api := newAPI(b.url, stripefake.TestKey, 2)

		var ids []string
		var limited int
		for {
			params := &stripe.CustomerListParams{}
			params.Limit = stripe.Int64(4)
			if len(ids) > 0 {
				params.StartingAfter = stripe.String(ids[len(ids)-1])
			}
			it := api.Customers.List(params)
			for it.Next() {
				ids = append(ids, it.Customer().ID)
			}
			err := it.Err()
			if err == nil {
				break
			}
			var serr *stripe.Error
			require.ErrorAs(t, err, &serr)
			require.Equal(t, http.StatusTooManyRequests, serr.HTTPStatusCode)
			require.Equal(t, stripe.ErrorCodeRateLimit, serr.Code)
			limited++
			require.Less(t, limited, 100)
		}
		require.Equal(t, b.srv.IDs("", "customer"), ids)
		require.Positive(t, limited)
		require.EqualValues(t, limited, b.srv.Stats().RateLimited)
	})

	t.Run("StripeGoRetriesLockTimeouts", func(t *testing.T) {
		t.Parallel()
		b := setup(t, stripefake.Options{LockTimeoutFunc: stripefake.StormFunc(2, 1)}, seed)
		api := newAPI(b.url, stripefake.TestKey, 2)

		params := &stripe.CustomerListParams{}
		params.Limit = stripe.Int64(10)
		it := api.Customers.List(params)
		n := 0
		for it.Next() {
			n++
		}
		require.NoError(t, it.Err())
		require.Equal(t, 30, n)
		require.EqualValues(t, 1, b.srv.Stats().RateLimited, "pages 1, 2 pass; page 3 is retried once")
	})

	t.Run("Latency", func(t *testing.T) {
		t.Parallel()
		b := setup(t, stripefake.Options{Latency: 30 * time.Millisecond, LatencyJitter: 10 * time.Millisecond}, seed)
		start := time.Now()
		resp, _, _ := b.get(t, "/v1/customers?limit="+strconv.Itoa(1))
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.GreaterOrEqual(t, time.Since(start), 30*time.Millisecond)
	})
}

func TestFaultFuncs(t *testing.T) {
	t.Parallel()

	storm := stripefake.StormFunc(3, 2)
	var got []bool
	for range 10 {
		got = append(got, storm(nil))
	}
	require.Equal(t, []bool{false, false, false, true, true, false, false, false, true, true}, got)

	frac := stripefake.FractionFunc(0.25, 1)
	hits := 0
	for range 4000 {
		if frac(nil) {
			hits++
		}
	}
	require.InDelta(t, 1000, hits, 150)
}
