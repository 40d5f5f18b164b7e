package db_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/db"
	"github.com/stripesync/stripesync/db/dbtest"
)

func TestStorableJSON(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"Untouched", `{"a": [1, 2.50, "x", true, null, {"b": 1e3}]}`, `{"a":[1,2.50,"x",true,null,{"b":1e3}]}`},
		{"NULInString", `{"name": "a\u0000b"}`, `{"name":"a` + "\uFFFD" + `b"}`},
		{"NULInKey", `{"k\u0000": 1}`, `{"k` + "\uFFFD" + `":1}`},
		{"EscapedBackslashIsNoNUL", `{"path": "C:\\u0000"}`, `{"path":"C:\\u0000"}`},
		{"LoneSurrogate", `["\ud800"]`, `["` + "\uFFFD" + `"]`},
		{"NotUTF8", "[\"\xff\"]", `["` + "\uFFFD" + `"]`},
		{"HTMLKept", `"<a&b>"`, `"<a&b>"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			have, err := db.StorableJSON([]byte(tt.in))
			require.NoError(t, err)
			require.Equal(t, tt.want, string(have))
		})
	}
	_, err := db.StorableJSON([]byte(`{"a":`))
	require.Error(t, err)
}

func TestUnappliedEvent(t *testing.T) {
	t.Parallel()
	pool := dbtest.New(t)
	ctx := t.Context()
	raw := []byte(`{"id":"evt_1","object":"event","type":"customer.created","data":{"object":{"id":"cus_1","object":"customer","name":"a\u0000b"}}}`)
	ev := db.Event{ID: "evt_1", Type: "customer.created", Account: "acct_1", Created: time.Unix(1700000000, 0), Data: raw,
		ObjectType: "customer", ObjectID: "cus_1"}

	// stripe.events holds what jsonb cannot (\u0000), byte for byte.
	require.NoError(t, db.InsertUnappliedEvent(ctx, pool, ev, "the reason"))
	require.NoError(t, db.InsertUnappliedEvent(ctx, pool, ev, "another reason"), "a second time changes nothing")
	var objectID, data, unapplied, account string
	require.NoError(t, pool.QueryRow(ctx, "SELECT object_id, data::text, unapplied, account FROM stripe.events WHERE id = 'evt_1'").
		Scan(&objectID, &data, &unapplied, &account))
	require.Equal(t, []string{"cus_1", string(raw), "the reason", "acct_1"}, []string{objectID, data, unapplied, account})

	// Bytes that are not UTF-8 no text holds: StorableJSON replaces them.
	notUTF8 := db.Event{ID: "evt_2", Type: "customer.created", Created: time.Unix(1700000000, 0),
		Data: []byte("{\"id\":\"evt_2\",\"name\":\"a\xffb\"}")}
	require.Error(t, db.InsertUnappliedEvent(ctx, pool, notUTF8, "the reason"), "the premise: PostgreSQL refuses it")
	storable, err := db.StorableJSON(notUTF8.Data)
	require.NoError(t, err)
	notUTF8.Data = storable
	require.NoError(t, db.InsertUnappliedEvent(ctx, pool, notUTF8, "the reason"))
	var name string
	require.NoError(t, pool.QueryRow(ctx, "SELECT data->>'name' FROM stripe.events WHERE id = 'evt_2'").Scan(&name))
	require.Equal(t, "a\uFFFDb", name)

	// Redelivered (a replay), the event is new again, to be applied now;
	// then it is an ordinary stored event.
	fixed := ev
	fixed.Data = []byte(`{"id":"evt_1","object":"event","type":"customer.created","data":{"object":{"id":"cus_1","object":"customer","name":"ab"}}}`)
	ids, err := db.InsertEvents(ctx, pool, []db.Event{fixed})
	require.NoError(t, err)
	require.Equal(t, []string{"evt_1"}, ids)
	var isNull bool
	require.NoError(t, pool.QueryRow(ctx, "SELECT unapplied IS NULL, data->'data'->'object'->>'name' FROM stripe.events WHERE id = 'evt_1'").Scan(&isNull, &name))
	require.True(t, isNull)
	require.Equal(t, "ab", name)
	ids, err = db.InsertEvents(ctx, pool, []db.Event{fixed})
	require.NoError(t, err)
	require.Empty(t, ids, "a duplicate of an applied event")
}
