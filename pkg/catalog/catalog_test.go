package catalog

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCatalogIsConsistent(t *testing.T) {
	t.Parallel()
	require.True(t, slices.IsSortedFunc(resources, func(a, b *Resource) int { return strings.Compare(a.Object, b.Object) }), "resources are sorted by object")
	for _, r := range resources {
		t.Run(r.Object, func(t *testing.T) {
			for _, o := range r.namedObjects() {
				_, ok := Lookup(o)
				require.True(t, ok, "%s names %q, which is not in the catalog", r.Object, o)
			}
			if r.List == nil {
				require.NotEmpty(t, r.ListedBy(), "%s has no listing and no listing yields it", r.Object)
			}
			if r.Retrieve != "" {
				require.True(t, strings.HasSuffix(r.Retrieve, "/{id}"), r.Retrieve)
			}
			for _, d := range r.Deletes {
				require.True(t, strings.HasSuffix(d, ".deleted"), d)
			}
			require.NotEmpty(t, r.Columns, "a relation without typed columns is hard to query")
			names := map[string]bool{}
			for _, c := range r.Columns {
				require.False(t, names[c.Name], "column %s twice", c.Name)
				names[c.Name] = true
				require.NotEmpty(t, c.Paths)
			}
		})
	}
}

// namedObjects are the objects r's entry refers to.
func (r *Resource) namedObjects() []string {
	var out []string
	if r.Parent != "" {
		out = append(out, r.Parent)
	}
	if r.List != nil {
		out = append(out, r.List.Yields...)
		if r.List.Per != "" {
			out = append(out, r.List.Per)
		}
	}
	for _, n := range r.Nested {
		out = append(out, n.Items...)
	}
	for _, e := range r.Embedded {
		out = append(out, e.Object)
	}
	return out
}

func TestRelation(t *testing.T) {
	t.Parallel()
	for object, relation := range map[string]string{
		"customer":                  "customers",
		"checkout.session":          "checkout_sessions",
		"radar.early_fraud_warning": "radar_early_fraud_warnings",
		"invoiceitem":               "invoiceitems",
		"line_item":                 "invoice_line_items",
		"item":                      "checkout_session_line_items",
	} {
		require.Equal(t, relation, MustLookup(object).Relation())
		r, err := Find(relation)
		require.NoError(t, err)
		require.Equal(t, object, r.Object)
		r, err = Find(object)
		require.NoError(t, err)
		require.Equal(t, object, r.Object)
	}
	_, err := Find("customer_things")
	require.ErrorContains(t, err, `unknown resource "customer_things"`)
}

func TestListedBy(t *testing.T) {
	t.Parallel()
	objects := func(rs []*Resource) (out []string) {
		for _, r := range rs {
			out = append(out, r.Object)
		}
		return out
	}
	require.Equal(t, []string{"account", "source"}, objects(MustLookup("card").ListedBy()))
	require.Equal(t, []string{"customer", "subscription"}, objects(MustLookup("discount").ListedBy()))
	require.Equal(t, []string{"subscription"}, objects(MustLookup("subscription_item").ListedBy()))
	require.Equal(t, []string{"invoice"}, objects(MustLookup("invoice").ListedBy()))
}

func TestPagePath(t *testing.T) {
	t.Parallel()
	path, q := MustLookup("invoice").Nested[0].PagePath("in_1/x")
	require.Equal(t, "/v1/invoices/in_1%2Fx/lines", path)
	require.Nil(t, q)
	path, q = MustLookup("subscription").Nested[0].PagePath("sub_1")
	require.Equal(t, "/v1/subscription_items", path)
	require.Equal(t, url.Values{"subscription": {"sub_1"}}, q)
	p, ok := MustLookup("checkout.session").RetrievePath("cs_1")
	require.True(t, ok)
	require.Equal(t, "/v1/checkout/sessions/cs_1", p)
	_, ok = MustLookup("discount").RetrievePath("di_1")
	require.False(t, ok)
}

func TestContents(t *testing.T) {
	t.Parallel()
	sub := MustLookup("subscription")
	t.Run("CompleteList", func(t *testing.T) {
		lists, embedded, err := sub.Contents([]byte(`{"id":"sub_1","object":"subscription",
			"discount":{"id":"di_1","object":"discount"},
			"items":{"object":"list","has_more":false,"data":[{"id":"si_1","object":"subscription_item"},{"id":"si_2","object":"subscription_item"}]}}`))
		require.NoError(t, err)
		require.Len(t, lists, 1)
		require.True(t, lists[0].Present)
		require.True(t, lists[0].Complete)
		require.Equal(t, "si_2", lists[0].Last)
		require.Len(t, lists[0].Items, 2)
		require.Equal(t, "subscription_item", lists[0].Items[1].Resource.Object)
		require.JSONEq(t, `{"id":"si_2","object":"subscription_item"}`, string(lists[0].Items[1].Data))
		require.Len(t, embedded, 1)
		require.Equal(t, "di_1", embedded[0].Ref.ID)
	})
	t.Run("TruncatedList", func(t *testing.T) {
		lists, _, err := sub.Contents([]byte(`{"id":"sub_1","object":"subscription","discount":"di_1",
			"items":{"object":"list","has_more":true,"data":[{"id":"si_1","object":"subscription_item"}]}}`))
		require.NoError(t, err)
		require.True(t, lists[0].Present)
		require.False(t, lists[0].Complete)
		require.Equal(t, "si_1", lists[0].Last)
	})
	t.Run("ListLeftOut", func(t *testing.T) {
		lists, embedded, err := MustLookup("checkout.session").Contents([]byte(`{"id":"cs_1","object":"checkout.session"}`))
		require.NoError(t, err)
		require.False(t, lists[0].Present)
		require.False(t, lists[0].Complete)
		require.Empty(t, embedded)
	})
	t.Run("NotJSON", func(t *testing.T) {
		_, _, err := sub.Contents([]byte(`{"id":`))
		require.Error(t, err)
	})
}

// TestListingsSayWhatTheyHide holds the lists known to leave objects out by
// default: each either asks for them (a filter) or says it hides them, so
// that reconciliation never takes a hidden object for a deleted one.
func TestListingsSayWhatTheyHide(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		object   string
		filter   url.Values // asks for what the list hides by default
		complete bool
	}{
		{object: "subscription", filter: url.Values{"status": {"all"}}, complete: true}, // canceled ones hidden otherwise
		{object: "review", complete: false},                                             // open ones only, no filter for the rest
		{object: "customer", complete: true},
	} {
		t.Run(tc.object, func(t *testing.T) {
			t.Parallel()
			l := MustLookup(tc.object).List
			for k, v := range tc.filter {
				require.Equal(t, v, l.Filters[k], "%s lists with %s=%v", tc.object, k, v)
			}
			require.Equal(t, tc.complete, l.Complete(), l.Hides)
		})
	}
}
