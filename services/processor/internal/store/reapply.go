package store

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/stripesync/stripesync/db"
	"github.com/stripesync/stripesync/pkg/catalog"
)

// Row is an object's state as its relation holds it.
type Row = db.Object

// EventPosition is a place in the order Reapply's events are read in.
type EventPosition = db.EventPosition

// StoredEvent is an event of stripe.events, whole, with its position.
type StoredEvent = db.StoredEvent

// Rows returns up to n rows of res whose id sorts after after, in id order.
func (s *Store) Rows(ctx context.Context, res *catalog.Resource, after string, n int) ([]Row, error) {
	return db.ObjectRows(ctx, s.pool, res, after, n)
}

// StoredEvents returns up to n events of stripe.events after pos about
// objects named in objects (Stripe object names), in the order created,
// received, id: the order they were first applied in, but for events of
// one second received in one batch.
func (s *Store) StoredEvents(ctx context.Context, objects []string, pos EventPosition, n int) ([]StoredEvent, error) {
	return db.StoredEvents(ctx, s.pool, objects, pos, n)
}

// Reapply applies events already stored in stripe.events again, in one
// transaction, each as if it were new: the phases of Apply without its
// check that an event was not seen before. The version rule holds as in
// Apply, so a pipeline applying new events at the same time is safe: a
// state older than the stored one changes nothing, and a state as new as
// the stored one is written again with what it holds. Within evs, of two
// states of one object in the same second the later in evs wins; leave out
// the events whose state the stored one already won a tie against.
//
// A thin event is applied again only when it deletes its object: the others
// would make their objects wait for fetches of their current state, which a
// backfill brings at once.
func (s *Store) Reapply(ctx context.Context, evs []Event) (Stats, error) {
	var stats Stats
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var snapshots, deletions []Event
		for _, ev := range evs {
			switch {
			case ev.Thin == nil:
				snapshots = append(snapshots, ev)
			case deletes(ev):
				deletions = append(deletions, ev)
			}
		}
		refs, err := refsOf(snapshots)
		if err != nil {
			return permanent(err)
		}
		states, err := newStates(snapshots, refs, nil, backfilled)
		if err != nil {
			return permanent(err)
		}
		w := writes{own: states}
		w.gone, _ = thinWrites(deletions) // deletions make no fetches
		stats, err = w.apply(ctx, tx, Stats{})
		return err
	})
	if err != nil {
		return Stats{}, classify(err)
	}
	return stats, nil
}

// deletes reports whether the thin event ev says its object is gone.
func deletes(ev Event) bool {
	ro := ev.Thin.RelatedObject
	if ro == nil || ro.ID == "" {
		return false
	}
	res, ok := catalog.Lookup(ro.Type)
	return ok && res.IsDeletedBy(strings.TrimPrefix(ev.Type, "v1."))
}

// Rewrite writes rows of res again, each as the state it holds (as of its
// state_at, by its event), in one transaction, so that the items of its
// nested lists and its embedded objects are read from it again: after the
// catalog's reading of them changed, or an items relation was damaged. The
// version rule holds: a row written since the rows were read is newer and
// stays; a deleted row stays as it is.
func (s *Store) Rewrite(ctx context.Context, res *catalog.Resource, rows []Row) (Stats, error) {
	st := &states{}
	for _, r := range rows {
		st.keep(res, r, false)
	}
	var stats Stats
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		w := writes{own: st}
		stats, err = w.apply(ctx, tx, Stats{})
		return err
	})
	if err != nil {
		return Stats{}, classify(err)
	}
	return stats, nil
}
