// Package db owns the mirror's SQL: the migrations that define schema stripe,
// the sqlc-generated queries over it (kept in internal/dbsqlc, never seen
// outside this package), and the verbs the processor writes with. Resources
// come in as catalog entries; only this package turns them into SQL.
package db

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/stripesync/stripesync/db/internal/dbsqlc"
	"github.com/stripesync/stripesync/pkg/catalog"
)

// DBTX is what the verbs run on: the pool, a connection or a transaction.
type DBTX = dbsqlc.DBTX

// queries is stateless: with emit_methods_with_db_argument every method takes
// the pool or a transaction.
var queries = dbsqlc.New()

// Object is one state of a Stripe object, as its relation holds it.
type Object struct {
	ID       string
	Account  string // "" for the platform
	Livemode bool
	Deleted  bool
	// Data is the object, whole, as Stripe rendered it.
	Data []byte
	// StateAt is the moment Data describes (see README "The version rule").
	StateAt time.Time
	// EventID is the event that carried the state; "" when it was fetched
	// from the API.
	EventID string
	// Parent is the id of the object whose nested list holds this one, for
	// resources with a Parent.
	Parent string
	// APIVersion is the Stripe API version Data is rendered in; "" when
	// unknown.
	APIVersion string
}

// Outcome says what UpsertObjects did with one object.
type Outcome struct {
	// Applied is true when the object's state was written: it was new, or
	// at least as new as the stored state.
	Applied bool
	// Tie is true when the stored state had the same state_at and was
	// written by another event: a tie the version rule cannot decide.
	Tie bool
}

// UpsertObjects writes objects of res to its relation under the version rule
// (see queries/objects.sql) and returns the outcome of each, in order. Each
// id may appear once.
func UpsertObjects(ctx context.Context, tx DBTX, res *catalog.Resource, objects []Object) ([]Outcome, error) {
	upsert, ok := objectUpserts[res.Relation()]
	if !ok {
		return nil, fmt.Errorf("no relation for %s: add its migration and run make generate", res.Object)
	}
	var c objectColumns
	for _, o := range objects {
		c.ids = append(c.ids, o.ID)
		c.accounts = append(c.accounts, o.Account)
		c.livemodes = append(c.livemodes, o.Livemode)
		c.deleteds = append(c.deleteds, o.Deleted)
		c.datas = append(c.datas, o.Data)
		c.stateAts = append(c.stateAts, o.StateAt)
		c.eventIDs = append(c.eventIDs, o.EventID)
		c.parents = append(c.parents, o.Parent)
		c.apiVersions = append(c.apiVersions, o.APIVersion)
	}
	byID, err := upsert(ctx, tx, c)
	if err != nil {
		return nil, fmt.Errorf("upsert %s: %w", res.Relation(), err)
	}
	out := make([]Outcome, len(objects))
	for i, o := range objects {
		out[i] = byID[o.ID]
	}
	return out, nil
}

// objectColumns are objects column by column, the shape of the generated
// upsert queries' parameters: the i-th element of each slice belongs to
// the i-th object.
type objectColumns struct {
	ids         []string
	accounts    []string
	livemodes   []bool
	deleteds    []bool
	datas       [][]byte
	stateAts    []time.Time
	eventIDs    []string
	parents     []string // read only for resources with a Parent
	apiVersions []string
}

// Tombstone says an object is gone as of StateAt (event EventID), without a
// snapshot of it.
type Tombstone struct {
	ID       string
	Account  string
	Livemode bool
	StateAt  time.Time
	EventID  string
}

// MarkDeleted marks objects of res deleted under the version rule, keeping
// the data their rows hold; an object never stored gets a row holding a
// deleted stub ({"id", "object", "deleted": true}, as Stripe renders one).
func MarkDeleted(ctx context.Context, tx DBTX, res *catalog.Resource, gone []Tombstone) error {
	mark, ok := objectMarkDeleted[res.Relation()]
	if !ok {
		return fmt.Errorf("%s is deleted only through its parent's list", res.Object)
	}
	var d tombstones
	for _, g := range gone {
		stub, err := json.Marshal(map[string]any{"id": g.ID, "object": res.Object, "deleted": true})
		if err != nil {
			return err
		}
		d.ids = append(d.ids, g.ID)
		d.accounts = append(d.accounts, g.Account)
		d.livemodes = append(d.livemodes, g.Livemode)
		d.stubs = append(d.stubs, stub)
		d.stateAts = append(d.stateAts, g.StateAt)
		d.eventIDs = append(d.eventIDs, g.EventID)
	}
	if err := mark(ctx, tx, d); err != nil {
		return fmt.Errorf("mark deleted %s: %w", res.Relation(), err)
	}
	return nil
}

// tombstones are Tombstones column by column, the shape of the generated
// MarkDeleted queries' parameters.
type tombstones struct {
	ids       []string
	accounts  []string
	livemodes []bool
	stubs     [][]byte
	stateAts  []time.Time
	eventIDs  []string
}

// CompleteList is a parent's nested list seen whole: as of StateAt (written
// by event EventID, "" when fetched) it held exactly Items.
type CompleteList struct {
	Parent  string
	StateAt time.Time
	EventID string
	Items   []string
}

// MarkMissing marks deleted the items of res (a resource with a Parent) that
// their parent's complete list no longer holds, under the version rule. Each
// parent may appear once.
func MarkMissing(ctx context.Context, tx DBTX, res *catalog.Resource, lists []CompleteList) error {
	mark, ok := objectMarkMissing[res.Relation()]
	if !ok {
		return fmt.Errorf("%s is not the item of a nested list", res.Object)
	}
	var m missingItems
	for _, l := range lists {
		m.parents = append(m.parents, l.Parent)
		m.stateAts = append(m.stateAts, l.StateAt)
		m.eventIDs = append(m.eventIDs, l.EventID)
		for _, id := range l.Items {
			m.keptParents = append(m.keptParents, l.Parent)
			m.keptIDs = append(m.keptIDs, id)
		}
	}
	if err := mark(ctx, tx, m); err != nil {
		return fmt.Errorf("mark missing %s: %w", res.Relation(), err)
	}
	return nil
}

// missingItems are complete lists column by column, the shape of the
// generated MarkMissing queries' parameters.
type missingItems struct {
	parents     []string
	stateAts    []time.Time
	eventIDs    []string
	keptParents []string
	keptIDs     []string
}

// Event is a Stripe event as stripe.events keeps it.
type Event struct {
	ID         string
	Type       string
	Account    string // "" for the platform
	Livemode   bool
	APIVersion string
	Created    time.Time
	// Data is the whole event, as Stripe sent it: stored byte for byte.
	Data []byte
	// ObjectType and ObjectID name the object the event is about: a
	// snapshot event's data.object, a thin event's related_object; empty
	// for an event about none.
	ObjectType, ObjectID string
}

// InsertEvents stores the events not stored before and returns their ids;
// an event already stored is left as it is.
func InsertEvents(ctx context.Context, tx DBTX, evs []Event) ([]string, error) {
	var arg dbsqlc.EventInsertBatchParams
	for _, e := range evs {
		arg.Ids = append(arg.Ids, e.ID)
		arg.Types = append(arg.Types, e.Type)
		arg.Accounts = append(arg.Accounts, e.Account)
		arg.Livemodes = append(arg.Livemodes, e.Livemode)
		arg.ApiVersions = append(arg.ApiVersions, e.APIVersion)
		arg.Createds = append(arg.Createds, e.Created)
		arg.Datas = append(arg.Datas, e.Data)
		arg.ObjectTypes = append(arg.ObjectTypes, e.ObjectType)
		arg.ObjectIds = append(arg.ObjectIds, e.ObjectID)
	}
	ids, err := queries.EventInsertBatch(ctx, tx, arg)
	if err != nil {
		return nil, fmt.Errorf("insert events: %w", err)
	}
	return ids, nil
}

// DeadLetter is a message the processor could not apply, with the reason.
type DeadLetter struct {
	Subject      string
	StreamSeq    uint64
	EventID      string
	NumDelivered uint64
	Reason       string
	Payload      []byte
	// Headers are the message's headers, as NATS gives them.
	Headers map[string][]string
}

// InsertDeadLetter keeps d in stripe.dead_letters.
func InsertDeadLetter(ctx context.Context, tx DBTX, d DeadLetter) error {
	h := d.Headers
	if h == nil {
		h = map[string][]string{}
	}
	headers, err := json.Marshal(h)
	if err != nil {
		return err
	}
	err = queries.DeadLetterInsert(ctx, tx, dbsqlc.DeadLetterInsertParams{
		Subject:      d.Subject,
		StreamSeq:    int64(d.StreamSeq),
		EventID:      d.EventID,
		NumDelivered: int64(d.NumDelivered),
		Reason:       d.Reason,
		Payload:      d.Payload,
		Headers:      headers,
	})
	if err != nil {
		return fmt.Errorf("insert dead letter: %w", err)
	}
	return nil
}
