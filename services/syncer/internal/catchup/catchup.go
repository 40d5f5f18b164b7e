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

// AccountsOptions say how Accounts goes through the accounts.
type AccountsOptions struct {
	// Concurrency is the most accounts caught up at once (at least 1).
	Concurrency int
	// Thin catches up each account's thin events too.
	Thin bool
	// Limit is the most connected accounts one call visits; 0 visits them
	// all. A platform with more accounts than a catch-up can list within
	// its share of the API budget is gone through in turn: each call
	// starts after the last account the previous one visited
	// (events.EventsRotationKey), wrapping around at the end of the list.
	Limit int
}

// Accounts catches up the platform and the connected accounts o selects
// from each one's cursor (events.EventsCursorKey in kv), at most
// o.Concurrency accounts at once, and moves each cursor on. With o.Thin, it
// catches up each account's thin events too, from a cursor of their own
// (events.ThinEventsCursorKey), with the same horizon and overlap. It
// returns the number of events published, and the errors of the accounts
// that failed, whose cursors stay where they were.
func Accounts(ctx context.Context, log *slog.Logger, api *stripeapi.Client, js jetstream.JetStream, kv jetstream.KeyValue, o AccountsOptions) (int, error) {
	connected, err := rotation(ctx, api, kv, o.Limit)
	if err != nil {
		return 0, err
	}
	var (
		mu    sync.Mutex
		total int
		errs  []error
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(o.Concurrency, 1))
	kinds := []bool{false}
	if o.Thin {
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
	if o.Limit > 0 && len(connected) > 0 {
		if _, err := kv.Put(ctx, events.EventsRotationKey, []byte(connected[len(connected)-1])); err != nil {
			errs = append(errs, fmt.Errorf("save rotation cursor: %w", err))
		}
	}
	return total, errors.Join(errs...)
}

// errEnough stops a listing of accounts that has what it needs.
var errEnough = errors.New("enough accounts")

// rotation returns the connected accounts to visit: all of them when limit
// is 0, else at most limit in the order /v1/accounts lists them, starting
// after the rotation cursor and wrapping around to the start of the list,
// never one twice. Listing stops once it has them: a call costs a page of
// /v1/accounts per 100 accounts it visits, not per 100 the platform has.
func rotation(ctx context.Context, api *stripeapi.Client, kv jetstream.KeyValue, limit int) ([]string, error) {
	if limit <= 0 {
		return api.ConnectedAccounts(ctx)
	}
	after := ""
	if e, err := kv.Get(ctx, events.EventsRotationKey); err == nil {
		after = string(e.Value())
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("read rotation cursor: %w", err)
	}
	var ids []string
	seen := map[string]bool{}
	list := func(startingAfter string) (bool, error) {
		wrapped := false
		err := api.List(ctx, "/v1/accounts", stripeapi.ListParams{StartingAfter: startingAfter}, func(pg *stripeapi.Page, _ *form.Values) error {
			for _, it := range pg.Items {
				if seen[it.ID] {
					wrapped = true
					return errEnough
				}
				seen[it.ID] = true
				ids = append(ids, strings.Clone(it.ID))
				if len(ids) == limit {
					return errEnough
				}
			}
			return nil
		})
		if errors.Is(err, errEnough) {
			return true, nil
		}
		if err != nil {
			return false, fmt.Errorf("list connected accounts: %w", err)
		}
		return wrapped, nil
	}
	full, err := list(after)
	if err != nil || full || after == "" {
		return ids, err
	}
	// The end of the list: on from its start, up to where this call began.
	seen[after] = true
	_, err = list("")
	return ids, err
}

// account catches up the events (or with thin the thin events) of one
// account from its cursor and moves the cursor.
func account(ctx context.Context, log *slog.Logger, api *stripeapi.Client, js jetstream.JetStream, kv jetstream.KeyValue, acct string, thin bool) (int, error) {
	key := events.EventsCursorKey(acct)
	if thin {
		key = events.ThinEventsCursorKey(acct)
	}
	cursor, rev, err := readCursor(ctx, kv, key)
	if err != nil {
		return 0, err
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
	if err := moveCursor(ctx, kv, key, cursor, rev, next); err != nil {
		return res.Published, err
	}
	log.Debug("events caught up", "account", acct, "thin", thin, "published", res.Published, "since", cursor.Add(-Overlap))
	return res.Published, nil
}

// readCursor reads the cursor at key and its revision (0 when there is
// none: then the cursor is FirstLookBack ago).
func readCursor(ctx context.Context, kv jetstream.KeyValue, key string) (time.Time, uint64, error) {
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return time.Now().Add(-FirstLookBack), 0, nil
	}
	if err != nil {
		return time.Time{}, 0, fmt.Errorf("read cursor: %w", err)
	}
	t, err := time.Parse(time.RFC3339, string(e.Value()))
	if err != nil {
		return time.Now().Add(-FirstLookBack), e.Revision(), nil // unreadable: overwritten by the next move
	}
	return t, e.Revision(), nil
}

// moveCursor sets the cursor at key to next by compare-and-set on the
// revision read (rev, 0 for none), so that two catch-ups never write over
// each other unseen: on a conflict it reads the cursor again and moves it
// only if next is later, never backwards.
func moveCursor(ctx context.Context, kv jetstream.KeyValue, key string, cursor time.Time, rev uint64, next time.Time) error {
	for {
		if !next.After(cursor) {
			return nil
		}
		value := []byte(next.UTC().Format(time.RFC3339))
		var err error
		if rev == 0 {
			_, err = kv.Create(ctx, key, value)
		} else {
			_, err = kv.Update(ctx, key, value, rev)
		}
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return fmt.Errorf("save cursor: %w", err)
		}
		if cursor, rev, err = readCursor(ctx, kv, key); err != nil {
			return err
		}
	}
}
