package db

import (
	"context"
	"fmt"

	"github.com/stripesync/stripesync/db/internal/dbsqlc"
)

// EventMonthsAhead is how many months after the current one have their
// partition of stripe.events ready: a month's partition exists well before
// its first event, whatever the hour of the maintenance.
const EventMonthsAhead = 2

// MinEventRetentionMonths is the shortest retention MaintainEventPartitions
// accepts: the two months before the current one are kept whole (59 days at
// least), so that every event Stripe may still deliver (it retries for three
// days) or the Events API still lists (30 days) finds its stored copy and is
// not applied twice.
const MinEventRetentionMonths = 2

// MaintainEventPartitions creates the month partitions of stripe.events from
// the current month to EventMonthsAhead months later, moving into them any
// events the default partition holds for them, and, with retentionMonths > 0,
// drops the months that ended more than retentionMonths months before the
// current one began. It returns what it did, one line per partition. It
// waits for locks a few seconds at most; when it cannot get them it fails
// and changes nothing.
func MaintainEventPartitions(ctx context.Context, tx DBTX, retentionMonths int) ([]string, error) {
	if retentionMonths != 0 && retentionMonths < MinEventRetentionMonths {
		return nil, fmt.Errorf("events retention of %d months: keep at least %d, or 0 for every month", retentionMonths, MinEventRetentionMonths)
	}
	done, err := queries.EventPartitionsMaintain(ctx, tx, dbsqlc.EventPartitionsMaintainParams{
		Ahead: EventMonthsAhead, RetentionMonths: int32(retentionMonths)})
	if err != nil {
		return nil, fmt.Errorf("maintain stripe.events partitions: %w", err)
	}
	return done, nil
}
