package status_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/db"
	"github.com/stripesync/stripesync/db/dbtest"
	"github.com/stripesync/stripesync/pkg/catalog"
	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/events/eventstest"
	"github.com/stripesync/stripesync/pkg/stripeapi"
	"github.com/stripesync/stripesync/services/stripesync/internal/status"
)

type testBundle struct {
	pool   *pgxpool.Pool
	js     jetstream.JetStream
	stream jetstream.Stream
}

// setup gives a test its database and JetStream, with the stream and the
// processor's consumer declared as the services declare them.
func setup(t *testing.T) *testBundle {
	t.Helper()
	ctx := t.Context()
	ns := eventstest.RunServer(t)
	nc, err := nats.Connect(ns.ClientURL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	stream, err := events.DeclareStream(ctx, js, events.DefaultStreamOptions)
	require.NoError(t, err)
	_, err = stream.CreateOrUpdateConsumer(ctx, events.ConsumerConfig(time.Minute, 100))
	require.NoError(t, err)
	return &testBundle{pool: dbtest.New(t), js: js, stream: stream}
}

// publish puts n events on the stream.
func (b *testBundle) publish(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		_, err := b.js.Publish(t.Context(), events.EventSubject("customer.updated"), []byte(`{"id":"evt_`+string(rune('a'+i))+`"}`))
		require.NoError(t, err)
	}
}

func TestGather(t *testing.T) {
	t.Parallel()

	t.Run("PendingAndRedelivered", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := t.Context()
		b.publish(t, 5)

		// Two delivered and held, the first of them redelivered: three
		// pending, two unacknowledged, one redelivered. With at most two
		// unacknowledged, the second pull can only get the nak'd message,
		// however late the server handles the nak.
		cons, err := b.stream.CreateOrUpdateConsumer(ctx, events.ConsumerConfig(time.Minute, 2))
		require.NoError(t, err)
		batch, err := cons.Fetch(2, jetstream.FetchMaxWait(5*time.Second))
		require.NoError(t, err)
		var held []jetstream.Msg
		for m := range batch.Messages() {
			held = append(held, m)
		}
		require.NoError(t, batch.Error())
		require.Len(t, held, 2)
		require.NoError(t, held[0].Nak())
		batch, err = cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
		require.NoError(t, err)
		n := 0
		for m := range batch.Messages() {
			n++
			meta, err := m.Metadata()
			require.NoError(t, err)
			require.EqualValues(t, 1, meta.Sequence.Stream, "the nak'd message comes back first")
			require.EqualValues(t, 2, meta.NumDelivered)
		}
		require.NoError(t, batch.Error())
		require.Equal(t, 1, n)

		var r status.Report
		require.Eventually(t, func() bool {
			r = status.Gather(ctx, b.pool, b.js)
			return r.Consumer != nil && r.Consumer.Redelivered == 1
		}, 5*time.Second, 20*time.Millisecond)
		require.Empty(t, r.Unavailable)
		require.Equal(t, &status.Stream{Messages: 5, Bytes: r.Stream.Bytes, FirstSeq: 1, LastSeq: 5}, r.Stream)
		c := r.Consumer
		require.EqualValues(t, 3, c.Pending)
		require.Equal(t, 2, c.AckPending)
		require.EqualValues(t, 0, c.AckFloor)
		first, err := b.stream.GetMsg(ctx, 1)
		require.NoError(t, err)
		require.Equal(t, first.Time.UTC(), c.OldestUnacked, "the stored time of the message after the ack floor")
		require.InDelta(t, r.At.Sub(first.Time).Seconds(), c.OldestUnackedSeconds, 0.001)

		require.Empty(t, r.Attention(), "nothing over the default thresholds")
		r.Thresholds = status.Thresholds{MaxPending: 2, MaxUnackedAge: time.Nanosecond, MaxFetchWait: time.Hour}
		att := r.Attention()
		require.Len(t, att, 2)
		require.Contains(t, att[0], "3 messages pending, over 2")
		require.Contains(t, att[1], "the oldest unacknowledged message is")

		// Acknowledged in order, the floor moves past them.
		for _, m := range held[1:] {
			require.NoError(t, m.DoubleAck(ctx))
		}
		require.Eventually(t, func() bool {
			r = status.Gather(ctx, b.pool, b.js)
			return r.Consumer.AckPending == 1
		}, 5*time.Second, 20*time.Millisecond)
		require.EqualValues(t, 0, r.Consumer.AckFloor, "message 1 is still held (redelivered, not acknowledged)")
		require.Equal(t, first.Time.UTC(), r.Consumer.OldestUnacked)
	})

	t.Run("NoStreamNeedsAttention", func(t *testing.T) {
		t.Parallel()
		ns := eventstest.RunServer(t)
		nc, err := nats.Connect(ns.ClientURL())
		require.NoError(t, err)
		t.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		require.NoError(t, err)
		r := status.Gather(t.Context(), dbtest.New(t), js)
		require.Empty(t, r.Unavailable)
		require.Nil(t, r.Stream)
		require.Nil(t, r.Consumer)
		require.Equal(t, []string{"stream STRIPE does not exist: ingest has not run"}, r.Attention())
	})

	t.Run("UnreachableReportedOnce", func(t *testing.T) {
		t.Parallel()
		ns := eventstest.RunServer(t)
		url := ns.ClientURL()
		ns.Stop()
		nc, err := nats.Connect(url, nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1))
		require.NoError(t, err)
		t.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		require.NoError(t, err)
		pool, err := pgxpool.New(t.Context(), "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2")
		require.NoError(t, err)
		t.Cleanup(pool.Close)

		r := status.Gather(t.Context(), pool, js)
		require.Len(t, r.Unavailable, 2, "%q", r.Unavailable)
		require.Equal(t, "NATS: not connected to "+url, r.Unavailable[0])
		require.Contains(t, r.Unavailable[1], "database: ")
		require.Contains(t, r.Unavailable[1], "connection refused")
		att := r.Attention()
		require.Len(t, att, 2, "nothing said of a stream that could not be read: %q", att)
		require.Equal(t, "cannot read "+r.Unavailable[0], att[0])
		var text bytes.Buffer
		require.NoError(t, r.WriteText(&text))
		require.Contains(t, text.String(), "unknown: NATS could not be read")
	})

	t.Run("DeadLettersByReason", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := t.Context()
		for i, reason := range []string{"not a Stripe event", "gave up after 10 deliveries: timeout", "not a Stripe event", "replayed already"} {
			require.NoError(t, db.InsertDeadLetter(ctx, b.pool, db.DeadLetter{Subject: "stripe.event.x", StreamSeq: uint64(i + 1), Reason: reason, Payload: []byte("x")}))
		}
		letters, err := db.DeadLetters(ctx, b.pool, db.DeadLetterFilter{Reason: "replayed already"})
		require.NoError(t, err)
		require.NoError(t, db.MarkReplayed(ctx, b.pool, letters[0].ID))

		r := status.Gather(ctx, b.pool, b.js)
		require.Empty(t, r.Unavailable)
		require.Equal(t, []status.DeadLetters{
			{Reason: "not a Stripe event", Count: 2},
			{Reason: "gave up after 10 deliveries: timeout", Count: 1},
		}, r.DeadLetters, "the most frequent first; a replayed one is not counted")
		require.EqualValues(t, 3, r.DeadLettersTotal)
		require.Equal(t, []string{"3 dead letters (stripe.dead_letters; replay them once the cause is fixed)"}, r.Attention())
	})

	// Rows are PostgreSQL's estimates: the test waits for the writers'
	// counts to reach the statistics, then ANALYZEs so that the deleted
	// share is known (see db.EstimateRows).
	t.Run("RowsPerRelation", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := t.Context()
		cus, price := catalog.MustLookup("customer"), catalog.MustLookup("price")
		at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
		objects := func(prefix string, n int) []db.Object {
			var out []db.Object
			for i := range n {
				id := prefix + string(rune('a'+i))
				out = append(out, db.Object{ID: id, Data: []byte(`{"id":"` + id + `"}`), StateAt: at})
			}
			return out
		}
		_, err := db.UpsertObjects(ctx, b.pool, cus, objects("cus_", 4))
		require.NoError(t, err)
		_, err = db.UpsertObjects(ctx, b.pool, price, objects("price_", 2))
		require.NoError(t, err)
		require.NoError(t, db.MarkDeleted(ctx, b.pool, cus, []db.Tombstone{{ID: "cus_a", StateAt: at.Add(time.Second)}}))

		rows := func(r status.Report) map[string]status.Relation {
			out := map[string]status.Relation{}
			for _, rel := range r.Relations {
				out[rel.Relation] = rel
			}
			return out
		}
		require.Eventually(t, func() bool {
			rel := rows(status.Gather(ctx, b.pool, b.js))
			return rel["customers"].RowsEstimated == 4 && rel["prices"].RowsEstimated == 2
		}, 10*time.Second, 50*time.Millisecond)
		_, err = b.pool.Exec(ctx, "ANALYZE stripe.customers, stripe.prices")
		require.NoError(t, err)

		r := status.Gather(ctx, b.pool, b.js)
		rel := rows(r)
		require.Len(t, r.Relations, len(catalog.All()), "every catalog resource")
		require.Equal(t, status.Relation{Relation: "customers", Object: "customer", RowsEstimated: 4, DeletedEstimated: 1}, rel["customers"])
		require.Equal(t, status.Relation{Relation: "prices", Object: "price", RowsEstimated: 2, DeletedEstimated: 0}, rel["prices"])
		require.Equal(t, status.Relation{Relation: "invoices", Object: "invoice", RowsEstimated: 0, DeletedEstimated: -1}, rel["invoices"], "never analyzed: deleted unknown")
	})

	t.Run("Reconciliations", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := t.Context()
		cus := catalog.MustLookup("customer")
		var two, one db.Digest
		two.Add("cus_a")
		two.Add("cus_b")
		one.Add("cus_a")
		for _, account := range []string{"", "acct_1"} {
			require.NoError(t, db.StartListings(ctx, b.pool, "run1", account, []*catalog.Resource{cus}, time.Now()))
		}
		require.NoError(t, db.CompleteListing(ctx, b.pool, db.Reconciliation{Resource: cus, Listing: "run1", API: two, Mirror: two, Unlisted: 3}))
		require.NoError(t, db.CompleteListing(ctx, b.pool, db.Reconciliation{Resource: cus, Account: "acct_1", Listing: "run1", API: one, Mirror: two, Unlisted: 1}))
		require.NoError(t, db.AddPendingFetches(ctx, b.pool, []db.PendingFetch{{Resource: cus, ID: "cus_b", Account: "acct_1",
			URL: "/v1/customers/cus_b", EventID: db.ReconcileFetchEventID("run1"), Since: time.Now()}}, time.Hour))
		started, _, err := db.StartedListing(ctx, b.pool, cus, "")
		require.NoError(t, err)
		r := status.Gather(ctx, b.pool, b.js)
		require.Len(t, r.Reconciliations, 2)
		require.Equal(t, status.Reconciliation{Relation: "customers", ListedAt: started.StartedAt.UTC(), APIObjects: 2, APIDigest: two.Digest,
			MirrorObjects: 2, MirrorDigest: two.Digest, Agree: true, Unlisted: 3}, r.Reconciliations[0])
		require.False(t, r.Reconciliations[1].Agree, "a row the listing did not return is still live")
		require.EqualValues(t, 1, r.Reconciliations[1].Waiting, "still to be retrieved")
		var out bytes.Buffer
		require.NoError(t, r.WriteText(&out))
		require.Regexp(t, `customers +2 +1 +3 +4 +0 +1 `, out.String(), "accounts, differ, listed, mirror, marked, waiting")
		require.Empty(t, r.Redact().Reconciliations[1].Account, "the page shows no account ids")
	})

	t.Run("PendingFetches", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := t.Context()
		since := time.Now().Add(-20 * time.Minute).Truncate(time.Second)
		cus := catalog.MustLookup("customer")
		require.NoError(t, db.AddPendingFetches(ctx, b.pool, []db.PendingFetch{
			{Resource: cus, ID: "cus_1", URL: "/v1/customers/cus_1", EventID: "evt_1", Since: since},
			{Resource: cus, ID: "cus_2", URL: "/v1/customers/cus_2", EventID: "evt_2", Since: since.Add(time.Minute)},
		}, 0))
		r := status.Gather(ctx, b.pool, b.js)
		require.EqualValues(t, 2, r.PendingFetches.Waiting)
		require.Equal(t, since.UTC(), r.PendingFetches.Oldest)
		require.InDelta(t, 20*60, r.PendingFetches.OldestSeconds, 5)
		require.Len(t, r.Attention(), 1)
		require.Contains(t, r.Attention()[0], "2 objects wait for a fetch, the oldest for 20m")
	})

	t.Run("StateBucket", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := t.Context()
		kv, err := b.js.CreateKeyValue(ctx, events.StateBucketConfig())
		require.NoError(t, err)
		put := func(key, value string) {
			t.Helper()
			_, err := kv.PutString(ctx, key, value)
			require.NoError(t, err)
		}
		// As the syncer writes them: catch-up cursors in RFC 3339, and a
		// backfill run's plan and task slots (checkpoint.go).
		put(events.EventsCursorKey(""), "2026-12-01T10:00:00Z")
		put(events.EventsCursorKey("acct_1"), "2026-12-01T09:00:00Z")
		put(events.ThinEventsCursorKey(""), "2026-12-01T10:05:00Z")
		put(events.BackfillTaskKey("a1b2c3d4e5f6", "plan"), `{"until":1764583200,"first":true,"after":"acct_1"}`)
		put(events.BackfillTaskKey("a1b2c3d4e5f6", "slot1"), `{"id":"acct_1.customer","account":"acct_1","resource":"customer","from":1700000000,"to":1764583200,"cursor":"cus_9","objects":300}`)
		put(events.BackfillTaskKey("a1b2c3d4e5f6", "slot2"), `{"id":"platform.price","resource":"price","objects":40}`)
		put(events.BackfillTaskKey("a1b2c3d4e5f6", "slot3"), `{"id":"platform.product","resource":"product","objects":12,"done":true}`)
		require.NoError(t, kv.Delete(ctx, events.BackfillTaskKey("a1b2c3d4e5f6", "slot3")))

		r := status.Gather(ctx, b.pool, b.js)
		require.Empty(t, r.Unavailable)
		at := func(s string) time.Time { t, _ := time.Parse(time.RFC3339, s); return t }
		require.Equal(t, status.CatchUp{
			Cursors: 2, Oldest: at("2026-12-01T09:00:00Z"), Newest: at("2026-12-01T10:00:00Z"), OldestSeconds: r.CatchUp.OldestSeconds,
			ThinCursors: 1, ThinOldest: at("2026-12-01T10:05:00Z"), ThinNewest: at("2026-12-01T10:05:00Z"),
			Accounts: []status.AccountCursor{
				{Account: "platform", Events: at("2026-12-01T10:00:00Z"), ThinEvents: at("2026-12-01T10:05:00Z")},
				{Account: "acct_1", Events: at("2026-12-01T09:00:00Z")},
			},
		}, r.CatchUp)
		require.Equal(t, []status.Backfill{{
			Run: "a1b2c3d4e5f6", PlannedAfter: "acct_1", Until: time.Unix(1764583200, 0).UTC(), InFlight: 2, Objects: 340,
			Tasks: []status.Task{ // the platform first
				{ID: "platform.price", Account: "platform", Resource: "price", Objects: 40},
				{ID: "acct_1.customer", Account: "acct_1", Resource: "customer", From: time.Unix(1700000000, 0).UTC(), To: time.Unix(1764583200, 0).UTC(), Cursor: "cus_9", Objects: 300},
			},
		}}, r.Backfills)

		red := r.Redact()
		require.Nil(t, red.CatchUp.Accounts)
		require.Equal(t, 2, red.CatchUp.Cursors)
		require.Empty(t, red.Backfills[0].PlannedAfter)
		require.Equal(t, status.Task{Resource: "customer", From: time.Unix(1700000000, 0).UTC(), To: time.Unix(1764583200, 0).UTC(), Objects: 300}, red.Backfills[0].Tasks[1])
		require.Equal(t, "cus_9", r.Backfills[0].Tasks[1].Cursor, "the original is left as it was")
		var out bytes.Buffer
		require.NoError(t, red.WriteJSON(&out))
		require.NotContains(t, out.String(), "acct_1")
		require.NotContains(t, out.String(), "cus_9")
	})
}

func TestAPIBudget(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	kv, err := b.js.CreateKeyValue(ctx, events.StateBucketConfig())
	require.NoError(t, err)

	// A syncer that spent 4 requests, one of them answered 429, as its
	// rate limiter counted them, publishing its usage as syncer serve does.
	var calls atomic.Int64
	stripeAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(stripeAPI.Close)
	lim := stripeapi.NewLimiter(20, 2)
	hc := &http.Client{Transport: lim.Transport(http.DefaultTransport)}
	for range 3 {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, stripeAPI.URL+"/v1/customers", nil)
		require.NoError(t, err)
		resp, err := hc.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- stripeapi.ReportUsage(rctx, kv, "syncer", slog.New(slog.NewTextHandler(t.Output(), nil)), lim)
	}()
	t.Cleanup(func() { stop(); <-done })

	// A processor killed a while ago (stale: shown, not summed), and one
	// killed long ago (left out).
	put := func(u events.APIUsage) {
		t.Helper()
		v, err := json.Marshal(u)
		require.NoError(t, err)
		_, err = kv.Put(ctx, events.APIUsageKey(u.Service, u.Instance), v)
		require.NoError(t, err)
	}
	put(events.APIUsage{Service: "processor", Instance: "host-2", At: time.Now().Add(-2 * time.Minute), WindowSeconds: 60, Requests: 120, Limit: 5, Rate: 5})
	put(events.APIUsage{Service: "processor", Instance: "host-3", At: time.Now().Add(-2 * time.Hour), WindowSeconds: 60, Requests: 60, Limit: 5, Rate: 5})

	var r status.Report
	require.Eventually(t, func() bool {
		r = status.Gather(ctx, b.pool, b.js)
		return len(r.APIBudget.Processes) == 2
	}, 10*time.Second, 20*time.Millisecond, "the syncer's record and the stale one")
	require.Empty(t, r.Unavailable)
	require.Empty(t, r.Backfills, "usage records are not backfill checkpoints")
	budget := r.APIBudget
	stale, syncer := budget.Processes[0], budget.Processes[1]
	require.Equal(t, "processor", stale.Service)
	require.True(t, stale.Stale)
	require.InDelta(t, 120, stale.AgeSeconds, 10)
	require.Equal(t, "syncer", syncer.Service)
	require.False(t, syncer.Stale)
	require.EqualValues(t, 4, syncer.Requests, "three requests and the retry of the 429")
	require.EqualValues(t, 1, syncer.RateLimited)
	require.Positive(t, syncer.PerSecond)
	require.Equal(t, 20.0, budget.Limit, "the stale record's limit is not summed")
	require.Equal(t, syncer.PerSecond, budget.PerSecond)
	require.EqualValues(t, 1, budget.RateLimited)

	var text bytes.Buffer
	require.NoError(t, r.WriteText(&text))
	require.Regexp(t, `API budget used\s+\d+\.\d of 20\.0 requests/s \(\d+%\), 1 429s in the last minute`, text.String())
	require.Regexp(t, `processor\s+host-2\s+2\.0 of 5\.0 requests/s, 0 429s  stale: written 2m\d*s? ago, not summed`, text.String())

	var js bytes.Buffer
	require.NoError(t, r.WriteJSON(&js))
	var got struct {
		APIBudget struct {
			Limit     float64 `json:"limit"`
			Processes []struct {
				Service  string `json:"service"`
				Requests int64  `json:"requests"`
				Stale    bool   `json:"stale"`
			} `json:"processes"`
		} `json:"api_budget"`
	}
	require.NoError(t, json.Unmarshal(js.Bytes(), &got))
	require.Equal(t, 20.0, got.APIBudget.Limit)
	require.Len(t, got.APIBudget.Processes, 2)
	require.True(t, got.APIBudget.Processes[0].Stale)
	require.EqualValues(t, 4, got.APIBudget.Processes[1].Requests)

	// A syncer that stops deletes its record.
	stop()
	require.NoError(t, <-done)
	done <- nil // for the cleanup
	r = status.Gather(ctx, b.pool, b.js)
	require.Len(t, r.APIBudget.Processes, 1)
	require.Zero(t, r.APIBudget.Limit)
	text.Reset()
	require.NoError(t, r.WriteText(&text))
	require.Regexp(t, `API budget used\s+unknown: every usage record is stale`, text.String())
}

func TestReportJSON(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	b.publish(t, 3)
	require.NoError(t, db.InsertDeadLetter(ctx, b.pool, db.DeadLetter{Subject: "stripe.event.x", StreamSeq: 1, Reason: "not a Stripe event", Payload: []byte("x")}))

	r := status.Gather(ctx, b.pool, b.js)
	var out bytes.Buffer
	require.NoError(t, r.WriteJSON(&out))
	var got struct {
		At     time.Time `json:"at"`
		Stream struct {
			Messages uint64 `json:"messages"`
		} `json:"stream"`
		Consumer struct {
			Pending uint64 `json:"pending"`
		} `json:"consumer"`
		DeadLettersTotal int64 `json:"dead_letters_total"`
		Relations        []struct {
			Relation      string `json:"relation"`
			RowsEstimated int64  `json:"rows_estimated"`
		} `json:"relations"`
		Thresholds struct {
			MaxPending    uint64 `json:"max_pending"`
			MaxUnackedAge string `json:"max_unacked_age"`
		} `json:"thresholds"`
		Attention []string `json:"attention"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &got))
	require.Equal(t, r.At, got.At)
	require.EqualValues(t, 3, got.Stream.Messages)
	require.EqualValues(t, 3, got.Consumer.Pending)
	require.EqualValues(t, 1, got.DeadLettersTotal)
	require.Len(t, got.Relations, len(catalog.All()))
	require.Equal(t, "5m0s", got.Thresholds.MaxUnackedAge)
	require.Equal(t, r.Attention(), got.Attention)
	require.NotEmpty(t, got.Attention)

	var text bytes.Buffer
	require.NoError(t, r.WriteText(&text))
	for _, want := range []string{"stream STRIPE", "3 messages", "consumer processor", "3 pending", "dead letters", "not a Stripe event", "API budget"} {
		require.True(t, strings.Contains(text.String(), want), "text output has %q:\n%s", want, text.String())
	}
}
