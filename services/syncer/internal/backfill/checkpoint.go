package backfill

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stripesync/stripesync/pkg/catalog"
	"github.com/stripesync/stripesync/pkg/events"
)

// task is a part of a run: one resource of one account, within a created
// range, listed from Cursor on.
type task struct {
	// ID names the task in logs, and lets a resumed run recognise a task it
	// already holds: the planner makes the same id for the same account and
	// resource; a split task adds a suffix.
	ID      string `json:"id"`
	Account string `json:"account,omitempty"`
	// Resource is the object name of the resource listed.
	Resource string `json:"resource"`
	// From and To bound created, [From, To), for listings that filter by
	// it (a per-parent listing: its parents' created); To is 0 otherwise.
	From int64 `json:"from,omitempty"`
	To   int64 `json:"to,omitempty"`
	// Floor is where splitting starts halving: the account's creation.
	// Objects older than that (imported data) are rare, so the range below
	// it is never worth a half of its own.
	Floor int64 `json:"floor,omitempty"`
	// Cursor is the last object published (a per-parent listing: the last
	// parent whose objects were all published); listing resumes after it.
	Cursor  string `json:"cursor,omitempty"`
	Objects int64  `json:"objects,omitempty"`
	// Done marks a finished task: its slot is free for the next one.
	Done bool `json:"done,omitempty"`

	res  *catalog.Resource
	slot int
}

// planState is how far the planner of a run got. Every account before the
// cursor has all its tasks saved: they are resumed from their checkpoints
// (or are done), never planned again.
type planState struct {
	// Until is the end of every created range of the run, fixed when the
	// run starts so that the tasks planned after a resume line up.
	Until int64 `json:"until"`
	// First is true once the first account (the platform, or the one
	// account requested) is planned.
	First bool `json:"first,omitempty"`
	// After is the last connected account planned, in the order
	// /v1/accounts lists them: planning resumes after it.
	After string `json:"after,omitempty"`
	// Done is true once every account is planned.
	Done bool `json:"done,omitempty"`
}

// checkpoints keep a run's progress in the state bucket: its planState, and
// its tasks in slots. A task takes a free slot when it is planned (or split
// off), before any of its objects is published, and gives it back when it
// is done; the next task overwrites it. So a run holds about as many keys as
// tasks in flight, whatever its number of accounts and resources, and
// leaves no delete marker per task behind in the bucket.
type checkpoints struct {
	kv  jetstream.KeyValue
	run string

	mu   sync.Mutex
	free []int
	next int
}

const (
	planKey    = "plan"
	slotPrefix = "slot"
)

func (c *checkpoints) slotKey(slot int) string {
	return events.BackfillTaskKey(c.run, slotPrefix+strconv.Itoa(slot))
}

// save records t, giving it a slot the first time. The processor may
// already hold what a later checkpoint would record: a resumed task lists
// again from the last saved cursor, and the version rule makes the repeats
// harmless.
func (c *checkpoints) save(ctx context.Context, t *task) error {
	if t.slot == 0 {
		c.mu.Lock()
		if n := len(c.free); n > 0 {
			t.slot, c.free = c.free[n-1], c.free[:n-1]
		} else {
			c.next++
			t.slot = c.next
		}
		c.mu.Unlock()
	}
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	if _, err := c.kv.Put(ctx, c.slotKey(t.slot), b); err != nil {
		return fmt.Errorf("checkpoint %s: %w", t.ID, err)
	}
	return nil
}

// done records that t listed everything it had to, and frees its slot.
func (c *checkpoints) done(ctx context.Context, t *task) error {
	t.Done = true
	if err := c.save(ctx, t); err != nil {
		return err
	}
	c.mu.Lock()
	c.free = append(c.free, t.slot)
	c.mu.Unlock()
	return nil
}

func (c *checkpoints) savePlan(ctx context.Context, p planState) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if _, err := c.kv.Put(ctx, events.BackfillTaskKey(c.run, planKey), b); err != nil {
		return fmt.Errorf("checkpoint plan: %w", err)
	}
	return nil
}

// load reads the run's checkpoints: its planState (false when the run is
// new) and the tasks it left unfinished. It must be called before the
// first save.
func (c *checkpoints) load(ctx context.Context) (planState, bool, []*task, error) {
	var plan planState
	found := false
	var tasks []*task
	keys, err := c.keys(ctx)
	if err != nil {
		return plan, false, nil, err
	}
	for _, k := range keys {
		e, err := c.kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return plan, false, nil, fmt.Errorf("read checkpoint %s: %w", k, err)
		}
		if k == events.BackfillTaskKey(c.run, planKey) {
			if err := json.Unmarshal(e.Value(), &plan); err != nil {
				return plan, false, nil, fmt.Errorf("decode checkpoint %s: %w", k, err)
			}
			found = true
			continue
		}
		slot, err := strconv.Atoi(strings.TrimPrefix(k, events.BackfillTaskKey(c.run, slotPrefix)))
		if err != nil || slot <= 0 {
			return plan, false, nil, fmt.Errorf("checkpoint %s: not a task slot", k)
		}
		t := &task{slot: slot}
		if err := json.Unmarshal(e.Value(), t); err != nil {
			return plan, false, nil, fmt.Errorf("decode checkpoint %s: %w", k, err)
		}
		c.next = max(c.next, slot)
		if t.Done {
			c.free = append(c.free, slot)
			continue
		}
		res, ok := catalog.Lookup(t.Resource)
		if !ok || res.List == nil {
			return plan, false, nil, fmt.Errorf("checkpoint %s: %q is not a listed resource", k, t.Resource)
		}
		t.res = res
		tasks = append(tasks, t)
	}
	return plan, found, tasks, nil
}

// clear forgets the run once it completed.
func (c *checkpoints) clear(ctx context.Context) error {
	keys, err := c.keys(ctx)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := c.kv.Purge(ctx, k); err != nil {
			return fmt.Errorf("clear checkpoint %s: %w", k, err)
		}
	}
	return nil
}

func (c *checkpoints) keys(ctx context.Context) ([]string, error) {
	lister, err := c.kv.ListKeysFiltered(ctx, events.BackfillRunKeys(c.run))
	if err != nil {
		return nil, fmt.Errorf("list checkpoints: %w", err)
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	return keys, nil
}
