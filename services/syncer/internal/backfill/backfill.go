// Package backfill lists a Stripe account through the API and publishes
// every object to the stream, where the processor applies it under the same
// version rule as webhooks: a backfilled object is as new as the request
// that fetched it.
//
// What to list is the catalog's: every resource with a Listing, with its
// filters (status=all), per parent when it has no account-wide list, on the
// platform only when so marked. A run is split into tasks (one resource of
// one account, within a created range) that workers list at once under one
// rate limiter. The planner makes the tasks as the workers take them, one
// account at a time, so a platform with 100,000 connected accounts starts
// at once and holds a page of accounts in memory, not its whole plan. A
// task whose list turns out long is split while workers are idle, so one
// large resource does not leave the rest of the rate unused. Stripe limits
// each endpoint as well as the whole account
// (https://docs.stripe.com/rate-limits), so workers take the endpoints in
// turn, and a task is split only while its endpoint has room (see
// runner.room): several large resources are listed at once, and none takes
// the workers the others need. After each page is stored by JetStream the
// task's cursor is saved (see checkpoints), so a killed run resumes where it
// stopped.
package backfill

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stripe/stripe-go/v76/form"

	"github.com/stripesync/stripesync/pkg/catalog"
	"github.com/stripesync/stripesync/pkg/stripeapi"
)

// Engine runs backfills.
type Engine struct {
	log         *slog.Logger
	api         *stripeapi.Client
	js          jetstream.JetStream
	kv          jetstream.KeyValue
	livemode    bool
	concurrency int
	limiter     *stripeapi.Limiter
	progress    *Progress

	// splitFunc, when set, is told of every split (tests).
	splitFunc func(older, newer *task)
}

// Config configures an Engine.
type Config struct {
	// Livemode is recorded on every object (the key's mode).
	Livemode bool
	// Concurrency is the number of tasks listed at once. To use the whole
	// rate it must cover rate × request latency.
	Concurrency int
	// Limiter, when set, is the limiter behind the API client. A long task
	// is then split for an idle worker, once its endpoint has two tasks
	// running, only while no request waits at the limiter for the endpoint:
	// while some wait, the endpoint (or the global rate) is used up, and
	// another task there would only wait too, in place of one that could
	// go.
	Limiter *stripeapi.Limiter
}

// New returns an Engine listing through api and publishing to js, with
// checkpoints in kv, the events.StateBucket.
func New(log *slog.Logger, api *stripeapi.Client, js jetstream.JetStream, kv jetstream.KeyValue, cfg Config, progress *Progress) *Engine {
	return &Engine{log: log, api: api, js: js, kv: kv, livemode: cfg.Livemode, concurrency: max(cfg.Concurrency, 1),
		limiter: cfg.Limiter, progress: progress}
}

// ErrIncomplete is returned when the run stopped before its end: a task or
// the planning failed, or ctx was cancelled. The next run of the same
// request resumes it.
var ErrIncomplete = errors.New("backfill incomplete")

// Run backfills what req asks for and returns once every object is stored
// on the stream, or with an error wrapping ErrIncomplete when a part failed
// or ctx was cancelled (at once, whatever the run was doing).
func (e *Engine) Run(ctx context.Context, req Request) error {
	return e.RunObserved(ctx, req, nil)
}

// Observer is told what a run lists, as it lists it: what reconciliation
// compares the mirror with. Its methods are called from several goroutines
// at once.
type Observer interface {
	// Resumed is called when the run resumes an earlier one, so that it
	// lists only what the earlier one had not.
	Resumed()
	// Planned is called before the first task of an account (a
	// resource's listing) is queued, with the resources it lists; an error
	// stops the run.
	Planned(ctx context.Context, account string, resources []*catalog.Resource) error
	// Listed is called for each object of a listed resource (one with a
	// catalog Listing) the run publishes, once JetStream stored it.
	Listed(account string, res *catalog.Resource, id string)
	// ListComplete is called when a parent's nested list that the parent
	// held cut short was paged to its end: the parent's state fetched at
	// fetchedAt held exactly items. The items beyond those the parent holds
	// are published by then, but the stream may not have stored them yet.
	// An error fails that part of the run.
	ListComplete(ctx context.Context, account string, list catalog.NestedList, parent string, fetchedAt time.Time, items []string) error
}

// RunObserved is Run, telling obs (when not nil) what it lists.
func (e *Engine) RunObserved(ctx context.Context, req Request, obs Observer) error {
	if len(req.Resources) == 0 {
		return errors.New("backfill: no resources requested")
	}
	cp := &checkpoints{kv: e.kv, run: req.RunID()}
	state, resumed, tasks, err := cp.load(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrIncomplete, err)
	}
	q := newQueue(e.concurrency)
	have := make(map[string]bool, len(tasks))
	for _, t := range tasks {
		have[t.ID] = true
		q.pushFront(t)
		e.progress.add(t.res, t.Objects)
		e.progress.plan(t)
	}
	if resumed {
		if obs != nil {
			obs.Resumed()
		}
		e.log.Info("resuming backfill", "run", cp.run, "tasks", len(tasks), "planned_after", state.After, "planned", state.Done)
	} else {
		state = planState{Until: time.Now().Unix() + 1}
		e.log.Info("starting backfill", "run", cp.run, "resources", len(req.Resources), "account", req.Account, "since", req.Since)
	}

	r := &runner{Engine: e, cp: cp, q: q, obs: obs}
	p := &planner{api: e.api, req: req, cp: cp, obs: obs, push: func(t *task) bool { e.progress.plan(t); return q.push(t) }, state: state, have: have, warnf: e.log.Warn}
	stopQueue := context.AfterFunc(ctx, q.stop) // a cancelled run stops at once, whatever it waits for
	defer stopQueue()
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := p.run(ctx); err != nil && !errors.Is(err, errStopped) && ctx.Err() == nil {
			r.fail(err)
		}
		q.planDone()
	})
	for range e.concurrency {
		wg.Go(func() { r.work(ctx) })
	}
	wg.Wait()

	if n := len(r.failed); n > 0 {
		return fmt.Errorf("%w: %d parts failed, first: %w", ErrIncomplete, n, r.failed[0])
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrIncomplete, err)
	}
	e.log.Info("backfill complete", "run", cp.run, "tasks", r.tasks.Load(), "splits", r.splits.Load())
	return cp.clear(context.WithoutCancel(ctx))
}

type runner struct {
	*Engine
	cp  *checkpoints
	q   *queue
	obs Observer // nil when nobody observes

	tasks, splits atomic.Int64

	mu     sync.Mutex
	failed []error
}

// fail records a part of the run that failed; the others go on, and Run
// returns the first failure.
func (r *runner) fail(err error) {
	r.log.Warn("backfill part failed; the run goes on, and the next run of the same request resumes it", "err", err)
	r.mu.Lock()
	r.failed = append(r.failed, err)
	r.mu.Unlock()
}

func (r *runner) work(ctx context.Context) {
	for {
		t, ok := r.q.take()
		if !ok {
			return
		}
		r.tasks.Add(1)
		if err := r.run(ctx, t); err != nil && ctx.Err() == nil {
			r.fail(fmt.Errorf("%s of %q: %w", t.Resource, t.Account, err))
		}
		r.q.finish(t)
	}
}

// run lists one task to its end, saving its cursor after every page. A
// per-parent task pages the parents' list and lists each parent's objects.
func (r *runner) run(ctx context.Context, t *task) error {
	l := t.res.List
	path, filters := l.Path, maps.Clone(l.Filters)
	if l.Per != "" {
		parents := catalog.MustLookup(l.Per).List
		path, filters = parents.Path, maps.Clone(parents.Filters)
	}
	if filters == nil {
		filters = url.Values{}
	}
	if t.To != 0 {
		filters.Set("created[gte]", strconv.FormatInt(t.From, 10))
		filters.Set("created[lt]", strconv.FormatInt(t.To, 10))
	}
	err := r.api.List(ctx, path, stripeapi.ListParams{Account: t.Account, Filters: filters, StartingAfter: t.Cursor},
		func(pg *stripeapi.Page, fv *form.Values) error {
			n, err := r.publishPage(ctx, t, pg)
			if err != nil {
				return err
			}
			if len(pg.Items) > 0 {
				t.Cursor = strings.Clone(pg.Items[len(pg.Items)-1].ID) // not the page's memory
			}
			t.Objects += n
			if !pg.HasMore {
				return nil // done: the checkpoint saying so comes next
			}
			if t.To != 0 && r.q.hungry() && r.room(t) {
				if err := r.split(ctx, t, pg, fv); err != nil {
					return err
				}
			}
			return r.cp.save(ctx, t)
		})
	if err != nil {
		return err
	}
	return r.cp.done(ctx, t)
}

// room reports whether another task of t's endpoint would list faster:
// while it has fewer than two tasks running, one's pause between pages
// (storing a page, fetching the next) is the other's turn; beyond that,
// while no request waits at the limiter for it.
func (r *runner) room(t *task) bool {
	e := t.endpoint()
	return r.limiter == nil || r.q.runningAt(e) < 2 || r.limiter.Waiting(e) == 0
}

// split hands the older half of what is left of t to an idle worker. What is
// left are the objects created in [t.From, c], c the created time of the
// last object listed; t keeps [m, To) and its cursor, the new task takes
// [From, m). Halving starts at t.Floor when it lies in the range, so that
// both halves hold objects.
func (r *runner) split(ctx context.Context, t *task, pg *stripeapi.Page, fv *form.Values) error {
	last := pg.Items[len(pg.Items)-1].Created
	lower := t.From
	if t.Floor > lower && t.Floor < last {
		lower = t.Floor
	}
	m := lower + (last-lower)/2
	if m <= t.From {
		return nil
	}
	older := &task{
		ID: splitID(t, m), Account: t.Account, Resource: t.Resource, res: t.res,
		From: t.From, To: m, Floor: t.Floor,
	}
	// The older half is saved before t shrinks: a crash in between lists
	// some objects twice, never none.
	if err := r.cp.save(ctx, older); err != nil {
		return err
	}
	t.From = m
	fv.Set("created[gte]", strconv.FormatInt(m, 10))
	r.progress.plan(older)
	r.progress.plan(t)
	r.splits.Add(1)
	if r.splitFunc != nil {
		r.splitFunc(older, t)
	}
	r.q.pushFront(older)
	return nil
}
