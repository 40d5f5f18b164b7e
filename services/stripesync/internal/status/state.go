package status

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stripesync/stripesync/pkg/events"
)

// CatchUp is where the syncer's events catch-up stands: the cursor of each
// account, the created time up to which its events (and thin events) were
// listed and published.
type CatchUp struct {
	// Cursors counts the accounts with an events cursor.
	Cursors int `json:"cursors"`
	// Oldest and Newest are the events cursors furthest behind and ahead;
	// zero when there is none.
	Oldest time.Time `json:"oldest,omitzero"`
	Newest time.Time `json:"newest,omitzero"`
	// OldestSeconds is the age of Oldest.
	OldestSeconds float64 `json:"oldest_seconds"`
	// ThinCursors, ThinOldest and ThinNewest are the same for thin events.
	ThinCursors int       `json:"thin_cursors"`
	ThinOldest  time.Time `json:"thin_oldest,omitzero"`
	ThinNewest  time.Time `json:"thin_newest,omitzero"`
	// Accounts are the cursors of each account, the platform first; left
	// out by Redact.
	Accounts []AccountCursor `json:"accounts,omitempty"`
}

// AccountCursor is the catch-up of one account.
type AccountCursor struct {
	// Account is "platform" or a connected account's id.
	Account    string    `json:"account"`
	Events     time.Time `json:"events,omitzero"`
	ThinEvents time.Time `json:"thin_events,omitzero"`
}

// Runs counts the syncer fleet's backfill runs by state, from their status
// records (events.SyncRun): the newest state of each run id.
type Runs struct {
	Queued  int `json:"queued"`
	Running int `json:"running"`
	Done    int `json:"done"`
	Failed  int `json:"failed"`
}

func (r *Runs) add(value []byte) {
	var run events.SyncRun
	if json.Unmarshal(value, &run) != nil {
		return
	}
	switch run.State {
	case events.RunQueued:
		r.Queued++
	case events.RunRunning:
		r.Running++
	case events.RunDone:
		r.Done++
	case events.RunFailed:
		r.Failed++
	}
}

// Backfill is a backfill run with checkpoints in the state bucket.
type Backfill struct {
	// Run is the run's id, a hash of its request.
	Run string `json:"run"`
	// Planned is true once every account of the run is planned.
	Planned bool `json:"planned"`
	// PlannedAfter is the planning cursor: the last connected account
	// planned. Left out by Redact.
	PlannedAfter string `json:"planned_after,omitempty"`
	// Until is the end of the run's created ranges.
	Until time.Time `json:"until,omitzero"`
	// InFlight counts the tasks not done; Objects the objects they listed.
	InFlight int   `json:"in_flight"`
	Objects  int64 `json:"objects"`
	// Tasks are the tasks in flight.
	Tasks []Task `json:"tasks"`
}

// Task is a task of a backfill run in flight: one resource of one account,
// within a created range, listed up to Cursor.
type Task struct {
	// ID, Account and Cursor (the last object listed) are left out by
	// Redact.
	ID       string    `json:"id,omitempty"`
	Account  string    `json:"account,omitempty"`
	Resource string    `json:"resource"`
	From     time.Time `json:"from,omitzero"`
	To       time.Time `json:"to,omitzero"`
	Cursor   string    `json:"cursor,omitempty"`
	Objects  int64     `json:"objects"`
}

// checkpointTask and checkpointPlan decode the syncer's checkpoints, the
// values of a run's keys "<run>.slot<n>" and "<run>.plan" (task and
// planState in services/syncer/internal/backfill/checkpoint.go, which
// writes them; keep the two in step).
type checkpointTask struct {
	ID       string `json:"id"`
	Account  string `json:"account"`
	Resource string `json:"resource"`
	From     int64  `json:"from"`
	To       int64  `json:"to"`
	Cursor   string `json:"cursor"`
	Objects  int64  `json:"objects"`
	Done     bool   `json:"done"`
}

type checkpointPlan struct {
	Until int64  `json:"until"`
	After string `json:"after"`
	Done  bool   `json:"done"`
}

const (
	eventsCursorPrefix     = "cursor.events."
	thinEventsCursorPrefix = "cursor.thin_events."
)

// gatherState reads the state bucket, every key once, through a watcher
// that delivers the current values and stops. A bucket that does not exist
// (the syncer never ran) leaves CatchUp and Backfills empty.
func (r *Report) gatherState(ctx context.Context, js jetstream.JetStream) error {
	kv, err := js.KeyValue(ctx, events.StateBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return err
	}
	defer w.Stop()

	cursors := map[string]*AccountCursor{}
	cursor := func(account string) *AccountCursor {
		c := cursors[account]
		if c == nil {
			c = &AccountCursor{Account: account}
			cursors[account] = c
		}
		return c
	}
	runs := map[string]*Backfill{}
	run := func(id string) *Backfill {
		b := runs[id]
		if b == nil {
			b = &Backfill{Run: id, Tasks: []Task{}}
			runs[id] = b
		}
		return b
	}
	for {
		var e jetstream.KeyValueEntry
		select {
		case e = <-w.Updates():
		case <-ctx.Done():
			return ctx.Err()
		}
		if e == nil {
			break // the current values are all delivered
		}
		key, value := e.Key(), e.Value()
		switch {
		case strings.HasPrefix(key, eventsCursorPrefix):
			if t, err := time.Parse(time.RFC3339, string(value)); err == nil {
				cursor(strings.TrimPrefix(key, eventsCursorPrefix)).Events = t.UTC()
			}
		case strings.HasPrefix(key, thinEventsCursorPrefix):
			if t, err := time.Parse(time.RFC3339, string(value)); err == nil {
				cursor(strings.TrimPrefix(key, thinEventsCursorPrefix)).ThinEvents = t.UTC()
			}
		case strings.HasPrefix(key, events.SyncRunPrefix):
			r.Runs.add(value)
		case key == events.EventsRotationKey:
		default:
			id, name, ok := strings.Cut(key, ".")
			if !ok {
				continue
			}
			if err := run(id).add(name, value); err != nil {
				return fmt.Errorf("checkpoint %s: %w", key, err)
			}
		}
	}

	r.CatchUp = catchUp(cursors)
	if !r.CatchUp.Oldest.IsZero() {
		r.CatchUp.OldestSeconds = r.age(r.CatchUp.Oldest)
	}
	r.Backfills = []Backfill{}
	for _, id := range sortedKeys(runs) {
		b := runs[id]
		slices.SortFunc(b.Tasks, func(a, b Task) int {
			return cmp.Or(cmp.Compare(accountOrder(a.Account), accountOrder(b.Account)),
				cmp.Compare(a.Resource, b.Resource), cmp.Compare(a.ID, b.ID))
		})
		r.Backfills = append(r.Backfills, *b)
	}
	return nil
}

// accountOrder sorts the platform before the connected accounts.
func accountOrder(account string) string {
	if account == "platform" {
		return ""
	}
	return account
}

// add records the checkpoint name ("plan", "slot<n>") of the run.
func (b *Backfill) add(name string, value []byte) error {
	if name == "plan" {
		var p checkpointPlan
		if err := json.Unmarshal(value, &p); err != nil {
			return err
		}
		b.Planned, b.PlannedAfter = p.Done, p.After
		if p.Until > 0 {
			b.Until = time.Unix(p.Until, 0).UTC()
		}
		return nil
	}
	if n, err := strconv.Atoi(strings.TrimPrefix(name, "slot")); err != nil || n <= 0 {
		return nil // not a key of the syncer's; ignored
	}
	var t checkpointTask
	if err := json.Unmarshal(value, &t); err != nil {
		return err
	}
	if t.Done {
		return nil // a free slot
	}
	task := Task{ID: t.ID, Account: cmp.Or(t.Account, "platform"), Resource: t.Resource, Cursor: t.Cursor, Objects: t.Objects}
	if t.From > 0 {
		task.From = time.Unix(t.From, 0).UTC()
	}
	if t.To > 0 {
		task.To = time.Unix(t.To, 0).UTC()
	}
	b.Tasks = append(b.Tasks, task)
	b.InFlight++
	b.Objects += t.Objects
	return nil
}

// catchUp summarises the cursors, the platform's first.
func catchUp(cursors map[string]*AccountCursor) CatchUp {
	var c CatchUp
	for _, acct := range sortedKeys(cursors) {
		ac := cursors[acct]
		if acct == "platform" {
			c.Accounts = append([]AccountCursor{*ac}, c.Accounts...)
		} else {
			c.Accounts = append(c.Accounts, *ac)
		}
		if !ac.Events.IsZero() {
			c.Cursors++
			c.Oldest, c.Newest = earliest(c.Oldest, ac.Events), latest(c.Newest, ac.Events)
		}
		if !ac.ThinEvents.IsZero() {
			c.ThinCursors++
			c.ThinOldest, c.ThinNewest = earliest(c.ThinOldest, ac.ThinEvents), latest(c.ThinNewest, ac.ThinEvents)
		}
	}
	return c
}

// earliest and latest treat the zero time as no time.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
