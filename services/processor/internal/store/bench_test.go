package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stripesync/stripesync/db/dbtest"
	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/events/eventstest"
	"github.com/stripesync/stripesync/services/processor/internal/store"
)

// BenchmarkApply applies batches of new snapshot events of seven types
// (stripe-mock's fixtures, new ids each batch) to real PostgreSQL, one
// transaction a batch: the processor's work per event, Go and PostgreSQL,
// in batches of 500 (under load) and of 1 (a quiet account: the time a
// transaction adds to an event's freshness).
// Profile the Go side with -cpuprofile; the PostgreSQL side with
// pg_stat_statements on TEST_DATABASE_URL's server.
func BenchmarkApply(b *testing.B) {
	for _, batch := range []int{500, 1} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) { benchmarkApply(b, batch) })
	}
}

func benchmarkApply(b *testing.B, batch int) {
	pool := dbtest.New(b)
	s := store.New(pool)
	types := []struct{ object, eventType string }{
		{"customer", "customer.updated"}, {"invoice", "invoice.finalized"}, {"charge", "charge.succeeded"},
		{"payment_intent", "payment_intent.succeeded"}, {"subscription", "customer.subscription.updated"},
		{"price", "price.updated"}, {"product", "product.updated"},
	}
	base := time.Now().Add(-time.Hour)
	n := 0
	for b.Loop() {
		b.StopTimer()
		evs := make([]store.Event, batch)
		for i := range evs {
			ty := types[n%len(types)]
			obj := eventstest.With(eventstest.Object(b, ty.object), map[string]any{"id": fmt.Sprintf("obj_bench%d", n)})
			e := eventstest.NewEvent(fmt.Sprintf("evt_bench%d", n), ty.eventType, obj)
			e.Created = base.Add(time.Duration(n) * time.Millisecond)
			raw := e.JSON(b)
			env, err := events.ParseEnvelope(raw)
			if err != nil {
				b.Fatal(err)
			}
			evs[i] = store.Event{Envelope: env, Raw: raw}
			n++
		}
		b.StartTimer()
		if _, err := s.Apply(b.Context(), store.Batch{Events: evs}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(n), "µs/event")
}
