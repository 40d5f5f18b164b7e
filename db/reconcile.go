package db

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stripesync/stripesync/db/internal/dbsqlc"
	"github.com/stripesync/stripesync/pkg/catalog"
)

// Scope is the accounts a reconciliation covers: every account (All), or
// one ("" for the platform).
type Scope struct {
	All     bool
	Account string
}

// UnlistedRow is a row a complete listing did not return.
type UnlistedRow struct {
	ID       string
	Account  string // "" for the platform
	Livemode bool
}

// Unlisted returns up to n rows of res in scope, not marked deleted and
// last written before before, whose id sorts after after, in id order.
// Every object a listing returns is written by the processor once it
// lands (a backfilled state, or the newer one the row already holds, is
// written again, and updated_at moves), so after a complete listing that
// started at before has landed, these are the rows it did not return.
func Unlisted(ctx context.Context, tx DBTX, res *catalog.Resource, s Scope, before time.Time, after string, n int) ([]UnlistedRow, error) {
	page, ok := objectUnlisted[res.Relation()]
	if !ok {
		return nil, fmt.Errorf("no relation for %s: add its migration and run make generate", res.Object)
	}
	rows, err := page(ctx, tx, s, before, after, n)
	if err != nil {
		return nil, fmt.Errorf("unlisted %s: %w", res.Relation(), err)
	}
	return rows, nil
}

// Digest is a set of ids in brief: how many, and the xor of their catalog.IDHash.
// Two sets with the same Digest are, but for a chance of 2^-48, the same.
type Digest struct {
	Objects int64
	Digest  uint64
}

// Add puts id in the set. An id added twice leaves it, and the count is
// one too high: a listing returns each object once.
func (d *Digest) Add(id string) {
	d.Objects++
	d.Digest ^= catalog.IDHash(id)
}

// accountDigest has the fields of every generated <Relation>DigestRow.
type accountDigest struct {
	Account string
	Objects int64
	Digest  int64
}

// LiveDigests returns the Digest of the ids of res's rows not marked
// deleted, for each account in scope that has one ("" for the platform).
// It reads the relation once.
func LiveDigests(ctx context.Context, tx DBTX, res *catalog.Resource, s Scope) (map[string]Digest, error) {
	digests, ok := objectDigests[res.Relation()]
	if !ok {
		return nil, fmt.Errorf("no relation for %s: add its migration and run make generate", res.Object)
	}
	rows, err := digests(ctx, tx, s)
	if err != nil {
		return nil, fmt.Errorf("digest %s: %w", res.Relation(), err)
	}
	out := make(map[string]Digest, len(rows))
	for _, r := range rows {
		out[r.Account] = Digest{Objects: r.Objects, Digest: uint64(r.Digest)}
	}
	return out, nil
}

// Now is the database's clock, which writes updated_at.
func Now(ctx context.Context, tx DBTX) (time.Time, error) {
	now, err := queries.DatabaseNow(ctx, tx)
	if err != nil {
		return time.Time{}, fmt.Errorf("database clock: %w", err)
	}
	return now, nil
}

// StartListings records that listing starts a complete listing of each of
// resources for account at startedAt: the rows not written since, once
// the listing has landed, are the ones it did not return. A second start
// of the same listing changes nothing.
func StartListings(ctx context.Context, tx DBTX, listing, account string, resources []*catalog.Resource, startedAt time.Time) error {
	arg := dbsqlc.ReconciliationStartParams{Account: account, Listing: listing, StartedAt: startedAt}
	for _, res := range resources {
		arg.Relations = append(arg.Relations, res.Relation())
	}
	if err := queries.ReconciliationStart(ctx, tx, arg); err != nil {
		return fmt.Errorf("start listings: %w", err)
	}
	return nil
}

// ListingStart is the newest listing started of a relation for an account.
type ListingStart struct {
	Listing   string
	StartedAt time.Time
	Completed bool
}

// StartedListing returns the newest listing of res started for account;
// ok is false when none was.
func StartedListing(ctx context.Context, tx DBTX, res *catalog.Resource, account string) (s ListingStart, ok bool, err error) {
	row, err := queries.ReconciliationStarted(ctx, tx, dbsqlc.ReconciliationStartedParams{Relation: res.Relation(), Account: account})
	if errors.Is(err, pgx.ErrNoRows) {
		return ListingStart{}, false, nil
	}
	if err != nil {
		return ListingStart{}, false, fmt.Errorf("started listing of %s: %w", res.Relation(), err)
	}
	return ListingStart{Listing: row.Listing, StartedAt: row.StartedAt, Completed: row.CompletedAt.Valid}, true, nil
}

// reconcileFetchPrefix starts the event id of a pending fetch queued by a
// reconciliation: reconcile:<listing>.
const reconcileFetchPrefix = "reconcile:"

// ReconcileFetchEventID is the event id of the pending fetches listing
// queues for the rows it did not return.
func ReconcileFetchEventID(listing string) string { return reconcileFetchPrefix + listing }

// ReconcileFetchListing returns the listing that queued a pending fetch
// whose event id is eventID; ok is false for a fetch an event queued.
func ReconcileFetchListing(eventID string) (listing string, ok bool) {
	return strings.CutPrefix(eventID, reconcileFetchPrefix)
}

// Reconciliation is the outcome of reconciling one relation of one account
// with Stripe.
type Reconciliation struct {
	Resource *catalog.Resource
	Account  string // "" for the platform
	// Listing is the backfill run that listed; ListedAt when its "listing
	// started" was applied, by the database's clock.
	Listing  string
	ListedAt time.Time
	// CompletedAt is when the listing completed, zero while a newer one
	// (Listing) is under way; set when read.
	CompletedAt time.Time
	// API is what the listing returned, Mirror the live rows when it
	// completed less those the refetcher has marked deleted since.
	API, Mirror Digest
	// Unlisted are the live rows the listing did not return, queued for
	// retrieval; MarkedDeleted those of them Stripe no longer has, and
	// Waiting those still to be retrieved (set when read).
	Unlisted, MarkedDeleted, Waiting int64
}

// CompleteListing keeps r as the outcome of its listing, unless another
// listing started since or this one is completed already.
func CompleteListing(ctx context.Context, tx DBTX, r Reconciliation) error {
	err := queries.ReconciliationComplete(ctx, tx, dbsqlc.ReconciliationCompleteParams{
		Relation: r.Resource.Relation(), Account: r.Account, Listing: r.Listing,
		ApiObjects: r.API.Objects, ApiDigest: int64(r.API.Digest),
		MirrorObjects: r.Mirror.Objects, MirrorDigest: int64(r.Mirror.Digest), Unlisted: r.Unlisted,
	})
	if err != nil {
		return fmt.Errorf("complete listing of %s: %w", r.Resource.Relation(), err)
	}
	return nil
}

// CountReconciledDeletion counts id, a row of res that listing did not
// return, as found deleted at Stripe: one more marked deleted, one less on
// the mirror's side.
func CountReconciledDeletion(ctx context.Context, tx DBTX, res *catalog.Resource, account, listing, id string) error {
	err := queries.ReconciliationMarked(ctx, tx, dbsqlc.ReconciliationMarkedParams{
		Relation: res.Relation(), Account: account, Listing: listing, ID: id})
	if err != nil {
		return fmt.Errorf("count reconciled deletion: %w", err)
	}
	return nil
}

// Reconciliations returns the last completed reconciliation of every
// relation and account, by relation then account, also while a newer
// listing is under way. A relation the catalog
// no longer knows is left out.
func Reconciliations(ctx context.Context, tx DBTX) ([]Reconciliation, error) {
	rows, err := queries.ReconciliationList(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("read reconciliations: %w", err)
	}
	waiting, err := queries.ReconciliationWaiting(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("read reconciliations: %w", err)
	}
	type key struct{ relation, account, listing string }
	waits := map[key]int64{}
	for _, w := range waiting {
		if res, ok := catalog.Lookup(w.Object); ok {
			waits[key{res.Relation(), w.Account, w.Listing}] += w.Waiting
		}
	}
	out := make([]Reconciliation, 0, len(rows))
	for _, r := range rows {
		res, err := catalog.Find(r.Relation)
		if err != nil {
			continue
		}
		out = append(out, Reconciliation{
			Resource: res, Account: r.Account, Listing: r.Listing, ListedAt: r.ListedAt, CompletedAt: r.CompletedAt.Time,
			API:      Digest{Objects: r.ApiObjects, Digest: uint64(r.ApiDigest)},
			Mirror:   Digest{Objects: r.MirrorObjects, Digest: uint64(r.MirrorDigest)},
			Unlisted: r.Unlisted, MarkedDeleted: r.MarkedDeleted, Waiting: waits[key{r.Relation, r.Account, r.Listing}],
		})
	}
	return out, nil
}
