package processor

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stripesync/stripesync/services/processor/internal/store"
)

var (
	reconcileObjectsDesc = prometheus.NewDesc("stripe_sync_processor_reconcile_objects",
		"Objects of the last reconciliation per relation and account: side api is what the complete listing returned, side mirror the rows not marked deleted when it completed, less those since found deleted.",
		[]string{"relation", "account", "side"}, nil)
	reconcileDigestDesc = prometheus.NewDesc("stripe_sync_processor_reconcile_digest",
		"Digest (xor of 48-bit hashes) of the ids counted by stripe_sync_processor_reconcile_objects: equal sides hold the same ids.",
		[]string{"relation", "account", "side"}, nil)
	reconcileUnlistedDesc = prometheus.NewDesc("stripe_sync_processor_reconcile_unlisted",
		"Live rows the last complete listing did not return, queued for retrieval.", []string{"relation", "account"}, nil)
	reconcileMarkedDesc = prometheus.NewDesc("stripe_sync_processor_reconcile_marked_deleted",
		"Rows the last complete listing did not return that Stripe no longer has, marked deleted.", []string{"relation", "account"}, nil)
	reconcileWaitingDesc = prometheus.NewDesc("stripe_sync_processor_reconcile_waiting",
		"Rows the last complete listing did not return still waiting for their retrieval.", []string{"relation", "account"}, nil)
	reconcileListedDesc = prometheus.NewDesc("stripe_sync_processor_reconcile_listed_timestamp_seconds",
		"When the listing of the last reconciliation started.", []string{"relation", "account"}, nil)
)

// reconcileCollector exports the last reconciliations, read from
// stripe.reconciliations at each scrape: the same on every replica, and
// kept across restarts. Mind the series: one per relation and account.
type reconcileCollector struct {
	store *store.Store
	log   *slog.Logger
}

func (c reconcileCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{reconcileObjectsDesc, reconcileDigestDesc, reconcileUnlistedDesc, reconcileMarkedDesc, reconcileWaitingDesc, reconcileListedDesc} {
		ch <- d
	}
}

func (c reconcileCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	recs, err := c.store.Reconciliations(ctx)
	if err != nil {
		c.log.Warn("metrics: read reconciliations", "err", err)
		return
	}
	g := prometheus.GaugeValue
	for _, r := range recs {
		rel, acct := r.Resource.Relation(), r.Account
		if acct == "" {
			acct = "platform"
		}
		ch <- prometheus.MustNewConstMetric(reconcileObjectsDesc, g, float64(r.API.Objects), rel, acct, "api")
		ch <- prometheus.MustNewConstMetric(reconcileObjectsDesc, g, float64(r.Mirror.Objects), rel, acct, "mirror")
		ch <- prometheus.MustNewConstMetric(reconcileDigestDesc, g, float64(r.API.Digest), rel, acct, "api")
		ch <- prometheus.MustNewConstMetric(reconcileDigestDesc, g, float64(r.Mirror.Digest), rel, acct, "mirror")
		ch <- prometheus.MustNewConstMetric(reconcileUnlistedDesc, g, float64(r.Unlisted), rel, acct)
		ch <- prometheus.MustNewConstMetric(reconcileMarkedDesc, g, float64(r.MarkedDeleted), rel, acct)
		ch <- prometheus.MustNewConstMetric(reconcileWaitingDesc, g, float64(r.Waiting), rel, acct)
		ch <- prometheus.MustNewConstMetric(reconcileListedDesc, g, float64(r.ListedAt.Unix()), rel, acct)
	}
}
