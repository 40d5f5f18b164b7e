package backfill

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stripe/stripe-go/v76/form"
	"golang.org/x/sync/errgroup"

	"github.com/stripesync/stripesync/pkg/catalog"
	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/stripeapi"
)

// perParentConcurrency bounds the lists of one page's objects (a customer's
// payment methods, the rest of an invoice's lines) fetched at once.
const perParentConcurrency = 16

// publishPage publishes a page of t's list, and returns the number of
// objects published once JetStream stored them all. On a page of t's own
// objects, that is each object and the items of its nested lists beyond
// those it holds (the processor stores those from the object). On a page of parents (a per-parent listing), it is each parent's
// objects of t's resource.
func (r *runner) publishPage(ctx context.Context, t *task, pg *stripeapi.Page) (int64, error) {
	b := &batch{runner: r, account: t.Account, pub: events.NewPublisher(r.js)}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(perParentConcurrency)
	if l := t.res.List; l.Per != "" {
		// One short list per parent, several at once to keep the rate used.
		for _, parent := range pg.Items {
			g.Go(func() error { return b.listAll(gctx, t.res, l.PathFor(parent.ID), l.Filters) })
		}
	} else {
		for _, it := range pg.Items {
			res, ok := listedResource(t.res, it.Object)
			if !ok {
				continue
			}
			rest, err := b.object(res, it.ID, it.Raw, pg.FetchedAt)
			if err != nil {
				return 0, err
			}
			for _, more := range rest {
				g.Go(func() error { return b.rest(gctx, more) })
			}
		}
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	n, err := b.pub.Wait(ctx)
	if err != nil {
		return 0, err
	}
	if b.obs != nil {
		// Only now: an object is listed once the stream holds it.
		for _, l := range b.listed {
			b.obs.Listed(b.account, l.res, l.id)
		}
	}
	var created int64
	if len(pg.Items) > 0 {
		created = pg.Items[len(pg.Items)-1].Created
	}
	r.progress.listed(t, created, !pg.HasMore)
	return int64(n), nil
}

// listedResource is the resource of an object of type object in a listing
// of res: res's own objects, or those its listing yields beside them (a
// customer's sources list holds cards). Others are not the listing's to
// publish.
func listedResource(res *catalog.Resource, object string) (*catalog.Resource, bool) {
	if object != res.Object && !slices.Contains(res.List.Yields, object) {
		return nil, false
	}
	return catalog.Lookup(object)
}

// batch publishes the objects of one page and waits for them together.
type batch struct {
	*runner
	account string
	pub     *events.Publisher

	mu     sync.Mutex
	listed []listedObject // for the Observer
}

type listedObject struct {
	res *catalog.Resource
	id  string
}

// more is the part of a nested list its parent does not hold, to be paged.
type more struct {
	list      catalog.NestedList
	parent    string    // the parent's id
	fetchedAt time.Time // when the parent was fetched
	after     string    // the last item the parent holds; "" pages it all
	held      []string  // the ids of the items the parent holds
}

// object publishes an object of res, and returns the parts of its nested
// lists it does not hold. What it holds, the first items of its nested lists
// and its embedded objects (a customer's discount), the processor stores
// from the object itself, as of the same moment.
func (b *batch) object(res *catalog.Resource, id string, raw []byte, at time.Time) ([]more, error) {
	if err := b.publish(res, id, "", raw, at); err != nil {
		return nil, err
	}
	lists, _, err := res.Contents(raw)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", res.Object, id, err)
	}
	var rest []more
	for _, l := range lists {
		switch {
		case l.Complete:
		case l.Present:
			held := make([]string, len(l.Items))
			for i, it := range l.Items {
				held[i] = it.Ref.ID
			}
			rest = append(rest, more{list: l.List, parent: id, fetchedAt: at, after: l.Last, held: held})
		default:
			rest = append(rest, more{list: l.List, parent: id, fetchedAt: at})
		}
	}
	return rest, nil
}

// rest pages the items of a nested list after those its parent holds. An
// Observer is then told the whole list: it holds the ids of one parent's
// items, not a page's.
func (b *batch) rest(ctx context.Context, m more) error {
	path, query := m.list.PagePath(m.parent)
	items := m.held
	err := b.api.List(ctx, path, stripeapi.ListParams{Account: b.account, Filters: query, StartingAfter: m.after},
		func(pg *stripeapi.Page, _ *form.Values) error {
			for _, it := range pg.Items {
				if !slices.Contains(m.list.Items, it.Object) {
					continue
				}
				if err := b.publish(catalog.MustLookup(it.Object), it.ID, m.parent, it.Raw, pg.FetchedAt); err != nil {
					return err
				}
				if b.obs != nil {
					items = append(items, strings.Clone(it.ID))
				}
			}
			return nil
		})
	if err != nil || b.obs == nil {
		return err
	}
	return b.obs.ListComplete(ctx, b.account, m.list, m.parent, m.fetchedAt, items)
}

// listAll publishes every object of res one parent holds, with the rest of
// their nested lists (paged here, in this goroutine).
func (b *batch) listAll(ctx context.Context, res *catalog.Resource, path string, filters url.Values) error {
	return b.api.List(ctx, path, stripeapi.ListParams{Account: b.account, Filters: filters},
		func(pg *stripeapi.Page, _ *form.Values) error {
			for _, it := range pg.Items {
				r, ok := listedResource(res, it.Object)
				if !ok {
					continue
				}
				rest, err := b.object(r, it.ID, it.Raw, pg.FetchedAt)
				if err != nil {
					return err
				}
				for _, m := range rest {
					if err := b.rest(ctx, m); err != nil {
						return err
					}
				}
			}
			return nil
		})
}

// publish sends one object. The parent's id goes with it only for the items
// of nested lists (catalog.Resource.Parent): other objects name what holds
// them themselves, if anything.
func (b *batch) publish(res *catalog.Resource, id, parent string, raw []byte, at time.Time) error {
	if res.Parent == "" {
		parent = ""
	}
	o := events.Object{Resource: res, ID: id, Account: b.account, Livemode: b.livemode, FetchedAt: at, Parent: parent,
		APIVersion: b.api.APIVersion(), Data: raw}
	if err := b.pub.PublishAsync(o.Msg()); err != nil {
		return err
	}
	b.progress.add(res, 1)
	if b.obs != nil && res.List != nil {
		b.mu.Lock()
		b.listed = append(b.listed, listedObject{res: res, id: strings.Clone(id)})
		b.mu.Unlock()
	}
	return nil
}
