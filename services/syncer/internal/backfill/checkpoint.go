package backfill

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// Bucket is the NATS key-value bucket holding backfill checkpoints.
const Bucket = "stripesync_backfill"

// KeyValueConfig is the only definition of the checkpoint bucket. One key per
// task of a run; a run that completes deletes its keys, a run that fails or
// is killed leaves them for the next run of the same request to resume.
func KeyValueConfig() jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:      Bucket,
		Description: "progress of syncer backfills, for resuming them",
		History:     1,
		Storage:     jetstream.FileStorage,
	}
}

// task is a part of a run: one resource of one account, within a created
// range, listed from Cursor on.
type task struct {
	ID      string `json:"id"`
	Account string `json:"account,omitempty"`
	Table   string `json:"table"`
	// From and To bound created, [From, To), for rules that filter by it.
	From int64 `json:"from,omitempty"`
	To   int64 `json:"to,omitempty"`
	// Cursor is the last object published: listing resumes after it.
	Cursor  string `json:"cursor,omitempty"`
	Objects int64  `json:"objects"`
	Done    bool   `json:"done,omitempty"`
}

type checkpoints struct {
	kv  jetstream.KeyValue
	run string
}

func (c checkpoints) key(t *task) string { return c.run + "." + t.ID }

// save records t. The processor may already hold what a later checkpoint
// would record: a resumed task lists again from the last saved cursor, and
// the version rule makes the repeats harmless.
func (c checkpoints) save(ctx context.Context, t *task) error {
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	if _, err := c.kv.Put(ctx, c.key(t), b); err != nil {
		return fmt.Errorf("checkpoint %s: %w", t.ID, err)
	}
	return nil
}

// load returns the tasks recorded for the run.
func (c checkpoints) load(ctx context.Context) ([]*task, error) {
	lister, err := c.kv.ListKeysFiltered(ctx, c.run+".>")
	if err != nil {
		return nil, fmt.Errorf("list checkpoints: %w", err)
	}
	var tasks []*task
	for k := range lister.Keys() {
		e, err := c.kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read checkpoint %s: %w", k, err)
		}
		var t task
		if err := json.Unmarshal(e.Value(), &t); err != nil {
			return nil, fmt.Errorf("decode checkpoint %s: %w", k, err)
		}
		tasks = append(tasks, &t)
	}
	return tasks, nil
}

// clear forgets the run once it completed.
func (c checkpoints) clear(ctx context.Context, tasks []*task) error {
	for _, t := range tasks {
		if err := c.kv.Purge(ctx, c.key(t)); err != nil {
			return fmt.Errorf("clear checkpoint %s: %w", t.ID, err)
		}
	}
	return nil
}
