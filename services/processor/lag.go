package processor

import (
	"context"
	"math"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stripesync/stripesync/pkg/events"
)

var (
	lagPendingDesc = prometheus.NewDesc("stripe_sync_processor_consumer_pending_messages",
		"Messages of the stream not delivered to the processor's consumer yet (NumPending).", nil, nil)
	lagAckPendingDesc = prometheus.NewDesc("stripe_sync_processor_consumer_ack_pending_messages",
		"Messages delivered to the processor's consumer and not acknowledged yet: being applied, or held by a processor that died until its AckWait passes.", nil, nil)
	lagRedeliveredDesc = prometheus.NewDesc("stripe_sync_processor_consumer_redelivered_messages",
		"Unacknowledged messages delivered more than once.", nil, nil)
	lagOldestDesc = prometheus.NewDesc("stripe_sync_processor_consumer_oldest_unacked_age_seconds",
		"Age of the oldest message of the stream the consumer has not acknowledged, 0 when every message is.", nil, nil)
)

// lagCollector exports the consumer's lag, read from JetStream when
// scraped (the consumer's info, and the oldest unacknowledged message
// when there is one): two requests per scrape, none per message. When
// JetStream does not answer, the gauges are NaN.
type lagCollector struct {
	stream jetstream.Stream
	cons   jetstream.Consumer
}

func (c lagCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- lagPendingDesc
	ch <- lagAckPendingDesc
	ch <- lagRedeliveredDesc
	ch <- lagOldestDesc
}

func (c lagCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	pending, ackPending, redelivered, oldest := math.NaN(), math.NaN(), math.NaN(), math.NaN()
	if info, err := c.cons.Info(ctx); err == nil {
		pending, ackPending, redelivered = float64(info.NumPending), float64(info.NumAckPending), float64(info.NumRedelivered)
		if lag, err := events.ReadLag(ctx, c.stream, info); err == nil {
			oldest = 0
			if !lag.OldestUnacked.IsZero() {
				oldest = max(time.Since(lag.OldestUnacked).Seconds(), 0)
			}
		}
	}
	ch <- prometheus.MustNewConstMetric(lagPendingDesc, prometheus.GaugeValue, pending)
	ch <- prometheus.MustNewConstMetric(lagAckPendingDesc, prometheus.GaugeValue, ackPending)
	ch <- prometheus.MustNewConstMetric(lagRedeliveredDesc, prometheus.GaugeValue, redelivered)
	ch <- prometheus.MustNewConstMetric(lagOldestDesc, prometheus.GaugeValue, oldest)
}
