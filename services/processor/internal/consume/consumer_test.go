package consume_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/stripesync/stripesync/db/dbtest"
	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/events/eventstest"
	"github.com/stripesync/stripesync/services/processor/internal/consume"
	"github.com/stripesync/stripesync/services/processor/internal/logtest"
	"github.com/stripesync/stripesync/services/processor/internal/store"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// pgxpool's background health check ends shortly after Close.
		goleak.IgnoreAnyFunction("github.com/jackc/pgx/v5/pgxpool.(*Pool).backgroundHealthCheck"))
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n    uint64
		want time.Duration
	}{
		{0, time.Second}, // no metadata: as after one delivery
		{1, time.Second},
		{2, 2 * time.Second},
		{3, 4 * time.Second},
		{4, 8 * time.Second},
		{5, 16 * time.Second},
		{6, 32 * time.Second},
		{7, time.Minute}, // 64s, capped
		{8, time.Minute},
		{64, time.Minute}, // a shift this far would overflow
		{math.MaxUint64, time.Minute},
	}
	for _, tt := range tests {
		t.Run(strconv.FormatUint(tt.n, 10), func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, consume.Backoff(tt.n))
		})
	}
}

// testBundle is one consumer's world: a database of its own, a JetStream
// server of its own with the stream and the processor's consumer, and a
// record of every verb (+ACK, -NAK, +TERM) the consumer sends.
type testBundle struct {
	dbURL string
	db    *pgxpool.Pool // straight to PostgreSQL, for the test's own queries
	nc    *nats.Conn
	js    jetstream.JetStream
	cons  jetstream.Consumer
	verbs *verbLog
	logs  *logtest.Recorder
	reg   *prometheus.Registry
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	dbURL := dbtest.NewURL(t)
	db, err := pgxpool.New(context.Background(), dbURL)
	require.NoError(t, err)
	t.Cleanup(db.Close)

	ns := eventstest.RunServer(t)
	nc, err := nats.Connect(ns.ClientURL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	stream, err := events.DeclareStream(t.Context(), js, events.DefaultStreamOptions)
	require.NoError(t, err)
	// AckWait is far above any test's run: a message is redelivered only
	// because the consumer asked for it.
	cons, err := stream.CreateOrUpdateConsumer(t.Context(), events.ConsumerConfig(time.Minute, 1000))
	require.NoError(t, err)

	verbs := &verbLog{}
	sub, err := nc.Subscribe("$JS.ACK."+events.StreamName+"."+events.ConsumerName+".>", verbs.record)
	require.NoError(t, err)
	t.Cleanup(func() { sub.Unsubscribe() })
	require.NoError(t, nc.Flush())

	return &testBundle{
		dbURL: dbURL, db: db, nc: nc, js: js, cons: cons, verbs: verbs,
		logs: logtest.New(t), reg: prometheus.NewRegistry(),
	}
}

// storePool opens the store's pool on url (the test's database, or a proxy
// in front of it) with the given run-time parameters.
func storePool(t *testing.T, url string, params map[string]string) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	require.NoError(t, err)
	for k, v := range params {
		cfg.ConnConfig.RuntimeParams[k] = v
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

// run runs a consumer over pool until the test ends, then stops it and
// checks that it stopped cleanly.
func (b *testBundle) run(t *testing.T, pool *pgxpool.Pool, cfg consume.Config) {
	t.Helper()
	c := consume.New(slog.New(b.logs), store.New(pool), cfg, consume.NewMetrics(b.reg))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, b.cons) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
}

// publish puts body on subject as ingest does, with msgID as its Nats-Msg-Id,
// and returns its stream sequence.
func (b *testBundle) publish(t *testing.T, subject, msgID string, body []byte) uint64 {
	t.Helper()
	ack, err := b.js.PublishMsg(t.Context(), &nats.Msg{Subject: subject, Data: body}, jetstream.WithMsgID(msgID))
	require.NoError(t, err)
	return ack.Sequence
}

func (b *testBundle) publishEvent(t *testing.T, e eventstest.Event) uint64 {
	t.Helper()
	return b.publish(t, events.EventSubject(e.Type), e.ID, e.JSON(t))
}

func (b *testBundle) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, b.db.QueryRow(t.Context(), sql, args...).Scan(&n))
	return n
}

func (b *testBundle) info(t *testing.T) *jetstream.ConsumerInfo {
	t.Helper()
	info, err := b.cons.Info(t.Context())
	require.NoError(t, err)
	return info
}

// hold makes the store's Apply of e wait until release is called: the test
// inserts e's key (id and created) into stripe.events in a transaction it
// keeps open, and the store's insert waits for that transaction's outcome.
// release rolls it back, so the store's insert then goes through.
func (b *testBundle) hold(t *testing.T, e eventstest.Event) (release func()) {
	t.Helper()
	tx, err := b.db.Begin(t.Context())
	require.NoError(t, err)
	_, err = tx.Exec(t.Context(),
		"INSERT INTO stripe.events (id, type, livemode, created, data) VALUES ($1, 'customer.created', false, $2, '{}')",
		e.ID, time.Unix(e.Created.Unix(), 0)) // Stripe's created is in seconds
	require.NoError(t, err)
	release = sync.OnceFunc(func() { tx.Rollback(context.Background()) })
	t.Cleanup(release)
	return release
}

// waitHeld waits until a statement of the store waits for the held
// transaction.
func (b *testBundle) waitHeld(t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool {
		return b.count(t, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'") > 0
	}, 20*time.Second, 10*time.Millisecond, "the store never waited for the held event")
}

// waitDelivered waits until JetStream has handed the consumer n messages
// that it has not settled yet.
func (b *testBundle) waitDelivered(t *testing.T, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return b.info(t).NumAckPending == n }, 20*time.Second, 10*time.Millisecond,
		"waiting for %d messages in the consumer's hands", n)
}

func (b *testBundle) settled(t *testing.T) {
	t.Helper()
	eventstest.WaitProcessed(t, b.js, 20*time.Second)
}

type deadLetter struct {
	Subject      string
	StreamSeq    int64
	EventID      string
	NumDelivered int64
	Reason       string
	Payload      []byte
}

func (b *testBundle) deadLetters(t *testing.T) []deadLetter {
	t.Helper()
	rows, err := b.db.Query(t.Context(),
		"SELECT subject, stream_seq, event_id, num_delivered, reason, payload FROM stripe.dead_letters ORDER BY id")
	require.NoError(t, err)
	defer rows.Close()
	var ds []deadLetter
	for rows.Next() {
		var d deadLetter
		require.NoError(t, rows.Scan(&d.Subject, &d.StreamSeq, &d.EventID, &d.NumDelivered, &d.Reason, &d.Payload))
		ds = append(ds, d)
	}
	require.NoError(t, rows.Err())
	return ds
}

// histogram returns the sample count and sum of the histogram named name.
func (b *testBundle) histogram(t *testing.T, name string) (uint64, float64) {
	t.Helper()
	fams, err := b.reg.Gather()
	require.NoError(t, err)
	for _, f := range fams {
		if f.GetName() == name {
			h := f.GetMetric()[0].GetHistogram()
			return h.GetSampleCount(), h.GetSampleSum()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0, 0
}

func customerEvent(t *testing.T, evtID, cusID string) eventstest.Event {
	t.Helper()
	cus := eventstest.With(eventstest.Object(t, "customer"), map[string]any{"id": cusID, "email": cusID + "@example.com"})
	return eventstest.NewEvent(evtID, "customer.created", cus)
}

func customerEvents(t *testing.T, prefix string, n int) []eventstest.Event {
	t.Helper()
	var evs []eventstest.Event
	for i := range n {
		evs = append(evs, customerEvent(t, fmt.Sprintf("evt_%s%d", prefix, i), fmt.Sprintf("cus_%s%d", prefix, i)))
	}
	return evs
}

func TestConsumer(t *testing.T) {
	t.Parallel()

	cfg := consume.Config{BatchSize: 50, Workers: 1, MaxAttempts: 3}

	t.Run("GoodEventIsAppliedAndAcked", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		e := customerEvent(t, "evt_good", "cus_good")
		seq := b.publishEvent(t, e)
		b.run(t, storePool(t, b.dbURL, nil), cfg)

		b.settled(t)
		require.Equal(t, []verb{{seq: seq, delivered: 1, kind: "+ACK"}}, b.verbs.waitOf(t, seq, 1))
		info := b.info(t)
		require.Zero(t, info.NumPending)
		require.Zero(t, info.NumAckPending)
		require.Zero(t, info.NumRedelivered)
		require.EqualValues(t, 1, info.Delivered.Consumer, "delivered more than once")
		require.Equal(t, seq, info.AckFloor.Stream)

		var data string
		require.NoError(t, b.db.QueryRow(t.Context(), "SELECT data::text FROM stripe.customers WHERE id = 'cus_good'").Scan(&data))
		require.JSONEq(t, string(mustJSON(t, e.Object)), data)
		require.Equal(t, 1, b.count(t, "SELECT count(*) FROM stripe.events WHERE id = 'evt_good'"))
		require.Empty(t, b.deadLetters(t))
	})

	t.Run("SlowBatchIsKeptInProgressNotRedelivered", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		// An AckWait of a second, as short as the processor allows: the
		// batch below takes several of them.
		stream, err := b.js.Stream(t.Context(), events.StreamName)
		require.NoError(t, err)
		b.cons, err = stream.CreateOrUpdateConsumer(t.Context(), events.ConsumerConfig(time.Second, 1000))
		require.NoError(t, err)
		slowEvent := customerEvent(t, "evt_slow", "cus_slow")
		seq := b.publishEvent(t, slowEvent)
		release := b.hold(t, slowEvent)
		slow := cfg
		slow.AckWait = time.Second
		b.run(t, storePool(t, b.dbURL, nil), slow)
		b.waitHeld(t)
		// Held until it was marked in progress at least three times, which
		// takes longer than three AckWaits.
		require.Eventually(t, func() bool {
			n := 0
			for _, v := range b.verbs.of(seq) {
				if v.kind == "+WPI" {
					n++
				}
			}
			return n >= 3
		}, 20*time.Second, 10*time.Millisecond, "the held batch was not marked in progress")
		release()

		b.settled(t)
		vs := b.verbs.of(seq)
		require.Equal(t, verb{seq: seq, delivered: 1, kind: "+ACK"}, vs[len(vs)-1], "acknowledged after a redelivery: %v", vs)
		require.EqualValues(t, 1, b.info(t).Delivered.Consumer, "delivered more than once")
	})

	t.Run("NotAnEventIsDeadLetteredNeighboursApplied", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		// The consumer applies the first event alone and waits on it while
		// the rest arrive, so that the rest make one batch.
		gateEvent := customerEvent(t, "evt_gate", "cus_gate")
		release := b.hold(t, gateEvent)
		gate := b.publishEvent(t, gateEvent)
		b.run(t, storePool(t, b.dbURL, nil), cfg)
		b.waitHeld(t)

		var good []uint64
		for _, e := range customerEvents(t, "before", 5) {
			good = append(good, b.publishEvent(t, e))
		}
		garbage := []byte("this is not json")
		bad := b.publish(t, "stripe.event.customer.created", "garbage", garbage)
		for _, e := range customerEvents(t, "after", 5) {
			good = append(good, b.publishEvent(t, e))
		}
		b.waitDelivered(t, 12)
		release()
		b.settled(t)

		ds := b.deadLetters(t)
		require.Len(t, ds, 1)
		require.Equal(t, deadLetter{
			Subject: "stripe.event.customer.created", StreamSeq: int64(bad), EventID: "garbage", NumDelivered: 1,
			Reason: ds[0].Reason, Payload: garbage,
		}, ds[0])
		require.Contains(t, ds[0].Reason, "not a Stripe event")
		terms := b.verbs.waitOf(t, bad, 1)
		require.Len(t, terms, 1)
		require.Equal(t, "+TERM", terms[0].kind)
		require.EqualValues(t, 1, terms[0].delivered)
		require.Contains(t, terms[0].body, "not a Stripe event")
		for _, seq := range append(good, gate) {
			require.Equal(t, []verb{{seq: seq, delivered: 1, kind: "+ACK"}}, b.verbs.waitOf(t, seq, 1), "stream seq %d", seq)
		}
		require.Equal(t, 11, b.count(t, "SELECT count(*) FROM stripe.customers"))
		require.Equal(t, 11, b.count(t, "SELECT count(*) FROM stripe.events"))
		info := b.info(t)
		require.Zero(t, info.NumRedelivered)
		require.EqualValues(t, 12, info.Delivered.Consumer, "a message was delivered twice")
		// The premise: the gate alone, then the ten events in one
		// transaction (the garbage is not part of it).
		n, sum := b.histogram(t, "stripe_sync_processor_batch_size")
		require.EqualValues(t, 2, n, "the neighbours did not share a batch")
		require.InDelta(t, 11, sum, 0, "the neighbours did not share a batch")
	})

	t.Run("EventPostgresRefusesIsStoredAsFarAsItCanObjectDeadLetteredNeighboursApplied", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		gateEvent := customerEvent(t, "evt_gate", "cus_gate")
		release := b.hold(t, gateEvent)
		gate := b.publishEvent(t, gateEvent)
		b.run(t, storePool(t, b.dbURL, nil), cfg)
		b.waitHeld(t)

		var good []uint64
		for _, e := range customerEvents(t, "before", 5) {
			good = append(good, b.publishEvent(t, e))
		}
		// Valid JSON, but jsonb refuses \u0000 in a string.
		nul := customerEvent(t, "evt_nul", "cus_nul")
		nul.Object = eventstest.With(nul.Object, map[string]any{"name": "a\x00b"})
		nulBody := nul.JSON(t)
		require.Contains(t, string(nulBody), `\u0000`)
		bad := b.publish(t, events.EventSubject(nul.Type), nul.ID, nulBody)
		for _, e := range customerEvents(t, "after", 5) {
			good = append(good, b.publishEvent(t, e))
		}
		b.waitDelivered(t, 12)
		release()
		b.settled(t)

		ds := b.deadLetters(t)
		require.Len(t, ds, 1)
		require.Equal(t, deadLetter{
			Subject: "stripe.event.customer.created", StreamSeq: int64(bad), EventID: "evt_nul", NumDelivered: 1,
			Reason: ds[0].Reason, Payload: nulBody,
		}, ds[0])
		require.Contains(t, ds[0].Reason, "unsupported Unicode escape sequence")
		// Permanent: terminated at its first delivery, never retried.
		vs := b.verbs.waitOf(t, bad, 1)
		require.Len(t, vs, 1)
		require.Equal(t, "+TERM", vs[0].kind)
		require.EqualValues(t, 1, vs[0].delivered)
		for _, seq := range append(good, gate) {
			require.Equal(t, []verb{{seq: seq, delivered: 1, kind: "+ACK"}}, b.verbs.waitOf(t, seq, 1), "stream seq %d", seq)
		}
		require.Equal(t, 11, b.count(t, "SELECT count(*) FROM stripe.customers"))
		require.Zero(t, b.count(t, "SELECT count(*) FROM stripe.customers WHERE id = 'cus_nul'"))
		// The event is kept all the same, byte for byte, with the reason its
		// object is not applied.
		var objectID, data, unapplied string
		require.NoError(t, b.db.QueryRow(t.Context(),
			"SELECT object_id, data::text, unapplied FROM stripe.events WHERE id = 'evt_nul'").
			Scan(&objectID, &data, &unapplied))
		require.Equal(t, "cus_nul", objectID)
		require.Equal(t, string(nulBody), data)
		require.Equal(t, ds[0].Reason, unapplied)
		require.Equal(t, 12, b.count(t, "SELECT count(*) FROM stripe.events"))
		require.Equal(t, 11, b.count(t, "SELECT count(*) FROM stripe.events WHERE unapplied IS NULL"))
		require.EqualValues(t, 12, b.info(t).Delivered.Consumer, "a message was delivered twice")
		// The premise: the bad event shared a transaction with its ten
		// neighbours, which failed as a whole.
		require.Contains(t, b.logs.Int64s("batch failed, applying one by one", "batch_size"), int64(11),
			"the bad event did not share a batch with its neighbours")
	})

	t.Run("UnreachableDatabaseRetriesThenApplies", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		proxy := dbtest.NewProxy(t, b.dbURL)
		pool := storePool(t, proxy.URL(b.dbURL), nil)

		evs := customerEvents(t, "outage", 3)
		var seqs []uint64
		for _, e := range evs {
			seqs = append(seqs, b.publishEvent(t, e))
		}
		proxy.SetDown(true)
		// Two attempts, so that the consumer also tries, and fails, to
		// keep the messages as dead letters while the database is away.
		b.run(t, pool, consume.Config{BatchSize: 50, Workers: 1, MaxAttempts: 2})

		// Delivered twice and handed back each time, after the backoff
		// for its delivery count.
		for _, seq := range seqs {
			vs := b.verbs.waitOf(t, seq, 2)
			for i, v := range vs[:2] {
				require.Equal(t, "-NAK", v.kind, "stream seq %d, verb %d", seq, i)
				require.EqualValues(t, i+1, v.delivered, "stream seq %d", seq)
				require.Equal(t, consume.Backoff(v.delivered), v.delay, "stream seq %d, delivery %d", seq, v.delivered)
			}
		}
		require.Empty(t, b.deadLetters(t), "a dead letter while the database was down")
		require.Zero(t, b.count(t, "SELECT count(*) FROM stripe.events"))
		info := b.info(t)
		require.EqualValues(t, 3, info.NumRedelivered)
		require.GreaterOrEqual(t, info.Delivered.Consumer, uint64(6))

		proxy.SetDown(false)
		require.Eventually(t, func() bool { return b.count(t, "SELECT count(*) FROM stripe.customers") == 3 },
			20*time.Second, 20*time.Millisecond, "the events were not applied once the database was back")
		b.settled(t)
		for _, seq := range seqs {
			vs := b.verbs.of(seq)
			for _, v := range vs[:len(vs)-1] {
				require.Equal(t, "-NAK", v.kind, "stream seq %d", seq)
				require.Equal(t, consume.Backoff(v.delivered), v.delay, "stream seq %d, delivery %d", seq, v.delivered)
			}
			last := vs[len(vs)-1]
			require.Equal(t, "+ACK", last.kind, "stream seq %d", seq)
			require.GreaterOrEqual(t, last.delivered, uint64(3), "stream seq %d", seq)
		}
		require.Empty(t, b.deadLetters(t))
		require.Equal(t, 3, b.count(t, "SELECT count(*) FROM stripe.events"))
		// One warning for the outage, not one per message and retry, and
		// one info when it ended.
		require.Equal(t, 1, b.logs.Count(slog.LevelWarn, ""), "warnings during one outage")
		require.Equal(t, 1, b.logs.Count(slog.LevelInfo, "store recovered, messages apply again"))
		require.GreaterOrEqual(t, b.logs.Count(slog.LevelDebug, "retrying later"), 6)
	})

	t.Run("TransientFailureBecomesDeadLetterAfterMaxAttempts", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		// The event's row stays locked by the test, and the store gives up
		// on a lock after 100ms: an error that is not permanent, while
		// stripe.dead_letters can be written.
		e := customerEvent(t, "evt_stuck", "cus_stuck")
		release := b.hold(t, e)
		pool := storePool(t, b.dbURL, map[string]string{"lock_timeout": "100ms"})
		body := e.JSON(t)
		seq := b.publish(t, events.EventSubject(e.Type), e.ID, body)
		b.run(t, pool, cfg) // MaxAttempts 3

		vs := b.verbs.waitOf(t, seq, 3)
		b.settled(t)
		require.Equal(t, []verb{
			{seq: seq, delivered: 1, kind: "-NAK", delay: time.Second},
			{seq: seq, delivered: 2, kind: "-NAK", delay: 2 * time.Second},
			{seq: seq, delivered: 3, kind: "+TERM", body: vs[2].body},
		}, vs)
		ds := b.deadLetters(t)
		require.Len(t, ds, 1)
		require.Equal(t, deadLetter{
			Subject: "stripe.event.customer.created", StreamSeq: int64(seq), EventID: "evt_stuck", NumDelivered: 3,
			Reason: ds[0].Reason, Payload: body,
		}, ds[0])
		require.Contains(t, ds[0].Reason, "gave up after 3 deliveries")
		require.Contains(t, ds[0].Reason, "lock timeout")
		require.Contains(t, vs[2].body, "gave up after 3 deliveries")
		info := b.info(t)
		require.EqualValues(t, 3, info.Delivered.Consumer)
		require.Zero(t, info.NumAckPending, "the dead letter is still held")

		release()
		require.Zero(t, b.count(t, "SELECT count(*) FROM stripe.events WHERE id = 'evt_stuck'"))
		require.Zero(t, b.count(t, "SELECT count(*) FROM stripe.customers"))
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// verb is an acknowledgement the consumer sent JetStream for a message.
type verb struct {
	seq       uint64 // stream sequence of the message
	delivered uint64 // the delivery it answers
	kind      string // +ACK, -NAK, +TERM
	delay     time.Duration
	body      string // after the kind: a term's reason
}

// verbLog records the acknowledgements sent on the consumer's ack subjects
// ($JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.…), as JetStream
// receives them.
type verbLog struct {
	mu    sync.Mutex
	verbs []verb
}

func (l *verbLog) record(m *nats.Msg) {
	tokens := strings.Split(m.Subject, ".")
	base := 2 // $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ts>.<pending>
	if len(tokens) >= 11 {
		base = 4 // $JS.ACK.<domain>.<account hash>.<stream>.<consumer>.…
	}
	delivered, _ := strconv.ParseUint(tokens[base+2], 10, 64)
	seq, _ := strconv.ParseUint(tokens[base+3], 10, 64)
	kind, rest, _ := strings.Cut(string(m.Data), " ")
	v := verb{seq: seq, delivered: delivered, kind: kind}
	if kind == "-NAK" {
		var d struct {
			Delay int64 `json:"delay"`
		}
		if err := json.Unmarshal([]byte(rest), &d); err == nil {
			v.delay = time.Duration(d.Delay)
		}
	} else {
		v.body = rest
	}
	l.mu.Lock()
	l.verbs = append(l.verbs, v)
	l.mu.Unlock()
}

// of returns the verbs sent for the message at stream sequence seq, in order.
func (l *verbLog) of(seq uint64) []verb {
	l.mu.Lock()
	defer l.mu.Unlock()
	var vs []verb
	for _, v := range l.verbs {
		if v.seq == seq {
			vs = append(vs, v)
		}
	}
	return vs
}

// waitOf waits until at least n verbs were sent for seq, and returns them.
func (l *verbLog) waitOf(t *testing.T, seq uint64, n int) []verb {
	t.Helper()
	var vs []verb
	require.Eventually(t, func() bool {
		vs = l.of(seq)
		return len(vs) >= n
	}, 20*time.Second, 10*time.Millisecond, "waiting for %d acknowledgements of stream seq %d", n, seq)
	return vs
}
