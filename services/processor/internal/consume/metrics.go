package consume

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stripesync/stripesync/services/processor/internal/store"
)

// Metrics are the consumer's Prometheus metrics.
type Metrics struct {
	stored       prometheus.Counter
	duplicates   prometheus.Counter
	objects      prometheus.Counter
	stale        prometheus.Counter
	ties         prometheus.Counter
	naks         prometheus.Counter
	deadLetters  prometheus.Counter
	batchSize    prometheus.Histogram
	batchSeconds prometheus.Histogram
	reg          prometheus.Registerer
}

// NewMetrics registers the consumer's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		stored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stripe_sync_processor_events_stored_total",
			Help: "Events stored for the first time, with their objects.",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stripe_sync_processor_events_duplicate_total",
			Help: "Events received again after they were stored; they change nothing.",
		}),
		objects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stripe_sync_processor_objects_applied_total",
			Help: "Object states written to their relations under the version rule: objects of new events, fetched objects, and the items and embedded objects they hold.",
		}),
		stale: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stripe_sync_processor_objects_stale_skipped_total",
			Help: "Object states of new events and fetched objects left out by the version rule: the mirror (or the same batch) already held a newer state of the object, or its deletion.",
		}),
		ties: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stripe_sync_processor_version_ties_total",
			Help: "Objects written by an event of the same second as the event before it: ordered by stream order, then re-fetched when STRIPE_API_KEY is set.",
		}),
		naks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stripe_sync_processor_retries_total",
			Help: "Messages handed back to JetStream for a later attempt.",
		}),
		deadLetters: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stripe_sync_processor_dead_letters_total",
			Help: "Messages kept in stripe.dead_letters because they could not be applied.",
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "stripe_sync_processor_batch_size",
			Help:    "Events applied per transaction.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10),
		}),
		batchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "stripe_sync_processor_batch_seconds",
			Help:    "Time to decode and apply one batch.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
	}
	reg.MustRegister(m.stored, m.duplicates, m.objects, m.stale, m.ties, m.naks, m.deadLetters, m.batchSize, m.batchSeconds)
	m.reg = reg
	return m
}

func (m *Metrics) observeBatch(n int, d time.Duration, s store.Stats) {
	m.stored.Add(float64(s.Stored))
	m.objects.Add(float64(s.Applied))
	m.stale.Add(float64(s.Stale))
	m.duplicates.Add(float64(s.Duplicates))
	m.ties.Add(float64(len(s.Ties)))
	m.batchSize.Observe(float64(n))
	if d > 0 {
		m.batchSeconds.Observe(d.Seconds())
	}
}
