package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/stripesync/stripesync/db"
	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/stripeapi"
	"github.com/stripesync/stripesync/services/processor/internal/consume"
	"github.com/stripesync/stripesync/services/processor/internal/refetch"
	"github.com/stripesync/stripesync/services/processor/internal/store"
)

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cfg, err := parseConfig(args, getenv)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))
	log.Info("starting", "config", cfg)

	pool, err := connectDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := db.Migrate(ctx, pool); err != nil {
		return err
	}
	log.Info("schema migrated")

	nc, err := events.Connect(cfg.NATSURL, "stripesync-processor", log)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	cons, err := declareConsumer(ctx, js, cfg, log)
	if err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	st := store.New(pool)
	consumeCfg := consume.Config{
		BatchSize:   cfg.BatchSize,
		Workers:     cfg.Workers,
		MaxAttempts: cfg.MaxAttempts,
	}
	var refetcher *refetch.Refetcher
	if cfg.StripeAPIKey != "" {
		// Well under Stripe's read limits: refetches are rare, and the
		// syncer may share the key.
		api := stripeapi.New(cfg.StripeAPIBase, string(cfg.StripeAPIKey), stripeapi.NewLimiter(10, 5), log)
		refetcher = refetch.New(log, api, st, reg)
		consumeCfg.TiesFunc = refetcher.Enqueue
	}
	consumer := consume.New(log, st, consumeCfg, consume.NewMetrics(reg))

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		pctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		switch {
		case !nc.IsConnected():
			http.Error(w, "nats not connected", http.StatusServiceUnavailable)
		case st.Ping(pctx) != nil:
			http.Error(w, "database not reachable", http.StatusServiceUnavailable)
		default:
			w.Write([]byte("ready\n"))
		}
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	httpServer := &http.Server{
		Addr:              cfg.Addr,
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	g, gctx := errgroup.WithContext(ctx)
	if refetcher != nil {
		g.Go(func() error { return refetcher.Run(gctx) })
	}
	g.Go(func() error {
		log.Info("consuming", "stream", events.StreamName, "consumer", events.ConsumerName)
		return consumer.Run(gctx, cons)
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
		sctx, cancel := context.WithTimeout(context.WithoutCancel(gctx), cfg.ShutdownTimeout)
		defer cancel()
		return httpServer.Shutdown(sctx)
	})
	err = g.Wait()
	// consumer.Run has returned: every batch it took is committed and acked
	// (or handed back). Drain flushes those acks before the connection closes.
	if derr := nc.Drain(); derr != nil && err == nil {
		err = fmt.Errorf("drain nats: %w", derr)
	}
	log.Info("stopped", "err", err)
	return err
}

func connectDB(ctx context.Context, cfg config) (*pgxpool.Pool, error) {
	pcfg, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, errors.New("config: DATABASE_URL does not parse as a PostgreSQL URL")
	}
	pcfg.MaxConns = int32(max(4, cfg.Workers+2))
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("connect database: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect database: %w", err)
	}
	return pool, nil
}

// declareConsumer makes sure the stream exists and creates or updates the
// processor's durable consumer, retrying while NATS cannot be reached.
func declareConsumer(ctx context.Context, js jetstream.JetStream, cfg config, log *slog.Logger) (jetstream.Consumer, error) {
	maxAckPending := 2 * cfg.BatchSize * cfg.Workers * 2
	for {
		stream, err := events.EnsureStream(ctx, js, cfg.Stream)
		if err == nil {
			var cons jetstream.Consumer
			cons, err = stream.CreateOrUpdateConsumer(ctx, events.ConsumerConfig(cfg.AckWait, maxAckPending))
			if err == nil {
				return cons, nil
			}
			err = fmt.Errorf("declare consumer %s: %w", events.ConsumerName, err)
		}
		log.Warn("consumer not ready, retrying", "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}
