package syncer

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/services/syncer/internal/backfill"
	"github.com/stripesync/stripesync/services/syncer/internal/reconcile"
)

// Reconciled is what syncer reconcile put on the stream: the listing
// (stripe.reconciliations.listing) whose complete listings the processor
// reconciles, and how many (resource, account) listings its "listing
// complete" markers name.
type Reconciled struct {
	Listing  string
	Listings int
}

// Reconcile is syncer reconcile, for stripesync reconcile: args are the
// command's flags (without the command), and it returns what it put on the
// stream, so that the caller can wait for the processor.
func Reconcile(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) (Reconciled, error) {
	var cfg config
	b := newFlags("reconcile", &cfg)
	b.Describe(about["reconcile"])
	fs := b.FlagSet()
	resources := fs.String("resources", "", "resources to reconcile, comma separated, by Stripe object or relation; default all")
	account := fs.String("account", "", "only this connected account; default the platform and every connected account")
	if err := parse(b, args, getenv, &cfg, true); err != nil {
		return Reconciled{}, err
	}
	req, err := backfill.NewRequest(events.SyncRequest{Resources: splitList(*resources), Account: *account})
	if err != nil {
		return Reconciled{}, fmt.Errorf("config: %w", err)
	}
	display := newDisplay(stdout)
	log := newLogger(cfg, display.logWriter())
	log.Info("starting", "config", &cfg)
	d, err := connect(ctx, cfg, log, cfg.RateLimit)
	if err != nil {
		return Reconciled{}, err
	}
	defer d.close()
	progress := backfill.NewProgress()
	stop := display.start(progress, d.limiter, log)
	start := time.Now()
	out, err := reconcile.Run(ctx, log, d.engine(cfg, progress), events.NewPublisher(d.js), req)
	stop(err)
	log.Info("reconciling backfill finished", "run", req.RunID(), "listing", out.Listing, "listings", out.Listings, "objects", progress.Total(),
		"requests", d.limiter.Requests(), "seconds", time.Since(start).Seconds(), "err", err)
	if err != nil {
		return Reconciled{}, err
	}
	return Reconciled{Listing: out.Listing, Listings: out.Listings}, nil
}

// runBackfill runs req for the fleet's job worker. One without since is a
// complete listing, and reconciling: the processor reconciles it from the
// listing markers it puts on the stream.
func (s *server) runBackfill(ctx context.Context, req backfill.Request) error {
	if !req.Since.IsZero() {
		return s.engine.Run(ctx, req)
	}
	out, err := reconcile.Run(ctx, s.log, s.engine, events.NewPublisher(s.d.js), req)
	if err == nil && out.Listings > 0 {
		s.log.Info("listings complete, to be reconciled by the processor", "run", req.RunID(), "listing", out.Listing, "listings", out.Listings)
	}
	return err
}
