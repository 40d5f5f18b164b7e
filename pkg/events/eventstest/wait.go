package eventstest

import (
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stripesync/stripesync/pkg/events"
)

// WaitProcessed waits until the processor's consumer has nothing pending and
// nothing unacknowledged: every message on the stream is applied (the
// processor acknowledges after its commit) or kept as a dead letter.
func WaitProcessed(t testing.TB, js jetstream.JetStream, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !processed(t, js) {
		if time.Now().After(deadline) {
			t.Fatalf("the processor did not finish the stream within %s", within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// processed reports whether every message the stream holds is
// acknowledged: the ack floor at the stream's last sequence. NumPending
// alone can lag a publish that the server has stored but not yet counted
// for the consumer. An answer that cannot be read is "not yet".
func processed(t testing.TB, js jetstream.JetStream) bool {
	s, err := js.Stream(t.Context(), events.StreamName)
	if err != nil {
		return false
	}
	si, err := s.Info(t.Context())
	if err != nil {
		return false
	}
	c, err := s.Consumer(t.Context(), events.ConsumerName)
	if err != nil {
		return false
	}
	info, err := c.Info(t.Context())
	return err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.AckFloor.Stream >= si.State.LastSeq
}

// FreeAddr returns a loopback address with a port free at the time of the
// call, for a server the test starts.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
