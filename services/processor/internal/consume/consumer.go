// Package consume moves Stripe events from the JetStream consumer into the
// store, in batches, and decides each message's fate:
//
//	outcome                                   verb                  log
//	committed to PostgreSQL                   Ack                   Debug
//	transient failure (database down, …)      NakWithDelay(backoff) Warn once per outage,
//	                                                                Debug per message
//	permanent failure, or MaxAttempts reached kept as dead letter,  Error
//	                                          then Term
//	"listing complete" before the messages    NakWithDelay(500ms)   none
//	ahead of it are all settled
//
// A message is acknowledged only after the transaction that applied it has
// committed, and terminated only after it is kept in stripe.dead_letters:
// a message is never dropped.
package consume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/services/processor/internal/outage"
	"github.com/stripesync/stripesync/services/processor/internal/store"
)

// Store is what the consumer needs of the store.
type Store interface {
	Apply(ctx context.Context, b store.Batch) (store.Stats, error)
	KeepDeadLetter(ctx context.Context, d store.DeadLetter) error
	KeepUnapplied(ctx context.Context, ev store.Event, d store.DeadLetter) error
	StartListing(ctx context.Context, m events.ListingStarted, publishedAt time.Time) error
	CompleteListing(ctx context.Context, m events.ListingComplete) error
	CompleteList(ctx context.Context, m events.ListComplete) error
}

// Config tunes a Consumer.
type Config struct {
	// BatchSize is the most messages applied in one transaction.
	BatchSize int
	// Workers is the number of batches applied at once.
	Workers int
	// MaxAttempts is how many deliveries a message gets before a failure
	// that is not permanent sends it to the dead letters anyway. While the
	// database is unreachable a dead letter cannot be kept either, so the
	// message is retried until it can.
	MaxAttempts int
	// TiesFunc, when set, receives the ties of the version rule of each
	// committed batch (see store.Stats), after the batch is acknowledged.
	TiesFunc func([]store.Tie)
	// APIVersion is the mirror's Stripe API version: snapshot events of
	// another are counted and warned about once per version.
	APIVersion string
	// AckWait is the consumer's: every message taken from the iterator and
	// not yet acknowledged (waiting for a worker, or in a batch being
	// applied) is marked in progress every third of it, so that a slow
	// transaction does not get messages redelivered. Zero marks nothing.
	AckWait time.Duration
}

// PullHeartbeat is how often the server confirms a pending pull request.
// Two missed heartbeats (a consumer leader killed with the request, or the
// route to it gone) make the iterator pull again at once instead of waiting
// for the request to expire (30 s by default).
const PullHeartbeat = time.Second

// Consumer applies messages of a JetStream consumer to a Store.
type Consumer struct {
	log      *slog.Logger
	store    Store
	cfg      Config
	metrics  *Metrics
	versions *versionWatch
	held     held
	// cons is the consumer Run reads, whose ack floor a "listing complete"
	// waits for.
	cons jetstream.Consumer
	// store follows the store's outages: transient failures and commits.
	// An outage logs one warning when it starts and one info when it ends,
	// however many messages it holds up.
	storeOutage *outage.Watch
}

// New returns a Consumer.
func New(log *slog.Logger, s Store, cfg Config, m *Metrics) *Consumer {
	c := &Consumer{log: log, store: s, cfg: cfg, metrics: m,
		storeOutage: outage.New(log, "store failing, retrying messages until it recovers", "store recovered, messages apply again")}
	if cfg.APIVersion != "" {
		c.versions = newVersionWatch(log, cfg.APIVersion, m.reg)
	}
	return c
}

// Run applies messages from cons until ctx is done, then stops pulling,
// finishes the messages it holds, and returns.
//
// A missed heartbeat is not an error: the iterator pulls again (see
// PullHeartbeat). Returning it would stop the processor whenever a
// JetStream server it did not even connect to was lost.
func (c *Consumer) Run(ctx context.Context, cons jetstream.Consumer) error {
	// The iterator buffers one round of batches: what it holds is not
	// marked in progress, so it must be taken well within AckWait.
	it, err := cons.Messages(jetstream.PullMaxMessages(c.cfg.BatchSize*c.cfg.Workers),
		jetstream.PullHeartbeat(PullHeartbeat), jetstream.WithMessagesErrOnMissingHeartbeat(false))
	if err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	c.cons = cons
	stopMarking := c.held.markInProgress(c.cfg.AckWait)
	defer stopMarking()
	msgs := make(chan jetstream.Msg, c.cfg.BatchSize)
	go func() {
		<-ctx.Done()
		it.Drain() // delivers what was pulled, then Next returns ErrMsgIteratorClosed
	}()

	var wg sync.WaitGroup
	for range c.cfg.Workers {
		wg.Go(func() {
			// In-flight batches finish after ctx ends: their messages are ours.
			c.work(context.WithoutCancel(ctx), msgs)
		})
	}
	var runErr error
	for {
		msg, err := it.Next()
		if err != nil {
			if !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				runErr = fmt.Errorf("next message: %w", err)
				it.Stop()
			}
			break
		}
		c.held.add(msg)
		msgs <- msg
	}
	close(msgs)
	wg.Wait()
	return runErr
}

// work applies batches: it waits for one message, then takes whatever else is
// already waiting, up to BatchSize. Under load batches fill up; when idle a
// single event is applied at once.
func (c *Consumer) work(ctx context.Context, msgs <-chan jetstream.Msg) {
	batch := make([]jetstream.Msg, 0, c.cfg.BatchSize)
	for first := range msgs {
		batch = append(batch[:0], first)
	fill:
		for len(batch) < c.cfg.BatchSize {
			select {
			case m, ok := <-msgs:
				if !ok {
					break fill
				}
				batch = append(batch, m)
			default:
				break fill
			}
		}
		c.handle(ctx, batch)
	}
}

// handle applies a batch in one transaction. When that fails for a reason
// in the data, it applies the messages one by one, so that one bad message
// holds up none of its neighbours.
func (c *Consumer) handle(ctx context.Context, msgs []jetstream.Msg) {
	// Every message is acknowledged, naked or terminated by the time
	// handle returns.
	defer c.held.remove(msgs)
	start := time.Now()
	var batch store.Batch
	// The messages of batch.Events, then those of batch.Objects, in order.
	var evMsgs, objMsgs []jetstream.Msg
	// The markers, each applied in a transaction of its own after the
	// batch, in stream order: a "listing complete" may wait for the batch.
	type marked struct {
		m jetstream.Msg
		v any
	}
	var markers []marked
	defer func() {
		for _, mk := range markers {
			c.applyMarker(ctx, mk.m, mk.v)
		}
	}()
	for _, m := range msgs {
		switch d, err := decode(m); {
		case err != nil:
			c.deadLetter(ctx, m, nil, err)
		case d.marker != nil:
			markers = append(markers, marked{m, d.marker})
		case d.event != nil:
			c.versions.observe(d.event.APIVersion)
			batch.Events = append(batch.Events, *d.event)
			evMsgs = append(evMsgs, m)
		default:
			batch.Objects = append(batch.Objects, *d.object)
			objMsgs = append(objMsgs, m)
		}
	}
	ordered := append(evMsgs, objMsgs...)
	if len(ordered) == 0 {
		return
	}
	stats, err := c.store.Apply(ctx, batch)
	if err == nil {
		c.metrics.observeBatch(batch.Len(), time.Since(start), stats)
		c.storeOutage.Succeeded()
		for _, m := range ordered {
			c.ack(m)
		}
		c.tied(stats.Ties)
		return
	}
	// eventOf is the event of ordered[i], nil for an object.
	eventOf := func(i int) *store.Event {
		if i < len(batch.Events) {
			return &batch.Events[i]
		}
		return nil
	}
	if !store.IsPermanent(err) || len(ordered) == 1 {
		for i, m := range ordered {
			c.fail(ctx, m, eventOf(i), err)
		}
		return
	}
	c.log.Warn("batch failed, applying one by one", "batch_size", len(ordered), "err", err)
	for i, m := range ordered {
		var one store.Batch
		if i < len(batch.Events) {
			one.Events = batch.Events[i : i+1]
		} else {
			one.Objects = batch.Objects[i-len(batch.Events) : i-len(batch.Events)+1]
		}
		stats, err := c.store.Apply(ctx, one)
		if err != nil {
			c.fail(ctx, m, eventOf(i), err)
			continue
		}
		c.metrics.observeBatch(1, 0, stats)
		c.storeOutage.Succeeded()
		c.ack(m)
		c.tied(stats.Ties)
	}
}

func (c *Consumer) tied(ties []store.Tie) {
	if len(ties) > 0 && c.cfg.TiesFunc != nil {
		c.cfg.TiesFunc(ties)
	}
}

// decoded is a message read as an event, an object or a listing marker.
type decoded struct {
	event  *store.Event
	object *events.Object
	marker any // an events.ListingStarted, ListingComplete or ListComplete
}

// decode reads a message by its subject: a Stripe event, an object fetched
// from the API, or a listing marker. A message that is none can never be
// applied.
func decode(m jetstream.Msg) (decoded, error) {
	if strings.HasPrefix(m.Subject(), events.ListingSubjectPrefix) {
		v, err := events.ParseMarker(m.Subject(), m.Data())
		if err != nil {
			return decoded{}, err
		}
		return decoded{marker: v}, nil
	}
	if strings.HasPrefix(m.Subject(), events.ObjectSubjectPrefix) {
		o, err := events.ParseObjectMsg(m.Subject(), m.Headers(), m.Data())
		if err != nil {
			return decoded{}, err
		}
		return decoded{object: &o}, nil
	}
	env, err := events.ParseEnvelope(m.Data())
	if err != nil {
		return decoded{}, err
	}
	return decoded{event: &store.Event{Envelope: env, Raw: m.Data()}}, nil
}

// Waiting of a "listing complete" for the messages before it.
const (
	// markerWait is the delay before a "listing complete" whose earlier
	// messages are not all applied is delivered again.
	markerWait = 500 * time.Millisecond
	// markerMaxDeliveries bounds its deliveries, an hour of waiting at
	// markerWait, the backoff of failures aside: then it is a dead letter.
	markerMaxDeliveries = 7200
)

// applyMarker applies a listing marker, in a transaction of its own. A
// "listing complete" is applied only once every earlier message of the
// stream is settled (acknowledged or kept as a dead letter: the consumer's
// ack floor has reached the one before it), so that every object the
// listing published is written; until then it is delivered again after
// markerWait. Acknowledging it early would reconcile against a mirror
// still missing part of the listing (a fetch each, never a wrong mark, but
// perhaps the whole relation's worth).
func (c *Consumer) applyMarker(ctx context.Context, m jetstream.Msg, v any) {
	defer c.held.remove([]jetstream.Msg{m})
	var err error
	switch v := v.(type) {
	case events.ListingStarted:
		var meta *jetstream.MsgMetadata
		if meta, err = m.Metadata(); err == nil {
			err = c.store.StartListing(ctx, v, meta.Timestamp)
		}
	case events.ListingComplete:
		var ready bool
		if ready, err = c.earlierSettled(ctx, m); err == nil && !ready {
			if delivered := numDelivered(m); delivered >= markerMaxDeliveries {
				c.deadLetter(ctx, m, nil, fmt.Errorf("listing complete: the messages before it were still not all applied after %d deliveries", delivered))
				return
			}
			if err := m.NakWithDelay(markerWait); err != nil {
				c.log.Warn("nak", "subject", m.Subject(), "err", err)
			}
			return
		}
		if err == nil {
			err = c.store.CompleteListing(ctx, v)
		}
	case events.ListComplete:
		err = c.store.CompleteList(ctx, v)
	}
	switch delivered := numDelivered(m); {
	case err == nil:
		c.ack(m)
	case store.IsPermanent(err):
		c.deadLetter(ctx, m, nil, err)
	case delivered >= markerMaxDeliveries:
		c.deadLetter(ctx, m, nil, fmt.Errorf("gave up after %d deliveries: %w", delivered, err))
	default:
		c.retry(m, delivered, err)
	}
}

// earlierSettled reports whether every message of the stream before m is
// settled: the consumer's ack floor is at m's stream sequence − 1 (m itself
// is not acknowledged, so the floor cannot pass it).
func (c *Consumer) earlierSettled(ctx context.Context, m jetstream.Msg) (bool, error) {
	meta, err := m.Metadata()
	if err != nil {
		return false, fmt.Errorf("listing complete: %w", err)
	}
	ci, err := c.cons.Info(ctx)
	if err != nil {
		return false, fmt.Errorf("listing complete: consumer info: %w", err)
	}
	return ci.AckFloor.Stream+1 >= meta.Sequence.Stream, nil
}

func (c *Consumer) ack(m jetstream.Msg) {
	// A lost ack only means a redelivery, which the store ignores.
	if err := m.Ack(); err != nil {
		c.log.Warn("ack", "subject", m.Subject(), "err", err)
	}
}

// fail retries m (carrying ev, nil for an object) later, or keeps it as a
// dead letter when retrying cannot help or has been tried often enough.
func (c *Consumer) fail(ctx context.Context, m jetstream.Msg, ev *store.Event, err error) {
	delivered := numDelivered(m)
	if store.IsPermanent(err) {
		c.deadLetter(ctx, m, ev, err)
		return
	}
	if delivered >= uint64(c.cfg.MaxAttempts) {
		c.deadLetter(ctx, m, ev, fmt.Errorf("gave up after %d deliveries: %w", delivered, err))
		return
	}
	c.retry(m, delivered, err)
}

func (c *Consumer) retry(m jetstream.Msg, delivered uint64, err error) {
	delay := Backoff(delivered)
	c.metrics.naks.Inc()
	c.storeOutage.Failed(err)
	c.log.Debug("retrying later", "subject", m.Subject(), "event_id", m.Headers().Get(nats.MsgIdHdr),
		"num_delivered", delivered, "delay", delay, "err", err)
	if err := m.NakWithDelay(delay); err != nil {
		c.log.Warn("nak", "subject", m.Subject(), "err", err)
	}
}

// deadLetter keeps m in stripe.dead_letters with reason, then terminates it.
// An event (ev, nil when m is not one) is kept in stripe.events too, as far
// as it can be stored (store.KeepUnapplied): every event received is there.
// If m cannot be kept, it is retried instead: it stays on the stream.
func (c *Consumer) deadLetter(ctx context.Context, m jetstream.Msg, ev *store.Event, reason error) {
	meta, _ := m.Metadata()
	d := store.DeadLetter{
		Subject:      m.Subject(),
		EventID:      m.Headers().Get(nats.MsgIdHdr),
		NumDelivered: numDelivered(m),
		Reason:       reason.Error(),
		Payload:      m.Data(),
		Headers:      m.Headers(),
	}
	if meta != nil {
		d.StreamSeq = meta.Sequence.Stream
	}
	if err := c.keep(ctx, ev, d, reason); err != nil {
		c.retry(m, d.NumDelivered, err)
		return
	}
	c.metrics.deadLetters.Inc()
	c.log.Error("dead letter", "subject", d.Subject, "event_id", d.EventID, "stream_seq", d.StreamSeq,
		"num_delivered", d.NumDelivered, "reason", d.Reason)
	if err := m.TermWithReason("dead letter: " + d.Reason); err != nil {
		c.log.Warn("term", "subject", m.Subject(), "err", err)
	}
}

// keep stores d, and ev as far as it can be stored; when even that cannot
// be stored, d alone. A failure that is not in the data (reason not
// permanent: the store gave up on a transient one) may stand in the way of
// the event too, such as a lock on its row: then d alone is kept at once.
func (c *Consumer) keep(ctx context.Context, ev *store.Event, d store.DeadLetter, reason error) error {
	if ev == nil {
		return c.store.KeepDeadLetter(ctx, d)
	}
	err := c.store.KeepUnapplied(ctx, *ev, d)
	if err == nil || (!store.IsPermanent(err) && store.IsPermanent(reason)) {
		return err
	}
	c.log.Error("event not stored, kept as dead letter only", "event_id", ev.ID, "err", err)
	return c.store.KeepDeadLetter(ctx, d)
}

func numDelivered(m jetstream.Msg) uint64 {
	meta, err := m.Metadata()
	if err != nil {
		return 1
	}
	return meta.NumDelivered
}

// Backoff is the delay before the next delivery of a message delivered n
// times: 1s, 2s, 4s, … capped at one minute.
func Backoff(n uint64) time.Duration {
	if n > 7 {
		return time.Minute
	}
	return min(time.Second<<(max(n, 1)-1), time.Minute)
}

// held are the messages taken from the iterator that are not settled yet
// (acknowledged, naked or terminated), each with the tick of
// markInProgress at which it was taken or last marked.
type held struct {
	mu   sync.Mutex
	msgs map[jetstream.Msg]uint64
	tick uint64
}

func (h *held) add(m jetstream.Msg) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.msgs == nil {
		h.msgs = map[jetstream.Msg]uint64{}
	}
	h.msgs[m] = h.tick
}

func (h *held) remove(ms []jetstream.Msg) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range ms {
		delete(h.msgs, m)
	}
}

// due returns the messages held for two ticks since they were taken or last
// marked, and counts them marked now.
func (h *held) due() []jetstream.Msg {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tick++
	var ms []jetstream.Msg
	for m, since := range h.msgs {
		if since+2 <= h.tick {
			ms = append(ms, m)
			h.msgs[m] = h.tick
		}
	}
	return ms
}

// markInProgress marks held messages in progress until the returned func
// is called: each at most a third of ackWait after it was taken or last
// marked. The AckWait that gets a message lost with a server redelivered
// within seconds must not redeliver messages that are only waiting for a
// slow transaction. A message settled within a sixth of ackWait, as under
// load, is never marked: a mark is one more message for the server, and
// marking every held message every time cost the server about as many
// marks as a sixth of the acknowledgements.
func (h *held) markInProgress(ackWait time.Duration) (stop func()) {
	if ackWait <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(ackWait / 6)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			for _, m := range h.due() {
				// A lost mark only means a redelivery, which the store ignores.
				_ = m.InProgress()
			}
		}
	})
	return func() { close(done); wg.Wait() }
}
