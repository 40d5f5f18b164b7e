package syncer

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stripesync/stripesync/db"
	"github.com/stripesync/stripesync/services/syncer/internal/backfill"
)

// reconcileOnce is syncer reconcile: a complete listing of req, reconciled,
// and a table of the outcome.
func reconcileOnce(ctx context.Context, cfg config, req backfill.Request, stdout io.Writer) error {
	display := newDisplay(stdout)
	log := newLogger(cfg, display.logWriter())
	log.Info("starting", "config", &cfg)
	d, err := connect(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer d.close()
	progress := backfill.NewProgress()
	stop := display.start(progress, d.limiter, log)
	recs, err := d.reconciler(cfg, d.engine(cfg, progress)).Run(ctx, req)
	stop(err)
	if err != nil {
		return err
	}
	printReconciliations(stdout, recs)
	return nil
}

// printReconciliations writes one line per relation and account.
func printReconciliations(w io.Writer, recs []db.Reconciliation) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "relation\taccount\tlisted\tmirror\tdigests\tretrieved\tmarked deleted\tunchecked")
	for _, r := range recs {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%d\t%d\t%d\n", r.Resource.Relation(), accountLabel(r.Account), r.API.Objects, r.Mirror.Objects,
			digestsAgree(r), r.Retrieved, r.MarkedDeleted, r.Unchecked)
	}
	_ = tw.Flush()
}

func digestsAgree(r db.Reconciliation) string {
	if r.API == r.Mirror {
		return "agree"
	}
	return "differ"
}

func accountLabel(a string) string {
	if a == "" {
		return "platform"
	}
	return a
}

// runBackfill runs req. One without since is a complete listing, and is
// reconciled afterwards when the syncer has the mirror's database
// (DATABASE_URL); the fleet's worker calls it for every request it takes.
func (s *server) runBackfill(ctx context.Context, req backfill.Request) error {
	if s.reconciler == nil || !req.Since.IsZero() {
		return s.engine.Run(ctx, req)
	}
	recs, err := s.reconciler.Run(ctx, req)
	var marked int64
	for _, r := range recs {
		marked += r.MarkedDeleted
	}
	if len(recs) > 0 {
		s.log.Info("reconciled", "run", req.RunID(), "relations_accounts", len(recs), "marked_deleted", marked)
	}
	return err
}

var (
	reconcileObjectsDesc = prometheus.NewDesc("stripe_sync_syncer_reconcile_objects",
		"Objects of the last reconciliation per relation and account: side api is what the complete listing returned, side mirror the rows not marked deleted afterwards.",
		[]string{"relation", "account", "side"}, nil)
	reconcileDigestDesc = prometheus.NewDesc("stripe_sync_syncer_reconcile_digest",
		"Digest (xor of 48-bit hashes) of the ids counted by stripe_sync_syncer_reconcile_objects: equal sides hold the same ids.",
		[]string{"relation", "account", "side"}, nil)
	reconcileMarkedDesc = prometheus.NewDesc("stripe_sync_syncer_reconcile_marked_deleted",
		"Rows the last reconciliation marked deleted: the listing did not return them, and Stripe no longer has them.",
		[]string{"relation", "account"}, nil)
	reconcileUncheckedDesc = prometheus.NewDesc("stripe_sync_syncer_reconcile_unchecked",
		"Rows the last listing did not return whose retrieval failed: left as they are.",
		[]string{"relation", "account"}, nil)
	reconcileListedDesc = prometheus.NewDesc("stripe_sync_syncer_reconcile_listed_timestamp_seconds",
		"When the listing of the last reconciliation started.", []string{"relation", "account"}, nil)
)

// reconcileCollector exports the last reconciliations, read from the
// mirror at each scrape: the same on every replica, and kept across
// restarts. Mind the series: one per relation and account.
type reconcileCollector struct {
	db  db.DBTX
	log interface{ Warn(string, ...any) }
}

func (c reconcileCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{reconcileObjectsDesc, reconcileDigestDesc, reconcileMarkedDesc, reconcileUncheckedDesc, reconcileListedDesc} {
		ch <- d
	}
}

func (c reconcileCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	recs, err := db.Reconciliations(ctx, c.db)
	if err != nil {
		c.log.Warn("metrics: read reconciliations", "err", err)
		return
	}
	g := prometheus.GaugeValue
	for _, r := range recs {
		rel, acct := r.Resource.Relation(), accountLabel(r.Account)
		ch <- prometheus.MustNewConstMetric(reconcileObjectsDesc, g, float64(r.API.Objects), rel, acct, "api")
		ch <- prometheus.MustNewConstMetric(reconcileObjectsDesc, g, float64(r.Mirror.Objects), rel, acct, "mirror")
		ch <- prometheus.MustNewConstMetric(reconcileDigestDesc, g, float64(r.API.Digest), rel, acct, "api")
		ch <- prometheus.MustNewConstMetric(reconcileDigestDesc, g, float64(r.Mirror.Digest), rel, acct, "mirror")
		ch <- prometheus.MustNewConstMetric(reconcileMarkedDesc, g, float64(r.MarkedDeleted), rel, acct)
		ch <- prometheus.MustNewConstMetric(reconcileUncheckedDesc, g, float64(r.Unchecked), rel, acct)
		ch <- prometheus.MustNewConstMetric(reconcileListedDesc, g, float64(r.ListedAt.Unix()), rel, acct)
	}
}
