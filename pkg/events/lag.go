package events

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Lag is how far a consumer is behind its stream, from its info: what
// stripesync status shows and the processor exports.
type Lag struct {
	// Pending are the messages not delivered yet (NumPending).
	Pending uint64
	// AckPending are delivered and not acknowledged yet: being applied, or
	// held by a processor that died until AckWait passes.
	AckPending int
	// Redelivered are the unacknowledged messages delivered more than once.
	Redelivered int
	// OldestUnacked is when the stream stored the first message not yet
	// acknowledged; zero when every message is.
	OldestUnacked time.Time
}

// ReadLag returns the lag of the consumer of stream that info describes.
// It costs one request beyond the info when some message is not
// acknowledged: the stream's message after the ack floor, the oldest not
// acknowledged (the floor would stand at it otherwise). With the
// consumer's filter, the server skips the sequences of other subjects and
// the messages gone.
func ReadLag(ctx context.Context, stream jetstream.Stream, info *jetstream.ConsumerInfo) (Lag, error) {
	lag := Lag{Pending: info.NumPending, AckPending: info.NumAckPending, Redelivered: info.NumRedelivered}
	if info.NumPending == 0 && info.NumAckPending == 0 {
		return lag, nil
	}
	var opts []jetstream.GetMsgOpt
	if f := info.Config.FilterSubject; f != "" {
		opts = append(opts, jetstream.WithGetMsgSubject(f))
	}
	m, err := stream.GetMsg(ctx, info.AckFloor.Stream+1, opts...)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return lag, nil // acknowledged meanwhile
	}
	if err != nil {
		return lag, fmt.Errorf("oldest unacknowledged message: %w", err)
	}
	lag.OldestUnacked = m.Time.UTC()
	return lag, nil
}
