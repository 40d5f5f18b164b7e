package db_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/db"
	"github.com/stripesync/stripesync/db/dbtest"
	"github.com/stripesync/stripesync/pkg/catalog"
)

func TestEstimateRows(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := dbtest.New(t)
	cus := catalog.MustLookup("customer")
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

	est, err := db.EstimateRows(ctx, pool)
	require.NoError(t, err)
	require.Len(t, est.Relations, len(catalog.All()), "every catalog resource, its relation empty")
	for _, r := range est.Relations {
		require.Zero(t, r.Rows, r.Resource.Object)
		require.EqualValues(t, -1, r.Deleted, "unknown before the first ANALYZE")
	}

	var objs []db.Object
	for _, id := range []string{"cus_1", "cus_2", "cus_3"} {
		objs = append(objs, db.Object{ID: id, Data: []byte(`{"id":"` + id + `","object":"customer"}`), StateAt: at})
	}
	_, err = db.UpsertObjects(ctx, pool, cus, objs)
	require.NoError(t, err)
	require.NoError(t, db.MarkDeleted(ctx, pool, cus, []db.Tombstone{{ID: "cus_3", StateAt: at.Add(time.Second)}}))
	_, err = db.InsertEvents(ctx, pool, []db.Event{
		{ID: "evt_1", Type: "customer.created", Created: at, Data: []byte(`{"id":"evt_1"}`)},
		{ID: "evt_2", Type: "customer.created", Created: at, Data: []byte(`{"id":"evt_2"}`)},
	})
	require.NoError(t, err)

	// The writers' backends report their counts when idle, within a second.
	// Wait for them before ANALYZE: a count reported after it would be
	// added to ANALYZE's figure.
	customers := func(est db.RowEstimates) db.RelationRows {
		for _, r := range est.Relations {
			if r.Resource == cus {
				return r
			}
		}
		t.Fatal("no customers")
		return db.RelationRows{}
	}
	require.Eventually(t, func() bool {
		est, err := db.EstimateRows(ctx, pool)
		return err == nil && customers(est).Rows == 3 && est.Events == 2 && est.EventsInserted == 2
	}, 10*time.Second, 50*time.Millisecond)

	_, err = pool.Exec(ctx, "ANALYZE stripe.customers")
	require.NoError(t, err)
	est, err = db.EstimateRows(ctx, pool)
	require.NoError(t, err)
	c := customers(est)
	require.EqualValues(t, 3, c.Rows)
	require.EqualValues(t, 1, c.Deleted, "one of three marked deleted, as ANALYZE saw")
	require.WithinDuration(t, time.Now(), c.AnalyzedAt, time.Minute)
}
