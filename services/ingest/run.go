package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/services/ingest/internal/webhook"
)

// headerRoom is what a published message needs beyond the body: subject and
// headers. The body limit must leave it under the server's max_payload.
const headerRoom = 4 << 10

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cfg, err := parseConfig(args, getenv)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))
	log.Info("starting", "config", cfg)

	verifier, err := webhook.NewVerifier(cfg.secrets(), cfg.Tolerance)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	nc, err := events.Connect(cfg.NATSURL, "stripesync-ingest", log)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}

	reg := prometheus.NewRegistry()
	srv := &server{
		log:            log,
		verifier:       verifier,
		js:             js,
		nc:             nc,
		maxBodyBytes:   cfg.MaxBodyBytes,
		publishTimeout: cfg.PublishTimeout,
		metrics:        newMetrics(reg),
	}
	httpServer := &http.Server{
		Addr:              cfg.Addr,
		Handler:           srv.routes(reg),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      cfg.PublishTimeout + 10*time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := declareStream(gctx, nc, js, cfg, log); err != nil {
			return err
		}
		srv.streamReady.Store(true)
		return nil
	})
	g.Go(func() error {
		log.Info("listening", "addr", cfg.Addr)
		if err := httpServer.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve http: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		log.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.WithoutCancel(gctx), cfg.ShutdownTimeout)
		defer cancel()
		// Finishes the requests in flight: each either gets its event stored
		// and answers 200, or answers 503.
		if err := httpServer.Shutdown(sctx); err != nil {
			return fmt.Errorf("shutdown http: %w", err)
		}
		if err := nc.Drain(); err != nil {
			return fmt.Errorf("drain nats: %w", err)
		}
		return nil
	})
	err = g.Wait()
	log.Info("stopped", "err", err)
	return err
}

// declareStream creates or updates the stream, retrying while NATS cannot
// be reached. Until it succeeds, /readyz fails and webhooks get 503, which
// Stripe retries.
func declareStream(ctx context.Context, nc interface{ MaxPayload() int64 }, js jetstream.JetStream, cfg config, log *slog.Logger) error {
	for {
		_, err := events.DeclareStream(ctx, js, cfg.Stream)
		if err == nil {
			if max := nc.MaxPayload(); cfg.MaxBodyBytes+headerRoom > max {
				return fmt.Errorf("config: INGEST_MAX_BODY_BYTES %d leaves no room for headers under the NATS server's max_payload %d", cfg.MaxBodyBytes, max)
			}
			log.Info("stream ready", "stream", events.StreamName)
			return nil
		}
		log.Warn("stream not ready, retrying", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(2 * time.Second):
		}
	}
}
