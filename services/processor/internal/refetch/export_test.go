package refetch

import (
	"context"

	"github.com/stripesync/stripesync/services/processor/internal/store"
)

// FetchDue is one round of RunPending, for tests that decide when fetches
// happen.
func (r *Refetcher) FetchDue(ctx context.Context) int { return r.fetchDue(ctx) }

// Settle is what Run does with one queued tie.
func (r *Refetcher) Settle(ctx context.Context, t store.Tie) (outcome string, err error) {
	return r.settle(ctx, t)
}
