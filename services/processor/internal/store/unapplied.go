package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/stripesync/stripesync/db"
)

// KeepUnapplied keeps ev, an event that cannot be applied, and its message
// d, byte for byte, as a dead letter with the reason, in one transaction:
// the event in stripe.events, marked unapplied with the reason, its object
// in no relation. A later delivery of the same event (a replay of the dead
// letter) is applied as a new event.
//
// stripe.events keeps the event's bytes as received. Bytes that are not
// UTF-8, which no PostgreSQL text holds, are the one exception: then the
// event is kept with those replaced (db.StorableJSON).
//
// The error is permanent (IsPermanent) when even that cannot be stored: then
// keep d alone with KeepDeadLetter.
func (s *Store) KeepUnapplied(ctx context.Context, ev Event, d DeadLetter) error {
	ref, _ := about(ev) // what it is about, as far as that can be read
	row := db.Event{ID: ev.ID, Type: ev.Type, Account: ev.Account, Livemode: ev.Livemode,
		APIVersion: ev.APIVersion, Created: ev.Created, Data: ev.Raw, ObjectType: ref.Object, ObjectID: ref.ID}
	err := s.keepUnapplied(ctx, row, d)
	if IsPermanent(err) {
		if row.Data, err = db.StorableJSON(ev.Raw); err != nil {
			return permanent(fmt.Errorf("event %s: %w", ev.ID, err))
		}
		err = s.keepUnapplied(ctx, row, d)
	}
	if err != nil {
		return fmt.Errorf("keep unapplied event: %w", err)
	}
	return nil
}

func (s *Store) keepUnapplied(ctx context.Context, row db.Event, d DeadLetter) error {
	return classify(pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := db.InsertUnappliedEvent(ctx, tx, row, d.Reason); err != nil {
			return err
		}
		return db.InsertDeadLetter(ctx, tx, d)
	}))
}
