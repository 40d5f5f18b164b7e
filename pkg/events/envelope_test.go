package events_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/pkg/catalog"
	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/events/eventstest"
)

func TestParseEnvelope(t *testing.T) {
	t.Parallel()
	good := eventstest.NewEvent("evt_1", "customer.subscription.updated", eventstest.Object(t, "subscription"))
	good.Account = "acct_1"
	env, err := events.ParseEnvelope(good.JSON(t))
	require.NoError(t, err)
	require.Equal(t, "evt_1", env.ID)
	require.Equal(t, "customer.subscription.updated", env.Type)
	require.Equal(t, "acct_1", env.Account)
	require.Equal(t, good.Created.Unix(), env.Created.Unix())
	require.Equal(t, "2023-10-16", env.APIVersion)
	ref, err := catalog.ParseRef(env.Object)
	require.NoError(t, err)
	require.Equal(t, "subscription", ref.Object)

	bad := map[string]string{
		"NotJSON":          `{"id":`,
		"NotAnObject":      `[1,2]`,
		"NotAnEvent":       `{"id":"cus_1","object":"customer","type":"x","created":1,"data":{"object":{}}}`,
		"NoID":             `{"object":"event","type":"x","created":1,"data":{"object":{}}}`,
		"NoCreated":        `{"id":"evt_1","object":"event","type":"x","data":{"object":{}}}`,
		"NoType":           `{"id":"evt_1","object":"event","created":1,"data":{"object":{}}}`,
		"WildcardType":     `{"id":"evt_1","object":"event","type":"customer.*","created":1,"data":{"object":{}}}`,
		"EmptyWordInType":  `{"id":"evt_1","object":"event","type":"customer..created","created":1,"data":{"object":{}}}`,
		"UpperCaseType":    `{"id":"evt_1","object":"event","type":"Customer.created","created":1,"data":{"object":{}}}`,
		"DataObjectString": `{"id":"evt_1","object":"event","type":"x","created":1,"data":{"object":"cus_1"}}`,
		"NoDataObject":     `{"id":"evt_1","object":"event","type":"x","created":1,"data":{}}`,
		"TrailingGarbage":  `{"id":"evt_1","object":"event","type":"x","created":1,"data":{"object":{}}} x`,
	}
	for name, body := range bad {
		_, err := events.ParseEnvelope([]byte(body))
		require.ErrorIs(t, err, events.ErrNotEvent, name)
	}
}

func FuzzParseEnvelope(f *testing.F) {
	f.Add([]byte(`{"id":"evt_1","object":"event","type":"a.b","created":1,"data":{"object":{"id":"x"}}}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"id":"evt_1","object":"event","type":"a..b","created":-1,"data":{"object":[]}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		env, err := events.ParseEnvelope(body)
		if err != nil {
			return
		}
		// Whatever is accepted is usable: a subject token and an object.
		require.NotEmpty(t, env.ID)
		require.NotContains(t, events.EventSubject(env.Type), "*")
		require.NotContains(t, events.EventSubject(env.Type), ">")
		require.Equal(t, byte('{'), env.Object[0])
	})
}

func BenchmarkParseEnvelope(b *testing.B) {
	body := eventstest.NewEvent("evt_1", "invoice.paid", eventstest.Object(b, "invoice")).JSON(b)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := events.ParseEnvelope(body); err != nil {
			b.Fatal(err)
		}
	}
}
