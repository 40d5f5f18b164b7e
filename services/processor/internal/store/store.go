// Package store writes Stripe events and the objects they carry into the
// mirror. It is the only writer of schema stripe and keeps the generated
// queries to itself.
package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stripesync/stripesync/db"
	"github.com/stripesync/stripesync/db/dbsqlc"
	"github.com/stripesync/stripesync/pkg/events"
)

// Event is a Stripe event to apply: its envelope and its original bytes.
type Event struct {
	events.Envelope
	Raw []byte
}

// Batch is what one transaction applies: events (from webhooks and the
// Events API) and objects fetched from the API (backfills, tie-breaks).
type Batch struct {
	Events  []Event
	Objects []Fetched
}

// Len is the number of events and objects in b.
func (b Batch) Len() int { return len(b.Events) + len(b.Objects) }

// Stats counts what one Apply did.
type Stats struct {
	Stored     int // events not seen before, now stored with their objects
	Duplicates int // events already stored, left alone
	Objects    int // fetched objects applied under the version rule
	// Ties are the objects written by an event created in the same second
	// as the event that wrote their previous state: the version rule kept
	// the later in stream order, which may not be the later at Stripe.
	Ties []Tie
}

// Tie names an object whose stored state the version rule could not order.
type Tie struct {
	Resource events.Resource
	ID       string
	Account  string
	Livemode bool
}

// Store applies events to the mirror.
type Store struct {
	pool *pgxpool.Pool
}

// New returns a Store writing through pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

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
//   - A deletion (events.IsDeletion) marks the row deleted and keeps it;
//     nothing written after that changes it.
//   - An event already in stripe.events (a redelivery) changes nothing.
//
// The error is permanent (IsPermanent) when the data itself cannot be stored,
// so retrying the same events cannot succeed.
func (s *Store) Apply(ctx context.Context, b Batch) (Stats, error) {
	var stats Stats
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		stats, err = apply(ctx, tx, b)
		return err
	})
	if err != nil {
		return Stats{}, classify(err)
	}
	return stats, nil
}

func apply(ctx context.Context, tx pgx.Tx, b Batch) (Stats, error) {
	evs := b.Events
	// Sorted by id, so that concurrent transactions lock rows in one order.
	sorted := slices.SortedFunc(slices.Values(evs), func(a, b Event) int { return cmp.Compare(a.ID, b.ID) })
	sorted = slices.CompactFunc(sorted, func(a, b Event) bool { return a.ID == b.ID })
	arg := dbsqlc.EventInsertBatchParams{}
	for _, ev := range sorted {
		arg.Ids = append(arg.Ids, ev.ID)
		arg.Types = append(arg.Types, ev.Type)
		arg.Accounts = append(arg.Accounts, ev.Account)
		arg.Livemodes = append(arg.Livemodes, ev.Livemode)
		arg.ApiVersions = append(arg.ApiVersions, ev.APIVersion)
		arg.Createds = append(arg.Createds, ev.Created)
		arg.Datas = append(arg.Datas, ev.Raw)
	}
	var newIDs []string
	if len(sorted) > 0 {
		var err error
		newIDs, err = db.Queries().EventInsertBatch(ctx, tx, arg)
		if err != nil {
			return Stats{}, fmt.Errorf("insert events: %w", err)
		}
	}
	isNew := make(map[string]bool, len(newIDs))
	for _, id := range newIDs {
		isNew[id] = true
	}

	// The newest state of each object in the batch, per table. Events are
	// visited in stream order, so of two in the same second the later wins,
	// as it would in two batches.
	latest := newestStates{}
	var ties []Tie
	keep := func(res events.Resource, row objectRow) {
		if latest.keep(res, row) {
			ties = append(ties, Tie{Resource: res, ID: row.id, Account: row.account, Livemode: row.livemode})
		}
	}
	for _, ev := range evs {
		if !isNew[ev.ID] {
			continue
		}
		isNew[ev.ID] = false // a second copy in the same batch is a duplicate
		ref, err := events.ParseObjectRef(ev.Object)
		if err != nil {
			return Stats{}, permanent(fmt.Errorf("event %s: %w", ev.ID, err))
		}
		res, ok := events.ResourceFor(ref.Object)
		if !ok || ref.ID == "" || res.Parent != "" {
			// Kept in stripe.events only: not mirrored, or an item of a
			// nested list, whose parent only the syncer knows.
			continue
		}
		row := objectRow{
			id:       ref.ID,
			account:  ev.Account,
			livemode: ev.Livemode,
			deleted:  events.IsDeletion(ev.Type, ref),
			data:     ev.Object,
			stateAt:  ev.Created,
			eventID:  ev.ID,
		}
		keep(res, row)
	}
	for _, f := range b.Objects {
		ref, err := events.ParseObjectRef(f.Data)
		if err != nil {
			return Stats{}, permanent(err)
		}
		if ref.ID == "" || ref.Object != f.Resource.Object {
			return Stats{}, permanent(fmt.Errorf("fetched a %q %q, want a %s", ref.Object, ref.ID, f.Resource.Object))
		}
		if f.Resource.Parent != "" && f.Parent == "" {
			return Stats{}, permanent(fmt.Errorf("%s %s: no parent %s", ref.Object, ref.ID, f.Resource.Parent))
		}
		row := objectRow{
			id:       ref.ID,
			account:  f.Account,
			livemode: f.Livemode,
			deleted:  ref.Deleted,
			data:     f.Data,
			stateAt:  f.stateAt(),
			parent:   f.Parent,
		}
		keep(f.Resource, row)
	}
	applied, err := latest.upsert(ctx, tx, func(res events.Resource, o objectRow) {
		ties = append(ties, Tie{Resource: res, ID: o.id, Account: o.account, Livemode: o.livemode})
	})
	if err != nil {
		return Stats{}, err
	}

	// The items of the nested lists of the objects just written, and only
	// of those: a list older than the stored object could bring back an
	// item removed since.
	items, lists := newestStates{}, nestedLists{}
	for _, o := range applied {
		if err := lists.add(o.res, o.row, items); err != nil {
			return Stats{}, permanent(err)
		}
	}
	if _, err := items.upsert(ctx, tx, nil); err != nil {
		return Stats{}, err
	}
	if err := lists.markMissing(ctx, tx); err != nil {
		return Stats{}, err
	}
	return Stats{Stored: len(newIDs), Duplicates: len(evs) - len(newIDs), Objects: len(b.Objects), Ties: ties}, nil
}

// newestStates holds the newest state of each object of a batch, by table
// and id, as the version rule orders them: of two in the same second the
// later in stream order.
type newestStates map[string]map[string]objectRow

// keep records row and reports whether it ties with the state it replaces.
func (n newestStates) keep(res events.Resource, row objectRow) (tie bool) {
	rows := n[res.Table]
	if rows == nil {
		rows = map[string]objectRow{}
		n[res.Table] = rows
	}
	prev, seen := rows[row.id]
	if !seen || prev.replacedBy(row) {
		rows[row.id] = row
	}
	return seen && prev.ties(row)
}

type appliedRow struct {
	res events.Resource
	row objectRow
}

// upsert writes the states, a statement per table in table and id order
// (one lock order for concurrent transactions), calls tied for each tie
// with the stored state, and returns the states applied.
func (n newestStates) upsert(ctx context.Context, tx pgx.Tx, tied func(events.Resource, objectRow)) ([]appliedRow, error) {
	var applied []appliedRow
	for _, table := range slices.Sorted(maps.Keys(n)) {
		res, _ := events.ResourceForTable(table)
		var r db.ObjectRows
		for _, id := range slices.Sorted(maps.Keys(n[table])) {
			o := n[table][id]
			r.Ids = append(r.Ids, o.id)
			r.Accounts = append(r.Accounts, o.account)
			r.Livemodes = append(r.Livemodes, o.livemode)
			r.Deleteds = append(r.Deleteds, o.deleted)
			r.Datas = append(r.Datas, o.data)
			r.StateAts = append(r.StateAts, o.stateAt)
			r.LastEventIds = append(r.LastEventIds, o.eventID)
			r.Parents = append(r.Parents, o.parent)
		}
		results, err := db.UpsertObjects(ctx, tx, table, r)
		if err != nil {
			return nil, err
		}
		for _, u := range results {
			o := n[table][u.ID]
			if u.Tie && tied != nil {
				tied(res, o)
			}
			if u.Applied {
				applied = append(applied, appliedRow{res: res, row: o})
			}
		}
	}
	return applied, nil
}

// nestedLists collects, per items table, the newest complete list of each
// parent seen in a batch.
type nestedLists map[string]map[string]completeList

type completeList struct {
	stateAt time.Time
	eventID string
	ids     []string
}

// add records the items of the nested lists of row (an object of res) in
// items, and remembers the lists that are complete. A deleted object's lists
// are left as they were.
func (n nestedLists) add(res events.Resource, row objectRow, items newestStates) error {
	if len(res.Lists) == 0 || row.deleted {
		return nil
	}
	var fields map[string]json.RawMessage
	if err := gojson.Unmarshal(row.data, &fields); err != nil {
		return fmt.Errorf("decode %s %s: %w", res.Object, row.id, err)
	}
	for _, l := range res.Lists {
		raw := fields[l.Field]
		if len(raw) == 0 || raw[0] != '{' {
			continue // absent, or not expanded
		}
		var list struct {
			Object  string            `json:"object"`
			Data    []json.RawMessage `json:"data"`
			HasMore bool              `json:"has_more"`
		}
		if err := gojson.Unmarshal(raw, &list); err != nil {
			return fmt.Errorf("decode %s.%s of %s: %w", res.Object, l.Field, row.id, err)
		}
		child, ok := events.ResourceFor(l.Child)
		if list.Object != "list" || !ok {
			continue
		}
		var ids []string
		for _, item := range list.Data {
			ref, err := events.ParseObjectRef(item)
			if err != nil {
				return err
			}
			if ref.Object != l.Child || ref.ID == "" {
				continue
			}
			items.keep(child, objectRow{
				id: ref.ID, account: row.account, livemode: row.livemode, data: item,
				stateAt: row.stateAt, eventID: row.eventID, parent: row.id,
			})
			ids = append(ids, ref.ID)
		}
		if list.HasMore {
			continue // the rest is not here: nothing can be called missing
		}
		byParent := n[child.Table]
		if byParent == nil {
			byParent = map[string]completeList{}
			n[child.Table] = byParent
		}
		// The newest list of a parent decides; an item of an older list
		// that the newest leaves out is missing too.
		if prev, ok := byParent[row.id]; !ok || !row.stateAt.Before(prev.stateAt) {
			byParent[row.id] = completeList{stateAt: row.stateAt, eventID: row.eventID, ids: ids}
		}
	}
	return nil
}

// markMissing marks deleted the items that complete lists no longer hold,
// one statement per items table.
func (n nestedLists) markMissing(ctx context.Context, tx pgx.Tx) error {
	for _, table := range slices.Sorted(maps.Keys(n)) {
		var m db.MissingItems
		for _, parent := range slices.Sorted(maps.Keys(n[table])) {
			l := n[table][parent]
			m.Parents = append(m.Parents, parent)
			m.StateAts = append(m.StateAts, l.stateAt)
			m.LastEventIds = append(m.LastEventIds, l.eventID)
			for _, id := range l.ids {
				m.KeptParents = append(m.KeptParents, parent)
				m.KeptIds = append(m.KeptIds, id)
			}
		}
		if err := db.MarkMissing(ctx, tx, table, m); err != nil {
			return err
		}
	}
	return nil
}

type objectRow struct {
	id       string
	account  string
	livemode bool
	deleted  bool
	data     []byte
	stateAt  time.Time
	eventID  string
	parent   string
}

// replacedBy is the version rule of the upsert queries, for two states of one
// object inside a batch.
func (o objectRow) replacedBy(next objectRow) bool {
	return !o.deleted && !next.stateAt.Before(o.stateAt)
}

// ties is the upsert queries' tie: two events of the same second.
func (o objectRow) ties(next objectRow) bool {
	return !o.deleted && next.stateAt.Equal(o.stateAt) && next.eventID != o.eventID
}

// Fetched is an object as the Stripe API returned it.
type Fetched struct {
	Resource events.Resource
	Account  string
	// Parent is the id of the object whose nested list held this one; it is
	// required for resources with a Parent.
	Parent   string
	Livemode bool
	// Data is the response body, verbatim.
	Data []byte
	// At is when the request was sent: the object's state is at least that
	// new.
	At time.Time
	// Settles is true for a fetch made to settle a tie (see Stats.Ties),
	// after the tied events were received: its state is newer than any event
	// created up to At.
	Settles bool
}

// stateAt dates a fetched object for the version rule. Events are dated to
// the second, so an event of the second the request was sent in may be
// newer or older than the response. A backfilled object is dated just
// before that second: an event of that second or later replaces it, an
// event of an earlier second cannot. A settling fetch was made after the
// events it settles, so it keeps its exact time.
func (f Fetched) stateAt() time.Time {
	if f.Settles {
		return f.At
	}
	return f.At.Truncate(time.Second).Add(-time.Microsecond)
}

// ApplyFetched stores one object fetched from the Stripe API under the
// version rule, with At as its state_at and no event.
func (s *Store) ApplyFetched(ctx context.Context, f Fetched) error {
	_, err := s.Apply(ctx, Batch{Objects: []Fetched{f}})
	return err
}

// DeadLetter is a message that could not be applied, kept with the reason.
type DeadLetter struct {
	Subject      string
	StreamSeq    uint64
	EventID      string
	NumDelivered uint64
	Reason       string
	Payload      []byte
}

// KeepDeadLetter stores d in stripe.dead_letters.
func (s *Store) KeepDeadLetter(ctx context.Context, d DeadLetter) error {
	err := db.Queries().DeadLetterInsert(ctx, s.pool, dbsqlc.DeadLetterInsertParams{
		Subject:      d.Subject,
		StreamSeq:    int64(d.StreamSeq),
		EventID:      d.EventID,
		NumDelivered: int64(d.NumDelivered),
		Reason:       d.Reason,
		Payload:      d.Payload,
	})
	if err != nil {
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
