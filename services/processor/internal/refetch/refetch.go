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
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stripe/stripe-go/v76"

	"github.com/stripesync/stripesync/services/processor/internal/store"
)

// Store is what the refetcher needs of the store.
type Store interface {
	ApplyFetched(ctx context.Context, f store.Fetched) error
}

// Refetcher fetches tied objects from the Stripe API, one at a time, from a
// bounded queue.
type Refetcher struct {
	log     *slog.Logger
	backend stripe.Backend
	key     string
	store   Store
	queue   chan store.Tie
	outcome *prometheus.CounterVec
}

// NewBackend returns the stripe-go backend for the API at baseURL, with
// stripe-go's retries (which honour Stripe's 429s and Retry-After) and its
// logs sent to log at debug level.
func NewBackend(baseURL string, log *slog.Logger) stripe.Backend {
	return stripe.GetBackendWithConfig(stripe.APIBackend, &stripe.BackendConfig{
		URL:               stripe.String(baseURL),
		MaxNetworkRetries: stripe.Int64(3),
		HTTPClient:        &http.Client{Timeout: 30 * time.Second},
		LeveledLogger:     leveledLogger{log},
	})
}

// New returns a Refetcher calling backend with key, and registers its metric
// with reg.
func New(log *slog.Logger, backend stripe.Backend, key string, s Store, reg prometheus.Registerer) *Refetcher {
	r := &Refetcher{
		log:     log,
		backend: backend,
		key:     key,
		store:   s,
		queue:   make(chan store.Tie, 1000),
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

// rawObject keeps only the response: the object is stored as Stripe
// rendered it, never re-marshalled from a typed struct.
type rawObject struct {
	stripe.APIResource
}

func (r *Refetcher) settle(ctx context.Context, t store.Tie) (outcome string, err error) {
	if t.Resource.Path == "" {
		return "not_retrievable", nil
	}
	params := &stripe.Params{Context: ctx}
	if t.Account != "" {
		params.SetStripeAccount(t.Account)
	}
	at := time.Now()
	var obj rawObject
	if err := r.backend.Call(http.MethodGet, t.Resource.Path+"/"+url.PathEscape(t.ID), r.key, params, &obj); err != nil {
		if stripeErr := (*stripe.Error)(nil); errors.As(err, &stripeErr) && stripeErr.HTTPStatusCode == http.StatusNotFound {
			return "not_found", nil
		}
		return "failed", fmt.Errorf("get %s %s: %w", t.Resource.Object, t.ID, err)
	}
	err = r.store.ApplyFetched(ctx, store.Fetched{
		Resource: t.Resource,
		Account:  t.Account,
		Livemode: t.Livemode,
		Data:     obj.LastResponse.RawJSON,
		At:       at,
		Settles:  true,
	})
	if err != nil {
		return "failed", fmt.Errorf("store %s %s: %w", t.Resource.Object, t.ID, err)
	}
	return "settled", nil
}

// leveledLogger sends stripe-go's logs to slog. stripe-go logs each request
// at info level; here that is debug.
type leveledLogger struct{ log *slog.Logger }

func (l leveledLogger) Debugf(format string, v ...any) {
	l.log.Debug("stripe: " + fmt.Sprintf(format, v...))
}
func (l leveledLogger) Infof(format string, v ...any) {
	l.log.Debug("stripe: " + fmt.Sprintf(format, v...))
}
func (l leveledLogger) Warnf(format string, v ...any) {
	l.log.Warn("stripe: " + fmt.Sprintf(format, v...))
}
func (l leveledLogger) Errorf(format string, v ...any) {
	l.log.Error("stripe: " + fmt.Sprintf(format, v...))
}
