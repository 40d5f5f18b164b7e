package ingest

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Outcomes of a webhook request, the values of the "outcome" label.
const (
	outcomeAccepted    = "accepted"      // stored by JetStream
	outcomeDuplicate   = "duplicate"     // JetStream already held the event id
	outcomeBadSig      = "bad_signature" // 400
	outcomeBadBody     = "bad_body"      // 400: not a Stripe event
	outcomeTooLarge    = "too_large"     // 413
	outcomeUnavailable = "unavailable"   // 503: JetStream did not store it
)

type metrics struct {
	webhooks       *prometheus.CounterVec
	publishSeconds prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stripe_sync_ingest_webhooks_total",
			Help: "Webhook requests by outcome.",
		}, []string{"outcome"}),
		publishSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "stripe_sync_ingest_publish_seconds",
			Help:    "Time from publishing an event to JetStream's acknowledgement.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
	}
	reg.MustRegister(m.webhooks, m.publishSeconds,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, o := range []string{outcomeAccepted, outcomeDuplicate, outcomeBadSig, outcomeBadBody, outcomeTooLarge, outcomeUnavailable} {
		m.webhooks.WithLabelValues(o) // exported at 0 before the first request
	}
	return m
}
