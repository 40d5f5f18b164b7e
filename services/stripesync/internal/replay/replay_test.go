package replay_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/db"
	"github.com/stripesync/stripesync/db/dbtest"
	"github.com/stripesync/stripesync/pkg/catalog"
	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/events/eventstest"
	"github.com/stripesync/stripesync/services/stripesync/internal/replay"
)

func TestReplay(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := dbtest.New(t)
	ns := eventstest.RunServer(t)
	nc, err := nats.Connect(ns.ClientURL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	stream, err := events.DeclareStream(ctx, js, events.DefaultStreamOptions)
	require.NoError(t, err)

	// A backfilled line item whose message was dead-lettered, and a
	// garbage message.
	item := events.Object{Resource: catalog.MustLookup("line_item"), ID: "il_1", Account: "acct_1", Parent: "in_1",
		FetchedAt: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC), APIVersion: "2026-10-28.endive",
		Data: []byte(`{"id":"il_1","object":"line_item"}`)}
	orig := item.Msg()
	require.NoError(t, db.InsertDeadLetter(ctx, pool, db.DeadLetter{Subject: orig.Subject, StreamSeq: 7, EventID: orig.Header.Get(nats.MsgIdHdr),
		NumDelivered: 10, Reason: "gave up after 10 deliveries: timeout", Payload: orig.Data, Headers: orig.Header}))
	require.NoError(t, db.InsertDeadLetter(ctx, pool, db.DeadLetter{Subject: "stripe.event.x", StreamSeq: 8, Reason: "not a Stripe event", Payload: []byte("garbage")}))

	byReason, err := db.DeadLettersByReason(ctx, pool)
	require.NoError(t, err)
	require.Equal(t, map[string]int64{"gave up after 10 deliveries: timeout": 1, "not a Stripe event": 1}, byReason)

	res, err := replay.Run(ctx, pool, events.NewPublisher(js), db.DeadLetterFilter{Reason: "gave up"})
	require.NoError(t, err)
	require.Len(t, res.Replayed, 1)

	m, err := stream.GetMsg(ctx, 1)
	require.NoError(t, err)
	require.Equal(t, orig.Subject, m.Subject)
	require.Equal(t, orig.Data, m.Data)
	got, err := events.ParseObjectMsg(m.Subject, m.Header, m.Data)
	require.NoError(t, err, "the replayed message is the object message it was, headers and all")
	require.Equal(t, item, got)

	// Marked, kept, and not replayed twice.
	var total, replayed int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*), count(replayed_at) FROM stripe.dead_letters").Scan(&total, &replayed))
	require.Equal(t, []int{2, 1}, []int{total, replayed})
	res, err = replay.Run(ctx, pool, events.NewPublisher(js), db.DeadLetterFilter{})
	require.NoError(t, err)
	require.Len(t, res.Replayed, 1, "only the one not replayed yet")
	info, err := stream.Info(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(2), info.State.Msgs)
	res, err = replay.Run(ctx, pool, events.NewPublisher(js), db.DeadLetterFilter{})
	require.NoError(t, err)
	require.Empty(t, res.Replayed)
}
