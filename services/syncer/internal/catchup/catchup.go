// Package catchup repairs missed webhooks from Stripe's Events API: it lists
// events (https://docs.stripe.com/api/events/list), and thin events too when
// asked (https://docs.stripe.com/api/v2/core/events/list), and publishes
// each on the stream exactly as ingest would (events.EventMsg: the bytes
// Stripe sent, the event id as message id), so the processor applies the
// ones it has not seen and ignores the rest (stripe.events is keyed by
// event id).
package catchup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stripe/stripe-go/v76/form"
	"golang.org/x/sync/errgroup"

	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/stripeapi"
)

// Horizon is how far back Stripe's Events API goes.
const Horizon = 30 * 24 * time.Hour

// Options select the events to catch up on.
type Options struct {
	// Since lists events created at or after it; the zero time means as far
	// back as Stripe keeps them (Horizon).
	Since time.Time
	// Failed lists only events whose delivery to some endpoint has not
	// succeeded (delivery_success=false).
	Failed bool
	// Types filters by type; one type may end in ".*" (Stripe's wildcard).
	// Thin event types are exact names (v1.customer.updated).
	Types []string
	// IDs fetches these events instead of listing.
	IDs []string
	// Account catches up a connected account's events.
	Account string
	// Thin lists thin events (GET /v2/core/events) instead of snapshot
	// events; IDs are then thin event ids. Failed does not apply: the v2
	// list has no delivery filter.
	Thin bool
}

// Result says what a catch-up did.
type Result struct {
	Published int
	// Newest is the created time of the newest event seen.
	Newest time.Time
}

// Run lists the events opts selects and publishes them. It returns once
// JetStream stored them all.
func Run(ctx context.Context, log *slog.Logger, api *stripeapi.Client, js jetstream.JetStream, opts Options) (Result, error) {
	var res Result
	if opts.Thin {
		if err := opts.checkThin(); err != nil {
			return res, err
		}
	}
	pub := events.NewPublisher(js)
	publish := func(raw []byte) error {
		env, err := events.ParseEnvelope(raw)
		if err != nil {
			return err
		}
		if err := pub.PublishAsync(events.EventMsg(env, raw)); err != nil {
			return err
		}
		res.Published++
		if env.Created.After(res.Newest) {
			res.Newest = env.Created
		}
		return nil
	}

	if len(opts.IDs) > 0 {
		for _, id := range opts.IDs {
			raw, _, err := api.Get(ctx, opts.path()+"/"+url.PathEscape(id), opts.Account)
			if err != nil {
				return res, err
			}
			if err := publish(raw); err != nil {
				return res, err
			}
		}
	} else {
		if !opts.Since.IsZero() && time.Since(opts.Since) > Horizon {
			log.Warn("events older than 30 days are gone from Stripe's Events API; a backfill repairs older gaps", "since", opts.Since)
		}
		var err error
		if opts.Thin {
			err = api.ListV2(ctx, opts.path(), stripeapi.V2ListParams{Account: opts.Account, Filters: opts.filters()},
				func(pg *stripeapi.V2Page) error {
					for _, raw := range pg.Data {
						if err := publish(raw); err != nil {
							return err
						}
					}
					return nil
				})
		} else {
			err = api.List(ctx, opts.path(), stripeapi.ListParams{Account: opts.Account, Filters: opts.filters()},
				func(pg *stripeapi.Page, _ *form.Values) error {
					for _, it := range pg.Items {
						if err := publish(it.Raw); err != nil {
							return err
						}
					}
					return nil
				})
		}
		if err != nil {
			return res, err
		}
	}
	if _, err := pub.Wait(ctx); err != nil {
		return res, err
	}
	return res, nil
}

// path is the Events API the options list.
func (o Options) path() string {
	if o.Thin {
		return "/v2/core/events"
	}
	return "/v1/events"
}

// checkThin refuses what the thin events list cannot select.
func (o Options) checkThin() error {
	if o.Failed {
		return errors.New("thin events cannot be selected by delivery: the v2 Events API has no such filter")
	}
	for _, t := range o.Types {
		if strings.Contains(t, "*") {
			return fmt.Errorf("thin event type %q: the v2 Events API takes exact types, no wildcards", t)
		}
	}
	return nil
}

// filters are the list's query parameters: for /v1/events created in Unix
// seconds, type or types[]; for /v2/core/events created in RFC 3339 and
// types repeated (https://docs.stripe.com/api/v2/core/events/list).
func (o Options) filters() url.Values {
	f := url.Values{}
	if o.Thin {
		if !o.Since.IsZero() {
			f.Set("created[gte]", o.Since.UTC().Format("2006-01-02T15:04:05.000Z"))
		}
		if len(o.Types) > 0 {
			f["types"] = slices.Clone(o.Types)
		}
		return f
	}
	if !o.Since.IsZero() {
		f.Set("created[gte]", strconv.FormatInt(o.Since.Unix(), 10))
	}
	if o.Failed {
		f.Set("delivery_success", "false")
	}
	switch len(o.Types) {
	case 0:
	case 1:
		f.Set("type", o.Types[0])
	default:
		for _, t := range o.Types {
			f.Add("types[]", t)
		}
	}
	return f
}

// Overlap is how far before its cursor each catch-up of Accounts starts
// again: an event may become visible in the Events API a little after a
// later one.
const Overlap = 5 * time.Minute

// FirstLookBack is where the cursor of an account starts when it has none:
// the first catch-up of an account lists its last day.
const FirstLookBack = 24 * time.Hour

// Accounts catches up the platform and every connected account from each
// one's cursor (events.EventsCursorKey in kv), at most concurrency accounts
// at once, and moves each cursor on. With thin, it catches up each
// account's thin events too, from a cursor of their own
// (events.ThinEventsCursorKey), with the same horizon and overlap. It
// returns the number of events published, and the errors of the accounts
// that failed, whose cursors stay where they were.
func Accounts(ctx context.Context, log *slog.Logger, api *stripeapi.Client, js jetstream.JetStream, kv jetstream.KeyValue, concurrency int, thin bool) (int, error) {
	connected, err := api.ConnectedAccounts(ctx)
	if err != nil {
		return 0, err
	}
	var (
		mu    sync.Mutex
		total int
		errs  []error
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(concurrency, 1))
	kinds := []bool{false}
	if thin {
		kinds = append(kinds, true)
	}
	for _, acct := range append([]string{""}, connected...) {
		for _, thin := range kinds {
			g.Go(func() error {
				n, err := account(gctx, log, api, js, kv, acct, thin)
				mu.Lock()
				defer mu.Unlock()
				total += n
				if err != nil {
					errs = append(errs, fmt.Errorf("account %q, %s: %w", acct, Options{Thin: thin}.path(), err))
				}
				return nil
			})
		}
	}
	_ = g.Wait() // the goroutines return no error: one account failing does not stop the others
	return total, errors.Join(errs...)
}

// account catches up the events (or with thin the thin events) of one
// account from its cursor and moves the cursor.
func account(ctx context.Context, log *slog.Logger, api *stripeapi.Client, js jetstream.JetStream, kv jetstream.KeyValue, acct string, thin bool) (int, error) {
	key := events.EventsCursorKey(acct)
	if thin {
		key = events.ThinEventsCursorKey(acct)
	}
	cursor := time.Now().Add(-FirstLookBack)
	if e, err := kv.Get(ctx, key); err == nil {
		if t, err := time.Parse(time.RFC3339, string(e.Value())); err == nil {
			cursor = t
		}
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, fmt.Errorf("read cursor: %w", err)
	}
	if age := time.Since(cursor); age > Horizon-5*24*time.Hour {
		log.Warn("events cursor is near Stripe's 30-day horizon: events older than that cannot be caught up; run a backfill",
			"account", acct, "thin", thin, "cursor", cursor, "age", age.Round(time.Hour).String())
	}
	started := time.Now()
	res, err := Run(ctx, log, api, js, Options{Since: cursor.Add(-Overlap), Account: acct, Thin: thin})
	if err != nil {
		return res.Published, err
	}
	// Everything created before the listing started was listed, but for
	// events that show up late, which the overlap catches next time. A
	// quiet account's cursor moves on too.
	next := started.Add(-Overlap)
	if res.Newest.After(next) {
		next = res.Newest
	}
	if next.After(cursor) {
		if _, err := kv.Put(ctx, key, []byte(next.UTC().Format(time.RFC3339))); err != nil {
			return res.Published, fmt.Errorf("save cursor: %w", err)
		}
	}
	log.Debug("events caught up", "account", acct, "thin", thin, "published", res.Published, "since", cursor.Add(-Overlap))
	return res.Published, nil
}
