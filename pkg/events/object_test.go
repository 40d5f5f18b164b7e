package events_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/pkg/catalog"
	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/events/eventstest"
)

func TestObjectMsgRoundTrip(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 30, 12, 0, 0, 123456789, time.UTC)
	o := events.Object{
		Resource: catalog.MustLookup("line_item"), ID: "il_1", Account: "acct_1", Livemode: true,
		FetchedAt: at, Parent: "in_1", APIVersion: "2026-10-28.endive", Data: []byte(`{"id":"il_1","object":"line_item"}`),
	}
	m := o.Msg()
	require.Equal(t, "stripe.object.line_item", m.Subject)
	got, err := events.ParseObjectMsg(m.Subject, m.Header, m.Data)
	require.NoError(t, err)
	require.Equal(t, o, got)

	for name, tc := range map[string]struct {
		subject string
		header  nats.Header
		data    string
	}{
		"NotAnObjectSubject": {subject: "stripe.event.customer.created", data: `{"id":"il_1","object":"line_item"}`},
		"UnknownResource":    {subject: "stripe.object.widget", data: `{"id":"w_1","object":"widget"}`},
		"OtherObject":        {subject: "stripe.object.line_item", data: `{"id":"cus_1","object":"customer"}`},
		"NoParent":           {subject: "stripe.object.line_item", header: nats.Header{events.HeaderParent: nil}, data: `{"id":"il_1","object":"line_item"}`},
		"NotJSON":            {subject: "stripe.object.line_item", data: `[1]`},
	} {
		h := nats.Header{}
		for k, v := range m.Header {
			h[k] = v
		}
		for k, v := range tc.header {
			if v == nil {
				h.Del(k)
			}
		}
		_, err := events.ParseObjectMsg(tc.subject, h, []byte(tc.data))
		require.ErrorIs(t, err, events.ErrNotObject, name)
	}
}

func TestPublisher(t *testing.T) {
	t.Parallel()
	srv := eventstest.RunServer(t)
	nc, err := nats.Connect(srv.ClientURL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	stream, err := events.DeclareStream(t.Context(), js, events.DefaultStreamOptions)
	require.NoError(t, err)

	raw := []byte(`{"id":"evt_1","object":"event","type":"customer.created","created":1,"data":{"object":{"id":"cus_1","object":"customer"}}}`)
	env, err := events.ParseEnvelope(raw)
	require.NoError(t, err)
	p := events.NewPublisher(js)
	dup, err := p.Publish(t.Context(), events.EventMsg(env, raw))
	require.NoError(t, err)
	require.False(t, dup)
	dup, err = p.Publish(t.Context(), events.EventMsg(env, raw))
	require.NoError(t, err)
	require.True(t, dup, "the event id is the message id")

	for i := range 3 {
		o := events.Object{Resource: catalog.MustLookup("customer"), ID: "cus_1", FetchedAt: time.Unix(int64(i), 0), Data: []byte(`{"id":"cus_1","object":"customer"}`)}
		require.NoError(t, p.PublishAsync(o.Msg()))
	}
	n, err := p.Wait(t.Context())
	require.NoError(t, err)
	require.Equal(t, 3, n)
	info, err := stream.Info(t.Context())
	require.NoError(t, err)
	require.Equal(t, uint64(4), info.State.Msgs)
	msg, err := stream.GetMsg(t.Context(), 1)
	require.NoError(t, err)
	require.Equal(t, raw, msg.Data, "the event's bytes, unchanged")
	require.Equal(t, "stripe.event.customer.created", msg.Subject)

	n, err = p.Wait(t.Context())
	require.NoError(t, err)
	require.Zero(t, n, "Wait forgets what it waited for")
}
