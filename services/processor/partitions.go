package processor

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stripesync/stripesync/db"
)

// partitionsInterval is how often the processor maintains the month
// partitions of stripe.events: often enough that a failed round (a lock not
// had in time) is retried long before a month runs out of months ahead.
const partitionsInterval = time.Hour

// maintainPartitions creates stripe.events' months ahead and drops those
// past retention now and every partitionsInterval until ctx is done. A
// round that fails is logged and retried at the next: an event of a month
// without its partition still lands, in the default partition.
func maintainPartitions(ctx context.Context, log *slog.Logger, pool *pgxpool.Pool, retentionMonths int) error {
	t := time.NewTicker(partitionsInterval)
	defer t.Stop()
	for {
		done, err := db.MaintainEventPartitions(ctx, pool, retentionMonths)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			log.Warn("stripe.events partitions not maintained; next try in an hour", "err", err)
		case len(done) > 0:
			log.Info("stripe.events partitions maintained", "done", done, "retention_months", retentionMonths)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
