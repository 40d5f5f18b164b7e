package backfill

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	gojson "github.com/goccy/go-json"
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/form"
	"golang.org/x/sync/errgroup"

	"github.com/stripesync/stripesync/pkg/catalog"
	"github.com/stripesync/stripesync/pkg/stripeapi"
)

// planner makes the tasks of a run as the workers take them: the tasks of
// one account at a time, the connected accounts paged from /v1/accounts one
// page at a time while the queue has room. It holds one page of accounts
// and the tasks of one account, whatever the number of accounts.
//
// Before it hands over the tasks of an account it saves them and then the
// account as the run's planning cursor (planState), so that a resumed run
// plans only the accounts after the cursor. A crash between the two saves
// plans that one account again; its tasks have the same ids, and the ones
// already held are skipped (have).
type planner struct {
	api  *stripeapi.Client
	req  Request
	cp   *checkpoints
	push func(*task) bool
	obs  Observer // nil when nobody observes

	state planState
	// have are the ids of the tasks resumed from checkpoints.
	have map[string]bool
	// warnf reports an account whose creation time cannot be read.
	warnf func(msg string, args ...any)
}

// errStopped ends planning when the queue is stopped.
var errStopped = errors.New("planning stopped")

// run plans what the state has not planned yet.
func (p *planner) run(ctx context.Context) error {
	if p.state.Done {
		return nil
	}
	first := p.req.Account // "" is the platform
	if !p.state.First {
		if err := p.plan(ctx, first, p.created(ctx, first), false); err != nil {
			return err
		}
	}
	if p.req.Account != "" || p.req.platformOnly() {
		return p.finish(ctx)
	}
	err := p.connected(ctx)
	var se *stripe.Error
	if p.state.After != "" && errors.As(err, &se) && se.Code == stripe.ErrorCodeResourceMissing && se.Param == "starting_after" {
		// The account the cursor names is gone: the accounts are planned
		// again from the newest, and those done are listed twice.
		p.warnf("the planning cursor's account is gone; planning every connected account again", "account", p.state.After)
		p.state.After = ""
		err = p.connected(ctx)
	}
	if err != nil {
		return fmt.Errorf("plan connected accounts: %w", err)
	}
	return p.finish(ctx)
}

// connected plans the connected accounts after the cursor, a page at a
// time.
func (p *planner) connected(ctx context.Context) error {
	accounts := catalog.MustLookup("account").List
	return p.api.List(ctx, accounts.Path, stripeapi.ListParams{StartingAfter: p.state.After},
		func(pg *stripeapi.Page, _ *form.Values) error {
			for _, it := range pg.Items {
				// A copy: the tasks outlive the page, which the id may
				// share memory with.
				if err := p.plan(ctx, strings.Clone(it.ID), it.Created, true); err != nil {
					return err
				}
			}
			return nil
		})
}

func (p *planner) finish(ctx context.Context) error {
	p.state.Done = true
	return p.cp.savePlan(ctx, p.state)
}

// plan saves, then queues, the tasks of one account created at born (0
// when unknown); listed says it came from /v1/accounts. The tasks are
// saved at once, each to its own key: planning an account costs two
// round trips to JetStream, not one per resource, which with thousands of
// accounts is what bounds how fast the workers get their tasks.
func (p *planner) plan(ctx context.Context, account string, born int64, listed bool) error {
	tasks := p.tasks(account, born)
	g, gctx := errgroup.WithContext(ctx)
	for _, t := range tasks {
		g.Go(func() error { return p.cp.save(gctx, t) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if listed {
		p.state.After = account
	}
	p.state.First = true
	if err := p.cp.savePlan(ctx, p.state); err != nil {
		return err
	}
	if p.obs != nil && len(tasks) > 0 {
		resources := make([]*catalog.Resource, len(tasks))
		for i, t := range tasks {
			resources[i] = t.res
		}
		if err := p.obs.Planned(ctx, account, resources); err != nil {
			return err
		}
	}
	for _, t := range tasks {
		if !p.push(t) {
			return errStopped
		}
	}
	return nil
}

// tasks are the tasks of one account: one per resource it lists, over
// [0, Until) or [Since, Until) when the listing filters by created.
func (p *planner) tasks(account string, born int64) []*task {
	var out []*task
	for _, res := range p.req.Resources {
		l := res.List
		if account != "" && l.PlatformOnly {
			continue
		}
		id := taskID(account, res)
		if p.have[id] {
			continue
		}
		t := &task{ID: id, Account: account, Resource: res.Object, res: res}
		switch {
		case l.Per != "":
			// Listed per parent: the range is the parents', and since
			// does not apply (a new payment method of an old customer is
			// new).
			if catalog.MustLookup(l.Per).List.Created {
				t.To, t.Floor = p.state.Until, born
			}
		case l.Created && !p.req.Since.IsZero():
			t.From, t.To = p.req.Since.Unix(), p.state.Until
		case l.Created:
			t.To, t.Floor = p.state.Until, born
		}
		out = append(out, t)
	}
	return out
}

// taskID names the task of res for account: the same in every run.
func taskID(account string, res *catalog.Resource) string {
	if account == "" {
		account = "platform"
	}
	return account + "." + res.Object
}

// created returns when account ("" the platform) was created, or 0 when
// that cannot be read; only splitting needs it. Connected accounts take it
// from the page that lists them.
func (p *planner) created(ctx context.Context, account string) int64 {
	if !p.req.Since.IsZero() {
		return 0
	}
	raw, _, err := p.api.Get(ctx, "/v1/account", account)
	if err != nil {
		p.warnf("account creation time unknown; created ranges split from 1970", "account", account, "err", err)
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

// splitID names the older half of t split off at m.
func splitID(t *task, m int64) string { return t.ID + "." + strconv.FormatInt(m, 36) }
