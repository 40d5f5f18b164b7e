package refetch_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/stripesync/stripesync/db/dbtest"
	"github.com/stripesync/stripesync/pkg/catalog"
	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/stripeapi"
	"github.com/stripesync/stripesync/pkg/stripefake"
	"github.com/stripesync/stripesync/services/processor/internal/refetch"
	"github.com/stripesync/stripesync/services/processor/internal/store"
)

// clock is the fake Stripe's clock, which each check sets and moves.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// message is one delivery to the processor: a webhook's event (snapshot or
// thin) or an object a backfill fetched.
type message struct {
	event  *store.Event
	object *events.Object
}

func (m message) String() string {
	if m.event != nil {
		return fmt.Sprintf("%s %s@%s", m.event.Type, m.event.ID, m.event.Created.Format("05.000"))
	}
	return fmt.Sprintf("backfill@%s", m.object.FetchedAt.Format("05.000000"))
}

// TestOrderingConverges is the version rule's property: whatever the order
// in which one object's history reaches the processor (any permutation, with
// duplicates, in batches of any size), once the fetches it asked for are
// settled (thin events' objects, ties of one second) the mirror holds the
// state of its newest event, deleted or not, and every event once.
//
// The history is made by the fake Stripe, on a clock the check moves: the
// object is created, updated several times (often several times in one
// second, which Stripe's created cannot order), fetched by a backfill
// between changes, and perhaps deleted. Each change is delivered as its
// snapshot event, its thin twin, or both. Fetches are settled at random
// points between batches and at the end, against the fake, which by then
// holds the object's final state.
//
// go test -run TestOrderingConverges -rapid.checks=10000 ./internal/refetch
// runs it longer; a failure prints the seed to replay it with -rapid.seed.
func TestOrderingConverges(t *testing.T) {
	t.Parallel()
	pool := dbtest.New(t)
	st := store.New(pool, store.WithFetchDelay(0)) // fetches are due at once: the check decides when they happen
	clk := &clock{now: time.Now()}
	fake := stripefake.New(stripefake.Options{NowFunc: clk.Now})
	url := fake.Start(t)
	connected, err := fake.Create("", "account", nil)
	require.NoError(t, err)
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	api := stripeapi.New(url, stripefake.TestKey, stripeapi.NewLimiter(10000, 1000), log)
	r := refetch.New(log, api, st, prometheus.NewRegistry())
	customers := catalog.MustLookup("customer")

	rapid.Check(t, func(rt *rapid.T) {
		ctx := t.Context()
		account := rapid.SampledFrom([]string{"", connected.ObjectID}).Draw(rt, "account")
		// An hour ago: the fetches that settle, sent now, are later than
		// the whole history.
		start := time.Now().Add(-time.Hour).Truncate(time.Second).Add(time.Duration(rapid.IntRange(0, 999).Draw(rt, "startMillis")) * time.Millisecond)
		clk.Set(start)
		var eventsBefore int
		require.NoError(rt, pool.QueryRow(ctx, "SELECT count(*) FROM stripe.events").Scan(&eventsBefore))

		var msgs []message
		var ids []string
		raws := map[string][]byte{}
		deliver := func(ev stripefake.Event) {
			var kinds []string
			switch rapid.IntRange(0, 2).Draw(rt, "delivered") {
			case 0:
				kinds = []string{"snapshot"}
			case 1:
				kinds = []string{"thin"}
			default:
				kinds = []string{"snapshot", "thin"}
			}
			for _, kind := range kinds {
				raw := ev.Payload
				if kind == "thin" {
					raw = ev.ThinPayload
				}
				env, err := events.ParseEnvelope(raw)
				require.NoError(rt, err)
				msgs = append(msgs, message{event: &store.Event{Envelope: env, Raw: raw}})
				ids = append(ids, env.ID)
				raws[env.ID] = raw
			}
		}

		created, err := fake.CreateCustomer(account, map[string]any{"name": "v0"})
		require.NoError(rt, err)
		id := created.ObjectID
		deliver(created)
		deleted := false
		steps := rapid.IntRange(0, 8).Draw(rt, "steps")
		for i := range steps {
			// Most changes come within a second of the one before: ties.
			gap := rapid.SampledFrom([]time.Duration{0, 0, time.Millisecond, 300 * time.Millisecond, 999 * time.Millisecond, time.Second, 2500 * time.Millisecond}).Draw(rt, "gap")
			clk.Set(clk.Now().Add(gap))
			switch rapid.IntRange(0, 3).Draw(rt, "change") {
			case 0: // a backfill fetches the object now
				path, _ := customers.RetrievePath(id)
				data, _, err := api.Get(ctx, path, account)
				require.NoError(rt, err)
				msgs = append(msgs, message{object: &events.Object{Resource: customers, ID: id, Account: account,
					FetchedAt: clk.Now(), APIVersion: api.APIVersion(), Data: data}})
			default:
				ev, err := fake.UpdateCustomer(account, id, map[string]any{"name": fmt.Sprintf("v%d", i+1)})
				require.NoError(rt, err)
				deliver(ev)
			}
		}
		if rapid.Bool().Draw(rt, "delete") {
			clk.Set(clk.Now().Add(rapid.SampledFrom([]time.Duration{0, 400 * time.Millisecond, time.Second}).Draw(rt, "deleteGap")))
			ev, err := fake.DeleteCustomer(account, id)
			require.NoError(rt, err)
			deliver(ev)
			deleted = true
		}

		// Deliveries: each message one to three times, in any order, in
		// batches of one to five.
		var deliveries []int // indexes into msgs
		for i := range msgs {
			for range rapid.IntRange(1, 3).Draw(rt, "copies") {
				deliveries = append(deliveries, i)
			}
		}
		deliveries = rapid.Permutation(deliveries).Draw(rt, "order")
		var order []string // for a failure's message
		for _, i := range deliveries {
			order = append(order, msgs[i].String())
		}
		var ties []store.Tie
		settle := func() {
			for _, tie := range ties {
				outcome, err := r.Settle(ctx, tie)
				require.NoError(rt, err)
				require.Contains(rt, []string{"settled", "not_found"}, outcome, "tie of %s", tie.ID)
			}
			ties = nil
			for r.FetchDue(ctx) > 0 {
			}
		}
		for len(deliveries) > 0 {
			n := min(rapid.IntRange(1, 5).Draw(rt, "batch"), len(deliveries))
			var b store.Batch
			for _, i := range deliveries[:n] {
				if m := msgs[i]; m.event != nil {
					b.Events = append(b.Events, *m.event)
				} else {
					b.Objects = append(b.Objects, *msgs[i].object)
				}
			}
			deliveries = deliveries[n:]
			stats, err := st.Apply(ctx, b)
			require.NoError(rt, err)
			ties = append(ties, stats.Ties...)
			if rapid.IntRange(0, 3).Draw(rt, "settleNow") == 0 {
				settle()
			}
		}
		settle()

		waiting, _, err := st.FetchStats(ctx)
		require.NoError(rt, err)
		require.Zero(rt, waiting, "every fetch settled")

		// The newest state: the object as Stripe answers for it now.
		path, _ := customers.RetrievePath(id)
		current, _, err := api.Get(ctx, path, account)
		require.NoError(rt, err)
		var gotData []byte
		var gotDeleted bool
		require.NoError(rt, pool.QueryRow(ctx, "SELECT data, deleted FROM stripe.customers WHERE id = $1", id).Scan(&gotData, &gotDeleted))
		require.Equal(rt, deleted, gotDeleted, "deleted; delivered %v", order)
		if !deleted {
			require.Equal(rt, decode(rt, current), decode(rt, gotData), "the row holds the newest state; delivered %v", order)
		}

		// Every event once, as received.
		slices.Sort(ids)
		ids = slices.Compact(ids)
		rows, err := pool.Query(ctx, "SELECT id, data FROM stripe.events WHERE id = ANY($1) ORDER BY id", ids)
		require.NoError(rt, err)
		var stored []string
		for rows.Next() {
			var evID string
			var data []byte
			require.NoError(rt, rows.Scan(&evID, &data))
			stored = append(stored, evID)
			require.Equal(rt, decode(rt, raws[evID]), decode(rt, data), "event %s as received", evID)
		}
		require.NoError(rt, rows.Err())
		require.Equal(rt, ids, stored)
		var total int
		require.NoError(rt, pool.QueryRow(ctx, "SELECT count(*) FROM stripe.events").Scan(&total))
		require.Equal(rt, eventsBefore+len(ids), total, "no other event stored")
	})
}

func decode(t require.TestingT, data []byte) map[string]any {
	var v map[string]any
	require.NoError(t, json.Unmarshal(data, &v))
	return v
}
