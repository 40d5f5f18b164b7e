package ingest

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/ops"
	"github.com/stripesync/stripesync/services/ingest/internal/webhook"
)

type server struct {
	log            *slog.Logger
	verifier       *webhook.Verifier
	js             jetstream.JetStream
	publisher      *events.Publisher
	nc             *nats.Conn
	maxBodyBytes   int64
	publishTimeout time.Duration
	metrics        *metrics
	streamReady    atomic.Bool
}

// routes are ingest's own; ops.Server adds /healthz, /readyz and /metrics.
func (s *server) routes() map[string]http.Handler {
	return map[string]http.Handler{"POST /webhooks/stripe": http.HandlerFunc(s.handleWebhook)}
}

// checks make /readyz answer 200 only when a webhook could be stored now:
// NATS is connected and the stream exists.
func (s *server) checks() []ops.Check {
	return []ops.Check{
		{Name: "nats", Func: func(context.Context) error {
			if !s.nc.IsConnected() {
				return errNotConnected
			}
			return nil
		}},
		{Name: "stream", Func: func(context.Context) error {
			if !s.streamReady.Load() {
				return errors.New("not declared yet")
			}
			return nil
		}},
	}
}

// bodies recycles request buffers: a body is needed only until JetStream
// acknowledges it.
var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// handleWebhook answers 200 only once JetStream has stored the event. Stripe
// retries anything else for up to three days, so on any doubt it answers an
// error and stores nothing.
func (s *server) handleWebhook(w http.ResponseWriter, r *http.Request) {
	buf := bodies.Get().(*bytes.Buffer)
	buf.Reset()
	defer bodies.Put(buf)

	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, s.maxBodyBytes)); err != nil {
		if maxErr := (*http.MaxBytesError)(nil); errors.As(err, &maxErr) {
			s.reject(w, r, http.StatusRequestEntityTooLarge, outcomeTooLarge, "body larger than the limit", err)
			return
		}
		s.reject(w, r, http.StatusBadRequest, outcomeBadBody, "body could not be read", err)
		return
	}
	body := buf.Bytes()
	if err := s.verifier.Verify(body, r.Header.Get("Stripe-Signature")); err != nil {
		s.reject(w, r, http.StatusBadRequest, outcomeBadSig, "signature verification failed", err)
		return
	}
	env, err := events.ParseEnvelope(body)
	if err != nil {
		s.reject(w, r, http.StatusBadRequest, outcomeBadBody, "not a Stripe event", err)
		return
	}

	duplicate, err := s.publish(r.Context(), env, body)
	if err != nil {
		s.metrics.webhooks.WithLabelValues(outcomeUnavailable).Inc()
		s.log.Error("event not stored", "event_id", env.ID, "event_type", env.Type, "err", err)
		w.Header().Set("Retry-After", "10")
		http.Error(w, "event not stored, retry later", http.StatusServiceUnavailable)
		return
	}
	outcome := outcomeAccepted
	if duplicate {
		outcome = outcomeDuplicate
	}
	s.metrics.webhooks.WithLabelValues(outcome).Inc()
	s.log.Debug("event stored", "event_id", env.ID, "event_type", env.Type, "duplicate", duplicate)
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"received":true}`))
}

// publish stores the event's original bytes on the stream (events.EventMsg:
// the event id is the message id, so that JetStream drops a second copy
// inside its duplicate window). It returns once the stream has acknowledged
// the event.
func (s *server) publish(ctx context.Context, env events.Envelope, body []byte) (duplicate bool, err error) {
	if !s.nc.IsConnected() {
		return false, errNotConnected
	}
	ctx, cancel := context.WithTimeout(ctx, s.publishTimeout)
	defer cancel()
	start := time.Now()
	duplicate, err = s.publisher.Publish(ctx, events.EventMsg(env, body))
	if err != nil {
		return false, err
	}
	s.metrics.publishSeconds.Observe(time.Since(start).Seconds())
	return duplicate, nil
}

// reject answers a request whose event will not be stored. The reason is
// safe to show: it never contains the body, the signature or a secret.
func (s *server) reject(w http.ResponseWriter, r *http.Request, status int, outcome, reason string, err error) {
	s.metrics.webhooks.WithLabelValues(outcome).Inc()
	s.log.Warn("webhook rejected", "status", status, "reason", reason, "err", err, "remote_addr", r.RemoteAddr)
	http.Error(w, reason+": "+err.Error(), status)
}

var errNotConnected = errors.New("nats not connected")
