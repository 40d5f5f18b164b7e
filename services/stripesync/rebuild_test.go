package stripesync_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/db/dbtest"
	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/events/eventstest"
	"github.com/stripesync/stripesync/services/stripesync"
)

func TestRebuildCommand(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dbURL := dbtest.NewURL(t)
	pool, err := pgxpool.New(ctx, dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	_, err = pool.Exec(ctx, `INSERT INTO stripe.subscriptions (id, livemode, data, state_at)
		VALUES ('sub_cmd', false, '{"id": "sub_cmd", "object": "subscription", "items": {"object": "list", "has_more": false,
			"data": [{"id": "si_cmd", "object": "subscription_item", "subscription": "sub_cmd"}]}}', now())`)
	require.NoError(t, err)
	ns := eventstest.RunServer(t)
	nc, err := nats.Connect(ns.ClientURL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	_, err = events.DeclareStream(ctx, js, events.DefaultStreamOptions)
	require.NoError(t, err)
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		env := map[string]string{"DATABASE_URL": dbURL, "NATS_URL": ns.ClientURL()}
		err := stripesync.Run(context.WithoutCancel(ctx), append([]string{"rebuild"}, args...), func(k string) string { return env[k] }, &out)
		return out.String(), err
	}

	_, err = run("nosuch")
	require.ErrorContains(t, err, `unknown resource "nosuch"`)
	out, err := run("subscription_items")
	require.NoError(t, err)
	require.Regexp(t, `subscription_items\s+1\s+0\s+1\s+0`, out, "the item read from its parent")
	require.Contains(t, out, "0 objects of the stream and 0 stored events applied again (0 messages skipped), 2 rows written again, 1 rows changed")
	var parent string
	require.NoError(t, pool.QueryRow(ctx, "SELECT parent FROM stripe.subscription_items WHERE id = 'si_cmd'").Scan(&parent))
	require.Equal(t, "sub_cmd", parent)

	out, err = run("-nats-url", "")
	require.NoError(t, err)
	require.Contains(t, out, "0 rows changed", "a second rebuild changes nothing")
}
