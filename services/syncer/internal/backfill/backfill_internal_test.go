package backfill

import (
	"encoding/json"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/pkg/catalog"
	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/stripeapi"
	"github.com/stripesync/stripesync/pkg/stripefake"
)

func TestRun(t *testing.T) {
	t.Parallel()

	// once requires every object of res in the fake, per account, on the
	// stream exactly once.
	once := func(t *testing.T, b *testBundle, objs []streamedObject, res *catalog.Resource, accounts ...string) {
		t.Helper()
		got := count(objs, res)
		for _, acct := range accounts {
			want := map[string]int{}
			for _, id := range b.fake.IDs(acct, res.Object) {
				want[id] = 1
			}
			require.NotEmpty(t, want, "%s of %q", res.Object, acct)
			require.Equal(t, want, got[acct], "%s of %q", res.Object, acct)
		}
	}

	t.Run("NestedListsBringOnlyWhatTheirParentDoesNotHold", func(t *testing.T) {
		t.Parallel()
		b := setup(t, stripefake.Options{}, stripefake.SeedOptions{Customers: 3, ConnectedAccounts: 1})
		req := request(t, events.SyncRequest{Resources: []string{"invoice", "subscription", "credit_note", "checkout.session", "account"}})
		require.NoError(t, b.engine(4).Run(t.Context(), req))
		objs := b.streamed(t)

		// held returns the ids of the list field an object holds as the
		// API renders it, and whether that is all of it.
		held := func(t *testing.T, account, object, id, field string) ([]string, bool) {
			t.Helper()
			o, ok := b.fake.Object(account, object, id)
			require.True(t, ok)
			raw, err := json.Marshal(o)
			require.NoError(t, err)
			lists, _, err := catalog.MustLookup(object).Contents(raw)
			require.NoError(t, err)
			i := slices.IndexFunc(lists, func(l catalog.Items) bool { return l.List.Field == field })
			require.GreaterOrEqual(t, i, 0)
			var ids []string
			for _, it := range lists[i].Items {
				ids = append(ids, it.Ref.ID)
			}
			return ids, lists[i].Complete
		}
		// published returns the ids of item published with parent.
		published := func(item *catalog.Resource, account, parent string) []string {
			var ids []string
			for _, o := range objs {
				if o.Resource == item && o.Account == account && o.Parent == parent {
					ids = append(ids, o.ID)
				}
			}
			return ids
		}
		longLists := 0
		for _, acct := range append([]string{""}, b.fake.ConnectedAccounts()...) {
			for _, n := range []struct{ parent, field, item string }{
				{"invoice", "lines", "line_item"},
				{"subscription", "items", "subscription_item"},
				{"credit_note", "lines", "credit_note_line_item"},
				{"checkout.session", "line_items", "item"},
			} {
				for _, id := range b.fake.IDs(acct, n.parent) {
					all := b.fake.ChildIDs(acct, n.item, id)
					has, complete := held(t, acct, n.parent, id, n.field)
					var want []string
					if !complete {
						want = slices.DeleteFunc(slices.Clone(all), func(id string) bool { return slices.Contains(has, id) })
						longLists++
					}
					require.ElementsMatch(t, want, published(catalog.MustLookup(n.item), acct, id), "%s of %s %s", n.item, n.parent, id)
				}
			}
		}
		require.Greater(t, longLists, 4, "the fake's long lists (invoice lines, subscription items, …) were there")

		// External accounts have no parent relation: no parent header, and
		// only those past the ten the account object holds.
		var external []string
		for _, o := range objs {
			if o.Resource.Object == "bank_account" || o.Resource.Object == "card" {
				require.Empty(t, o.Parent)
				external = append(external, o.ID)
			}
		}
		first := b.fake.ConnectedAccounts()[0]
		require.Len(t, b.fake.ExternalAccountIDs(first), 12)
		require.ElementsMatch(t, b.fake.ExternalAccountIDs(first)[10:], external)

		// The parents themselves, canceled subscriptions too (status=all).
		once(t, b, objs, catalog.MustLookup("invoice"), "", first)
		once(t, b, objs, catalog.MustLookup("subscription"), "", first)
		once(t, b, objs, catalog.MustLookup("account"), "")
	})

	t.Run("EveryRequestAsksForTheMirrorsAPIVersion", func(t *testing.T) {
		t.Parallel()
		b := setup(t, stripefake.Options{RecordRequests: true}, stripefake.SeedOptions{Customers: 3, ConnectedAccounts: 1})
		b.api = stripeapi.New(b.url, stripefake.TestKey, b.limiter, b.log, stripeapi.WithAPIVersion("2025-03-31.basil"))
		require.NoError(t, b.engine(4).Run(t.Context(), request(t, events.SyncRequest{})))
		reqs := b.fake.Requests()
		require.NotEmpty(t, reqs)
		for _, r := range reqs {
			require.Equal(t, "2025-03-31.basil", r.APIVersion, r.Endpoint)
		}
		objs := b.streamed(t)
		require.NotEmpty(t, objs)
		for _, o := range objs {
			require.Equal(t, "2025-03-31.basil", o.APIVersion, "%s %s records the version it was fetched in", o.Resource.Object, o.ID)
		}
	})

	t.Run("PerParentListingsListEveryParent", func(t *testing.T) {
		t.Parallel()
		b := setup(t, stripefake.Options{}, stripefake.SeedOptions{Customers: 30, ConnectedAccounts: 1})
		req := request(t, events.SyncRequest{Resources: []string{"payment_method", "tax_id", "source"}})
		require.NoError(t, b.engine(4).Run(t.Context(), req))
		objs := b.streamed(t)
		acct := b.fake.ConnectedAccounts()[0]
		for _, object := range []string{"payment_method", "tax_id", "source", "card", "bank_account"} {
			got := count(objs, catalog.MustLookup(object))
			for _, a := range []string{"", acct} {
				want := map[string]int{}
				for _, cus := range b.fake.IDs(a, "customer") {
					for _, id := range b.fake.ChildIDs(a, object, cus) {
						want[id] = 1
					}
				}
				if len(want) == 0 {
					want = nil
				}
				require.Equal(t, want, got[a], "%s of %q", object, a)
			}
		}
		require.Empty(t, count(objs, catalog.MustLookup("customer")), "the customers are the customer listing's to publish")
	})

	t.Run("LongRangesSplitWhileWorkersAreIdle", func(t *testing.T) {
		t.Parallel()
		b := setup(t, stripefake.Options{}, stripefake.SeedOptions{Customers: 900})
		e := b.engine(4)
		var mu sync.Mutex
		var halves [][2]*task
		e.splitFunc = func(older, newer *task) {
			mu.Lock()
			defer mu.Unlock()
			o, n := *older, *newer
			halves = append(halves, [2]*task{&o, &n})
		}
		require.NoError(t, e.Run(t.Context(), request(t, events.SyncRequest{Resources: []string{"customer"}})))
		require.NotEmpty(t, halves, "one task, three idle workers")
		for _, h := range halves {
			require.Equal(t, h[0].To, h[1].From, "the halves abut")
			require.Less(t, h[0].From, h[0].To)
		}
		once(t, b, b.streamed(t), catalog.MustLookup("customer"), "")
	})

	t.Run("KilledRunResumesFromItsCheckpoints", func(t *testing.T) {
		t.Parallel()
		// Lists of many pages: a task's checkpoint moves every page.
		seed := stripefake.SeedOptions{Customers: 200}
		opts := stripefake.Options{Latency: time.Millisecond}
		req := request(t, events.SyncRequest{Resources: []string{"customer", "invoice", "charge", "payment_intent", "balance_transaction"}})

		fresh := setup(t, opts, seed)
		require.NoError(t, fresh.engine(2).Run(t.Context(), req))
		full := fresh.fake.Stats().Requests

		b := setup(t, opts, seed)
		e := b.engine(2)
		var atCancel int64
		_, err := b.cancelWhen(t, e, req, func() bool {
			atCancel = b.fake.Stats().Requests
			return atCancel > full/2
		})
		require.ErrorIs(t, err, ErrIncomplete)
		requireStoppedAtOnce(t, b, atCancel, 2)
		require.NotEmpty(t, b.checkpointKeys(t, req.RunID()))
		first := b.fake.Stats().Requests

		require.NoError(t, e.Run(t.Context(), req))
		second := b.fake.Stats().Requests - first
		t.Logf("a whole run: %d requests; stopped after %d, resumed with %d", full, first, second)
		require.Less(t, second, full*3/4, "the resumed run started over")
		require.Less(t, first+second, full*5/4, "the resumed run repeated more than the pages in flight")
		require.Empty(t, b.checkpointKeys(t, req.RunID()), "a completed run forgets its checkpoints")

		// Everything is there; some objects twice, none missing.
		objs := b.streamed(t)
		for _, res := range req.Resources {
			if res.List.Per != "" {
				continue
			}
			got := count(objs, res)
			for _, id := range b.fake.IDs("", res.Object) {
				require.NotZero(t, got[""][id], "%s %s", res.Object, id)
			}
		}
	})

	// A platform with many connected accounts (ten pages of /v1/accounts)
	// starts listing at once, stops at once, and resumes: the plan is made
	// as the workers take it, never up front. BenchmarkConnectAtScale runs
	// 10,000 at the API budget.
	t.Run("ManyConnectedAccounts", func(t *testing.T) {
		t.Parallel()
		const accounts = 1000
		b := setup(t, stripefake.Options{}, stripefake.SeedOptions{ConnectedAccounts: accounts})
		all := append([]string{""}, b.fake.ConnectedAccounts()...)
		taxRate := catalog.MustLookup("tax_rate")
		req := request(t, events.SyncRequest{Resources: []string{"tax_rate"}})
		e := b.engine(32)

		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		var peak atomic.Uint64
		stop := sampleHeap(&peak)
		start := time.Now()
		before := b.fake.Stats().Requests
		require.NoError(t, e.Run(t.Context(), req))
		elapsed := time.Since(start)
		stop()
		full := b.fake.Stats().Requests - before
		t.Logf("%d accounts: %s, %d requests; heap in use %d MiB before (the fake's accounts), at most %d MiB during the run",
			len(all), elapsed, full, ms.HeapInuse>>20, peak.Load()>>20)
		require.EqualValues(t, 1+accounts/100+len(all), full, "GET /v1/account, the pages of accounts, one list per account")
		once(t, b, b.streamed(t), taxRate, all...)
		require.Empty(t, b.checkpointKeys(t, req.RunID()))

		// Again, stopped half way.
		stream, err := b.js.Stream(t.Context(), events.StreamName)
		require.NoError(t, err)
		require.NoError(t, stream.Purge(t.Context()))
		before = b.fake.Stats().Requests
		var atCancel int64
		_, err = b.cancelWhen(t, e, req, func() bool {
			atCancel = b.fake.Stats().Requests
			return b.messages(t.Context()) >= 3*accounts/2
		})
		require.ErrorIs(t, err, ErrIncomplete)
		requireStoppedAtOnce(t, b, atCancel, 32)
		keys := b.checkpointKeys(t, req.RunID())
		require.LessOrEqual(t, len(keys), 2*32+2, "checkpoints: the tasks in flight or queued, and the planning cursor")
		stopped := b.fake.Stats().Requests - before

		require.NoError(t, e.Run(t.Context(), req))
		resumed := b.fake.Stats().Requests - before - stopped
		t.Logf("stopped after %d requests, resumed with %d", stopped, resumed)
		require.Less(t, resumed, full*3/4)
		require.LessOrEqual(t, stopped+resumed, full+32+2, "the tasks in flight again, and a page of accounts")
		got := count(b.streamed(t), taxRate)
		for _, acct := range all {
			for _, id := range b.fake.IDs(acct, taxRate.Object) {
				require.NotZero(t, got[acct][id], "%s of %q", id, acct)
			}
		}
		require.Empty(t, b.checkpointKeys(t, req.RunID()))
	})
}

// requireStoppedAtOnce checks that a run cancelled when the fake had
// received atCancel requests sent no more than those it may have had in
// flight: a request of each of its concurrency workers, each with its lists
// per parent, and a page of the planner's. Counted, not timed: how long the
// run takes to return is the machine's.
func requireStoppedAtOnce(t *testing.T, b *testBundle, atCancel int64, concurrency int) {
	t.Helper()
	after := b.fake.Stats().Requests - atCancel
	require.LessOrEqual(t, after, int64(concurrency*perParentConcurrency+1), "requests after the cancel")
}

// sampleHeap records the largest heap in use until stop is called.
func sampleHeap(peak *atomic.Uint64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() { close(done); wg.Wait() }
}
