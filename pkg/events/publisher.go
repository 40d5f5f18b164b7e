package events

import (
	"context"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// EventMsg is the message that carries a Stripe event: its original bytes,
// never re-encoded, on the subject of its type, with the event id as message
// id so that the stream drops a second copy inside its duplicate window.
func EventMsg(env Envelope, raw []byte) *nats.Msg {
	m := nats.NewMsg(EventSubject(env.Type))
	m.Data = raw
	m.Header.Set(nats.MsgIdHdr, env.ID)
	return m
}

// Publisher stores messages on the stream. Publish waits for the stream's
// acknowledgement of one message (ingest answers Stripe only after it);
// PublishAsync and Wait send many at once and wait for them together (the
// syncer waits for a page before saving its checkpoint). A Publisher may be
// used from several goroutines.
type Publisher struct {
	js jetstream.JetStream

	mu      sync.Mutex
	pending []jetstream.PubAckFuture
}

// NewPublisher returns a Publisher storing on the stream through js.
func NewPublisher(js jetstream.JetStream) *Publisher { return &Publisher{js: js} }

// Publish stores m and returns once the stream has: duplicate is true when
// the stream already held a message of the same id.
func (p *Publisher) Publish(ctx context.Context, m *nats.Msg) (duplicate bool, err error) {
	ack, err := p.js.PublishMsg(ctx, m, jetstream.WithExpectStream(StreamName))
	if err != nil {
		return false, fmt.Errorf("publish %s: %w", m.Subject, err)
	}
	return ack.Duplicate, nil
}

// PublishAsync sends m without waiting; Wait waits for it.
func (p *Publisher) PublishAsync(m *nats.Msg) error {
	f, err := p.js.PublishMsgAsync(m, jetstream.WithExpectStream(StreamName))
	if err != nil {
		return fmt.Errorf("publish %s: %w", m.Subject, err)
	}
	p.mu.Lock()
	p.pending = append(p.pending, f)
	p.mu.Unlock()
	return nil
}

// Wait returns once the stream has stored every message sent with
// PublishAsync since the last Wait, with their number, or with the first
// error.
func (p *Publisher) Wait(ctx context.Context) (int, error) {
	p.mu.Lock()
	pending := p.pending
	p.pending = nil
	p.mu.Unlock()
	for _, f := range pending {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return 0, fmt.Errorf("publish %s: %w", f.Msg().Subject, err)
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return len(pending), nil
}
