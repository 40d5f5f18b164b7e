// Package replay puts dead letters back on the stream once their cause is
// fixed: each on its own subject, with its headers, so that an object
// fetched from the API keeps its account, fetch time and parent. Replayed
// dead letters are marked in stripe.dead_letters, never deleted.
package replay

import (
	"context"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"

	"github.com/stripesync/stripesync/db"
	"github.com/stripesync/stripesync/pkg/events"
)

// Result says what Run did.
type Result struct {
	// Replayed are the ids of the dead letters published again.
	Replayed []int64
}

// Run publishes the dead letters f selects that are not replayed yet,
// oldest first, and marks each once the stream stored it. A failure stops
// the run; what was replayed until then stays marked.
func Run(ctx context.Context, tx db.DBTX, pub *events.Publisher, f db.DeadLetterFilter) (Result, error) {
	letters, err := db.DeadLetters(ctx, tx, f)
	if err != nil {
		return Result{}, err
	}
	var res Result
	for _, d := range letters {
		if _, err := pub.Publish(ctx, msg(d)); err != nil {
			return res, fmt.Errorf("replay dead letter %d: %w", d.ID, err)
		}
		if err := db.MarkReplayed(ctx, tx, d.ID); err != nil {
			return res, err
		}
		res.Replayed = append(res.Replayed, d.ID)
	}
	return res, nil
}

// msg is the message of d as it was on the stream, but for its message id:
// the original one may still be in the stream's duplicate window, which
// would drop the replay. The id names the dead letter instead, so that two
// replays of one dead letter in quick succession store it once; the
// processor makes any other repeat harmless (events are kept once, objects
// under the version rule).
func msg(d db.StoredDeadLetter) *nats.Msg {
	m := nats.NewMsg(d.Subject)
	for k, vs := range d.Headers {
		for _, v := range vs {
			m.Header.Add(k, v)
		}
	}
	m.Header.Set(nats.MsgIdHdr, "replay-"+strconv.FormatInt(d.ID, 10)+"-"+d.Header(nats.MsgIdHdr))
	m.Data = d.Payload
	return m
}
