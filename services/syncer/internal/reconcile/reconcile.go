// Package reconcile finds the objects the mirror holds that Stripe no
// longer has: deleted while webhooks were missed, which no list shows.
//
// After a complete listing of a resource (a backfill with no since, of a
// listing that hides nothing: catalog.Listing.Complete), the rows of the
// accounts listed that the listing did not return are retrieved one by one
// through the same rate-limited client, and those Stripe answers 404 or a
// deleted object for are marked deleted as of the request, under the
// version rule (db.MarkDeleted): a newer live state is never overwritten,
// and an object only hidden from a list is retrieved alive and left alone.
//
// The seen set is held by the mirror itself, not in memory: the processor
// writes every object the listing publishes into its row (a newer state
// the row holds is kept, but the row's updated_at moves all the same), so
// once everything the listing published has landed, the rows of the
// resource last written before the listing started are the ones it did not
// return (db.Unlisted). Landed means the processor's consumer has
// acknowledged every message up to the stream's last one when the listing
// ended; the reconciler waits for that, and reconciles nothing when it does
// not come. A row it takes for unlisted by mistake (a state still on its
// way, an object created after the listing passed) costs one retrieval,
// never a wrong mark: only Stripe's answer marks.
//
// Items of a parent's nested list that Stripe cut short are found as the
// listing pages the rest of the list: the items of that parent the whole
// list no longer holds are marked deleted (db.MarkMissing), under the
// version rule of the parent's state.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stripe/stripe-go/v76"
	"golang.org/x/sync/errgroup"

	"github.com/stripesync/stripesync/db"
	"github.com/stripesync/stripesync/pkg/catalog"
	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/stripeapi"
	"github.com/stripesync/stripesync/services/syncer/internal/backfill"
)

// Reconciler lists resources and reconciles the mirror with what Stripe
// returned.
type Reconciler struct {
	Log    *slog.Logger
	API    *stripeapi.Client
	DB     db.DBTX
	JS     jetstream.JetStream
	Engine *backfill.Engine
	// Livemode is the key's mode, recorded on the tombstones.
	Livemode bool
	// LandTimeout bounds the wait for the processor to apply the listing;
	// default 15 minutes.
	LandTimeout time.Duration
	// Concurrency is the retrievals sent at once (the limiter paces them);
	// default 8.
	Concurrency int
}

// ErrNotComplete is returned for a request whose listing cannot be
// complete: one with a since.
var ErrNotComplete = errors.New("a listing since a time is not complete: reconciliation needs a backfill without since")

// Reconcilable reports whether rows of res can be reconciled: its list
// returns every object (with its filters), and Stripe retrieves it by id.
func Reconcilable(res *catalog.Resource) bool {
	return res.List != nil && res.List.Complete() && res.Retrieve != ""
}

// Run backfills what req asks for, which must have no since, and then
// reconciles every reconcilable resource of it. It returns one
// reconciliation per resource and account, saved in the mirror too. When
// the backfill resumed an earlier run, it listed only part of the
// resources, and nothing is reconciled (nil, nil): the next complete run
// is.
func (r *Reconciler) Run(ctx context.Context, req backfill.Request) ([]db.Reconciliation, error) {
	if !req.Since.IsZero() {
		return nil, ErrNotComplete
	}
	start, err := db.Now(ctx, r.DB)
	if err != nil {
		return nil, err
	}
	t := &tally{db: r.DB, livemode: r.Livemode, digests: map[key]*db.Digest{}}
	if err := r.Engine.RunObserved(ctx, req, t); err != nil {
		return nil, err
	}
	if t.resumed {
		r.Log.Info("no reconciliation: the backfill resumed an earlier run, so this one did not list everything", "run", req.RunID())
		return nil, nil
	}
	if err := r.waitLanded(ctx); err != nil {
		return nil, err
	}
	scope := db.Scope{All: req.Account == "", Account: req.Account}
	var out []db.Reconciliation
	for _, res := range req.Resources {
		if !Reconcilable(res) || (req.Account != "" && res.List.PlatformOnly) {
			continue
		}
		recs, err := r.reconcile(ctx, res, scope, start, t)
		if err != nil {
			return out, fmt.Errorf("reconcile %s: %w", res.Relation(), err)
		}
		out = append(out, recs...)
	}
	return out, nil
}

// waitLanded waits until the processor has acknowledged every message the
// stream holds now, the listing's last among them: its objects are then in
// the mirror (or in stripe.dead_letters).
func (r *Reconciler) waitLanded(ctx context.Context) error {
	stream, err := r.JS.Stream(ctx, events.StreamName)
	if err != nil {
		return fmt.Errorf("stream %s: %w", events.StreamName, err)
	}
	si, err := stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("stream %s: %w", events.StreamName, err)
	}
	last := si.State.LastSeq
	timeout := r.LandTimeout
	if timeout <= 0 {
		timeout = 15 * time.Minute
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		cons, err := stream.Consumer(wctx, events.ConsumerName)
		if err == nil {
			var ci *jetstream.ConsumerInfo
			if ci, err = cons.Info(wctx); err == nil && ci.AckFloor.Stream >= last {
				return nil
			}
		}
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("the processor has not applied the listing (stream sequence %d) within %s, so nothing was reconciled (last: %v)", last, timeout, err)
		case <-tick.C:
		}
	}
}

// pageSize is the unlisted rows read at once.
const pageSize = 100

// reconcile retrieves the unlisted rows of res and marks those Stripe no
// longer has, then compares what is left with the listing.
func (r *Reconciler) reconcile(ctx context.Context, res *catalog.Resource, scope db.Scope, start time.Time, t *tally) ([]db.Reconciliation, error) {
	type counts struct{ retrieved, marked, unchecked int64 }
	byAccount := map[string]*counts{}
	c := func(account string) *counts {
		if byAccount[account] == nil {
			byAccount[account] = &counts{}
		}
		return byAccount[account]
	}
	concurrency := r.Concurrency
	if concurrency <= 0 {
		concurrency = 8
	}
	after := ""
	for {
		rows, err := db.Unlisted(ctx, r.DB, res, scope, start, after, pageSize)
		if err != nil {
			return nil, err
		}
		if len(rows) == 0 {
			break
		}
		after = rows[len(rows)-1].ID
		outcomes := make([]outcome, len(rows))
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(concurrency)
		for i, row := range rows {
			g.Go(func() error {
				outcomes[i] = r.retrieve(gctx, res, row)
				return gctx.Err()
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
		var gone []db.Tombstone
		for i, row := range rows {
			o := outcomes[i]
			n := c(row.Account)
			n.retrieved++
			switch {
			case o.err != nil:
				n.unchecked++
				r.Log.Warn("reconcile: retrieval failed, the row is left as it is", "relation", res.Relation(), "id", row.ID, "account", row.Account, "err", o.err)
			case o.gone:
				n.marked++
				gone = append(gone, db.Tombstone{ID: row.ID, Account: row.Account, Livemode: row.Livemode, StateAt: o.at})
			}
		}
		if len(gone) > 0 {
			if err := db.MarkDeleted(ctx, r.DB, res, gone); err != nil {
				return nil, err
			}
			r.Log.Info("reconcile: marked deleted what Stripe no longer has", "relation", res.Relation(), "rows", len(gone))
		}
	}

	mirror, err := db.LiveDigests(ctx, r.DB, res, scope)
	if err != nil {
		return nil, err
	}
	accounts := t.accounts(res)
	for a := range mirror {
		if !slices.Contains(accounts, a) {
			accounts = append(accounts, a)
		}
	}
	for a := range byAccount {
		if !slices.Contains(accounts, a) {
			accounts = append(accounts, a)
		}
	}
	slices.Sort(accounts)
	out := make([]db.Reconciliation, 0, len(accounts))
	for _, a := range accounts {
		n := c(a)
		out = append(out, db.Reconciliation{
			Resource: res, Account: a, ListedAt: start, API: t.digest(a, res), Mirror: mirror[a],
			Retrieved: n.retrieved, MarkedDeleted: n.marked, Unchecked: n.unchecked,
		})
	}
	if err := db.SaveReconciliations(ctx, r.DB, out); err != nil {
		return nil, err
	}
	return out, nil
}

// outcome is what retrieving one unlisted row found.
type outcome struct {
	gone bool      // Stripe answered 404, or a deleted object
	at   time.Time // when the request was sent
	err  error     // any other failure: nothing is known
}

func (r *Reconciler) retrieve(ctx context.Context, res *catalog.Resource, row db.UnlistedRow) outcome {
	path, _ := res.RetrievePath(row.ID)
	body, at, err := r.API.Get(ctx, path, row.Account)
	if se := (*stripe.Error)(nil); errors.As(err, &se) && se.HTTPStatusCode == http.StatusNotFound {
		return outcome{gone: true, at: at}
	}
	if err != nil {
		return outcome{err: err}
	}
	ref, err := catalog.ParseRef(body)
	if err != nil {
		return outcome{err: err}
	}
	return outcome{gone: ref.Deleted, at: at}
}

type key struct {
	account string
	res     *catalog.Resource
}

// tally is the Observer of a reconciling listing: the digest of what it
// listed per account and resource (two numbers each, whatever the count),
// and the items that nested lists no longer hold, marked as each parent's
// list is paged to its end.
type tally struct {
	db       db.DBTX
	livemode bool

	mu      sync.Mutex
	resumed bool
	digests map[key]*db.Digest
}

func (t *tally) Resumed() {
	t.mu.Lock()
	t.resumed = true
	t.mu.Unlock()
}

func (t *tally) Listed(account string, res *catalog.Resource, id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := key{account, res}
	if t.digests[k] == nil {
		t.digests[k] = &db.Digest{}
	}
	t.digests[k].Add(id)
}

// ListComplete marks the items of parent its whole list no longer holds,
// as of the parent's state. It does not wait for the items to land: an
// item it holds is never marked, whether its row is written before or
// after.
func (t *tally) ListComplete(ctx context.Context, _ string, list catalog.NestedList, parent string, fetchedAt time.Time, items []string) error {
	at := events.BackfilledAt(fetchedAt)
	for _, o := range list.Items {
		res := catalog.MustLookup(o)
		if res.Parent == "" {
			continue // not kept as the items of a list (a connected account's cards)
		}
		err := db.MarkMissing(ctx, t.db, res, []db.CompleteList{{Parent: parent, StateAt: at, Items: items}})
		if err != nil {
			return err
		}
	}
	return nil
}

func (t *tally) accounts(res *catalog.Resource) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for k := range t.digests {
		if k.res == res {
			out = append(out, k.account)
		}
	}
	return out
}

func (t *tally) digest(account string, res *catalog.Resource) db.Digest {
	t.mu.Lock()
	defer t.mu.Unlock()
	if d := t.digests[key{account, res}]; d != nil {
		return *d
	}
	return db.Digest{}
}
