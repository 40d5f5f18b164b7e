// Package catchup repairs missed webhooks from Stripe's Events API: it lists
// events (https://docs.stripe.com/api/events/list) and publishes each on the
// stream exactly as ingest would, so the processor applies the ones it has
// not seen and ignores the rest (stripe.events is keyed by event id).
package catchup

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stripe/stripe-go/v76/form"

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
	Types []string
	// IDs fetches these events instead of listing.
	IDs []string
	// Account catches up a connected account's events.
	Account string
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
	var futures []jetstream.PubAckFuture
	publish := func(raw []byte) error {
		env, err := events.ParseEnvelope(raw)
		if err != nil {
			return err
		}
		msg := &nats.Msg{Subject: events.EventSubject(env.Type), Data: raw}
		f, err := js.PublishMsgAsync(msg, jetstream.WithMsgID(env.ID), jetstream.WithExpectStream(events.StreamName))
		if err != nil {
			return fmt.Errorf("publish %s: %w", env.ID, err)
		}
		futures = append(futures, f)
		res.Published++
		if env.Created.After(res.Newest) {
			res.Newest = env.Created
		}
		return nil
	}

	if len(opts.IDs) > 0 {
		for _, id := range opts.IDs {
			raw, _, err := api.Get(ctx, "/v1/events/"+url.PathEscape(id), opts.Account)
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
		filters := url.Values{}
		if !opts.Since.IsZero() {
			filters.Set("created[gte]", strconv.FormatInt(opts.Since.Unix(), 10))
		}
		if opts.Failed {
			filters.Set("delivery_success", "false")
		}
		switch len(opts.Types) {
		case 0:
		case 1:
			filters.Set("type", opts.Types[0])
		default:
			for _, t := range opts.Types {
				filters.Add("types[]", t)
			}
		}
		err := api.List(ctx, "/v1/events", stripeapi.ListParams{Account: opts.Account, Filters: filters},
			func(pg *stripeapi.Page, _ *form.Values) error {
				for _, it := range pg.Items {
					if err := publish(it.Raw); err != nil {
						return err
					}
				}
				return nil
			})
		if err != nil {
			return res, err
		}
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return res, fmt.Errorf("publish: %w", err)
		case <-ctx.Done():
			return res, ctx.Err()
		}
	}
	return res, nil
}
