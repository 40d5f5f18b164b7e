package store_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/pkg/catalog"
	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/events/eventstest"
	"github.com/stripesync/stripesync/services/processor/internal/store"
)

// TestConcurrentBatchesDoNotDeadlock applies, many times over, two batches at
// once that write the same subscription items in opposite roles: each holds
// a subscription event whose list carries the items the other fetched (a
// webhook and a backfill's items beyond ten, the processor's two workers).
// Were a relation written once for the items fetched and once more for the
// items held, each batch would hold the other's next rows, and PostgreSQL
// would abort one with "deadlock detected" (40P01).
func TestConcurrentBatchesDoNotDeadlock(t *testing.T) {
	t.Parallel()
	b := setup(t)
	base := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	itemRes := catalog.MustLookup("subscription_item")
	const items, rounds = 40, 30

	ids := func(prefix string) []string {
		out := make([]string, items)
		for i := range out {
			out[i] = fmt.Sprintf("si_%s%03d", prefix, i)
		}
		return out
	}
	item := func(id, sub string) map[string]any {
		return eventstest.With(eventstest.Object(t, "subscription_item"), map[string]any{"id": id, "subscription": sub})
	}
	// batch is sub's event, its list holding held, with the items fetched
	// of the other subscription, in reverse id order.
	batch := func(round int, sub string, held []string, other string, fetched []string) store.Batch {
		var list []any
		for _, id := range held {
			list = append(list, item(id, sub))
		}
		obj := eventstest.With(eventstest.Object(t, "subscription"), map[string]any{
			"id":    sub,
			"items": map[string]any{"object": "list", "data": list, "has_more": false, "url": "/v1/subscription_items?subscription=" + sub},
		})
		e := eventstest.NewEvent(fmt.Sprintf("evt_%s_%d", sub, round), "customer.subscription.updated", obj)
		e.Created = base.Add(time.Duration(round) * time.Second)
		out := store.Batch{Events: []store.Event{event(t, e)}}
		for i := len(fetched) - 1; i >= 0; i-- {
			data, err := json.Marshal(item(fetched[i], other))
			require.NoError(t, err)
			out.Objects = append(out.Objects, events.Object{Resource: itemRes, ID: fetched[i], Parent: other, Data: data,
				FetchedAt: base.Add(time.Duration(round)*time.Second + 500*time.Millisecond)})
		}
		return out
	}
	x, y := ids("x"), ids("y")
	for round := range rounds {
		batches := []store.Batch{
			batch(round, "sub_a", x, "sub_b", y),
			batch(round, "sub_b", y, "sub_a", x),
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, len(batches))
		for i, bt := range batches {
			wg.Go(func() {
				<-start
				_, errs[i] = b.store.Apply(t.Context(), bt)
			})
		}
		close(start)
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err, "round %d", round)
		}
	}
	require.Equal(t, 2*items, count(t, b, "SELECT count(*) FROM stripe.subscription_items WHERE NOT deleted"))
}
