package events

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// StreamName is the JetStream stream that carries every Stripe event and
// object on its way to PostgreSQL.
const StreamName = "STRIPE"

// DuplicateWindow is how long JetStream remembers message ids (the Stripe
// event id) to drop a second publish of the same event. It catches our own
// retries and Stripe's quick redeliveries; a redelivery days later is caught
// by stripe.events, keyed by the event id.
const DuplicateWindow = 2 * time.Minute

// EventSubjectPrefix starts the subject of every Stripe event on the stream.
const EventSubjectPrefix = "stripe.event."

// EventSubject is the subject a Stripe event of type eventType is published
// on, for example "stripe.event.customer.updated", so that consumers can
// filter by type.
func EventSubject(eventType string) string { return EventSubjectPrefix + eventType }

// StreamOptions are the operator's choices for the stream.
type StreamOptions struct {
	// Replicas is the number of servers that store each message: 1 on a
	// single server, 3 in a cluster for an acknowledgement that survives the
	// loss of a server.
	Replicas int
	// Storage is jetstream.FileStorage (the default) or MemoryStorage.
	Storage jetstream.StorageType
	// MaxAge is how long an event stays on the stream after it was stored,
	// whether or not it was processed: the window in which the processor
	// can fall behind (or be replayed) without losing anything. 0 keeps
	// events until MaxBytes is reached.
	MaxAge time.Duration
	// MaxBytes bounds the stream's size; -1 is unlimited. When full, the
	// stream refuses new events (DiscardNew), so ingest answers 503 and Stripe
	// retries, rather than dropping old events that may be unprocessed.
	MaxBytes int64
}

// DefaultStreamOptions are one replica on file storage, kept for 7 days.
var DefaultStreamOptions = StreamOptions{
	Replicas: 1,
	Storage:  jetstream.FileStorage,
	MaxAge:   7 * 24 * time.Hour,
	MaxBytes: -1,
}

// StreamConfig is the only definition of the stream. Ingest creates or
// updates it at start; the processor and the syncer create it only when it
// is missing, so deploy order does not matter and the operator's settings
// come from one place.
func StreamConfig(o StreamOptions) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        StreamName,
		Description: "Stripe events and objects on their way to PostgreSQL",
		Subjects:    []string{"stripe.>"},
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardNew,
		MaxAge:      o.MaxAge,
		MaxBytes:    o.MaxBytes,
		Storage:     o.Storage,
		Replicas:    o.Replicas,
		Duplicates:  DuplicateWindow,
	}
}

// ConsumerName is the durable pull consumer the processors share.
const ConsumerName = "processor"

// ConsumerConfig is the only definition of the processor's consumer.
//
// Acks are explicit and sent only after the PostgreSQL transaction commits.
// AckWait bounds how long a message stays with a processor that will never
// acknowledge it before JetStream redelivers it: one that crashed, or one
// whose delivery was lost with the server that carried it (a stream leader
// killed loses what it had sent and not yet delivered). The processor keeps
// it short, seconds, and marks the messages of a batch in progress while it
// applies them, so that a slow transaction is not redelivered. MaxDeliver is
// unlimited on purpose: the processor decides when a message is dead and
// keeps it in stripe.dead_letters, so the server never drops one on its own.
// maxAckPending bounds the messages in flight across all processors.
func ConsumerConfig(ackWait time.Duration, maxAckPending int) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       ConsumerName,
		Description:   "writes Stripe events and objects to PostgreSQL",
		FilterSubject: "stripe.>",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxDeliver:    -1,
		MaxAckPending: maxAckPending,
	}
}

// DeclareStream creates the stream, or updates it to match o. Ingest calls
// it: the operator's stream settings are the ingest's.
func DeclareStream(ctx context.Context, js jetstream.JetStream, o StreamOptions) (jetstream.Stream, error) {
	s, err := js.CreateOrUpdateStream(ctx, StreamConfig(o))
	if err != nil {
		return nil, fmt.Errorf("declare stream %s: %w", StreamName, err)
	}
	return s, nil
}

// EnsureStream creates the stream with o when it does not exist yet, and
// otherwise leaves it as it is.
func EnsureStream(ctx context.Context, js jetstream.JetStream, o StreamOptions) (jetstream.Stream, error) {
	s, err := js.Stream(ctx, StreamName)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		s, err = js.CreateStream(ctx, StreamConfig(o))
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			s, err = js.Stream(ctx, StreamName)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("ensure stream %s: %w", StreamName, err)
	}
	return s, nil
}
