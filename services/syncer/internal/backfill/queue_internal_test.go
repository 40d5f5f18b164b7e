package backfill

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/pkg/catalog"
)

func TestQueueTakesEndpointsInTurn(t *testing.T) {
	t.Parallel()
	q := newQueue(10)
	newTask := func(id, object string) *task {
		return &task{ID: id, Resource: object, res: catalog.MustLookup(object)}
	}
	// The halves of a split customer listing come first, as split tasks do.
	for _, t := range []*task{newTask("cus1", "customer"), newTask("cus2", "customer"), newTask("cus3", "customer"),
		newTask("inv", "invoice"), newTask("txi", "tax_id"), newTask("txi2", "tax_id")} {
		q.push(t)
	}
	take := func() string {
		t.Helper()
		got, ok := q.take()
		require.True(t, ok)
		return got.ID
	}
	require.Equal(t, "cus1", take())
	require.Equal(t, "inv", take(), "GET /v1/customers has a task running; GET /v1/invoices none")
	require.Equal(t, "txi", take())
	require.Equal(t, "cus2", take(), "one running on each: the first queued")
	require.Equal(t, "txi2", take(), "GET /v1/customers has two running")

	customers := newTask("cus1", "customer")
	q.finish(customers)
	q.finish(customers)
	require.Equal(t, "cus3", take(), "the only one left")
	require.Equal(t, "GET /v1/customers/{id}/tax_ids", newTask("x", "tax_id").endpoint())
	require.Equal(t, "GET /v1/customers", newTask("x", "customer").endpoint())
}
