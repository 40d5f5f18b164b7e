// Package refetch brings objects' current state from the Stripe API where
// the events cannot:
//
//   - Thin events carry no state of their object. The store records each
//     object they name in stripe.pending_fetches; RunPending fetches them
//     (one fetch for any number of events that came before it) and stores
//     each as of the moment of the request.
//   - Stripe's event times have one-second resolution, so two events of one
//     object in the same second cannot be ordered from the data; the store
//     keeps the later in stream order and reports a tie. Run fetches the
//     object's current state, which is newer than both events.
package refetch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stripe/stripe-go/v76"

	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/stripeapi"
	"github.com/stripesync/stripesync/services/processor/internal/outage"
	"github.com/stripesync/stripesync/services/processor/internal/store"
)

// Store is what the refetcher needs of the store.
type Store interface {
	ApplySettled(ctx context.Context, o events.Object) error
	ClaimFetches(ctx context.Context, max int, lease time.Duration) ([]store.PendingFetch, error)
	SettleFetch(ctx context.Context, f store.PendingFetch, o events.Object) error
	SettleFetchGone(ctx context.Context, f store.PendingFetch, at time.Time) error
	RetryFetch(ctx context.Context, f store.PendingFetch, delay time.Duration, reason string) error
}

// Refetcher fetches tied objects from the Stripe API, one at a time, from a
// bounded queue.
type Refetcher struct {
	log     *slog.Logger
	api     *stripeapi.Client
	store   Store
	queue   chan store.Tie
	outcome *prometheus.CounterVec
	pending *prometheus.CounterVec
	// claims follows the claims of pending fetches: while PostgreSQL is
	// away RunPending fails one every idlePoll, and warns only once.
	claims *outage.Watch
}

// New returns a Refetcher calling api, and registers its metric with reg.
func New(log *slog.Logger, api *stripeapi.Client, s Store, reg prometheus.Registerer) *Refetcher {
	r := &Refetcher{
		log:   log,
		api:   api,
		store: s,
		queue: make(chan store.Tie, 1000),
		claims: outage.New(log, "pending fetches cannot be claimed, retrying until the store recovers",
			"store recovered, pending fetches are claimed again"),
		outcome: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stripe_sync_processor_refetches_total",
			Help: "Objects fetched from the Stripe API to settle a tie of the version rule, by outcome.",
		}, []string{"outcome"}),
		pending: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stripe_sync_processor_fetches_total",
			Help: "Objects named by thin events fetched from the Stripe API, by outcome (stored, gone, failed).",
		}, []string{"outcome"}),
	}
	reg.MustRegister(r.outcome, r.pending)
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
		Resource:   t.Resource,
		ID:         t.ID,
		Account:    t.Account,
		Livemode:   t.Livemode,
		FetchedAt:  at,
		APIVersion: r.api.APIVersion(),
		Data:       data,
	})
	if err != nil {
		return "failed", fmt.Errorf("store %s %s: %w", t.Resource.Object, t.ID, err)
	}
	return "settled", nil
}

// Tuning of RunPending.
const (
	// claimBatch is the most objects leased at once.
	claimBatch = 20
	// fetchLease is how long a leased object is left to this fetcher; one
	// that died leaves it due again then. It is also how long an object
	// waits when its fetch succeeded but PostgreSQL went away before the
	// result or the retry could be written (make prove's outage showed
	// 2 minutes there): a claimBatch takes seconds at the fetch rate, so
	// 30 s leaves room.
	fetchLease = 30 * time.Second
	// idlePoll is how often RunPending looks for due objects when it found
	// none.
	idlePoll = 200 * time.Millisecond
)

// RunPending fetches the objects waiting in stripe.pending_fetches until ctx
// is done. An object Stripe answers 404 for is marked deleted; a failed
// fetch is tried again later, backing off.
func (r *Refetcher) RunPending(ctx context.Context) error {
	for {
		if r.fetchDue(ctx) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(idlePoll):
		}
	}
}

// fetchDue fetches up to claimBatch objects that are due now, and returns
// how many it claimed.
func (r *Refetcher) fetchDue(ctx context.Context) int {
	claimed, err := r.store.ClaimFetches(ctx, claimBatch, fetchLease)
	switch {
	case err == nil:
		r.claims.Succeeded()
	case ctx.Err() == nil:
		r.claims.Failed(err)
	}
	for _, f := range claimed {
		outcome, err := r.fetch(ctx, f)
		r.pending.WithLabelValues(outcome).Inc()
		if err != nil {
			r.log.Warn("fetch", "object", f.Resource.Object, "object_id", f.ID, "account", f.Account, "attempt", f.Attempts, "err", err)
		}
	}
	return len(claimed)
}

func (r *Refetcher) fetch(ctx context.Context, f store.PendingFetch) (outcome string, err error) {
	data, at, err := r.api.Get(ctx, f.URL, f.Account)
	if stripeErr := (*stripe.Error)(nil); errors.As(err, &stripeErr) && stripeErr.HTTPStatusCode == http.StatusNotFound {
		if err := r.store.SettleFetchGone(ctx, f, at); err != nil {
			return "failed", r.retry(ctx, f, err)
		}
		return "gone", nil
	}
	if err != nil {
		return "failed", r.retry(ctx, f, err)
	}
	o := events.Object{Resource: f.Resource, ID: f.ID, Account: f.Account, Livemode: f.Livemode,
		FetchedAt: at, APIVersion: r.api.APIVersion(), Data: data}
	if err := r.store.SettleFetch(ctx, f, o); err != nil {
		return "failed", r.retry(ctx, f, err)
	}
	return "stored", nil
}

// retry makes f due again after a delay growing with its attempts, 1 s
// doubling to 10 minutes, and returns cause.
func (r *Refetcher) retry(ctx context.Context, f store.PendingFetch, cause error) error {
	delay := min(time.Second<<min(max(f.Attempts-1, 0), 10), 10*time.Minute)
	if err := r.store.RetryFetch(context.WithoutCancel(ctx), f, delay, cause.Error()); err != nil {
		return errors.Join(cause, err)
	}
	return cause
}
