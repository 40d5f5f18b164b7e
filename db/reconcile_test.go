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

	rec := db.Reconciliation{Resource: cus, ListedAt: start, API: want, Mirror: want, Retrieved: 1, MarkedDeleted: 1}
	require.NoError(t, db.SaveReconciliations(ctx, pool, []db.Reconciliation{rec}))
	older := rec
	older.ListedAt, older.Retrieved = start.Add(-time.Hour), 7
	require.NoError(t, db.SaveReconciliations(ctx, pool, []db.Reconciliation{older}))
	recs, err := db.Reconciliations(ctx, pool)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.EqualValues(t, 1, recs[0].Retrieved, "an older listing's outcome does not replace a newer one")
	require.Equal(t, want, recs[0].API)
	require.Same(t, cus, recs[0].Resource)
}
