package stripesync_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/db"
	"github.com/stripesync/stripesync/db/dbtest"
	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/events/eventstest"
	"github.com/stripesync/stripesync/services/stripesync"
)

func TestReplayCommand(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dbURL := dbtest.NewURL(t)
	pool, err := pgxpool.New(ctx, dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	ns := eventstest.RunServer(t)
	nc, err := nats.Connect(ns.ClientURL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	stream, err := events.DeclareStream(ctx, js, events.DefaultStreamOptions)
	require.NoError(t, err)

	raw := eventstest.NewEvent("evt_dead", "customer.updated", eventstest.Object(t, "customer")).JSON(t)
	for _, reason := range []string{"gave up after 10 deliveries: connection refused", "not a Stripe event"} {
		require.NoError(t, db.InsertDeadLetter(ctx, pool, db.DeadLetter{Subject: "stripe.event.customer.updated", Reason: reason, Payload: raw,
			Headers: map[string][]string{nats.MsgIdHdr: {"evt_dead"}}}))
	}
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		env := map[string]string{"DATABASE_URL": dbURL, "NATS_URL": ns.ClientURL()}
		err := stripesync.Run(context.WithoutCancel(ctx), append([]string{"replay"}, args...), func(k string) string { return env[k] }, &out)
		return out.String(), err
	}

	_, err = run()
	require.ErrorContains(t, err, "-all, -reason TEXT or -ids", "nothing is replayed unless asked")
	out, err := run("-reason", "gave up")
	require.NoError(t, err)
	require.Contains(t, out, "1 dead letters replayed")
	m, err := stream.GetMsg(ctx, 1)
	require.NoError(t, err)
	require.Equal(t, raw, m.Data)
	require.Equal(t, "stripe.event.customer.updated", m.Subject)

	out, err = run("-all")
	require.NoError(t, err)
	require.Contains(t, out, "1 dead letters replayed", "the one left")
	out, err = run("-all")
	require.NoError(t, err)
	require.Contains(t, out, "0 dead letters replayed")
	var kept int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM stripe.dead_letters WHERE replayed_at IS NOT NULL").Scan(&kept))
	require.Equal(t, 2, kept, "replayed dead letters are kept, marked")
}
