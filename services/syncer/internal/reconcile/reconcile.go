// Package reconcile makes a backfill a reconciling one: around a complete
// listing of each account's resources it puts listing markers on the
// stream (pkg/events listing.go), from which the processor, the only
// writer of the mirror, finds the rows Stripe no longer has (README
// "Reconciliation"). The syncer needs no database for it.
//
// For each account the backfill plans, a "listing started" naming its
// reconcilable resources (catalog.Resource.Reconcilable) is stored in the
// stream before the account's first object is published; once the whole
// run has succeeded, a "listing complete" per account carries what the
// listing returned, per resource: the count of ids and their digest
// (catalog.IDHash's xor), two numbers whatever the count. A nested list that
// its parent held cut short and that was paged to its end gets a "list
// complete" with the parent's item ids, so that the processor marks the
// items it no longer holds. A run that resumed an earlier one's checkpoints
// listed only part of the accounts, and puts no marker: the next complete
// run reconciles.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/stripesync/stripesync/pkg/catalog"
	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/services/syncer/internal/backfill"
)

// ErrNotComplete is returned for a request whose listing cannot be
// complete: one with a since.
var ErrNotComplete = errors.New("a listing since a time is not complete: reconciliation needs a backfill without since")

// maxListItems bounds the item ids of one "list complete", so that its
// message stays well under JetStream's 1 MB: a longer list is not
// reconciled (logged).
const maxListItems = 20_000

// Outcome is what a reconciling run put on the stream.
type Outcome struct {
	// Listing names this run's listings in the markers: the backfill run
	// id, which a later run of the same request shares, and when it
	// started.
	Listing string
	// Listings are the (resource, account) listings completed: a "listing
	// complete" names each. Zero when the run resumed an earlier one.
	Listings int
	Resumed  bool
}

// Run backfills req, which must have no since, through engine, with the
// listing markers around it, published through pub.
func Run(ctx context.Context, log *slog.Logger, engine *backfill.Engine, pub *events.Publisher, req backfill.Request) (Outcome, error) {
	if !req.Since.IsZero() {
		return Outcome{}, ErrNotComplete
	}
	listing := req.RunID() + "." + strconv.FormatInt(time.Now().UnixNano(), 36)
	t := &tally{log: log, pub: pub, run: listing, digests: map[key]*digest{}}
	if err := engine.RunObserved(ctx, req, t); err != nil {
		return Outcome{}, err
	}
	if t.resumed {
		log.Info("no reconciliation: the backfill resumed an earlier run, so this one did not list everything", "run", t.run)
		return Outcome{Resumed: true}, nil
	}
	n, err := t.complete(ctx)
	if err != nil {
		return Outcome{}, err
	}
	return Outcome{Listing: listing, Listings: n}, nil
}

type key struct {
	account string
	res     *catalog.Resource
}

// digest is a set of ids in brief (db.Digest's arithmetic).
type digest struct {
	objects int64
	xor     uint64
}

// tally is the Observer of a reconciling run.
type tally struct {
	log *slog.Logger
	pub *events.Publisher
	run string

	mu      sync.Mutex
	resumed bool
	// planned are the reconcilable resources of each account whose
	// "listing started" is on the stream, in planning order.
	planned []events.ListingStarted
	digests map[key]*digest
}

func (t *tally) Resumed() {
	t.mu.Lock()
	t.resumed = true
	t.mu.Unlock()
}

// Planned puts the account's "listing started" on the stream before any
// of its objects.
func (t *tally) Planned(ctx context.Context, account string, resources []*catalog.Resource) error {
	t.mu.Lock()
	resumed := t.resumed
	t.mu.Unlock()
	if resumed {
		return nil
	}
	m := events.ListingStarted{Run: t.run, Account: account}
	for _, res := range resources {
		if res.Reconcilable() {
			m.Objects = append(m.Objects, res.Object)
		}
	}
	if len(m.Objects) == 0 {
		return nil
	}
	msg, err := m.Msg()
	if err != nil {
		return err
	}
	if _, err := t.pub.Publish(ctx, msg); err != nil {
		return fmt.Errorf("listing started: %w", err)
	}
	t.mu.Lock()
	t.planned = append(t.planned, m)
	t.mu.Unlock()
	return nil
}

func (t *tally) Listed(account string, res *catalog.Resource, id string) {
	if !res.Reconcilable() {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	k := key{account, res}
	d := t.digests[k]
	if d == nil {
		d = &digest{}
		t.digests[k] = d
	}
	d.objects++
	d.xor ^= catalog.IDHash(id)
}

// ListComplete puts the parent's whole list on the stream. It does not
// wait for the items to be stored: the processor never marks an item the
// list holds, whenever its row is written.
func (t *tally) ListComplete(ctx context.Context, account string, list catalog.NestedList, parent string, fetchedAt time.Time, items []string) error {
	m := events.ListComplete{Run: t.run, Account: account, Parent: parent, FetchedAt: fetchedAt.UTC(), Items: items}
	for _, o := range list.Items {
		if catalog.MustLookup(o).Parent != "" { // kept as the items of a list (not a connected account's cards)
			m.Objects = append(m.Objects, o)
		}
	}
	if len(m.Objects) == 0 {
		return nil
	}
	if len(items) > maxListItems {
		t.log.Warn("reconcile: nested list too long to reconcile", "parent", parent, "items", len(items), "max", maxListItems)
		return nil
	}
	msg, err := m.Msg()
	if err != nil {
		return err
	}
	if _, err := t.pub.Publish(ctx, msg); err != nil {
		return fmt.Errorf("list complete: %w", err)
	}
	return nil
}

// complete puts a "listing complete" per planned account on the stream,
// and returns the listings it names.
func (t *tally) complete(ctx context.Context) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, s := range t.planned {
		m := events.ListingComplete{Run: t.run, Account: s.Account}
		for _, o := range s.Objects {
			l := events.ListedResource{Object: o}
			if d := t.digests[key{s.Account, catalog.MustLookup(o)}]; d != nil {
				l.Objects, l.Digest = d.objects, d.xor
			}
			m.Listed = append(m.Listed, l)
		}
		msg, err := m.Msg()
		if err != nil {
			return n, err
		}
		if _, err := t.pub.Publish(ctx, msg); err != nil {
			return n, fmt.Errorf("listing complete: %w", err)
		}
		n += len(m.Listed)
	}
	return n, nil
}
