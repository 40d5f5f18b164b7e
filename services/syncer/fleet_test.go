package syncer

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/events/eventstest"
	"github.com/stripesync/stripesync/pkg/stripeapi"
	"github.com/stripesync/stripesync/pkg/stripefake"
)

// fleetBundle is a fleet of syncer serve replicas, in process, on a 3-node
// JetStream cluster, against one fake Stripe account that records every
// request.
type fleetBundle struct {
	fake    *stripefake.Server
	url     string
	cluster *eventstest.Cluster
	js      jetstream.JetStream
	env     map[string]string
}

// fleetBudget is the Stripe account's rate limit in these tests (Stripe's
// sandbox limit), and the shares: the fleet's syncer rate (backfills 11/s,
// catch-ups 3/s, each in bursts of 1) and the processor's fetches (5/s in
// bursts of 2, its test-mode share): 11+1 + 3+1 + 5+2 = 23 ≤ 25 in any
// second.
const (
	fleetBudget         = 25
	fleetSyncerRate     = "14"
	fleetEventsRate     = "3"
	processorFetchRate  = 5
	processorFetchBurst = 2
)

func setupFleet(t *testing.T, seed stripefake.SeedOptions) *fleetBundle {
	t.Helper()
	fake := stripefake.New(stripefake.Options{RecordRequests: true, RateLimit: fleetBudget})
	seed.RandSeed = 7
	require.NoError(t, stripefake.Seed(fake, seed))
	url := fake.Start(t)
	cluster := eventstest.RunCluster(t, 3)
	nc, err := nats.Connect(cluster.ClientURLs())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	b := &fleetBundle{fake: fake, url: url, cluster: cluster, js: js, env: map[string]string{
		"STRIPE_API_KEY":           stripefake.TestKey,
		"STRIPE_API_BASE":          url,
		"NATS_URL":                 cluster.ClientURLs(),
		"NATS_STREAM_REPLICAS":     "3",
		"SYNCER_RATE_LIMIT":        fleetSyncerRate,
		"SYNCER_EVENTS_RATE_LIMIT": fleetEventsRate,
		"SYNCER_CONCURRENCY":       "8",
		// Short, for the takeover to come soon; longer than a loaded
		// machine may take between the server's sending a job and the
		// replica's first in-progress ack.
		"SYNCER_JOB_ACK_WAIT": "5s",
		"LOG_LEVEL":           "info",
	}}
	return b
}

// replica is one syncer serve of the fleet.
type replica struct {
	addr   string
	cancel context.CancelFunc
	done   chan error
}

// start runs a replica with env over the bundle's, and waits until it is
// ready.
func (b *fleetBundle) start(t *testing.T, env map[string]string) *replica {
	t.Helper()
	r := &replica{addr: eventstest.FreeAddr(t), done: make(chan error, 1)}
	getenv := func(k string) string {
		if k == "SYNCER_ADDR" {
			return r.addr
		}
		if v, ok := env[k]; ok {
			return v
		}
		return b.env[k]
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- Run(ctx, []string{"serve"}, getenv, t.Output()) }()
	t.Cleanup(func() { r.stop(t) })
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + r.addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second, 20*time.Millisecond)
	return r
}

// stop ends the replica as if it died: whatever job it holds stays
// unacknowledged.
func (r *replica) stop(t *testing.T) {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	require.NoError(t, <-r.done)
}

var counterLine = regexp.MustCompile(`(?m)^(stripe_sync_syncer_\w+_total\{outcome="(\w+)"\}) (\d+)$`)

// counts are the replica's job counters: "stripe_sync_syncer_backfills_total{outcome=\"done\"}" → n.
func (r *replica) counts(t *testing.T) map[string]int {
	t.Helper()
	resp, err := http.Get("http://" + r.addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	out := map[string]int{}
	for _, m := range counterLine.FindAllStringSubmatch(string(body), -1) {
		n, _ := strconv.Atoi(m[3])
		out[m[1]] = n
	}
	return out
}

func sumCounts(t *testing.T, rs []*replica, name string) int {
	n := 0
	for _, r := range rs {
		n += r.counts(t)[name]
	}
	return n
}

const (
	backfillsDone   = `stripe_sync_syncer_backfills_total{outcome="done"}`
	backfillsFailed = `stripe_sync_syncer_backfills_total{outcome="failed"}`
	catchUpsDone    = `stripe_sync_syncer_catchups_total{outcome="done"}`
	catchUpsFailed  = `stripe_sync_syncer_catchups_total{outcome="failed"}`
)

func (b *fleetBundle) run(t *testing.T, id string) events.SyncRun {
	t.Helper()
	kv, err := b.js.KeyValue(t.Context(), events.StateBucket)
	if err != nil {
		return events.SyncRun{}
	}
	e, err := kv.Get(t.Context(), events.SyncRunKey(id))
	if err != nil {
		return events.SyncRun{}
	}
	var run events.SyncRun
	require.NoError(t, json.Unmarshal(e.Value(), &run))
	return run
}

// idle reports whether the fleet's consumers (both when none is named)
// hold no job, pending or in flight.
func (b *fleetBundle) idle(t *testing.T, consumers ...string) bool {
	if len(consumers) == 0 {
		consumers = []string{events.BackfillConsumer, events.CatchUpConsumer}
	}
	for _, name := range consumers {
		c, err := b.js.Consumer(t.Context(), events.SyncStream, name)
		if err != nil {
			return false
		}
		info, err := c.Info(t.Context())
		if err != nil || info.NumPending > 0 || info.NumAckPending > 0 {
			return false
		}
	}
	return true
}

// busyFetcher fetches customers by id as fast as the processor's share of
// the budget lets it (the processor's own limiter settings in test mode,
// services/processor fetchRate), until the test ends: the load of a
// processor with a backlog of thin events.
func (b *fleetBundle) busyFetcher(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	api := stripeapi.New(b.url, stripefake.TestKey, stripeapi.NewLimiter(processorFetchRate, processorFetchBurst), slog.New(slog.DiscardHandler))
	ids := b.fake.IDs("", "customer")
	for w := range 4 { // more fetches at once than the rate lets through: the limiter, not latency, sets the pace
		wg.Go(func() {
			for i := w; ctx.Err() == nil; i++ {
				_, _, _ = api.Get(ctx, "/v1/customers/"+ids[i%len(ids)], "")
			}
		})
	}
}

// requireWithinBudget checks the fake's record: no second (any window of
// one second, not only those starting on the second) held more requests
// than the budget, and none was answered 429.
func (b *fleetBundle) requireWithinBudget(t *testing.T) {
	t.Helper()
	reqs := b.fake.Requests()
	_, most := stripefake.MostInWindow(reqs, time.Second)
	span := reqs[len(reqs)-1].At.Sub(reqs[0].At)
	t.Logf("%d requests over %s (%.1f/s); the busiest second held %d, the budget is %d", len(reqs), span.Round(time.Millisecond),
		float64(len(reqs))/span.Seconds(), most, fleetBudget)
	require.LessOrEqual(t, most, fleetBudget)
	for _, r := range reqs {
		require.Empty(t, r.Limited, "a request was rate limited: %s at %s", r.Endpoint, r.At)
	}
}

func TestFleet(t *testing.T) {
	t.Parallel()

	t.Run("ScheduledSlotRunsOnce", func(t *testing.T) {
		t.Parallel()
		b := setupFleet(t, stripefake.SeedOptions{Customers: 3})
		// Daily slots: each of the three replicas publishes the slot it
		// starts in; the stream keeps one backfill and one catch-up.
		env := map[string]string{"SYNCER_BACKFILL_INTERVAL": "24h", "SYNCER_EVENTS_INTERVAL": "0 0 * * *"}
		rs := []*replica{b.start(t, env), b.start(t, env), b.start(t, env)}
		// A run of the slot counts whatever its outcome: a cluster too busy
		// to answer a checkpoint write fails a run (to be resumed by the
		// next), and the property is that the slot runs once, not that
		// the run succeeds.
		runs := func(done, failed string) int { return sumCounts(t, rs, done) + sumCounts(t, rs, failed) }
		require.Eventually(t, func() bool {
			return runs(backfillsDone, backfillsFailed) >= 1 && runs(catchUpsDone, catchUpsFailed) >= 1 && b.idle(t)
		}, 60*time.Second, 100*time.Millisecond)
		// A replica started later in the slot publishes it again: still one.
		rs = append(rs, b.start(t, env))
		time.Sleep(time.Second) // what would run must have been taken by now: the consumers are polled all the time
		require.Eventually(t, func() bool { return b.idle(t) }, 20*time.Second, 50*time.Millisecond)
		require.Equal(t, 1, runs(backfillsDone, backfillsFailed), "one backfill for the slot")
		require.Equal(t, 1, runs(catchUpsDone, catchUpsFailed), "one catch-up for the slot")
	})

	t.Run("RequestSurvivesTheDeathOfItsReplicaWithinTheBudget", func(t *testing.T) {
		t.Parallel()
		b := setupFleet(t, stripefake.SeedOptions{Customers: 80, ConnectedAccounts: 2, ConnectedCustomers: 40})
		b.busyFetcher(t)
		// Catch-ups every second keep the catch-up share busy too.
		env := map[string]string{"SYNCER_BACKFILL_INTERVAL": "0", "SYNCER_EVENTS_INTERVAL": "1s"}

		// Queued before any replica runs: it waits in the stream.
		var out bytesBuffer
		require.NoError(t, Run(t.Context(), []string{"request", "-resources", "customers,tax_ids"}, func(k string) string { return b.env[k] }, &out))
		var reply syncReply
		require.NoError(t, json.Unmarshal(out.Bytes(), &reply))
		require.Equal(t, events.RunQueued, b.run(t, reply.Run).State)

		first := b.start(t, env)
		taxIDs := func() int {
			n := 0
			for _, r := range b.fake.Requests() {
				if r.Endpoint == "GET /v1/customers/{id}/tax_ids" {
					n++
				}
			}
			return n
		}
		require.Eventually(t, func() bool { return taxIDs() >= 30 }, 60*time.Second, 20*time.Millisecond)
		require.Equal(t, events.RunRunning, b.run(t, reply.Run).State)
		others := []*replica{b.start(t, env), b.start(t, env)}
		first.stop(t) // mid-run: its job stays unacknowledged
		stoppedAt := taxIDs()

		require.Eventually(t, func() bool { return b.run(t, reply.Run).State == events.RunDone }, 120*time.Second, 50*time.Millisecond)
		run := b.run(t, reply.Run)
		require.EqualValues(t, 2, run.Deliveries, "taken over once")
		// The backfills' consumer alone: a catch-up is queued every second,
		// and on a loaded machine one may take longer than that.
		require.Eventually(t, func() bool { return b.idle(t, events.BackfillConsumer) }, 60*time.Second, 50*time.Millisecond)
		require.Equal(t, 1, sumCounts(t, others, backfillsDone), "completed once, by one of the others")
		require.Greater(t, taxIDs(), stoppedAt, "another replica listed on")
		b.requireWithinBudget(t)
	})
}

// bytesBuffer is a bytes.Buffer safe for the replica's output.
type bytesBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (w *bytesBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	return len(p), nil
}

func (w *bytesBuffer) Bytes() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]byte(nil), w.buf...)
}
