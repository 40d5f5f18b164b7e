package stripefake_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/stripesync/stripesync/pkg/stripefake"
)

// thinPages follows next_page_url from path to the end and returns the
// pages. header pairs are sent with every request.
func thinPages(t *testing.T, b *testBundle, path string, header ...string) []map[string]any {
	t.Helper()
	var pages []map[string]any
	for path != "" {
		resp, body, m := b.get(t, path, header...)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
		pages = append(pages, m)
		require.Less(t, len(pages), 1000, "next_page_url never ends")
		path, _ = m["next_page_url"].(string)
	}
	return pages
}

func thinIDs(pages []map[string]any) []string {
	var ids []string
	for _, p := range pages {
		for _, ev := range p["data"].([]any) {
			ids = append(ids, ev.(map[string]any)["id"].(string))
		}
	}
	return ids
}

func rfc3339(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func TestThinEvents(t *testing.T) {
	t.Parallel()

	var clock atomic.Pointer[time.Time]
	clock.Store(&now)
	b := setup(t, stripefake.Options{NowFunc: func() time.Time { return *clock.Load() }},
		stripefake.SeedOptions{Customers: 12, ConnectedAccounts: 1, RandSeed: 11})
	acct := b.srv.ConnectedAccounts()[0]
	cust := b.srv.IDs("", "customer")[2]

	old := now.Add(-40 * 24 * time.Hour)
	clock.Store(&old)
	oldEvt, err := b.srv.UpdateCustomer("", cust, map[string]any{"name": "Old Name"})
	require.NoError(t, err)

	later := now.Add(time.Hour)
	clock.Store(&later)
	updated, err := b.srv.UpdateCustomer("", cust, map[string]any{"email": "thin@example.com"})
	require.NoError(t, err)
	product := b.srv.IDs("", "product")[0]
	latest := later.Add(time.Second) // a second apart: the list order is the time order
	clock.Store(&latest)
	deleted, err := b.srv.DeleteProduct("", product)
	require.NoError(t, err)
	connected, err := b.srv.CreateCustomer(acct, map[string]any{"email": "jenny@example.com"})
	require.NoError(t, err)

	t.Run("TwinOfAnUpdate", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, stripefake.ThinEventID(updated.ID), updated.ThinID)
		resp, _, m := b.get(t, "/v2/core/events/"+updated.ThinID)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, map[string]any{
			"id":             updated.ThinID,
			"object":         "v2.core.event",
			"type":           "v1.customer.updated",
			"created":        rfc3339(later),
			"livemode":       false,
			"reason":         nil,
			"related_object": map[string]any{"id": cust, "type": "customer", "url": "/v1/customers/" + cust},
			"snapshot_event": updated.ID,
		}, m, "no context on the platform")
		var payload map[string]any
		require.NoError(t, json.Unmarshal(updated.ThinPayload, &payload))
		require.Equal(t, m, payload)

		// The snapshot event it names is the same change.
		_, _, snap := b.get(t, "/v1/events/"+updated.ID)
		require.Equal(t, "customer.updated", snap["type"])
		require.Equal(t, "thin@example.com", snap["data"].(map[string]any)["object"].(map[string]any)["email"])
	})

	t.Run("DeletionNamesTheObject", func(t *testing.T) {
		t.Parallel()
		_, _, m := b.get(t, "/v2/core/events/"+deleted.ThinID)
		require.Equal(t, "v1.product.deleted", m["type"])
		require.Equal(t, map[string]any{"id": product, "type": "product", "url": "/v1/products/" + product}, m["related_object"])
	})

	t.Run("ConnectedAccountIsTheContext", func(t *testing.T) {
		t.Parallel()
		resp, _, m := b.get(t, "/v2/core/events/"+connected.ThinID, "Stripe-Context", acct)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, acct, m["context"])
		require.Equal(t, "v1.customer.created", m["type"])

		resp, _, _ = b.get(t, "/v2/core/events/"+connected.ThinID)
		require.Equal(t, http.StatusNotFound, resp.StatusCode, "the platform does not hold the account's events")
		resp, _, m = b.get(t, "/v2/core/events/"+connected.ThinID, "Stripe-Account", acct)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "/v2 takes Stripe-Context")
		require.Contains(t, m["error"].(map[string]any)["message"], "Stripe-Context")
		resp, _, _ = b.get(t, "/v2/core/events", "Stripe-Context", "acct_1Unknown")
		require.Equal(t, http.StatusForbidden, resp.StatusCode)

		ids := thinIDs(thinPages(t, b, "/v2/core/events?limit=100", "Stripe-Context", acct))
		require.Contains(t, ids, connected.ThinID)
		require.NotContains(t, thinIDs(thinPages(t, b, "/v2/core/events?limit=100")), connected.ThinID)
	})

	t.Run("ListPagesNewestFirstWithinTheHorizon", func(t *testing.T) {
		t.Parallel()
		pages := thinPages(t, b, "/v2/core/events?limit=7")
		require.Greater(t, len(pages), 2)
		ids := thinIDs(pages)
		var want []string
		for _, id := range b.srv.IDs("", stripefake.ThinEventObject) {
			if id != oldEvt.ThinID && !isOld(t, b, id) {
				want = append(want, id)
			}
		}
		require.Equal(t, want, ids, "every thin event of 30 days, newest first, once")
		require.Equal(t, updated.ThinID, ids[1], "newest first: the deletion, then the update")
		require.Equal(t, deleted.ThinID, ids[0])

		var created []string
		for _, p := range pages {
			require.LessOrEqual(t, len(p["data"].([]any)), 7)
			for _, ev := range p["data"].([]any) {
				created = append(created, ev.(map[string]any)["created"].(string))
			}
		}
		require.True(t, slices.IsSortedFunc(created, func(a, b string) int { return strings.Compare(b, a) }), "newest first")
		require.Nil(t, pages[0]["previous_page_url"])
		require.Nil(t, pages[len(pages)-1]["next_page_url"])

		// previous_page_url leads back to the page before.
		_, _, back := b.get(t, pages[1]["previous_page_url"].(string))
		require.Equal(t, thinIDs(pages[:1]), thinIDs([]map[string]any{back}))

		resp, _, m := b.get(t, "/v2/core/events")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Len(t, m["data"], 20, "the default page size")
	})

	t.Run("Horizon", func(t *testing.T) {
		t.Parallel()
		require.Contains(t, b.srv.IDs("", stripefake.ThinEventObject), oldEvt.ThinID, "kept, but past the horizon")
		resp, _, _ := b.get(t, "/v2/core/events/"+oldEvt.ThinID)
		require.Equal(t, http.StatusNotFound, resp.StatusCode)
		require.NotContains(t, thinIDs(thinPages(t, b, "/v2/core/events?limit=100")), oldEvt.ThinID)
	})

	t.Run("Filters", func(t *testing.T) {
		t.Parallel()
		since := url.QueryEscape(rfc3339(later))
		require.ElementsMatch(t, []string{updated.ThinID, deleted.ThinID},
			thinIDs(thinPages(t, b, "/v2/core/events?created[gte]="+since)))
		require.Equal(t, []string{deleted.ThinID},
			thinIDs(thinPages(t, b, "/v2/core/events?created[gte]="+since+"&types=v1.product.deleted")))
		for _, q := range []string{
			"types=v1.customer.updated&types=v1.product.deleted",
			"types[]=v1.customer.updated&types[]=v1.product.deleted",
			"types[0]=v1.customer.updated&types[1]=v1.product.deleted",
		} {
			got := thinIDs(thinPages(t, b, "/v2/core/events?limit=2&"+q))
			require.Equal(t, []string{deleted.ThinID, updated.ThinID}, got, q)
		}
		require.Equal(t, []string{updated.ThinID},
			thinIDs(thinPages(t, b, "/v2/core/events?types=v1.customer.updated&object_id="+cust)))
		require.Empty(t, thinIDs(thinPages(t, b, "/v2/core/events?created[lt]="+url.QueryEscape(rfc3339(now.Add(-31*24*time.Hour))))))

		// Filters hold on every page: the page token carries them.
		pages := thinPages(t, b, "/v2/core/events?limit=1&created[gte]="+since)
		require.Len(t, pages, 2)
		require.NotContains(t, pages[0]["next_page_url"], "created", "the page token is opaque")
	})

	t.Run("BadParameters", func(t *testing.T) {
		t.Parallel()
		many := strings.Repeat("types=v1.a&", 21)
		for _, q := range []string{
			"created[gte]=1748779200",
			"created[gte]=2025-06-01",
			"created=2025-06-01T12:00:00Z",
			"limit=0",
			"limit=101",
			"starting_after=evt_1",
			"type=v1.customer.updated",
			"page=garbage!",
			"page=e30&types=v1.customer.updated",
			many,
		} {
			resp, body, _ := b.get(t, "/v2/core/events?"+q)
			require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s: %s", q, body)
		}
		resp, _, _ := b.get(t, "/v2/core/events/"+updated.ThinID+"?expand[]=x")
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		resp, _, _ = b.get(t, "/v2/core/events/evt_test_65nope")
		require.Equal(t, http.StatusNotFound, resp.StatusCode)
	})
}

func isOld(t *testing.T, b *testBundle, thinID string) bool {
	t.Helper()
	resp, _, _ := b.get(t, "/v2/core/events/"+thinID)
	return resp.StatusCode == http.StatusNotFound
}

// TestThinRelatedObjectURLs holds every seeded thin event to its promise:
// related_object.url retrieves the object, with the event's context as the
// account, from the fake itself.
func TestThinRelatedObjectURLs(t *testing.T) {
	t.Parallel()
	b := setup(t, stripefake.Options{}, stripefake.SeedOptions{Customers: 8, ConnectedAccounts: 1, RandSeed: 12})
	acct := b.srv.ConnectedAccounts()[0]
	// Objects retrieved under their parent, whose url is the fake's own.
	cust := b.srv.IDs("", "customer")[0]
	_, err := b.srv.Create("", "tax_id", map[string]any{"customer": cust, "type": "eu_vat", "value": "DE123456789"})
	require.NoError(t, err)
	_, err = b.srv.AttachCard(acct, b.srv.IDs(acct, "customer")[0], nil)
	require.NoError(t, err)
	types := map[string]bool{}
	for _, account := range []string{"", acct} {
		header := []string{"Stripe-Context", account}
		if account == "" {
			header = nil
		}
		pages := thinPages(t, b, "/v2/core/events?limit=100", header...)
		require.NotEmpty(t, thinIDs(pages))
		for _, p := range pages {
			for _, item := range p["data"].([]any) {
				ev := item.(map[string]any)
				require.Equal(t, nilIfEmpty(account), ev["context"], ev["id"])
				ro := ev["related_object"].(map[string]any)
				u, ok := ro["url"].(string)
				require.True(t, ok, "%s about %s has no url", ev["type"], ro["type"])
				var h []string
				if account != "" {
					h = []string{"Stripe-Account", account}
				}
				resp, body, obj := b.get(t, u, h...)
				require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", u, body)
				require.Equal(t, ro["id"], obj["id"], u)
				require.Equal(t, ro["type"], obj["object"], u)
				types[ro["type"].(string)] = true
			}
		}
	}
	require.Contains(t, types, "tax_id", "retrieved under its customer")
	require.Contains(t, types, "card", "retrieved among its customer's sources")
	require.Contains(t, types, "invoice")
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// thinReceiver is an event destination: it verifies signatures like ingest
// and keeps what it receives.
type thinReceiver struct {
	mu     sync.Mutex
	bodies [][]byte
}

func (rc *thinReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := webhook.ValidatePayload(body, r.Header.Get("Stripe-Signature"), "whsec_thin"); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	rc.bodies = append(rc.bodies, body)
	rc.mu.Unlock()
}

func TestThinWebhooks(t *testing.T) {
	t.Parallel()
	rc := &thinReceiver{}
	hook := httptest.NewServer(rc)
	t.Cleanup(hook.Close)
	b := setup(t, stripefake.Options{WebhookURL: hook.URL, WebhookSecret: "whsec_thin", ThinEvents: true,
		DropWebhookFunc: func(ev stripefake.Event) bool { return ev.Type == "product.deleted" }},
		stripefake.SeedOptions{Customers: 3, ConnectedAccounts: 1, RandSeed: 13})
	acct := b.srv.ConnectedAccounts()[0]

	ev, err := b.srv.UpdateCustomer("", b.srv.IDs("", "customer")[0], map[string]any{"name": "Thin"})
	require.NoError(t, err)
	require.True(t, ev.Delivered)
	onAcct, err := b.srv.CreateCustomer(acct, nil)
	require.NoError(t, err)
	require.True(t, onAcct.Delivered)
	dropped, err := b.srv.DeleteProduct("", b.srv.IDs("", "product")[0])
	require.NoError(t, err)
	require.False(t, dropped.Delivered)

	rc.mu.Lock()
	bodies := slices.Clone(rc.bodies)
	rc.mu.Unlock()
	require.Equal(t, []string{string(ev.ThinPayload), string(onAcct.ThinPayload)}, []string{string(bodies[0]), string(bodies[1])},
		"the destination gets the thin events, byte for byte, and not the snapshots")
	require.Len(t, bodies, 2)
	var sent map[string]any
	require.NoError(t, json.Unmarshal(bodies[1], &sent))
	require.Equal(t, "v2.core.event", sent["object"])
	require.Equal(t, acct, sent["context"])

	// No snapshot endpoint: the snapshot events wait on no webhook.
	_, _, m := b.get(t, "/v1/events/"+ev.ID)
	require.EqualValues(t, 0, m["pending_webhooks"])
	st := b.srv.Stats()
	require.EqualValues(t, 2, st.WebhooksDelivered)
	require.EqualValues(t, 1, st.WebhooksFailed)
}
