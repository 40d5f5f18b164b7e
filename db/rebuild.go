package db

import (
	"context"
	"fmt"
	"time"

	"github.com/stripesync/stripesync/db/internal/dbsqlc"
	"github.com/stripesync/stripesync/pkg/catalog"
)

// ObjectRows returns up to n rows of res whose id sorts after after, in id
// order, each whole: the state it holds, as of its state_at, with the event
// that wrote it. Paging by id reads a relation once even while it is written.
func ObjectRows(ctx context.Context, tx DBTX, res *catalog.Resource, after string, n int) ([]Object, error) {
	page, ok := objectRowsPages[res.Relation()]
	if !ok {
		return nil, fmt.Errorf("no relation for %s: add its migration and run make generate", res.Object)
	}
	rows, err := page(ctx, tx, after, n)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", res.Relation(), err)
	}
	return rows, nil
}

// EventPosition is a place in the order stored events are applied again:
// created, then received, then id. The zero value is before every event.
type EventPosition struct {
	Created  time.Time
	Received time.Time
	ID       string
}

// StoredEvent is an event as stripe.events holds it, with its position.
type StoredEvent struct {
	EventPosition
	// Data is the whole event, as Stripe sent it (keys in jsonb's order).
	Data []byte
}

// StoredEvents returns up to n stored events after pos about objects whose
// Stripe object name is among objects (snapshot events by their object, thin
// events by their related object), in created, received, id order: the
// order in which a rebuild applies them again, close to the order they were
// first applied in.
func StoredEvents(ctx context.Context, tx DBTX, objects []string, pos EventPosition, n int) ([]StoredEvent, error) {
	rows, err := queries.EventRebuildPage(ctx, tx, dbsqlc.EventRebuildPageParams{
		ObjectTypes:   objects,
		AfterCreated:  pos.Created,
		AfterReceived: pos.Received,
		AfterID:       pos.ID,
		Lim:           int32(n),
	})
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	out := make([]StoredEvent, len(rows))
	for i, r := range rows {
		out[i] = StoredEvent{EventPosition: EventPosition{Created: r.Created, Received: r.ReceivedAt, ID: r.ID}, Data: r.Data}
	}
	return out, nil
}

// ObjectsByID returns the rows of res that those of ids have, deleted or
// not, each whole, in id order; an id without a row is missing from the
// result.
func ObjectsByID(ctx context.Context, tx DBTX, res *catalog.Resource, ids []string) ([]Object, error) {
	byID, ok := objectRowsByID[res.Relation()]
	if !ok {
		return nil, fmt.Errorf("no relation for %s: add its migration and run make generate", res.Object)
	}
	rows, err := byID(ctx, tx, ids)
	if err != nil {
		return nil, fmt.Errorf("read %s by id: %w", res.Relation(), err)
	}
	return rows, nil
}
