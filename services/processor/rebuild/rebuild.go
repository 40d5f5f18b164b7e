// Package rebuild derives relations of the mirror again from what is
// stored, through the processor's store (the only writer) and under the
// version rule, so the pipeline may keep running: after a rule changed (how
// nested items or embedded objects are read) or a relation was damaged.
//
// It is a package of the processor module, outside internal, so that
// stripesync rebuild can call it; it reaches the store through the store's
// own entry points (Reapply, Rewrite) and adds no SQL rule of its own.
package rebuild

import (
	"context"
	"crypto/sha256"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stripesync/stripesync/pkg/catalog"
	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/services/processor/internal/store"
)

// DefaultBatchSize is the number of events or rows written per transaction.
const DefaultBatchSize = 500

// Change is what a rebuild changed in one relation, found by comparing the
// relation before and after (so a change the pipeline made meanwhile counts
// too).
type Change struct {
	Resource *catalog.Resource
	Rows     int // rows after the rebuild
	// Rewritten are rows present before whose state (data, state_at, event)
	// changed, deletions aside.
	Rewritten int
	// Added are rows that were not there before: items read from a parent
	// again, objects restored from their events.
	Added int
	// Deleted are rows marked deleted by the rebuild: items a complete list
	// no longer holds (missing), objects whose deleting event was applied
	// again.
	Deleted int
}

// Report is what Run did.
type Report struct {
	// Objects are the object messages of the stream applied again;
	// Skipped those it could not apply (the processor's dead letters).
	Objects, Skipped int
	Events           int      // stored events applied again
	Rewritten        int      // rows written again so that what they hold is read again
	Changes          []Change // per relation read or written, in catalog order
}

// Sources returns the resources whose stored states make the relations of
// named: each one, and the parents whose nested lists or embedded fields
// hold it. Empty named means every resource.
func Sources(named []*catalog.Resource) []*catalog.Resource {
	if len(named) == 0 {
		return catalog.All()
	}
	var out []*catalog.Resource
	for _, r := range catalog.All() {
		holds := func(n *catalog.Resource) bool {
			return r == n ||
				slices.ContainsFunc(r.Nested, func(l catalog.NestedList) bool { return slices.Contains(l.Items, n.Object) }) ||
				slices.ContainsFunc(r.Embedded, func(e catalog.Embedded) bool { return e.Object == n.Object })
		}
		if slices.ContainsFunc(named, holds) {
			out = append(out, r)
		}
	}
	return out
}

// written returns sources and every resource they hold: the relations a
// rebuild of sources may write.
func written(sources []*catalog.Resource) []*catalog.Resource {
	set := map[*catalog.Resource]bool{}
	for _, r := range sources {
		set[r] = true
		for _, l := range r.Nested {
			for _, it := range l.Items {
				if res, ok := catalog.Lookup(it); ok {
					set[res] = true
				}
			}
		}
		for _, e := range r.Embedded {
			if res, ok := catalog.Lookup(e.Object); ok {
				set[res] = true
			}
		}
	}
	all := catalog.All()
	return slices.SortedFunc(maps.Keys(set), func(a, b *catalog.Resource) int {
		return slices.Index(all, a) - slices.Index(all, b)
	})
}

// Options tune Run.
type Options struct {
	// BatchSize is the number of events, objects or rows per transaction;
	// DefaultBatchSize when 0.
	BatchSize int
	// Stream, when set, is the stream whose object messages (backfilled
	// objects, which no stored event holds) are applied again first.
	Stream jetstream.Stream
}

// Run rebuilds the relations of named (every relation when empty) from what
// pool (and opts.Stream) holds, in passes through the store, a batch at a
// time:
//
//  0. with opts.Stream, the object messages it still holds of those
//     relations and the ones their objects hold, applied again as the
//     processor applied them (see reapplyObjects).
//  1. the stored events about their objects (Sources), in created order,
//     each applied again as if new: a row missing or holding an older state
//     gets the newest state its events give. Events older than a row's
//     state, and events of a row's second that it already won over, are
//     left out: they could not change it, or would undo a tie Apply
//     decided in stream order, which stripe.events does not record.
//  2. every row of the sources written again as the state it holds, so
//     that the items of its nested lists and its embedded objects are read
//     from it again, and items its complete lists no longer hold are marked
//     missing. This also covers rows from backfills, which no event holds.
//
// Neither pass can make a state older or undo a deletion, so the pipeline
// may keep writing meanwhile.
func Run(ctx context.Context, pool *pgxpool.Pool, named []*catalog.Resource, opts Options) (Report, error) {
	batchSize := opts.BatchSize
	if batchSize <= 0 {
		batchSize = DefaultBatchSize
	}
	s := store.New(pool)
	sources := Sources(named)
	touched := written(sources)
	before, err := snapshot(ctx, s, touched, batchSize)
	if err != nil {
		return Report{}, err
	}
	var rep Report
	if opts.Stream != nil {
		want := map[*catalog.Resource]bool{}
		for _, r := range touched {
			want[r] = true
		}
		if rep.Objects, rep.Skipped, err = reapplyObjects(ctx, s, opts.Stream, want, batchSize); err != nil {
			return rep, err
		}
	}
	if rep.Events, err = reapplyEvents(ctx, s, sources, before, batchSize); err != nil {
		return rep, err
	}
	for _, res := range sources {
		n, err := rewrite(ctx, s, res, batchSize)
		rep.Rewritten += n
		if err != nil {
			return rep, err
		}
	}
	after, err := snapshot(ctx, s, touched, batchSize)
	if err != nil {
		return rep, err
	}
	for _, res := range touched {
		rep.Changes = append(rep.Changes, diff(res, before[res], after[res]))
	}
	return rep, nil
}

// version is what a snapshot keeps of a row: enough to tell whether it
// changed, and to leave out events that cannot change it.
type version struct {
	stateAt time.Time
	eventID string
	deleted bool
	sum     [sha256.Size]byte // of data
}

type versions map[string]version

func snapshot(ctx context.Context, s *store.Store, resources []*catalog.Resource, batchSize int) (map[*catalog.Resource]versions, error) {
	out := make(map[*catalog.Resource]versions, len(resources))
	for _, res := range resources {
		vs := versions{}
		for after := ""; ; {
			rows, err := s.Rows(ctx, res, after, batchSize)
			if err != nil {
				return nil, err
			}
			for _, r := range rows {
				vs[r.ID] = version{stateAt: r.StateAt, eventID: r.EventID, deleted: r.Deleted, sum: sha256.Sum256(r.Data)}
			}
			if len(rows) < batchSize {
				break
			}
			after = rows[len(rows)-1].ID
		}
		out[res] = vs
	}
	return out, nil
}

func reapplyEvents(ctx context.Context, s *store.Store, sources []*catalog.Resource, before map[*catalog.Resource]versions, batchSize int) (int, error) {
	objects := make([]string, len(sources))
	for i, r := range sources {
		objects[i] = r.Object
	}
	applied := 0
	for pos := (store.EventPosition{}); ; {
		stored, err := s.StoredEvents(ctx, objects, pos, batchSize)
		if err != nil {
			return applied, err
		}
		var batch []store.Event
		for _, se := range stored {
			env, err := events.ParseEnvelope(se.Data)
			if err != nil {
				return applied, fmt.Errorf("stored event %s: %w", se.ID, err)
			}
			ev := store.Event{Envelope: env, Raw: se.Data}
			if !outdated(ev, before) {
				batch = append(batch, ev)
			}
		}
		if len(batch) > 0 {
			if _, err := s.Reapply(ctx, batch); err != nil {
				return applied, fmt.Errorf("apply events again: %w", err)
			}
			applied += len(batch)
		}
		if len(stored) < batchSize {
			return applied, nil
		}
		pos = stored[len(stored)-1].EventPosition
	}
}

// outdated reports whether the snapshot event ev cannot change its object's
// row as the snapshot saw it: the row is deleted, newer, or as new and
// written by another event (a tie decided in stream order).
func outdated(ev store.Event, before map[*catalog.Resource]versions) bool {
	if ev.Thin != nil {
		return false
	}
	ref, err := catalog.ParseRef(ev.Object)
	if err != nil {
		return false // Reapply says why
	}
	res, ok := catalog.Lookup(ref.Object)
	if !ok {
		return true
	}
	v, ok := before[res][ref.ID]
	switch {
	case !ok:
		return false
	case v.deleted || ev.Created.Before(v.stateAt):
		return true
	default:
		return ev.Created.Equal(v.stateAt) && v.eventID != ev.ID
	}
}

// rewrite writes every row of res again as the state it holds; deleted rows
// are left as they are.
func rewrite(ctx context.Context, s *store.Store, res *catalog.Resource, batchSize int) (int, error) {
	n := 0
	for after := ""; ; {
		rows, err := s.Rows(ctx, res, after, batchSize)
		if err != nil {
			return n, err
		}
		live := slices.DeleteFunc(slices.Clone(rows), func(r store.Row) bool { return r.Deleted })
		if len(live) > 0 {
			if _, err := s.Rewrite(ctx, res, live); err != nil {
				return n, fmt.Errorf("write %s again: %w", res.Relation(), err)
			}
			n += len(live)
		}
		if len(rows) < batchSize {
			return n, nil
		}
		after = rows[len(rows)-1].ID
	}
}

func diff(res *catalog.Resource, before, after versions) Change {
	c := Change{Resource: res, Rows: len(after)}
	for id, a := range after {
		b, ok := before[id]
		switch {
		case !ok:
			c.Added++
		case a.deleted && !b.deleted:
			c.Deleted++
		case a.sum != b.sum || !a.stateAt.Equal(b.stateAt) || a.eventID != b.eventID:
			c.Rewritten++
		}
	}
	return c
}
