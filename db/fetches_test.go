package db_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/db"
	"github.com/stripesync/stripesync/db/dbtest"
	"github.com/stripesync/stripesync/pkg/catalog"
)

func TestPendingFetches(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := dbtest.New(t)
	cus := catalog.MustLookup("customer")
	base := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	pending := func(id, event string, since time.Time) db.PendingFetch {
		return db.PendingFetch{Resource: cus, ID: id, URL: "/v1/customers/" + id, EventID: event, Since: since}
	}

	// Three events for cus_a, one for cus_b: two rows.
	require.NoError(t, db.AddPendingFetches(ctx, pool, []db.PendingFetch{pending("cus_a", "evt_1", base), pending("cus_b", "evt_2", base)}, 0))
	require.NoError(t, db.AddPendingFetches(ctx, pool, []db.PendingFetch{pending("cus_a", "evt_3", base.Add(time.Second))}, 0))
	waiting, oldest, err := db.PendingFetchStats(ctx, pool)
	require.NoError(t, err)
	require.EqualValues(t, 2, waiting)
	require.Equal(t, base, oldest.UTC())

	claimed, err := db.ClaimPendingFetches(ctx, pool, 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, claimed, 2)
	again, err := db.ClaimPendingFetches(ctx, pool, 10, time.Minute)
	require.NoError(t, err)
	require.Empty(t, again, "leased objects are not claimed twice")

	var a db.PendingFetch
	for _, c := range claimed {
		if c.ID == "cus_a" {
			a = c
		}
	}
	require.Equal(t, "evt_3", a.EventID)
	require.Equal(t, int32(1), a.Attempts)
	// An event arriving while cus_a is fetched keeps it waiting.
	require.NoError(t, db.AddPendingFetches(ctx, pool, []db.PendingFetch{pending("cus_a", "evt_4", base.Add(2*time.Second))}, 0))
	require.NoError(t, db.DonePendingFetch(ctx, pool, a))
	waiting, _, err = db.PendingFetchStats(ctx, pool)
	require.NoError(t, err)
	require.EqualValues(t, 2, waiting, "a fetch older than the newest event does not remove it")

	// A state as new as every event naming it settles it.
	require.NoError(t, db.SettlePendingFetches(ctx, pool, cus, []db.Object{{ID: "cus_a", StateAt: base.Add(time.Second)}}))
	waiting, _, _ = db.PendingFetchStats(ctx, pool)
	require.EqualValues(t, 2, waiting, "older than evt_4")
	require.NoError(t, db.SettlePendingFetches(ctx, pool, cus, []db.Object{{ID: "cus_a", StateAt: base.Add(2 * time.Second)}}))
	waiting, _, _ = db.PendingFetchStats(ctx, pool)
	require.EqualValues(t, 1, waiting)

	// A failed fetch is due again after its delay, with its reason.
	var b db.PendingFetch
	for _, c := range claimed {
		if c.ID == "cus_b" {
			b = c
		}
	}
	require.NoError(t, db.RetryPendingFetch(ctx, pool, b, 0, "429"))
	again, err = db.ClaimPendingFetches(ctx, pool, 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, again, 1)
	require.Equal(t, int32(2), again[0].Attempts)
}

func TestMarkDeleted(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := dbtest.New(t)
	cus := catalog.MustLookup("customer")
	base := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	_, err := db.UpsertObjects(ctx, pool, cus, []db.Object{{ID: "cus_kept", Data: []byte(`{"id":"cus_kept","object":"customer","email":"a@example.com"}`), StateAt: base, EventID: "evt_1", APIVersion: "2026-10-28.endive"}})
	require.NoError(t, err)

	require.NoError(t, db.MarkDeleted(ctx, pool, cus, []db.Tombstone{
		{ID: "cus_kept", StateAt: base.Add(time.Second), EventID: "evt_thin_del"},
		{ID: "cus_never_seen", StateAt: base, EventID: "evt_thin_del2"},
		{ID: "cus_stale", StateAt: base, EventID: "evt_old"},
	}))
	var email, last, version string
	var deleted bool
	require.NoError(t, pool.QueryRow(ctx, "SELECT data->>'email', deleted, last_event_id, api_version FROM stripe.customers WHERE id = 'cus_kept'").Scan(&email, &deleted, &last, &version))
	require.Equal(t, []any{"a@example.com", true, "evt_thin_del", "2026-10-28.endive"}, []any{email, deleted, last, version}, "the row keeps its data")
	var stub []byte
	require.NoError(t, pool.QueryRow(ctx, "SELECT data FROM stripe.customers WHERE id = 'cus_never_seen' AND deleted").Scan(&stub))
	require.JSONEq(t, `{"id":"cus_never_seen","object":"customer","deleted":true}`, string(stub))

	// An older deletion of a newer state changes nothing.
	_, err = db.UpsertObjects(ctx, pool, cus, []db.Object{{ID: "cus_newer", Data: []byte(`{"id":"cus_newer","object":"customer"}`), StateAt: base.Add(time.Hour)}})
	require.NoError(t, err)
	require.NoError(t, db.MarkDeleted(ctx, pool, cus, []db.Tombstone{{ID: "cus_newer", StateAt: base}}))
	require.NoError(t, pool.QueryRow(ctx, "SELECT deleted FROM stripe.customers WHERE id = 'cus_newer'").Scan(&deleted))
	require.False(t, deleted)

	require.ErrorContains(t, db.MarkDeleted(ctx, pool, catalog.MustLookup("line_item"), nil), "through its parent")
}
