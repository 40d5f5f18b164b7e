package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/stripesync/stripesync/db"
)

// KeepUnapplied keeps ev, an event that cannot be applied, as far as it can
// be stored, and its message d, byte for byte, as a dead letter with the
// reason, in one transaction: the event in stripe.events, marked unapplied
// with the reason, its data with what jsonb cannot hold replaced
// (db.StorableJSON); its object in no relation. A later delivery of the same
// event (a replay of the dead letter) is applied as a new event.
//
// The error is permanent (IsPermanent) when even that cannot be stored: then
// keep d alone with KeepDeadLetter.
func (s *Store) KeepUnapplied(ctx context.Context, ev Event, d DeadLetter) error {
	data, err := db.StorableJSON(ev.Raw)
	if err != nil {
		return permanent(fmt.Errorf("event %s: %w", ev.ID, err))
	}
	row := db.Event{ID: ev.ID, Type: ev.Type, Account: ev.Account, Livemode: ev.Livemode,
		APIVersion: ev.APIVersion, Created: ev.Created, Data: data}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := db.InsertUnappliedEvent(ctx, tx, row, d.Reason); err != nil {
			return err
		}
		return db.InsertDeadLetter(ctx, tx, d)
	})
	if err != nil {
		return fmt.Errorf("keep unapplied event: %w", classify(err))
	}
	return nil
}
