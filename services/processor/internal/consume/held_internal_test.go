package consume

import (
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
)

// msg is a distinct message to hold; held reads nothing of it.
type msg struct {
	jetstream.Msg
	name string
}

// TestHeldMarksOnlyMessagesHeldTwoTicks: a message is due for a mark once
// it has been held two ticks of markInProgress since it was taken or last
// marked, so that one settled within a tick is never marked and one held
// long is marked every other tick.
func TestHeldMarksOnlyMessagesHeldTwoTicks(t *testing.T) {
	var h held
	slow, quick := &msg{name: "slow"}, &msg{name: "quick"}
	h.add(slow)
	require.Empty(t, h.due(), "tick 1: taken less than a tick ago")
	h.add(quick)
	require.Equal(t, []jetstream.Msg{slow}, h.due(), "tick 2: slow was held since before tick 1")
	h.remove([]jetstream.Msg{quick})
	require.Empty(t, h.due(), "tick 3: slow was marked at tick 2, quick settled before its first mark")
	require.Equal(t, []jetstream.Msg{slow}, h.due(), "tick 4: slow again, two ticks after its mark")
	h.remove([]jetstream.Msg{slow})
	require.Empty(t, h.due())
	require.Empty(t, h.due())
}
