// Package ingest receives Stripe webhooks, verifies their signatures and
// publishes each event to JetStream, answering 2xx only once JetStream has
// stored it. Run is the whole service; cmd/ingest is its command, and
// stripesync dev runs it in-process beside the others.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/ops"
	"github.com/stripesync/stripesync/services/ingest/internal/webhook"
)

// headerRoom is what a published message needs beyond the body: subject and
// headers. The body limit must leave it under the server's max_payload.
const headerRoom = 4 << 10

// Run is ingest from start to stop: config → logger → connect NATS → bind
// the HTTP port → serve webhooks while declaring the stream, until ctx is
// done → drain NATS. Settings come from args (flags) over getenv (their
// environment variables); logs go to stdout as JSON. For -h it prints the
// usage to stderr and returns an error wrapping flag.ErrHelp.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cfg, err := parseConfig(args, getenv)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	verifier, err := webhook.NewVerifier(cfg.secrets(), cfg.Tolerance)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))
	log.Info("starting", "config", cfg)

	nc, js, err := connectNATS(cfg, log)
	if err != nil {
		return err
	}
	defer nc.Close()
	srv, httpServer, err := listen(cfg, log, nc, js, verifier)
	if err != nil {
		return err
	}

	err = serve(ctx, cfg, log, srv, httpServer)
	// serve has returned: every request got its answer, so nothing is left
	// to publish.
	err = errors.Join(err, events.Drain(nc, cfg.ShutdownTimeout))
	log.Info("stopped", "err", err)
	return err
}

func connectNATS(cfg config, log *slog.Logger) (*nats.Conn, jetstream.JetStream, error) {
	return events.ConnectJetStream(cfg.NATSURL, "stripesync-ingest", log)
}

// listen builds the webhook server and binds its port, before any work
// starts: a taken port stops ingest at once.
func listen(cfg config, log *slog.Logger, nc *nats.Conn, js jetstream.JetStream, verifier *webhook.Verifier) (*server, *ops.Server, error) {
	reg := prometheus.NewRegistry()
	srv := &server{
		log:            log,
		verifier:       verifier,
		js:             js,
		publisher:      events.NewPublisher(js),
		nc:             nc,
		maxBodyBytes:   cfg.MaxBodyBytes,
		publishTimeout: cfg.PublishTimeout,
		metrics:        newMetrics(reg),
	}
	httpServer, err := ops.Listen(log, ops.Config{
		Addr:     cfg.Addr,
		Registry: reg,
		Checks:   srv.checks(),
		Routes:   srv.routes(),
		// A webhook body may be large and come slowly, but no slower
		// than ReadTimeout (headers within 5s); the answer waits for
		// JetStream for up to PublishTimeout.
		ReadTimeout:     cfg.ReadTimeout,
		WriteTimeout:    cfg.PublishTimeout + 10*time.Second,
		ShutdownTimeout: cfg.ShutdownTimeout,
	})
	return srv, httpServer, err
}

// serve answers webhooks until ctx is done, then finishes the requests in
// flight: each either gets its event stored and answers 200, or answers
// 503. Meanwhile it declares the stream; until then /readyz fails and
// webhooks get 503.
func serve(ctx context.Context, cfg config, log *slog.Logger, srv *server, httpServer *ops.Server) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := declareStream(gctx, srv.nc, srv.js, cfg, log); err != nil {
			return err
		}
		srv.streamReady.Store(true)
		return nil
	})
	g.Go(func() error { return httpServer.Run(gctx) })
	return g.Wait()
}

// declareStream creates or updates the stream, retrying while NATS cannot
// be reached (one warning per outage, see events.Retry). Until it
// succeeds, /readyz fails and webhooks get 503, which Stripe retries.
func declareStream(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, cfg config, log *slog.Logger) error {
	err := events.Retry(ctx, nc, log, "stream", 2*time.Second, func(ctx context.Context) error {
		_, err := events.DeclareStream(ctx, js, cfg.Stream)
		return err
	})
	if err != nil {
		return nil // stopped before NATS was there
	}
	if max := nc.MaxPayload(); cfg.MaxBodyBytes+headerRoom > max {
		return fmt.Errorf("config: INGEST_MAX_BODY_BYTES %d leaves no room for headers under the NATS server's max_payload %d", cfg.MaxBodyBytes, max)
	}
	log.Info("stream ready", "stream", events.StreamName)
	return nil
}
