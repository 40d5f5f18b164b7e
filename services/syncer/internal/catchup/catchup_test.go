package catchup_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v76/form"

	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/events/eventstest"
	"github.com/stripesync/stripesync/pkg/stripeapi"
	"github.com/stripesync/stripesync/pkg/stripefake"
	"github.com/stripesync/stripesync/services/syncer/internal/catchup"
)

type testBundle struct {
	fake *stripefake.Server
	url  string // the fake's
	ns   *eventstest.Server
	log  *slog.Logger
	api  *stripeapi.Client
	js   jetstream.JetStream
	kv   jetstream.KeyValue
}

func setup(t *testing.T, opts stripefake.Options) *testBundle {
	t.Helper()
	return setupSeeded(t, opts, stripefake.SeedOptions{Customers: 3, ConnectedAccounts: 2})
}

func setupSeeded(t *testing.T, opts stripefake.Options, seed stripefake.SeedOptions) *testBundle {
	t.Helper()
	if opts.WebhookURL == "" {
		// Deliveries succeed unless DropWebhookFunc drops them.
		hook := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		t.Cleanup(hook.Close)
		opts.WebhookURL = hook.URL
	}
	fake := stripefake.New(opts)
	seed.RandSeed = 7
	require.NoError(t, stripefake.Seed(fake, seed))
	apiURL := fake.Start(t)
	ns := eventstest.RunServer(t)
	nc, err := nats.Connect(ns.ClientURL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	_, err = events.EnsureStream(t.Context(), js, events.StreamOptions{Replicas: 1, Storage: jetstream.MemoryStorage, MaxBytes: -1})
	require.NoError(t, err)
	kv, err := js.CreateOrUpdateKeyValue(t.Context(), events.StateBucketConfig())
	require.NoError(t, err)
	log := slog.New(slog.NewTextHandler(t.Output(), nil))
	return &testBundle{
		fake: fake, url: apiURL, ns: ns, log: log, js: js, kv: kv,
		api: stripeapi.New(apiURL, stripefake.TestKey, stripeapi.NewLimiter(1000, 100, stripeapi.WithEndpointRate(0)), log,
			stripeapi.WithAPIVersion(stripeapi.DefaultAPIVersion)),
	}
}

// streamed returns the messages on the stream, by message id.
func (b *testBundle) streamed(t *testing.T) map[string]*jetstream.RawStreamMsg {
	t.Helper()
	s, err := b.js.Stream(t.Context(), events.StreamName)
	require.NoError(t, err)
	info, err := s.Info(t.Context())
	require.NoError(t, err)
	out := map[string]*jetstream.RawStreamMsg{}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(t.Context(), seq)
		require.NoError(t, err)
		out[m.Header.Get(nats.MsgIdHdr)] = m
	}
	return out
}

// listed returns the events the API lists for account since since, by id,
// as it renders them.
func (b *testBundle) listed(t *testing.T, account string, since time.Time) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := b.api.List(t.Context(), "/v1/events", stripeapi.ListParams{
		Account: account, Filters: url.Values{"created[gte]": {strconv.FormatInt(since.Unix(), 10)}},
	}, func(pg *stripeapi.Page, _ *form.Values) error {
		for _, it := range pg.Items {
			out[it.ID] = it.Raw
		}
		return nil
	})
	require.NoError(t, err)
	return out
}

// listedThin returns the thin events the API lists for account since
// since, by id, as it renders them.
func (b *testBundle) listedThin(t *testing.T, account string, since time.Time) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := b.api.ListV2(t.Context(), "/v2/core/events", stripeapi.V2ListParams{
		Account: account, Filters: url.Values{"created[gte]": {since.UTC().Format("2006-01-02T15:04:05.000Z")}},
	}, func(pg *stripeapi.V2Page) error {
		for _, raw := range pg.Data {
			env, err := events.ParseEnvelope(raw)
			require.NoError(t, err)
			out[env.ID] = raw
		}
		return nil
	})
	require.NoError(t, err)
	return out
}

func (b *testBundle) cursor(t *testing.T, account string) time.Time {
	t.Helper()
	return b.cursorAt(t, events.EventsCursorKey(account))
}

func (b *testBundle) cursorAt(t *testing.T, key string) time.Time {
	t.Helper()
	e, err := b.kv.Get(t.Context(), key)
	require.NoError(t, err)
	at, err := time.Parse(time.RFC3339, string(e.Value()))
	require.NoError(t, err)
	return at
}

func thinIDs(evs ...stripefake.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ThinID
	}
	return out
}

func ids(evs ...stripefake.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestRun(t *testing.T) {
	t.Parallel()

	t.Run("PublishesWhatIsListedSinceTheCursorAsIngestWould", func(t *testing.T) {
		t.Parallel()
		b := setup(t, stripefake.Options{})
		since := time.Now().Add(-time.Second)
		cus := b.fake.IDs("", "customer")
		var made []stripefake.Event
		for i, id := range cus {
			ev, err := b.fake.UpdateCustomer("", id, map[string]any{"name": "Renamed " + strconv.Itoa(i)})
			require.NoError(t, err)
			made = append(made, ev)
		}
		listed := b.listed(t, "", since)
		require.Subset(t, keys(listed), ids(made...))

		res, err := catchup.Run(t.Context(), b.log, b.api, b.js, catchup.Options{Since: since})
		require.NoError(t, err)
		require.Equal(t, len(listed), res.Published)
		require.True(t, made[len(made)-1].Created.Equal(res.Newest))

		streamed := b.streamed(t)
		require.ElementsMatch(t, keys(listed), keys(streamed))
		for id, raw := range listed {
			m := streamed[id]
			env, err := events.ParseEnvelope(raw)
			require.NoError(t, err)
			// What ingest publishes for the same bytes.
			want := events.EventMsg(env, raw)
			require.Equal(t, want.Subject, m.Subject)
			require.Equal(t, want.Header.Get(nats.MsgIdHdr), id)
			require.Equal(t, raw, m.Data, "the bytes the API sent")
			got, _, err := b.api.Get(t.Context(), "/v1/events/"+id, "")
			require.NoError(t, err)
			require.JSONEq(t, string(got), string(m.Data))
		}
	})

	t.Run("TypeFilters", func(t *testing.T) {
		t.Parallel()
		b := setup(t, stripefake.Options{})
		since := time.Now().Add(-time.Second)
		updated, err := b.fake.UpdateCustomer("", b.fake.IDs("", "customer")[0], map[string]any{"name": "x"})
		require.NoError(t, err)
		deleted, err := b.fake.DeleteProduct("", b.fake.IDs("", "product")[0])
		require.NoError(t, err)
		canceled, err := b.fake.CancelSubscription("", b.fake.IDs("", "subscription")[0])
		require.NoError(t, err)

		for _, tt := range []struct {
			name  string
			types []string
			want  []stripefake.Event
		}{
			{"One", []string{"customer.updated"}, []stripefake.Event{updated}},
			{"Several", []string{"customer.updated", "product.deleted"}, []stripefake.Event{updated, deleted}},
			{"Wildcard", []string{"customer.subscription.*"}, []stripefake.Event{canceled}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				ns := eventstest.RunServer(t)
				nc, err := nats.Connect(ns.ClientURL())
				require.NoError(t, err)
				defer nc.Close()
				js, err := jetstream.New(nc)
				require.NoError(t, err)
				_, err = events.EnsureStream(t.Context(), js, events.StreamOptions{Replicas: 1, Storage: jetstream.MemoryStorage, MaxBytes: -1})
				require.NoError(t, err)
				res, err := catchup.Run(t.Context(), b.log, b.api, js, catchup.Options{Since: since, Types: tt.types})
				require.NoError(t, err)
				require.Equal(t, len(tt.want), res.Published)
				got := (&testBundle{js: js}).streamed(t)
				require.ElementsMatch(t, ids(tt.want...), keys(got))
			})
		}
	})

	t.Run("IDsAndFailedDeliveries", func(t *testing.T) {
		t.Parallel()
		drop := map[string]bool{}
		var first stripefake.Event
		b := setup(t, stripefake.Options{DropWebhookFunc: func(ev stripefake.Event) bool { return drop[ev.ObjectID] }})
		since := time.Now().Add(-time.Second)
		cus := b.fake.IDs("", "customer")
		drop[cus[1]] = true
		var made []stripefake.Event
		for _, id := range cus {
			ev, err := b.fake.UpdateCustomer("", id, map[string]any{"email": "new@example.com"})
			require.NoError(t, err)
			made = append(made, ev)
		}
		first = made[0]
		require.True(t, first.Delivered)
		require.False(t, made[1].Delivered)

		res, err := catchup.Run(t.Context(), b.log, b.api, b.js, catchup.Options{Since: since, Failed: true})
		require.NoError(t, err)
		require.Equal(t, 1, res.Published, "only the delivery that failed")
		require.ElementsMatch(t, ids(made[1]), keys(b.streamed(t)))

		res, err = catchup.Run(t.Context(), b.log, b.api, b.js, catchup.Options{IDs: ids(made[0], made[2])})
		require.NoError(t, err)
		require.Equal(t, 2, res.Published)
		streamed := b.streamed(t)
		require.ElementsMatch(t, ids(made...), keys(streamed))
		raw, _, err := b.api.Get(t.Context(), "/v1/events/"+first.ID, "")
		require.NoError(t, err)
		require.Equal(t, raw, streamed[first.ID].Data, "the event as the API sent it")
	})
}

func TestAccounts(t *testing.T) {
	t.Parallel()

	t.Run("EveryAccountFromItsCursor", func(t *testing.T) {
		t.Parallel()
		b := setup(t, stripefake.Options{})
		connected := b.fake.ConnectedAccounts()
		busy, quiet := connected[0], connected[1]

		// The platform was caught up an hour ago; the connected accounts
		// never were.
		hourAgo := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
		_, err := b.kv.Put(t.Context(), events.EventsCursorKey(""), []byte(hourAgo.Format(time.RFC3339)))
		require.NoError(t, err)
		platformEv, err := b.fake.UpdateCustomer("", b.fake.IDs("", "customer")[0], map[string]any{"name": "p"})
		require.NoError(t, err)
		busyEv, err := b.fake.UpdateCustomer(busy, b.fake.IDs(busy, "customer")[0], map[string]any{"name": "c"})
		require.NoError(t, err)

		started := time.Now()
		want := len(b.listed(t, "", hourAgo.Add(-catchup.Overlap))) +
			len(b.listed(t, busy, started.Add(-catchup.FirstLookBack-catchup.Overlap))) +
			len(b.listed(t, quiet, started.Add(-catchup.FirstLookBack-catchup.Overlap)))
		n, err := catchup.Accounts(t.Context(), b.log, b.api, b.js, b.kv, catchup.AccountsOptions{Concurrency: 4})
		require.NoError(t, err)
		require.Equal(t, want, n)
		streamed := b.streamed(t)
		require.Contains(t, streamed, platformEv.ID)
		require.Contains(t, streamed, busyEv.ID)

		// Every cursor moved on to the newest event, or, for the quiet
		// account, to the start of the listing less the overlap.
		require.True(t, platformEv.Created.Equal(b.cursor(t, "")))
		require.True(t, busyEv.Created.Equal(b.cursor(t, busy)))
		require.WithinDuration(t, started.Add(-catchup.Overlap), b.cursor(t, quiet), 2*time.Second)

		// The next catch-up starts from the cursors: only the overlap again.
		later, err := b.fake.UpdateCustomer(quiet, b.fake.IDs(quiet, "customer")[0], map[string]any{"name": "q"})
		require.NoError(t, err)
		n, err = catchup.Accounts(t.Context(), b.log, b.api, b.js, b.kv, catchup.AccountsOptions{Concurrency: 4})
		require.NoError(t, err)
		require.Equal(t, 3, n, "the two events of the overlap, and the new one")
		require.Contains(t, b.streamed(t), later.ID)
	})
}

func TestRunThin(t *testing.T) {
	t.Parallel()

	t.Run("PublishesThinEventsAsIngestWould", func(t *testing.T) {
		t.Parallel()
		b := setup(t, stripefake.Options{})
		since := time.Now().Add(-time.Second)
		var made []stripefake.Event
		for i, id := range b.fake.IDs("", "customer") {
			ev, err := b.fake.UpdateCustomer("", id, map[string]any{"name": "Thin " + strconv.Itoa(i)})
			require.NoError(t, err)
			made = append(made, ev)
		}
		listed := b.listedThin(t, "", since)
		require.Subset(t, keys(listed), thinIDs(made...))

		res, err := catchup.Run(t.Context(), b.log, b.api, b.js, catchup.Options{Since: since, Thin: true})
		require.NoError(t, err)
		require.Equal(t, len(listed), res.Published)
		require.True(t, made[len(made)-1].Created.Equal(res.Newest), "newest %s, want %s", res.Newest, made[len(made)-1].Created)

		streamed := b.streamed(t)
		require.ElementsMatch(t, keys(listed), keys(streamed), "the thin events, not their snapshots")
		for id, raw := range listed {
			m := streamed[id]
			env, err := events.ParseEnvelope(raw)
			require.NoError(t, err)
			require.NotNil(t, env.Thin)
			want := events.EventMsg(env, raw) // what ingest publishes for the same bytes
			require.Equal(t, want.Subject, m.Subject)
			require.Equal(t, "stripe.event.v1.customer.updated", m.Subject)
			require.Equal(t, raw, m.Data, "the bytes the API sent")
		}
		for _, ev := range made {
			require.JSONEq(t, string(ev.ThinPayload), string(streamed[ev.ThinID].Data))
		}
	})

	t.Run("ConnectedAccountTypesAndIDs", func(t *testing.T) {
		t.Parallel()
		b := setup(t, stripefake.Options{})
		acct := b.fake.ConnectedAccounts()[0]
		since := time.Now().Add(-time.Second)
		updated, err := b.fake.UpdateCustomer(acct, b.fake.IDs(acct, "customer")[0], map[string]any{"name": "c"})
		require.NoError(t, err)
		created, err := b.fake.CreateCustomer(acct, nil)
		require.NoError(t, err)
		platform, err := b.fake.UpdateCustomer("", b.fake.IDs("", "customer")[0], map[string]any{"name": "p"})
		require.NoError(t, err)

		res, err := catchup.Run(t.Context(), b.log, b.api, b.js, catchup.Options{Since: since, Thin: true, Account: acct, Types: []string{"v1.customer.updated"}})
		require.NoError(t, err)
		require.Equal(t, 1, res.Published)
		streamed := b.streamed(t)
		require.ElementsMatch(t, thinIDs(updated), keys(streamed))
		env, err := events.ParseEnvelope(streamed[updated.ThinID].Data)
		require.NoError(t, err)
		require.Equal(t, acct, env.Account, "the thin event's context")

		res, err = catchup.Run(t.Context(), b.log, b.api, b.js, catchup.Options{Thin: true, Account: acct, IDs: thinIDs(created)})
		require.NoError(t, err)
		require.Equal(t, 1, res.Published)
		streamed = b.streamed(t)
		require.Equal(t, created.ThinPayload, streamed[created.ThinID].Data)
		require.NotContains(t, streamed, platform.ThinID)
	})

	t.Run("RefusesWhatTheV2ListCannotSelect", func(t *testing.T) {
		t.Parallel()
		b := setup(t, stripefake.Options{})
		_, err := catchup.Run(t.Context(), b.log, b.api, b.js, catchup.Options{Thin: true, Failed: true})
		require.ErrorContains(t, err, "delivery")
		_, err = catchup.Run(t.Context(), b.log, b.api, b.js, catchup.Options{Thin: true, Types: []string{"v1.customer.*"}})
		require.ErrorContains(t, err, "wildcards")
		require.Empty(t, b.streamed(t))
	})
}

func TestAccountsThin(t *testing.T) {
	t.Parallel()
	b := setup(t, stripefake.Options{})
	connected := b.fake.ConnectedAccounts()
	busy, quiet := connected[0], connected[1]

	// Without the setting, thin events and their cursors are left alone.
	_, err := catchup.Accounts(t.Context(), b.log, b.api, b.js, b.kv, catchup.AccountsOptions{Concurrency: 4})
	require.NoError(t, err)
	_, err = b.kv.Get(t.Context(), events.ThinEventsCursorKey(""))
	require.ErrorIs(t, err, jetstream.ErrKeyNotFound)
	for id := range b.streamed(t) {
		require.False(t, strings.HasPrefix(id, "evt_test_65"), "thin event %s published", id)
	}

	// The platform's thin events were caught up ten minutes ago, its
	// snapshot events a minute ago (the run above): separate cursors.
	tenAgo := time.Now().Add(-10 * time.Minute).UTC().Truncate(time.Second)
	_, err = b.kv.Put(t.Context(), events.ThinEventsCursorKey(""), []byte(tenAgo.Format(time.RFC3339)))
	require.NoError(t, err)
	snapshotCursor := b.cursor(t, "")
	platformEv, err := b.fake.UpdateCustomer("", b.fake.IDs("", "customer")[0], map[string]any{"name": "p"})
	require.NoError(t, err)
	busyEv, err := b.fake.UpdateCustomer(busy, b.fake.IDs(busy, "customer")[0], map[string]any{"name": "c"})
	require.NoError(t, err)

	started := time.Now()
	thinWant := len(b.listedThin(t, "", tenAgo.Add(-catchup.Overlap))) +
		len(b.listedThin(t, busy, started.Add(-catchup.FirstLookBack-catchup.Overlap))) +
		len(b.listedThin(t, quiet, started.Add(-catchup.FirstLookBack-catchup.Overlap)))
	snapshotWant := len(b.listed(t, "", snapshotCursor.Add(-catchup.Overlap))) +
		len(b.listed(t, busy, b.cursor(t, busy).Add(-catchup.Overlap))) +
		len(b.listed(t, quiet, b.cursor(t, quiet).Add(-catchup.Overlap)))
	n, err := catchup.Accounts(t.Context(), b.log, b.api, b.js, b.kv, catchup.AccountsOptions{Concurrency: 4, Thin: true})
	require.NoError(t, err)
	require.Equal(t, thinWant+snapshotWant, n)
	streamed := b.streamed(t)
	for _, id := range append(ids(platformEv, busyEv), thinIDs(platformEv, busyEv)...) {
		require.Contains(t, streamed, id)
	}

	// Each thin cursor moved on to its newest thin event, or for the quiet
	// account to the start of the listing less the overlap; the snapshot
	// cursors moved on their own.
	require.True(t, platformEv.Created.Equal(b.cursorAt(t, events.ThinEventsCursorKey(""))))
	require.True(t, busyEv.Created.Equal(b.cursorAt(t, events.ThinEventsCursorKey(busy))))
	require.WithinDuration(t, started.Add(-catchup.Overlap), b.cursorAt(t, events.ThinEventsCursorKey(quiet)), 2*time.Second)
	require.True(t, platformEv.Created.Equal(b.cursor(t, "")))

	// The next catch-up starts from the cursors: the overlap again, both kinds.
	later, err := b.fake.UpdateCustomer(quiet, b.fake.IDs(quiet, "customer")[0], map[string]any{"name": "q"})
	require.NoError(t, err)
	n, err = catchup.Accounts(t.Context(), b.log, b.api, b.js, b.kv, catchup.AccountsOptions{Concurrency: 4, Thin: true})
	require.NoError(t, err)
	require.Equal(t, 6, n, "the two events of the overlap and the new one, each snapshot and thin")
	streamed = b.streamed(t)
	require.Contains(t, streamed, later.ID)
	require.Contains(t, streamed, later.ThinID)
}

// TestAccountsRotation shows how catch-ups limited to a few connected
// accounts each go through a platform with many: in the order /v1/accounts
// lists them, each call after the account the previous one visited last,
// wrapping around, every account once before any twice; and the rotation
// cursor is kept in the state bucket, so that it outlives the JetStream
// server's restart and a new connection (a replica's restart).
func TestAccountsRotation(t *testing.T) {
	t.Parallel()
	const accounts, limit = 130, 50 // more than a page of /v1/accounts: calls that cross a page and wrap around
	b := setupSeeded(t, stripefake.Options{}, stripefake.SeedOptions{ConnectedAccounts: accounts})
	var order []string
	require.NoError(t, b.api.List(t.Context(), "/v1/accounts", stripeapi.ListParams{}, func(pg *stripeapi.Page, _ *form.Values) error {
		for _, it := range pg.Items {
			order = append(order, it.ID)
		}
		return nil
	}))
	require.Len(t, order, accounts)

	// A proxy before the fake records whose events each call lists.
	var (
		mu      sync.Mutex
		visited []string
	)
	target, err := url.Parse(b.url)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/events" && r.URL.Query().Get("starting_after") == "" {
			mu.Lock()
			visited = append(visited, r.Header.Get("Stripe-Account"))
			mu.Unlock()
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	api := stripeapi.New(srv.URL, stripefake.TestKey, stripeapi.NewLimiter(1000, 100, stripeapi.WithEndpointRate(0)), b.log,
		stripeapi.WithAPIVersion(stripeapi.DefaultAPIVersion))

	catchUp := func(t *testing.T, js jetstream.JetStream, kv jetstream.KeyValue) []string {
		t.Helper()
		mu.Lock()
		visited = nil
		mu.Unlock()
		_, err := catchup.Accounts(t.Context(), b.log, api, js, kv, catchup.AccountsOptions{Concurrency: 8, Limit: limit})
		require.NoError(t, err)
		mu.Lock()
		defer mu.Unlock()
		var connected []string
		platform := 0
		for _, a := range visited {
			if a == "" {
				platform++
			} else {
				connected = append(connected, a)
			}
		}
		require.Equal(t, 1, platform, "the platform, every time")
		return connected
	}
	// turn is the limit accounts that come after the first k in the
	// listing's order, round and round.
	turn := func(k int) []string {
		out := make([]string, limit)
		for i := range out {
			out[i] = order[(k+i)%accounts]
		}
		return out
	}

	first := catchUp(t, b.js, b.kv)
	require.ElementsMatch(t, turn(0), first)
	second := catchUp(t, b.js, b.kv)
	require.ElementsMatch(t, turn(limit), second)

	// The JetStream server restarts, and the next catch-up runs on a new
	// connection: it goes on from the cursor, wrapping around the end of
	// the list to its start.
	b.ns.Restart(t)
	nc, err := nats.Connect(b.ns.ClientURL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	var kv jetstream.KeyValue
	require.Eventually(t, func() bool {
		_, err := events.EnsureStream(t.Context(), js, events.StreamOptions{Replicas: 1, Storage: jetstream.MemoryStorage, MaxBytes: -1})
		if err != nil {
			return false
		}
		kv, err = js.KeyValue(t.Context(), events.StateBucket)
		return err == nil
	}, 30*time.Second, 50*time.Millisecond, "JetStream back with the state bucket")

	third := catchUp(t, js, kv)
	require.ElementsMatch(t, turn(2*limit), third)
	seen := map[string]int{}
	for _, a := range slices.Concat(first, second, third) {
		seen[a]++
	}
	require.Len(t, seen, accounts, "three catch-ups visit every account")
	for _, a := range order[limit*3-accounts:] {
		require.Equal(t, 1, seen[a], "%s: none twice before all once", a)
	}
	fourth := catchUp(t, js, kv)
	require.ElementsMatch(t, turn(3*limit), fourth)
}
