// Package store writes Stripe events and the objects they carry into the
// mirror. It is the only writer of schema stripe; it speaks to PostgreSQL
// through db's verbs only.
package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stripesync/stripesync/db"
	"github.com/stripesync/stripesync/pkg/catalog"
	"github.com/stripesync/stripesync/pkg/events"
)

// Event is a Stripe event to apply: its envelope and its original bytes.
type Event struct {
	events.Envelope
	Raw []byte
}

// Batch is what one transaction applies: events (from webhooks and the
// Events API) and objects fetched from the API (backfills).
type Batch struct {
	Events  []Event
	Objects []events.Object
}

// Len is the number of events and objects in b.
func (b Batch) Len() int { return len(b.Events) + len(b.Objects) }

// Stats counts what one Apply did.
type Stats struct {
	Stored     int // events not seen before, now stored with their objects
	Duplicates int // events already stored, left alone
	// Applied are the object states written to their relations: the
	// objects of new events and fetched objects that the version rule let
	// through, and the items and embedded objects they hold.
	Applied int
	// Stale are the states of events and fetched objects that the version
	// rule refused: their relation, or another message of the batch, held
	// a newer state of the object or its deletion. (The items and embedded
	// objects of states written are not counted.)
	Stale int
	// Ties are the objects written by an event created in the same second
	// as the event that wrote their previous state: the version rule kept
	// the later in stream order, which may not be the later at Stripe.
	Ties []Tie
}

// Tie names an object whose stored state the version rule could not order.
type Tie struct {
	Resource *catalog.Resource
	ID       string
	Account  string
	Livemode bool
}

// Store applies events to the mirror.
type Store struct {
	pool       *pgxpool.Pool
	fetchDelay time.Duration
}

// Option changes a Store from its defaults.
type Option func(*Store)

// WithFetchDelay makes the objects of thin events wait delay, instead of
// FetchDelay, before they are fetched. Tests that settle every fetch at
// once use 0.
func WithFetchDelay(delay time.Duration) Option { return func(s *Store) { s.fetchDelay = delay } }

// New returns a Store writing through pool.
func New(pool *pgxpool.Pool, opts ...Option) *Store {
	s := &Store{pool: pool, fetchDelay: FetchDelay}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Apply stores b in one transaction: each event once in stripe.events, the
// object of each event seen for the first time, and each fetched object, in
// its resource's relation, under the version rule:
//
//   - An object's state is as new as the event's created time, or as the
//     request that fetched it (state_at).
//     A row is replaced only by state at least as new as the state it holds,
//     so an older event delivered late changes nothing. Stripe's created has
//     one-second resolution; two events of one object in the same second are
//     applied in stream order, the later one winning.
//   - A deletion (an event type the catalog lists in the resource's Deletes,
//     or a deleted stub) marks the row deleted and keeps it; nothing written
//     after that changes it.
//   - An event already in stripe.events (a redelivery) changes nothing.
//   - The items of the nested lists of each state written, and its embedded
//     objects, are written too, as of the same moment; items a complete list
//     no longer holds are marked deleted.
//
// The error is permanent (IsPermanent) when the data itself cannot be stored,
// so retrying the same events cannot succeed.
func (s *Store) Apply(ctx context.Context, b Batch) (Stats, error) {
	return s.apply(ctx, b, backfilled)
}

// ApplySettled stores o, fetched to settle a tie (see Stats.Ties) after the
// tied events were received, as of exactly o.FetchedAt.
func (s *Store) ApplySettled(ctx context.Context, o events.Object) error {
	_, err := s.apply(ctx, Batch{Objects: []events.Object{o}}, settled)
	return err
}

func (s *Store) apply(ctx context.Context, b Batch, dated func(time.Time) time.Time) (Stats, error) {
	var stats Stats
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		stats, err = s.applyTx(ctx, tx, b, dated)
		return err
	})
	if err != nil {
		return Stats{}, classify(err)
	}
	return stats, nil
}

// applyTx runs the phases of a batch in one transaction.
func (s *Store) applyTx(ctx context.Context, tx pgx.Tx, b Batch, dated func(time.Time) time.Time) (Stats, error) {
	refs, err := refsOf(b.Events)
	if err != nil {
		return Stats{}, permanent(err)
	}
	fresh, err := insertEvents(ctx, tx, b.Events, refs)
	if err != nil {
		return Stats{}, err
	}
	stats := Stats{Stored: len(fresh), Duplicates: len(b.Events) - len(fresh)}
	states, err := newStates(fresh, refs, b.Objects, dated)
	if err != nil {
		return Stats{}, permanent(err)
	}
	w := writes{own: states, settle: len(b.Objects) > 0, fetchDelay: s.fetchDelay}
	w.gone, w.fetches = thinWrites(fresh)
	return w.apply(ctx, tx, stats)
}

// writes is what one transaction writes besides stripe.events, gathered
// before the first row is written.
type writes struct {
	own     *states                              // the states of events and fetched objects
	gone    map[*catalog.Resource][]db.Tombstone // thin deletions
	fetches []db.PendingFetch                    // objects of thin events, to fetch
	// fetchDelay is how long the fetches wait (Store's, FetchDelay unless
	// WithFetchDelay).
	fetchDelay time.Duration
	settle     bool // fetched states settle pending fetches
}

// apply writes w, each relation once, in lockOrder, each statement's rows in
// id order: so two transactions take their row locks in one global order
// and cannot deadlock on each other's rows (the processor runs several
// batches at once). A relation's rows are its own states of the batch and
// the items and embedded objects that the states written before it hold:
// lockOrder puts every holder before what it holds. Per relation, deletions
// come first, then states, then the items that complete lists no longer
// hold. Pending fetches come last: added, then settled.
func (w *writes) apply(ctx context.Context, tx pgx.Tx, stats Stats) (Stats, error) {
	stats.Ties = w.own.ties
	stats.Stale = w.own.stale
	held := &held{complete: map[*catalog.Resource]map[string]db.CompleteList{}}
	var settled []written
	for _, res := range lockOrder {
		if gone := w.gone[res]; len(gone) > 0 {
			if err := db.MarkDeleted(ctx, tx, res, gone); err != nil {
				return Stats{}, err
			}
		}
		rows, own := merge(w.own.rows[res], held.rows[res])
		if len(rows) > 0 {
			outcomes, err := db.UpsertObjects(ctx, tx, res, rows)
			if err != nil {
				return Stats{}, err
			}
			var applied []written
			for i, o := range outcomes {
				if !own[i] {
					stats.Applied += btoi(o.Applied)
					continue
				}
				if o.Tie {
					stats.Ties = append(stats.Ties, tieOf(res, rows[i]))
				}
				if o.Applied {
					stats.Applied++
					applied = append(applied, written{res: res, row: rows[i]})
				} else {
					stats.Stale++
				}
			}
			if err := held.add(applied); err != nil {
				return Stats{}, permanent(err)
			}
			settled = append(settled, applied...)
		}
		if err := held.markMissing(ctx, tx, res); err != nil {
			return Stats{}, err
		}
	}
	if len(w.fetches) > 0 {
		if err := db.AddPendingFetches(ctx, tx, w.fetches, w.fetchDelay); err != nil {
			return Stats{}, err
		}
	}
	if w.settle {
		if err := settlePendingFetches(ctx, tx, settled); err != nil {
			return Stats{}, err
		}
	}
	return stats, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// merge is the rows one statement writes to a relation, in id order: the
// batch's own states and the states held by those written before, the newer
// of the two when both have an id (the held on a tie: written after, as of
// the same moment). own[i] says rows[i] is one of the batch's own.
func merge(own, held map[string]db.Object) (rows []db.Object, isOwn []bool) {
	ids := slices.Collect(maps.Keys(own))
	for id := range held {
		if _, ok := own[id]; !ok {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	rows, isOwn = make([]db.Object, 0, len(ids)), make([]bool, 0, len(ids))
	for _, id := range ids {
		o, isO := own[id]
		h, isH := held[id]
		switch {
		case isO && (!isH || !replacedBy(o, h)):
			rows, isOwn = append(rows, o), append(isOwn, true)
		default:
			rows, isOwn = append(rows, h), append(isOwn, false)
		}
	}
	return rows, isOwn
}

// lockOrder is the order in which a transaction writes relations: a
// resource after every resource whose objects hold it (nested lists,
// embedded objects), then by object name.
var lockOrder = func() []*catalog.Resource {
	all := catalog.All()
	holders := map[*catalog.Resource][]*catalog.Resource{}
	for _, p := range all {
		for _, n := range p.Nested {
			for _, it := range n.Items {
				holders[catalog.MustLookup(it)] = append(holders[catalog.MustLookup(it)], p)
			}
		}
		for _, e := range p.Embedded {
			holders[catalog.MustLookup(e.Object)] = append(holders[catalog.MustLookup(e.Object)], p)
		}
	}
	depth := map[*catalog.Resource]int{}
	var depthOf func(r *catalog.Resource, seen int) int
	depthOf = func(r *catalog.Resource, seen int) int {
		if seen > len(all) {
			panic("store: resources hold each other in a cycle: " + r.Object)
		}
		if d, ok := depth[r]; ok {
			return d
		}
		d := 0
		for _, h := range holders[r] {
			d = max(d, depthOf(h, seen+1)+1)
		}
		depth[r] = d
		return d
	}
	for _, r := range all {
		depthOf(r, 0)
	}
	return slices.SortedFunc(slices.Values(all), func(a, b *catalog.Resource) int {
		return cmp.Or(cmp.Compare(depth[a], depth[b]), byObject(a, b))
	})
}()

// settlePendingFetches removes the objects waiting for a fetch that fetched
// states just written settle (a backfill, a fetch). Events that carry their
// object settle nothing: a thin event and the snapshot event of the same
// change may both arrive, and one fetch more is harmless.
func settlePendingFetches(ctx context.Context, tx pgx.Tx, applied []written) error {
	byResource := map[*catalog.Resource][]db.Object{}
	for _, w := range applied {
		if w.row.EventID == "" {
			byResource[w.res] = append(byResource[w.res], w.row)
		}
	}
	for _, res := range lockOrder {
		if len(byResource[res]) == 0 {
			continue
		}
		if err := db.SettlePendingFetches(ctx, tx, res, byResource[res]); err != nil {
			return err
		}
	}
	return nil
}

// refsOf reads the object each event is about (about), by event id: once
// an event, for its row in stripe.events and its state.
func refsOf(evs []Event) (map[string]catalog.Ref, error) {
	refs := make(map[string]catalog.Ref, len(evs))
	for _, ev := range evs {
		ref, err := about(ev)
		if err != nil {
			return nil, err
		}
		refs[ev.ID] = ref
	}
	return refs, nil
}

// about is the object ev is about, as stripe.events records it: a snapshot
// event's data.object, a thin event's related object; none for a thin event
// about no object.
func about(ev Event) (catalog.Ref, error) {
	if ev.Thin != nil {
		if ro := ev.Thin.RelatedObject; ro != nil {
			return catalog.Ref{ID: ro.ID, Object: ro.Type}, nil
		}
		return catalog.Ref{}, nil
	}
	ref, err := catalog.ParseRef(ev.Object)
	if err != nil {
		return catalog.Ref{}, fmt.Errorf("event %s: %w", ev.ID, err)
	}
	return ref, nil
}

// insertEvents stores the events not stored before, with the objects they
// are about (refs, by event id), and returns them, in stream order, each
// once.
func insertEvents(ctx context.Context, tx pgx.Tx, evs []Event, refs map[string]catalog.Ref) ([]Event, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	// Sorted by id, so that concurrent transactions lock rows in one order.
	sorted := slices.SortedFunc(slices.Values(evs), func(a, b Event) int { return cmp.Compare(a.ID, b.ID) })
	sorted = slices.CompactFunc(sorted, func(a, b Event) bool { return a.ID == b.ID })
	rows := make([]db.Event, len(sorted))
	for i, e := range sorted {
		rows[i] = db.Event{ID: e.ID, Type: e.Type, Account: e.Account, Livemode: e.Livemode,
			APIVersion: e.APIVersion, Created: e.Created, Data: e.Raw, ObjectType: refs[e.ID].Object, ObjectID: refs[e.ID].ID}
	}
	ids, err := db.InsertEvents(ctx, tx, rows)
	if err != nil {
		return nil, err
	}
	isNew := make(map[string]bool, len(ids))
	for _, id := range ids {
		isNew[id] = true
	}
	fresh := make([]Event, 0, len(ids))
	for _, ev := range evs {
		if isNew[ev.ID] {
			delete(isNew, ev.ID) // a second copy in the same batch is a duplicate
			fresh = append(fresh, ev)
		}
	}
	return fresh, nil
}

// newStates collects the newest state of each object of the batch: the
// objects of the snapshot events stored for the first time, in stream
// order, then the fetched objects.
func newStates(fresh []Event, refs map[string]catalog.Ref, objects []events.Object, dated func(time.Time) time.Time) (*states, error) {
	s := &states{}
	for _, ev := range fresh {
		if ev.Thin != nil {
			continue // thinWrites'
		}
		if res, row, ok := eventRow(ev, refs[ev.ID]); ok {
			s.keep(res, row, true)
		}
	}
	for _, o := range objects {
		row, err := objectRow(o, dated)
		if err != nil {
			return nil, err
		}
		s.keep(o.Resource, row, true)
	}
	return s, nil
}

// FetchDelay is how long the object of a thin event waits before it is
// fetched: the events of a burst of changes to one object within it cost one
// fetch.
const FetchDelay = time.Second

// thinWrites is what the thin events stored for the first time write. A
// thin event carries no state of its object: a deletion marks the object's
// row deleted (keeping what it holds) as of the event; any other event about
// an object the mirror keeps makes the object wait for a fetch of its
// current state (stripe.pending_fetches, written in the same transaction, so
// the fetch is never lost). That covers Stripe's alert that it failed to
// generate an event (v2.core.health.event_generation_failure.resolved),
// which names the object whose event never came. Events about objects not
// mirrored are kept in stripe.events only.
func thinWrites(fresh []Event) (map[*catalog.Resource][]db.Tombstone, []db.PendingFetch) {
	type objectKey struct {
		res         *catalog.Resource
		id, account string
	}
	gone := map[*catalog.Resource][]db.Tombstone{}
	fetches := map[objectKey]db.PendingFetch{} // one row per object in a statement
	for _, ev := range fresh {
		if ev.Thin == nil || ev.Thin.RelatedObject == nil || ev.Thin.RelatedObject.ID == "" {
			continue
		}
		ro := ev.Thin.RelatedObject
		res, ok := catalog.Lookup(ro.Type)
		if !ok || res.Parent != "" {
			continue // not mirrored, or an item only its parent's list names
		}
		if res.IsDeletedBy(strings.TrimPrefix(ev.Type, "v1.")) {
			gone[res] = append(gone[res], db.Tombstone{ID: ro.ID, Account: ev.Account, Livemode: ev.Livemode, StateAt: ev.Created, EventID: ev.ID})
			continue
		}
		url := ro.URL
		if url == "" {
			if url, ok = res.RetrievePath(ro.ID); !ok {
				continue
			}
		}
		key := objectKey{res, ro.ID, ev.Account}
		if prev, ok := fetches[key]; ok && ev.Created.Before(prev.Since) {
			continue // the newest event naming it is kept
		}
		fetches[key] = db.PendingFetch{Resource: res, ID: ro.ID, Account: ev.Account, Livemode: ev.Livemode, URL: url, EventID: ev.ID, Since: ev.Created}
	}
	for _, tombstones := range gone {
		// In id order, as every statement's rows (see writes.apply).
		slices.SortStableFunc(tombstones, func(a, b db.Tombstone) int { return strings.Compare(a.ID, b.ID) })
	}
	sorted := slices.SortedFunc(maps.Values(fetches), func(a, b db.PendingFetch) int {
		return cmp.Or(byObject(a.Resource, b.Resource), strings.Compare(a.ID, b.ID), strings.Compare(a.Account, b.Account))
	})
	return gone, sorted
}

// eventRow is the row a snapshot event about ref writes, and false when its
// object is not kept in a relation of its own by this event: not mirrored,
// or an item of a nested list, whose parent the event does not name (its
// parent's events carry it).
func eventRow(ev Event, ref catalog.Ref) (*catalog.Resource, db.Object, bool) {
	res, ok := catalog.Lookup(ref.Object)
	if !ok || ref.ID == "" || res.Parent != "" {
		return nil, db.Object{}, false
	}
	return res, db.Object{
		ID:         ref.ID,
		Account:    ev.Account,
		Livemode:   ev.Livemode,
		Deleted:    ref.Deleted || res.IsDeletedBy(ev.Type),
		Data:       ev.Object,
		StateAt:    ev.Created,
		EventID:    ev.ID,
		APIVersion: ev.APIVersion,
	}, true
}

// objectRow is the row a fetched object writes: the one conversion from an
// object message to its row.
func objectRow(o events.Object, dated func(time.Time) time.Time) (db.Object, error) {
	ref, err := catalog.ParseRef(o.Data)
	switch {
	case err != nil:
		return db.Object{}, err
	case ref.ID != o.ID || (ref.Object != o.Resource.Object && !ref.Deleted):
		return db.Object{}, fmt.Errorf("fetched a %q %q, want %s %s", ref.Object, ref.ID, o.Resource.Object, o.ID)
	case o.Resource.Parent != "" && o.Parent == "":
		return db.Object{}, fmt.Errorf("%s %s: no parent %s", o.Resource.Object, o.ID, o.Resource.Parent)
	}
	return db.Object{
		ID:         o.ID,
		Account:    o.Account,
		Livemode:   o.Livemode,
		Deleted:    ref.Deleted,
		Data:       o.Data,
		StateAt:    dated(o.FetchedAt),
		Parent:     o.Parent,
		APIVersion: o.APIVersion,
	}, nil
}

// backfilled dates an object fetched at at for the version rule
// (events.BackfilledAt).
func backfilled(at time.Time) time.Time { return events.BackfilledAt(at) }

// settled dates an object fetched to settle a tie: the request was sent
// after the tied events were received, so its state is newer than any event
// created up to at.
func settled(at time.Time) time.Time { return at }

// states holds the newest state of each object of a batch, by resource and
// id, as the version rule orders them: of two in the same second the later
// in stream order.
type states struct {
	rows  map[*catalog.Resource]map[string]db.Object
	ties  []Tie // ties inside the batch
	stale int   // states older than another of the batch, with reportTies
}

// keep records row, an object of res; a tie with the state it replaces is
// recorded when reportTies.
func (s *states) keep(res *catalog.Resource, row db.Object, reportTies bool) {
	if s.rows == nil {
		s.rows = map[*catalog.Resource]map[string]db.Object{}
	}
	rows := s.rows[res]
	if rows == nil {
		rows = map[string]db.Object{}
		s.rows[res] = rows
	}
	prev, seen := rows[row.ID]
	if !seen || replacedBy(prev, row) {
		rows[row.ID] = row
	}
	if seen && reportTies && ties(prev, row) {
		s.ties = append(s.ties, tieOf(res, row))
	}
	if seen && reportTies && !replacedBy(prev, row) {
		s.stale++
	}
}

// replacedBy is the version rule of the upsert queries, for two states of one
// object inside a batch.
func replacedBy(prev, next db.Object) bool {
	return !prev.Deleted && !next.StateAt.Before(prev.StateAt)
}

// ties is the upsert queries' tie: two events of the same second.
func ties(prev, next db.Object) bool {
	return !prev.Deleted && next.StateAt.Equal(prev.StateAt) && next.EventID != prev.EventID
}

func tieOf(res *catalog.Resource, o db.Object) Tie {
	return Tie{Resource: res, ID: o.ID, Account: o.Account, Livemode: o.Livemode}
}

// byObject orders resources by object name: the order in which a batch
// writes relations, so that concurrent batches take row locks in one order.
func byObject(a, b *catalog.Resource) int { return strings.Compare(a.Object, b.Object) }

type written struct {
	res *catalog.Resource
	row db.Object
}

// held are the objects that the states written hold: items of nested lists
// and embedded objects, with the lists that are complete.
type held struct {
	states
	complete map[*catalog.Resource]map[string]db.CompleteList
}

// add reads what the written states hold, and only those: a list older than
// the stored object could bring back an item removed since. A deleted
// object's contents are left as they were.
func (h *held) add(written []written) error {
	for _, w := range written {
		if w.row.Deleted {
			continue
		}
		lists, embedded, err := w.res.Contents(w.row.Data)
		if err != nil {
			return fmt.Errorf("%s %s: %w", w.res.Object, w.row.ID, err)
		}
		for _, e := range embedded {
			h.keep(e.Resource, db.Object{ID: e.Ref.ID, Account: w.row.Account, Livemode: w.row.Livemode,
				Data: e.Data, StateAt: w.row.StateAt, EventID: w.row.EventID, APIVersion: w.row.APIVersion}, false)
		}
		for _, l := range lists {
			h.addList(w, l)
		}
	}
	return nil
}

func (h *held) addList(w written, l catalog.Items) {
	var ids []string
	for _, it := range l.Items {
		row := db.Object{ID: it.Ref.ID, Account: w.row.Account, Livemode: w.row.Livemode,
			Data: it.Data, StateAt: w.row.StateAt, EventID: w.row.EventID, APIVersion: w.row.APIVersion}
		if it.Resource.Parent != "" {
			row.Parent = w.row.ID
		}
		h.keep(it.Resource, row, false)
		ids = append(ids, it.Ref.ID)
	}
	item := catalog.MustLookup(l.List.Items[0])
	if !l.Complete || item.Parent == "" {
		// The rest is not here, or the items are not tracked by parent:
		// nothing can be called missing.
		return
	}
	byParent := h.complete[item]
	if byParent == nil {
		byParent = map[string]db.CompleteList{}
		h.complete[item] = byParent
	}
	// The newest list of a parent decides; an item of an older list that
	// the newest leaves out is missing too.
	if prev, ok := byParent[w.row.ID]; !ok || !w.row.StateAt.Before(prev.StateAt) {
		byParent[w.row.ID] = db.CompleteList{Parent: w.row.ID, StateAt: w.row.StateAt, EventID: w.row.EventID, Items: ids}
	}
}

// markMissing marks deleted the items of res that complete lists no longer
// hold, in one statement, parents in id order.
func (h *held) markMissing(ctx context.Context, tx pgx.Tx, res *catalog.Resource) error {
	byParent := h.complete[res]
	if len(byParent) == 0 {
		return nil
	}
	lists := make([]db.CompleteList, 0, len(byParent))
	for _, p := range slices.Sorted(maps.Keys(byParent)) {
		lists = append(lists, byParent[p])
	}
	return db.MarkMissing(ctx, tx, res, lists)
}

// DeadLetter is a message that could not be applied, kept with the reason.
type DeadLetter = db.DeadLetter

// KeepDeadLetter stores d in stripe.dead_letters.
func (s *Store) KeepDeadLetter(ctx context.Context, d DeadLetter) error {
	if err := db.InsertDeadLetter(ctx, s.pool, d); err != nil {
		return fmt.Errorf("keep dead letter: %w", classify(err))
	}
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

func permanent(err error) error { return permanentError{err} }

// IsPermanent reports whether err says that the data cannot be stored as it
// is, so that retrying the same events cannot help. Other errors (the
// database unreachable, a deadlock, a timeout) may pass.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// classify marks the PostgreSQL errors caused by the data as permanent:
// class 22, data exceptions (such as a \u0000 in a string, which jsonb
// refuses), and class 23, integrity violations.
// https://www.postgresql.org/docs/current/errcodes-appendix.html
func classify(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && len(pgErr.Code) == 5 {
		switch pgErr.Code[:2] {
		case "22", "23":
			return permanent(err)
		}
	}
	return err
}

// PendingFetch is an object waiting for a fetch of its current state.
type PendingFetch = db.PendingFetch

// ClaimFetches leases up to max objects whose fetch is due, for lease: no
// other fetcher takes them until it ends.
func (s *Store) ClaimFetches(ctx context.Context, max int, lease time.Duration) ([]PendingFetch, error) {
	return db.ClaimPendingFetches(ctx, s.pool, max, lease)
}

// SettleFetch stores o, the state fetched for f, as of exactly o.FetchedAt
// (the request was sent after every event that made f wait, or after the
// listing that queued it started), and ends f unless an event came since,
// in one transaction. A deleted object (deleted: true) is a tombstone under
// the version rule, counted by the reconciliation that queued f if one did.
func (s *Store) SettleFetch(ctx context.Context, f PendingFetch, o events.Object) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := s.applyTx(ctx, tx, Batch{Objects: []events.Object{o}}, settled); err != nil {
			return err
		}
		if ref, err := catalog.ParseRef(o.Data); err == nil && ref.Deleted {
			if err := countReconciled(ctx, tx, f); err != nil {
				return err
			}
		}
		return db.DonePendingFetch(ctx, tx, f)
	})
	return classify(err)
}

// SettleFetchGone marks f's object deleted as of at, under the version
// rule, when Stripe answered that it does not exist (counted by the
// reconciliation that queued f, if one did), and ends f unless an event
// came since.
func (s *Store) SettleFetchGone(ctx context.Context, f PendingFetch, at time.Time) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		err := db.MarkDeleted(ctx, tx, f.Resource, []db.Tombstone{{ID: f.ID, Account: f.Account, Livemode: f.Livemode, StateAt: at}})
		if err != nil {
			return err
		}
		if err := countReconciled(ctx, tx, f); err != nil {
			return err
		}
		return db.DonePendingFetch(ctx, tx, f)
	})
	return classify(err)
}

// RetryFetch makes f due again after delay, keeping the reason.
func (s *Store) RetryFetch(ctx context.Context, f PendingFetch, delay time.Duration, reason string) error {
	return db.RetryPendingFetch(ctx, s.pool, f, delay, reason)
}

// FetchStats are the objects waiting for a fetch and the created time of
// the oldest event among them.
func (s *Store) FetchStats(ctx context.Context) (int64, time.Time, error) {
	return db.PendingFetchStats(ctx, s.pool)
}
