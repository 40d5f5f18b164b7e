package events_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/events/eventstest"
)

// syncBuffer is a bytes.Buffer safe for the connection's callbacks.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestConnectLogsOncePerOutage(t *testing.T) {
	t.Parallel()
	srv := eventstest.RunServer(t)
	port := srv.Addr().(*net.TCPAddr).Port
	srv.Stop()

	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	nc, err := events.Connect(fmt.Sprintf("nats://user:hunter2@127.0.0.1:%d", port), "test", log)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	count := func(level string) int { return strings.Count(logs.String(), "level="+level) }

	// Several attempts (every 500ms) fail: one warning, naming the address
	// and the setting, without the password.
	time.Sleep(1600 * time.Millisecond) // the attempts to count have no event to wait for
	require.Equal(t, 1, count("WARN"), logs.String())
	require.Contains(t, logs.String(), fmt.Sprintf("NATS refused at nats://REDACTED@127.0.0.1:%d (NATS_URL): connection refused", port))

	srv.Restart(t)
	require.Eventually(t, nc.IsConnected, 5*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool { return count("INFO") == 1 }, 5*time.Second, 20*time.Millisecond, logs.String())

	// A second outage: one more warning, then one more info.
	srv.Stop()
	time.Sleep(1600 * time.Millisecond)
	require.Equal(t, 2, count("WARN"), logs.String())
	srv.Restart(t)
	require.Eventually(t, func() bool { return count("INFO") == 2 }, 5*time.Second, 20*time.Millisecond, logs.String())
	require.NotContains(t, logs.String(), "hunter2")
}

func TestAwaitConnected(t *testing.T) {
	t.Parallel()
	// A port nothing listens on: bound, then closed.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	url := "nats://user:secret@" + ln.Addr().String()
	require.NoError(t, ln.Close())
	nc, err := events.Connect(url, "test", slog.New(slog.DiscardHandler))
	require.NoError(t, err, "Connect keeps trying in the background")
	defer nc.Close()
	err = events.AwaitConnected(t.Context(), nc, url, time.Second)
	require.Error(t, err)
	require.Contains(t, err.Error(), ln.Addr().String(), "the address")
	require.Contains(t, err.Error(), "NATS_URL", "the setting")
	require.NotContains(t, err.Error(), "secret")

	ns := eventstest.RunServer(t)
	up, err := events.Connect(ns.ClientURL(), "test", slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer up.Close()
	require.NoError(t, events.AwaitConnected(t.Context(), up, ns.ClientURL(), time.Second))
}
