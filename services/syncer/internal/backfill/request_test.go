package backfill_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/pkg/catalog"
	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/services/syncer/internal/backfill"
)

func objects(rs []*catalog.Resource) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Object
	}
	return out
}

// rel is the relation of object: the other name people give it.
func rel(object string) string { return catalog.MustLookup(object).Relation() }

func TestSelect(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		name  string
		names []string
		want  []string
	}{
		{"ObjectNames", []string{"price", "customer"}, []string{"customer", "price"}},
		{"RelationNames", []string{rel("price"), rel("checkout.session")}, []string{"checkout.session", "price"}},
		{"BothNamesOfOneResourceSelectItOnce", []string{"customer", rel("customer"), " customer "}, []string{"customer"}},
		{"NestedItemsSelectTheirParent", []string{"line_item", rel("subscription_item")}, []string{"invoice", "subscription"}},
		{"EmbeddedObjectsSelectWhatHoldsThem", []string{"discount"}, []string{"customer", "subscription"}},
		{"CardsComeFromAccountsAndSources", []string{"card"}, []string{"account", "source"}},
		{"PerParentListingsAreListed", []string{"payment_method", "tax_id"}, []string{"payment_method", "tax_id"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := backfill.Select(tt.names)
			require.NoError(t, err)
			require.Equal(t, tt.want, objects(got))
		})
	}

	t.Run("UnknownNameIsAnError", func(t *testing.T) {
		t.Parallel()
		_, err := backfill.Select([]string{"customer", "unicorns"})
		require.ErrorContains(t, err, "unicorns")
	})

	t.Run("NoNamesIsEveryListedResource", func(t *testing.T) {
		t.Parallel()
		all, err := backfill.Select(nil)
		require.NoError(t, err)
		var want []string
		for _, r := range catalog.All() {
			if r.List != nil {
				want = append(want, r.Object)
			}
		}
		require.Equal(t, want, objects(all))
	})

	// Every resource of the catalog is backfilled by some listing.
	t.Run("EveryResourceIsBackfilled", func(t *testing.T) {
		t.Parallel()
		for _, r := range catalog.All() {
			got, err := backfill.Select([]string{r.Object})
			require.NoError(t, err, r.Object)
			require.NotEmpty(t, got, r.Object)
		}
	})
}

func TestRunIDNamesTheRequest(t *testing.T) {
	t.Parallel()
	since := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	id := func(sr events.SyncRequest) string {
		t.Helper()
		req, err := backfill.NewRequest(sr)
		require.NoError(t, err)
		return req.RunID()
	}
	a := id(events.SyncRequest{Resources: []string{"price", "customer"}, Since: since})
	require.Equal(t, a, id(events.SyncRequest{Resources: []string{"customer", "price"}, Since: since}), "order does not matter")
	require.Equal(t, a, id(events.SyncRequest{Resources: []string{rel("customer"), rel("price")}, Since: since}), "relation names are the same request")
	require.NotEqual(t, a, id(events.SyncRequest{Resources: []string{"customer", "price"}, Since: since, Account: "acct_1"}))
	require.NotEqual(t, a, id(events.SyncRequest{Resources: []string{"customer", "price"}}))
	require.Equal(t, id(events.SyncRequest{}), id(events.SyncRequest{}))
	require.NotEqual(t, a, id(events.SyncRequest{}))
}
