package db

import (
	"context"
	"fmt"
	"time"

	"github.com/stripesync/stripesync/db/internal/dbsqlc"
	"github.com/stripesync/stripesync/pkg/catalog"
)

// PendingFetch is an object whose current state must be fetched from the
// API, because an event named it without a snapshot of it.
type PendingFetch struct {
	Resource *catalog.Resource
	ID       string
	Account  string // "" for the platform
	Livemode bool
	// URL is where the API returns the object (the related object's url).
	URL string
	// EventID is the newest event naming the object.
	EventID string
	// Since is the created time of the newest event naming it: a state as
	// of then or later settles it.
	Since time.Time
	// Generation and Attempts are set by ClaimPendingFetches.
	Generation int64
	Attempts   int32
}

// AddPendingFetches records objects to fetch, due after delay; an object
// already waiting stays due when it was.
func AddPendingFetches(ctx context.Context, tx DBTX, fetches []PendingFetch, delay time.Duration) error {
	arg := dbsqlc.PendingFetchAddBatchParams{DelaySeconds: delay.Seconds()}
	for _, f := range fetches {
		arg.Objects = append(arg.Objects, f.Resource.Object)
		arg.Ids = append(arg.Ids, f.ID)
		arg.Accounts = append(arg.Accounts, f.Account)
		arg.Livemodes = append(arg.Livemodes, f.Livemode)
		arg.Urls = append(arg.Urls, f.URL)
		arg.EventIds = append(arg.EventIds, f.EventID)
		arg.Sinces = append(arg.Sinces, f.Since)
	}
	if err := queries.PendingFetchAddBatch(ctx, tx, arg); err != nil {
		return fmt.Errorf("add pending fetches: %w", err)
	}
	return nil
}

// ClaimPendingFetches leases up to max objects that are due, for lease.
func ClaimPendingFetches(ctx context.Context, tx DBTX, max int, lease time.Duration) ([]PendingFetch, error) {
	rows, err := queries.PendingFetchClaim(ctx, tx, dbsqlc.PendingFetchClaimParams{LeaseSeconds: lease.Seconds(), Max: int32(max)})
	if err != nil {
		return nil, fmt.Errorf("claim pending fetches: %w", err)
	}
	out := make([]PendingFetch, 0, len(rows))
	for _, r := range rows {
		res, ok := catalog.Lookup(r.Object)
		if !ok {
			return nil, fmt.Errorf("pending fetch of %q, which the catalog does not hold", r.Object)
		}
		out = append(out, PendingFetch{Resource: res, ID: r.ID, Account: r.Account, Livemode: r.Livemode, URL: r.Url,
			EventID: r.EventID, Since: r.Since, Generation: r.Generation, Attempts: r.Attempts})
	}
	return out, nil
}

// DonePendingFetch removes f once fetched, unless an event came after the
// one it was claimed for.
func DonePendingFetch(ctx context.Context, tx DBTX, f PendingFetch) error {
	err := queries.PendingFetchDone(ctx, tx, dbsqlc.PendingFetchDoneParams{Object: f.Resource.Object, ID: f.ID, Account: f.Account, Generation: f.Generation})
	if err != nil {
		return fmt.Errorf("pending fetch done: %w", err)
	}
	return nil
}

// RetryPendingFetch makes f due again after delay, keeping why it failed.
func RetryPendingFetch(ctx context.Context, tx DBTX, f PendingFetch, delay time.Duration, reason string) error {
	err := queries.PendingFetchRetry(ctx, tx, dbsqlc.PendingFetchRetryParams{
		Object: f.Resource.Object, ID: f.ID, Account: f.Account, DelaySeconds: delay.Seconds(), LastError: reason})
	if err != nil {
		return fmt.Errorf("retry pending fetch: %w", err)
	}
	return nil
}

// SettlePendingFetches removes the objects of res that the states written
// settle: states as new as every event naming them.
func SettlePendingFetches(ctx context.Context, tx DBTX, res *catalog.Resource, written []Object) error {
	var arg dbsqlc.PendingFetchSettleParams
	for _, o := range written {
		arg.Objects = append(arg.Objects, res.Object)
		arg.Ids = append(arg.Ids, o.ID)
		arg.Accounts = append(arg.Accounts, o.Account)
		arg.StateAts = append(arg.StateAts, o.StateAt)
	}
	if err := queries.PendingFetchSettle(ctx, tx, arg); err != nil {
		return fmt.Errorf("settle pending fetches: %w", err)
	}
	return nil
}

// PendingFetchStats are the objects waiting for a fetch, and the created
// time of the oldest event among them (now when none waits).
func PendingFetchStats(ctx context.Context, tx DBTX) (waiting int64, oldest time.Time, err error) {
	row, err := queries.PendingFetchStats(ctx, tx)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("pending fetch stats: %w", err)
	}
	return row.Waiting, row.Oldest, nil
}
