package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stripesync/stripesync/db"
	"github.com/stripesync/stripesync/pkg/catalog"
	"github.com/stripesync/stripesync/pkg/events"
)

// StartListing records that a complete listing of the resources m names
// started at publishedAt, when the stream stored m, less startSkew: every
// object of the listing was stored after m, so its row is written after
// that, whichever worker applies it first (see CompleteListing).
func (s *Store) StartListing(ctx context.Context, m events.ListingStarted, publishedAt time.Time) error {
	resources, err := reconcilable(m.Objects)
	if err != nil {
		return permanent(fmt.Errorf("listing started: %w", err))
	}
	return classify(db.StartListings(ctx, s.pool, m.Run, m.Account, resources, publishedAt.Add(-startSkew)))
}

// startSkew allows for the clocks of the JetStream server, which dates m,
// and of PostgreSQL, which dates the rows written. Taking the start
// earlier only leaves a row deleted within it for the next reconciliation;
// a PostgreSQL clock behind by more costs a fetch per row, never a mark.
const startSkew = time.Second

// unlistedPage is the unlisted rows read, and queued, at once.
const unlistedPage = 1000

// CompleteListing reconciles each resource m's listing returned completely
// for its account, in one transaction. Every object the listing published
// is written by the time this runs (the consumer sees to it), and writing
// a row moves its updated_at even when the row keeps a newer state, so the
// live rows last written before the listing started are the ones it did not
// return: each is queued in stripe.pending_fetches, due now, for the
// refetcher to retrieve (a 404 or a deleted object marks it deleted, under
// the version rule; a live one is written again). The listing's count and
// digest are kept beside the mirror's. A listing another one replaced
// since, or completed already (a redelivery), changes nothing.
//
// A row the listing returned whose write began before the start (a clock
// of PostgreSQL behind the stream's by more than startSkew) is queued too:
// one fetch, which finds it alive and writes it again.
func (s *Store) CompleteListing(ctx context.Context, m events.ListingComplete) error {
	objects := make([]string, len(m.Listed))
	for i, l := range m.Listed {
		objects[i] = l.Object
	}
	resources, err := reconcilable(objects)
	if err != nil {
		return permanent(fmt.Errorf("listing complete: %w", err))
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for i, res := range resources {
			if err := completeListing(ctx, tx, res, m, m.Listed[i]); err != nil {
				return err
			}
		}
		return nil
	})
	return classify(err)
}

func completeListing(ctx context.Context, tx pgx.Tx, res *catalog.Resource, m events.ListingComplete, l events.ListedResource) error {
	started, ok, err := db.StartedListing(ctx, tx, res, m.Account)
	switch {
	case err != nil:
		return err
	case !ok:
		return permanent(fmt.Errorf("listing complete of %s for %q: no listing started (run %s)", res.Relation(), m.Account, m.Run))
	case started.Listing != m.Run || started.Completed:
		return nil // replaced by a newer listing, or a redelivery
	}
	scope := db.Scope{Account: m.Account}
	var unlisted int64
	for after := ""; ; {
		rows, err := db.Unlisted(ctx, tx, res, scope, started.StartedAt, after, unlistedPage)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			break
		}
		after = rows[len(rows)-1].ID
		fetches := make([]db.PendingFetch, len(rows))
		for i, r := range rows {
			path, _ := res.RetrievePath(r.ID)
			fetches[i] = db.PendingFetch{Resource: res, ID: r.ID, Account: r.Account, Livemode: r.Livemode, URL: path,
				EventID: db.ReconcileFetchEventID(m.Run), Since: started.StartedAt}
		}
		if err := db.AddPendingFetches(ctx, tx, fetches, 0); err != nil {
			return err
		}
		unlisted += int64(len(rows))
	}
	mirror, err := db.LiveDigests(ctx, tx, res, scope)
	if err != nil {
		return err
	}
	return db.CompleteListing(ctx, tx, db.Reconciliation{Resource: res, Account: m.Account, Listing: m.Run,
		API: db.Digest{Objects: l.Objects, Digest: l.Digest}, Mirror: mirror[m.Account], Unlisted: unlisted})
}

// CompleteList marks deleted the items of m's parent that its whole list,
// as of the parent's state m names, no longer holds, under the version
// rule. It needs no wait for the items to be written: an item the list
// holds is never marked, whenever its row is written.
func (s *Store) CompleteList(ctx context.Context, m events.ListComplete) error {
	var items []*catalog.Resource
	for _, o := range m.Objects {
		res, ok := catalog.Lookup(o)
		if !ok || res.Parent == "" {
			return permanent(fmt.Errorf("list complete: %q is not the item of a nested list", o))
		}
		items = append(items, res)
	}
	at := events.BackfilledAt(m.FetchedAt)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, res := range items {
			if err := db.MarkMissing(ctx, tx, res, []db.CompleteList{{Parent: m.Parent, StateAt: at, Items: m.Items}}); err != nil {
				return err
			}
		}
		return nil
	})
	return classify(err)
}

// reconcilable returns the resources of objects, each of which must be
// reconcilable (catalog.Resource.Reconcilable).
func reconcilable(objects []string) ([]*catalog.Resource, error) {
	if len(objects) == 0 {
		return nil, errors.New("no resources")
	}
	out := make([]*catalog.Resource, len(objects))
	for i, o := range objects {
		res, ok := catalog.Lookup(o)
		switch {
		case !ok:
			return nil, fmt.Errorf("%q is not a mirrored resource", o)
		case !res.Reconcilable():
			return nil, fmt.Errorf("%s cannot be reconciled: its list does not return every object, or Stripe does not retrieve it by id", o)
		}
		out[i] = res
	}
	return out, nil
}

// countReconciled counts f's object as found deleted by the listing that
// queued f, if one did.
func countReconciled(ctx context.Context, tx pgx.Tx, f PendingFetch) error {
	listing, ok := db.ReconcileFetchListing(f.EventID)
	if !ok {
		return nil
	}
	return db.CountReconciledDeletion(ctx, tx, f.Resource, f.Account, listing, f.ID)
}

// Reconciliations returns the last reconciliation of every relation and
// account.
func (s *Store) Reconciliations(ctx context.Context) ([]db.Reconciliation, error) {
	return db.Reconciliations(ctx, s.pool)
}
