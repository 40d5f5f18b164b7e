package backfill

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/pkg/catalog"
	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/events/eventstest"
	"github.com/stripesync/stripesync/pkg/stripeapi"
	"github.com/stripesync/stripesync/pkg/stripefake"
)

// testBundle is a fake Stripe API over HTTP, an in-process JetStream with
// the stream and the state bucket, and an engine between them.
type testBundle struct {
	fake    *stripefake.Server
	url     string
	ns      *eventstest.Server
	log     *slog.Logger
	api     *stripeapi.Client
	limiter *stripeapi.Limiter
	js      jetstream.JetStream
	kv      jetstream.KeyValue
}

func setup(t testing.TB, opts stripefake.Options, seed stripefake.SeedOptions) *testBundle {
	t.Helper()
	fake := stripefake.New(opts)
	seed.RandSeed = 7
	require.NoError(t, stripefake.Seed(fake, seed))
	url := fake.Start(t)
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
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	lim := stripeapi.NewLimiter(1e6, 1e5, stripeapi.WithEndpointRate(0))
	return &testBundle{
		fake: fake, url: url, ns: ns, log: log, limiter: lim, js: js, kv: kv,
		api: stripeapi.New(url, stripefake.TestKey, lim, log, stripeapi.WithAPIVersion(stripeapi.DefaultAPIVersion)),
	}
}

func (b *testBundle) engine(concurrency int) *Engine {
	return New(b.log, b.api, b.js, b.kv, Config{Concurrency: concurrency}, NewProgress())
}

// request resolves names as a sync request would.
func request(t testing.TB, sr events.SyncRequest) Request {
	t.Helper()
	req, err := NewRequest(sr)
	require.NoError(t, err)
	return req
}

// streamedObject is an object message on the stream.
type streamedObject struct {
	events.Object
	msgID string
}

// streamed reads every object message on the stream.
func (b *testBundle) streamed(t *testing.T) []streamedObject {
	t.Helper()
	ctx := t.Context()
	s, err := b.js.Stream(ctx, events.StreamName)
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	if info.State.Msgs == 0 {
		return nil
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	require.NoError(t, err)
	var out []streamedObject
	for uint64(len(out)) < info.State.Msgs {
		batch, err := cons.Fetch(int(min(1000, info.State.Msgs-uint64(len(out)))), jetstream.FetchMaxWait(5*time.Second))
		require.NoError(t, err)
		n := 0
		for m := range batch.Messages() {
			n++
			o, err := events.ParseObjectMsg(m.Subject(), m.Headers(), m.Data())
			require.NoError(t, err, m.Subject())
			out = append(out, streamedObject{Object: o, msgID: m.Headers().Get(nats.MsgIdHdr)})
		}
		require.NoError(t, batch.Error())
		require.NotZero(t, n, "the stream holds %d messages, read %d", info.State.Msgs, len(out))
	}
	return out
}

// count returns how many times each id of res is on the stream, per
// account.
func count(objs []streamedObject, res *catalog.Resource) map[string]map[string]int {
	out := map[string]map[string]int{}
	for _, o := range objs {
		if o.Resource != res {
			continue
		}
		if out[o.Account] == nil {
			out[o.Account] = map[string]int{}
		}
		out[o.Account][o.ID]++
	}
	return out
}

// messages is the number of messages on the stream.
func (b *testBundle) messages(ctx context.Context) uint64 {
	s, err := b.js.Stream(ctx, events.StreamName)
	if err != nil {
		return 0
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0
	}
	return info.State.Msgs
}

// checkpointKeys are the keys the run left in the state bucket.
func (b *testBundle) checkpointKeys(t *testing.T, run string) []string {
	t.Helper()
	lister, err := b.kv.ListKeysFiltered(t.Context(), events.BackfillRunKeys(run))
	require.NoError(t, err)
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	return keys
}

// cancelWhen runs Run with a context cancelled once cond holds, and returns
// how long Run took to return after the cancel, and its error.
func (b *testBundle) cancelWhen(t *testing.T, e *Engine, req Request, cond func() bool) (time.Duration, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var cancelled time.Time
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx, req) }()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if cancelled.IsZero() {
				return 0, errors.Join(err, errors.New("run ended before the condition held"))
			}
			return time.Since(cancelled), err
		case <-tick.C:
			if cancelled.IsZero() && cond() {
				cancelled = time.Now()
				cancel()
			}
		}
	}
}
