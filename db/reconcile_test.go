package db_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/db"
	"github.com/stripesync/stripesync/db/dbtest"
	"github.com/stripesync/stripesync/pkg/catalog"
)

// TestReconcileReads writes customers of two accounts before and after a
// listing's start, and checks the rows Unlisted returns, that the digests
// PostgreSQL computes equal those computed in Go, and that a saved
// reconciliation reads back.
func TestReconcileReads(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := dbtest.New(t)
	cus := catalog.MustLookup("customer")
	obj := func(id, account string) db.Object {
		return db.Object{ID: id, Account: account, Data: []byte(`{"id":"` + id + `","object":"customer"}`), StateAt: time.Now()}
	}
	_, err := db.UpsertObjects(ctx, pool, cus, []db.Object{obj("cus_a", ""), obj("cus_b", ""), obj("cus_c", "acct_1"), obj("cus_gone", "")})
	require.NoError(t, err)
	require.NoError(t, db.MarkDeleted(ctx, pool, cus, []db.Tombstone{{ID: "cus_gone", StateAt: time.Now()}}))

	start, err := db.Now(ctx, pool)
	require.NoError(t, err)
	// The listing returns cus_a: its row is written again.
	_, err = db.UpsertObjects(ctx, pool, cus, []db.Object{obj("cus_a", "")})
	require.NoError(t, err)

	platform := db.Scope{}
	rows, err := db.Unlisted(ctx, pool, cus, platform, start, "", 10)
	require.NoError(t, err)
	require.Equal(t, []db.UnlistedRow{{ID: "cus_b"}}, rows, "written before the listing, not deleted, on the platform")
	rows, err = db.Unlisted(ctx, pool, cus, db.Scope{All: true}, start, "", 10)
	require.NoError(t, err)
	require.Equal(t, []db.UnlistedRow{{ID: "cus_b"}, {ID: "cus_c", Account: "acct_1"}}, rows)
	rows, err = db.Unlisted(ctx, pool, cus, db.Scope{All: true}, start, "cus_b", 10)
	require.NoError(t, err)
	require.Equal(t, []db.UnlistedRow{{ID: "cus_c", Account: "acct_1"}}, rows, "paged by id")

	digests, err := db.LiveDigests(ctx, pool, cus, db.Scope{All: true})
	require.NoError(t, err)
	var want, want1 db.Digest
	want.Add("cus_a")
	want.Add("cus_b")
	want1.Add("cus_c")
	require.Equal(t, map[string]db.Digest{"": want, "acct_1": want1}, digests)
	require.NotZero(t, want.Digest)
	require.Less(t, want.Digest, uint64(1)<<48)

	// A listing started, then completed; a second start of it changes
	// nothing, a deletion the refetcher found is taken off the mirror's side.
	require.NoError(t, db.StartListings(ctx, pool, "run1", "", []*catalog.Resource{cus}, time.Now()))
	started, ok, err := db.StartedListing(ctx, pool, cus, "")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "run1", started.Listing)
	require.False(t, started.Completed)
	require.NoError(t, db.StartListings(ctx, pool, "run1", "", []*catalog.Resource{cus}, time.Now()))
	again, _, err := db.StartedListing(ctx, pool, cus, "")
	require.NoError(t, err)
	require.Equal(t, started.StartedAt, again.StartedAt, "a redelivered start does not move")
	recs, err := db.Reconciliations(ctx, pool)
	require.NoError(t, err)
	require.Empty(t, recs, "no listing completed yet")

	var listed db.Digest
	listed.Add("cus_a")
	rec := db.Reconciliation{Resource: cus, Listing: "run1", API: listed, Mirror: want, Unlisted: 1}
	require.NoError(t, db.CompleteListing(ctx, pool, rec))
	require.NoError(t, db.AddPendingFetches(ctx, pool, []db.PendingFetch{{Resource: cus, ID: "cus_b", URL: "/v1/customers/cus_b",
		EventID: db.ReconcileFetchEventID("run1"), Since: started.StartedAt}}, 0))
	rec.Unlisted = 7
	require.NoError(t, db.CompleteListing(ctx, pool, rec), "a second complete changes nothing")
	recs, err = db.Reconciliations(ctx, pool)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.Equal(t, db.Reconciliation{Resource: cus, Listing: "run1", ListedAt: started.StartedAt, CompletedAt: recs[0].CompletedAt,
		API: listed, Mirror: want, Unlisted: 1, Waiting: 1}, recs[0])

	require.NoError(t, db.CountReconciledDeletion(ctx, pool, cus, "", "run1", "cus_b"))
	recs, err = db.Reconciliations(ctx, pool)
	require.NoError(t, err)
	require.Equal(t, listed, recs[0].Mirror, "cus_b off the mirror's side: the sides agree")
	require.EqualValues(t, 1, recs[0].MarkedDeleted)
	listing, ok := db.ReconcileFetchListing(db.ReconcileFetchEventID("run1"))
	require.True(t, ok)
	require.Equal(t, "run1", listing)

	require.NoError(t, db.StartListings(ctx, pool, "run2", "", []*catalog.Resource{cus}, time.Now()))
	started, _, err = db.StartedListing(ctx, pool, cus, "")
	require.NoError(t, err)
	require.Equal(t, "run2", started.Listing)
	recs, err = db.Reconciliations(ctx, pool)
	require.NoError(t, err)
	require.Len(t, recs, 1, "the last completed listing's, while another is under way")
	require.True(t, recs[0].CompletedAt.IsZero())
	require.Equal(t, listed, recs[0].API)
}
