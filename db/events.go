package db

import (
	"context"
	"fmt"
	"time"
)

// EventReceipt is how stripe.events holds one event id.
type EventReceipt struct {
	// Copies is the number of rows holding the id: 1, as the primary key
	// on id allows no other number.
	Copies int
	// ReceivedAt is when the (first) row was written.
	ReceivedAt time.Time
}

// EventReceipts returns the receipt of each of ids that is stored; an id
// missing from the result is not in stripe.events.
func EventReceipts(ctx context.Context, tx DBTX, ids []string) (map[string]EventReceipt, error) {
	rows, err := queries.EventReceipts(ctx, tx, ids)
	if err != nil {
		return nil, fmt.Errorf("event receipts: %w", err)
	}
	out := make(map[string]EventReceipt, len(rows))
	for _, r := range rows {
		out[r.ID] = EventReceipt{Copies: int(r.Copies), ReceivedAt: r.ReceivedAt}
	}
	return out, nil
}

// EventsNotAmong returns the ids of the stored events that are not among
// ids, in id order: what a mirror holds beyond an event set it was given.
func EventsNotAmong(ctx context.Context, tx DBTX, ids []string) ([]string, error) {
	out, err := queries.EventIDsNotAmong(ctx, tx, ids)
	if err != nil {
		return nil, fmt.Errorf("events not among %d ids: %w", len(ids), err)
	}
	return out, nil
}
