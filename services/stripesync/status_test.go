package stripesync_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/db/dbtest"
	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/events/eventstest"
	"github.com/stripesync/stripesync/services/stripesync"
	"github.com/stripesync/stripesync/services/stripesync/internal/status"
)

func TestStatusCommand(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	// status reads as the read-only role of db/roles.sql.
	dbURL := dbtest.NewRoles(t).ReaderURL
	ns := eventstest.RunServer(t)
	nc, err := nats.Connect(ns.ClientURL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	stream, err := events.DeclareStream(ctx, js, events.DefaultStreamOptions)
	require.NoError(t, err)
	_, err = stream.CreateOrUpdateConsumer(ctx, events.ConsumerConfig(time.Minute, 10))
	require.NoError(t, err)
	env := map[string]string{"DATABASE_URL": dbURL, "NATS_URL": ns.ClientURL()}
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := stripesync.Run(ctx, append([]string{"status"}, args...), func(k string) string { return env[k] }, &out)
		return out.String(), err
	}

	out, err := run("-json")
	require.NoError(t, err, "all well: exit 0")
	var got struct {
		Stream    struct{ Messages uint64 } `json:"stream"`
		Attention []string                  `json:"attention"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &got), out)
	require.Empty(t, got.Attention)

	_, err = js.Publish(ctx, events.EventSubject("customer.updated"), []byte(`{}`))
	require.NoError(t, err)
	// The consumer counts a stored message a moment after the publish is
	// acknowledged.
	require.Eventually(t, func() bool {
		c, err := stream.Consumer(ctx, events.ConsumerName)
		if err != nil {
			return false
		}
		info, err := c.Info(ctx)
		return err == nil && info.NumPending == 1
	}, 10*time.Second, 20*time.Millisecond)
	out, err = run("-max-pending", "0")
	var coded interface{ ExitCode() int } // what cmd/stripesync exits with
	require.True(t, errors.As(err, &coded), "%v", err)
	require.Equal(t, status.ExitAttention, coded.ExitCode())
	require.ErrorContains(t, err, "consumer processor has 1 messages pending, over 0")
	require.Contains(t, out, "1 pending")

	_, err = run("-h")
	require.True(t, errors.Is(err, flag.ErrHelp))
}
