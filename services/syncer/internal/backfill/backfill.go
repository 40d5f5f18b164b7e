// Package backfill lists a Stripe account through the API and publishes
// every object to the stream, where the processor applies it under the same
// version rule as webhooks: a backfilled object is as new as the request
// that fetched it.
//
// A run is split into tasks (one resource of one account, within a created
// range) that workers list at once under one rate limiter. A task whose list
// turns out long is split again while workers are idle, so one large
// resource does not leave the rest of the rate unused. After each page is
// stored by JetStream the task's cursor is saved (see checkpoints), so a
// killed run resumes where it stopped.
package backfill

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stripe/stripe-go/v76/form"
	"golang.org/x/sync/errgroup"

	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/stripeapi"
)

// Request says what to backfill.
type Request struct {
	// Resources are relation names (customers, invoice_line_items, …); empty
	// means all.
	Resources []string `json:"resources,omitempty"`
	// Account limits the run to one connected account. Empty means the
	// platform and every connected account.
	Account string `json:"account,omitempty"`
	// Since limits the run to objects created at or after it, for the
	// resources whose lists filter by created.
	Since time.Time `json:"since,omitzero"`
}

// RunID names the run of r: the same request resumes the same run.
func (r Request) RunID() string {
	names := slices.Clone(r.Resources)
	slices.Sort(names)
	h := sha256.Sum256(fmt.Appendf(nil, "%s|%s|%d", strings.Join(names, ","), r.Account, r.Since.Unix()))
	return hex.EncodeToString(h[:6])
}

// Engine runs backfills.
type Engine struct {
	log         *slog.Logger
	api         *stripeapi.Client
	js          jetstream.JetStream
	kv          jetstream.KeyValue
	livemode    bool
	concurrency int
	progress    *Progress
}

// Config configures an Engine.
type Config struct {
	// Livemode is recorded on every object (the key's mode).
	Livemode bool
	// Concurrency is the number of tasks listed at once. To use the whole
	// rate it must cover rate × request latency.
	Concurrency int
}

// New returns an Engine listing through api and publishing to js, with
// checkpoints in kv.
func New(log *slog.Logger, api *stripeapi.Client, js jetstream.JetStream, kv jetstream.KeyValue, cfg Config, progress *Progress) *Engine {
	return &Engine{log: log, api: api, js: js, kv: kv, livemode: cfg.Livemode, concurrency: max(cfg.Concurrency, 1), progress: progress}
}

// ErrIncomplete is returned when some task failed: the run is not done, and
// the next run of the same request resumes it.
var ErrIncomplete = errors.New("backfill incomplete")

// Run backfills what req asks for and returns once every object is stored
// on the stream, or with an error wrapping ErrIncomplete when a part failed.
func (e *Engine) Run(ctx context.Context, req Request) error {
	rules, err := Select(req.Resources)
	if err != nil {
		return err
	}
	cp := checkpoints{kv: e.kv, run: req.RunID()}
	tasks, err := cp.load(ctx)
	if err != nil {
		return err
	}
	if len(tasks) > 0 {
		e.log.Info("resuming backfill", "run", cp.run, "tasks", len(tasks))
		for _, t := range tasks {
			e.progress.add(t.Table, t.Objects)
		}
	} else {
		if tasks, err = e.plan(ctx, req, rules); err != nil {
			return err
		}
		for _, t := range tasks {
			if err := cp.save(ctx, t); err != nil {
				return err
			}
		}
		e.log.Info("starting backfill", "run", cp.run, "tasks", len(tasks))
	}

	r := &runner{Engine: e, cp: cp, queue: make(chan *task, 1<<16)}
	var todo int
	for _, t := range tasks {
		if !t.Done {
			r.enqueue(t)
			todo++
		}
	}
	if todo == 0 {
		r.close()
	}
	var wg sync.WaitGroup
	for range e.concurrency {
		wg.Go(func() { r.work(ctx) })
	}
	wg.Wait()

	all := append(tasks, r.added...)
	if n := len(r.failed); n > 0 {
		return fmt.Errorf("%w: %d of %d tasks failed, first: %w", ErrIncomplete, n, len(all), r.failed[0])
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrIncomplete, err)
	}
	return cp.clear(context.WithoutCancel(ctx), all)
}

// plan makes the tasks of a new run: every rule for every account.
func (e *Engine) plan(ctx context.Context, req Request, rules []Rule) ([]*task, error) {
	accounts := []string{""}
	if req.Account != "" {
		accounts = []string{req.Account}
	} else if slices.ContainsFunc(rules, func(r Rule) bool { return !r.PlatformOnly }) {
		connected, err := e.api.ConnectedAccounts(ctx)
		if err != nil {
			return nil, err
		}
		accounts = append(accounts, connected...)
	}
	until := time.Now().Unix() + 1
	var tasks []*task
	add := func(acct, table string, from, to int64) {
		tasks = append(tasks, &task{ID: strconv.Itoa(len(tasks)), Account: acct, Table: table, From: from, To: to})
	}
	for _, acct := range accounts {
		// Splitting halves a created range; starting from the account's
		// creation rather than 1970 makes the halves hold objects. Anything
		// older (imported data) has a range of its own.
		born := int64(0)
		if req.Since.IsZero() {
			born = e.accountCreated(ctx, acct)
		}
		for _, rule := range rules {
			switch {
			case rule.PlatformOnly && acct != "":
			case !rule.Created && !rule.PerCustomer:
				add(acct, rule.Table, 0, 0)
			case !req.Since.IsZero():
				add(acct, rule.Table, req.Since.Unix(), until)
			case born > 0:
				add(acct, rule.Table, 0, born)
				add(acct, rule.Table, born, until)
			default:
				add(acct, rule.Table, 0, until)
			}
		}
	}
	return tasks, nil
}

// accountCreated returns when acct ("" the platform) was created, or 0 when
// that cannot be read.
func (e *Engine) accountCreated(ctx context.Context, acct string) int64 {
	raw, _, err := e.api.Get(ctx, "/v1/account", acct)
	if err != nil {
		e.log.Warn("account creation time unknown; created ranges start in 1970", "account", acct, "err", err)
		return 0
	}
	var a struct {
		Created int64 `json:"created"`
	}
	if err := gojson.Unmarshal(raw, &a); err != nil {
		return 0
	}
	return a.Created
}

type runner struct {
	*Engine
	cp      checkpoints
	queue   chan *task
	pending atomic.Int64
	idle    atomic.Int64
	nextID  atomic.Int64
	once    sync.Once

	mu     sync.Mutex
	added  []*task
	failed []error
}

func (r *runner) enqueue(t *task) {
	r.pending.Add(1)
	r.queue <- t
}

func (r *runner) close() { r.once.Do(func() { close(r.queue) }) }

func (r *runner) work(ctx context.Context) {
	for {
		r.idle.Add(1)
		t, ok := <-r.queue
		r.idle.Add(-1)
		if !ok {
			return
		}
		if err := r.run(ctx, t); err != nil {
			r.log.Error("backfill task failed", "table", t.Table, "account", t.Account, "from", t.From, "to", t.To, "err", err)
			r.mu.Lock()
			r.failed = append(r.failed, fmt.Errorf("%s %s: %w", t.Table, t.Account, err))
			r.mu.Unlock()
		}
		if r.pending.Add(-1) == 0 {
			r.close()
		}
	}
}

// run lists one task to its end, saving its cursor after every page.
func (r *runner) run(ctx context.Context, t *task) error {
	rule, ok := ruleFor(t.Table)
	if !ok {
		return fmt.Errorf("no rule for %q", t.Table)
	}
	path := rule.Path
	if rule.PerCustomer {
		path = customersRule.Path
	}
	filters := url.Values{}
	if !rule.PerCustomer {
		maps.Copy(filters, rule.Filters)
	}
	if t.To != 0 {
		filters.Set("created[gte]", strconv.FormatInt(t.From, 10))
		filters.Set("created[lt]", strconv.FormatInt(t.To, 10))
	}
	err := r.api.List(ctx, path, stripeapi.ListParams{Account: t.Account, Filters: filters, StartingAfter: t.Cursor},
		func(pg *stripeapi.Page, fv *form.Values) error {
			n, err := r.publishPage(ctx, t, rule, pg)
			if err != nil {
				return err
			}
			if len(pg.Items) > 0 {
				t.Cursor = pg.Items[len(pg.Items)-1].ID
			}
			t.Objects += n
			if pg.HasMore && t.To != 0 && r.idle.Load() > 0 {
				if err := r.split(ctx, t, pg, fv); err != nil {
					return err
				}
			}
			return r.cp.save(ctx, t)
		})
	if err != nil {
		return err
	}
	t.Done = true
	return r.cp.save(ctx, t)
}

// split hands the older half of what is left of t to an idle worker. What is
// left are the objects created in [t.From, c], c the created time of the
// last object listed; t keeps [m, To) and its cursor, the new task takes
// [From, m).
func (r *runner) split(ctx context.Context, t *task, pg *stripeapi.Page, fv *form.Values) error {
	last := pg.Items[len(pg.Items)-1].Created
	m := t.From + (last-t.From)/2
	if m <= t.From {
		return nil
	}
	older := &task{
		// Unique across resumed runs too: a reused id would overwrite the
		// checkpoint of another range.
		ID:      fmt.Sprintf("%s.%s%d", t.ID, strconv.FormatInt(time.Now().UnixNano(), 36), r.nextID.Add(1)),
		Account: t.Account, Table: t.Table, From: t.From, To: m,
	}
	// The older half is saved before t shrinks: a crash in between lists
	// some objects twice, never none.
	if err := r.cp.save(ctx, older); err != nil {
		return err
	}
	t.From = m
	fv.Set("created[gte]", strconv.FormatInt(m, 10))
	r.mu.Lock()
	r.added = append(r.added, older)
	r.mu.Unlock()
	r.enqueue(older)
	return nil
}

// publishPage publishes a page's objects, the items of their nested lists
// and their embedded objects, and returns once JetStream stored them all.
func (r *runner) publishPage(ctx context.Context, t *task, rule Rule, pg *stripeapi.Page) (int64, error) {
	p := &publisher{runner: r, account: t.Account}
	if rule.PerCustomer {
		// The page lists customers; the rule's objects are theirs, one short
		// list per customer, listed several at once to keep the rate used.
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(perParentConcurrency)
		for _, it := range pg.Items {
			g.Go(func() error {
				return p.listAll(gctx, fmt.Sprintf(rule.Path, url.PathEscape(it.ID)), nil, "", "")
			})
		}
		if err := g.Wait(); err != nil {
			return 0, err
		}
		return p.wait(ctx)
	}
	// Nested lists that need requests are paged several at once.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(perParentConcurrency)
	for _, it := range pg.Items {
		if err := p.publish(it.ID, it.Object, "", it.Raw, pg.FetchedAt); err != nil {
			return 0, err
		}
		if len(rule.Nested) == 0 && len(rule.Embedded) == 0 {
			continue
		}
		var fields map[string]json.RawMessage
		if err := gojson.Unmarshal(it.Raw, &fields); err != nil {
			return 0, fmt.Errorf("decode %s %s: %w", it.Object, it.ID, err)
		}
		for _, name := range rule.Embedded {
			if err := p.embedded(fields[name], pg.FetchedAt); err != nil {
				return 0, err
			}
		}
		for _, n := range rule.Nested {
			g.Go(func() error { return p.nested(gctx, it.ID, n, fields[n.Field], pg.FetchedAt) })
		}
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	return p.wait(ctx)
}

// perParentConcurrency bounds the lists of one page's objects (a customer's
// payment methods, the rest of an invoice's lines) fetched at once.
const perParentConcurrency = 16

// publisher publishes the objects of one page and waits for them.
type publisher struct {
	*runner
	account string

	mu      sync.Mutex
	futures []jetstream.PubAckFuture
	count   int64
}

func (p *publisher) publish(id, object, parent string, raw []byte, at time.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	res, ok := events.ResourceFor(object)
	if !ok {
		return fmt.Errorf("%s %s: not a mirrored resource", object, id)
	}
	o := events.Object{Account: p.account, Livemode: p.livemode, FetchedAt: at, Parent: parent, Data: raw}
	f, err := p.js.PublishMsgAsync(o.Msg(events.ObjectRef{ID: id, Object: object}), jetstream.WithExpectStream(events.StreamName))
	if err != nil {
		return fmt.Errorf("publish %s %s: %w", object, id, err)
	}
	p.futures = append(p.futures, f)
	p.progress.add(res.Table, 1)
	p.count++
	return nil
}

// embedded publishes a field holding a whole object, if it holds one.
func (p *publisher) embedded(raw json.RawMessage, at time.Time) error {
	if len(raw) == 0 || raw[0] != '{' {
		return nil // absent, null, or an id
	}
	ref, err := events.ParseObjectRef(raw)
	if err != nil || ref.ID == "" {
		return err
	}
	if _, ok := events.ResourceFor(ref.Object); !ok {
		return nil
	}
	return p.publish(ref.ID, ref.Object, "", raw, at)
}

// nested publishes the items of a list field of parent, and pages the rest
// of the list when Stripe cut it short or left it out.
func (p *publisher) nested(ctx context.Context, parent string, n Nested, raw json.RawMessage, at time.Time) error {
	var list struct {
		Data    []json.RawMessage `json:"data"`
		HasMore bool              `json:"has_more"`
	}
	if len(raw) > 0 && raw[0] == '{' {
		if err := gojson.Unmarshal(raw, &list); err != nil {
			return fmt.Errorf("decode %s of %s: %w", n.Field, parent, err)
		}
	} else {
		list.HasMore = true // not included: list it all
	}
	after := ""
	for _, item := range list.Data {
		ref, err := events.ParseObjectRef(item)
		if err != nil {
			return err
		}
		if err := p.publish(ref.ID, ref.Object, parent, item, at); err != nil {
			return err
		}
		after = ref.ID
	}
	if !list.HasMore {
		return nil
	}
	path, filters := n.params(parent)
	return p.listAll(ctx, path, filters, after, parent)
}

// listAll publishes every object of a list, after the object after.
func (p *publisher) listAll(ctx context.Context, path string, filters url.Values, after, parent string) error {
	return p.api.List(ctx, path, stripeapi.ListParams{Account: p.account, Filters: filters, StartingAfter: after},
		func(pg *stripeapi.Page, _ *form.Values) error {
			for _, it := range pg.Items {
				if err := p.publish(it.ID, it.Object, parent, it.Raw, pg.FetchedAt); err != nil {
					return err
				}
			}
			return nil
		})
}

func (p *publisher) wait(ctx context.Context) (int64, error) {
	for _, f := range p.futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return 0, fmt.Errorf("publish: %w", err)
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return p.count, nil
}
