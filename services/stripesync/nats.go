package stripesync

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/stripesync/stripesync/pkg/events"
)

// awaitNATS waits up to 10 s for nc, opened on natsURL, to connect: a
// command with NATS down fails naming the address rather than on its
// first publish.
func awaitNATS(ctx context.Context, nc *nats.Conn, natsURL string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return events.AwaitConnected(ctx, nc, natsURL)
}
