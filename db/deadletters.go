package db

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/stripesync/stripesync/db/internal/dbsqlc"
)

// StoredDeadLetter is a dead letter as stripe.dead_letters holds it.
type StoredDeadLetter struct {
	ID int64
	DeadLetter
	CreatedAt time.Time
}

// Header is the first value of the message header key, "" when absent.
func (d StoredDeadLetter) Header(key string) string {
	if vs := d.Headers[key]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// DeadLetterFilter selects dead letters: all when empty, else those whose
// reason contains Reason, or those with the IDs.
type DeadLetterFilter struct {
	Reason string
	IDs    []int64
}

// DeadLetters returns the dead letters f selects that are not replayed yet,
// oldest first.
func DeadLetters(ctx context.Context, tx DBTX, f DeadLetterFilter) ([]StoredDeadLetter, error) {
	rows, err := queries.DeadLetterList(ctx, tx, dbsqlc.DeadLetterListParams{ReasonLike: f.Reason, Ids: f.IDs})
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	out := make([]StoredDeadLetter, 0, len(rows))
	for _, r := range rows {
		d := StoredDeadLetter{ID: r.ID, CreatedAt: r.CreatedAt, DeadLetter: DeadLetter{
			Subject: r.Subject, StreamSeq: uint64(r.StreamSeq), EventID: r.EventID,
			NumDelivered: uint64(r.NumDelivered), Reason: r.Reason, Payload: r.Payload,
		}}
		if err := json.Unmarshal(r.Headers, &d.Headers); err != nil {
			return nil, fmt.Errorf("dead letter %d: headers: %w", r.ID, err)
		}
		out = append(out, d)
	}
	return out, nil
}

// MarkReplayed records that dead letter id was published again. It is kept.
func MarkReplayed(ctx context.Context, tx DBTX, id int64) error {
	if err := queries.DeadLetterMarkReplayed(ctx, tx, id); err != nil {
		return fmt.Errorf("mark dead letter %d replayed: %w", id, err)
	}
	return nil
}

// DeadLettersByReason counts the dead letters not replayed, by reason.
func DeadLettersByReason(ctx context.Context, tx DBTX) (map[string]int64, error) {
	rows, err := queries.DeadLetterCountByReason(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("count dead letters: %w", err)
	}
	out := make(map[string]int64, len(rows))
	for _, r := range rows {
		out[r.Reason] = r.N
	}
	return out, nil
}
