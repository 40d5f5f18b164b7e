package db_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/db"
	"github.com/stripesync/stripesync/db/dbtest"
	"github.com/stripesync/stripesync/pkg/catalog"
)

func TestEventReceipts(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := dbtest.New(t)
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	event := func(id string) db.Event {
		return db.Event{ID: id, Type: "customer.created", Created: at, Data: []byte(`{"id":"` + id + `"}`)}
	}
	before := time.Now()
	_, err := db.InsertEvents(ctx, pool, []db.Event{event("evt_1"), event("evt_2"), event("evt_extra")})
	require.NoError(t, err)
	// Stored again, as a redelivery would: the primary key keeps one row.
	stored, err := db.InsertEvents(ctx, pool, []db.Event{event("evt_1")})
	require.NoError(t, err)
	require.Empty(t, stored)

	got, err := db.EventReceipts(ctx, pool, []string{"evt_1", "evt_2", "evt_lost"})
	require.NoError(t, err)
	require.Len(t, got, 2, "an id not stored has no receipt")
	for _, id := range []string{"evt_1", "evt_2"} {
		require.Equal(t, 1, got[id].Copies, id)
		require.WithinDuration(t, before, got[id].ReceivedAt, time.Minute, id)
	}

	extra, err := db.EventsNotAmong(ctx, pool, []string{"evt_1", "evt_2", "evt_lost"})
	require.NoError(t, err)
	require.Equal(t, []string{"evt_extra"}, extra)
	extra, err = db.EventsNotAmong(ctx, pool, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"evt_1", "evt_2", "evt_extra"}, extra, "no ids: every stored event")
}

func TestObjectsByID(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := dbtest.New(t)
	cus := catalog.MustLookup("customer")
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	_, err := db.UpsertObjects(ctx, pool, cus, []db.Object{
		{ID: "cus_1", Account: "acct_1", Data: []byte(`{"id":"cus_1","object":"customer"}`), StateAt: at, EventID: "evt_1", APIVersion: "2026-10-28.endive"},
		{ID: "cus_2", Data: []byte(`{"id":"cus_2","object":"customer"}`), StateAt: at},
		{ID: "cus_3", Data: []byte(`{"id":"cus_3","object":"customer"}`), StateAt: at},
	})
	require.NoError(t, err)
	require.NoError(t, db.MarkDeleted(ctx, pool, cus, []db.Tombstone{{ID: "cus_2", StateAt: at.Add(time.Second)}}))

	got, err := db.ObjectsByID(ctx, pool, cus, []string{"cus_2", "cus_1", "cus_none"})
	require.NoError(t, err)
	require.Len(t, got, 2, "an id without a row is left out; cus_3 was not asked for")
	require.Equal(t, "cus_1", got[0].ID, "in id order")
	require.Equal(t, "acct_1", got[0].Account)
	require.Equal(t, "evt_1", got[0].EventID)
	require.Equal(t, "2026-10-28.endive", got[0].APIVersion)
	require.True(t, got[0].StateAt.Equal(at))
	require.JSONEq(t, `{"id":"cus_1","object":"customer"}`, string(got[0].Data))
	require.Equal(t, "cus_2", got[1].ID)
	require.True(t, got[1].Deleted, "a deleted row is returned, marked")
}
