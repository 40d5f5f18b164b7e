// Package refetch settles the ties of the version rule by asking Stripe.
//
// Stripe's event times have one-second resolution, so two events of one
// object in the same second cannot be ordered from the data; the store keeps
// the later in stream order and reports a tie. With an API key, the object's
// current state is fetched and stored as of the moment of the request, which
// is newer than both events.
package refetch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stripe/stripe-go/v76"

	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/stripeapi"
	"github.com/stripesync/stripesync/services/processor/internal/store"
)

// Store is what the refetcher needs of the store.
type Store interface {
	ApplySettled(ctx context.Context, o events.Object) error
}

// Refetcher fetches tied objects from the Stripe API, one at a time, from a
// bounded queue.
type Refetcher struct {
	log     *slog.Logger
	api     *stripeapi.Client
	store   Store
	queue   chan store.Tie
	outcome *prometheus.CounterVec
}

// New returns a Refetcher calling api, and registers its metric with reg.
func New(log *slog.Logger, api *stripeapi.Client, s Store, reg prometheus.Registerer) *Refetcher {
	r := &Refetcher{
		log:   log,
		api:   api,
		store: s,
		queue: make(chan store.Tie, 1000),
		outcome: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stripe_sync_processor_refetches_total",
			Help: "Objects fetched from the Stripe API to settle a tie of the version rule, by outcome.",
		}, []string{"outcome"}),
	}
	reg.MustRegister(r.outcome)
	return r
}

// Enqueue schedules ties for fetching. It never blocks the consumer: when the
// queue is full the tie stays decided by stream order, and is counted.
func (r *Refetcher) Enqueue(ties []store.Tie) {
	for _, t := range ties {
		select {
		case r.queue <- t:
		default:
			r.outcome.WithLabelValues("queue_full").Inc()
			r.log.Warn("refetch queue full, tie left to stream order", "object", t.Resource.Object, "object_id", t.ID)
		}
	}
}

// Run fetches queued ties until ctx is done.
func (r *Refetcher) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case t := <-r.queue:
			outcome, err := r.settle(ctx, t)
			r.outcome.WithLabelValues(outcome).Inc()
			if err != nil {
				r.log.Warn("refetch", "object", t.Resource.Object, "object_id", t.ID, "account", t.Account, "err", err)
			}
		}
	}
}

func (r *Refetcher) settle(ctx context.Context, t store.Tie) (outcome string, err error) {
	path, ok := t.Resource.RetrievePath(t.ID)
	if !ok {
		return "not_retrievable", nil
	}
	data, at, err := r.api.Get(ctx, path, t.Account)
	if err != nil {
		if stripeErr := (*stripe.Error)(nil); errors.As(err, &stripeErr) && stripeErr.HTTPStatusCode == http.StatusNotFound {
			return "not_found", nil
		}
		return "failed", err
	}
	err = r.store.ApplySettled(ctx, events.Object{
		Resource:  t.Resource,
		ID:        t.ID,
		Account:   t.Account,
		Livemode:  t.Livemode,
		FetchedAt: at,
		Data:      data,
	})
	if err != nil {
		return "failed", fmt.Errorf("store %s %s: %w", t.Resource.Object, t.ID, err)
	}
	return "settled", nil
}
