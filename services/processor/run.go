// Package processor consumes Stripe events from JetStream and writes them,
// and the objects they carry, into the PostgreSQL mirror. Run is the whole
// service; cmd/processor is its command, and stripesync dev runs it
// in-process beside the others.
package processor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/stripesync/stripesync/db"
	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/ops"
	"github.com/stripesync/stripesync/pkg/stripeapi"
	"github.com/stripesync/stripesync/services/processor/internal/consume"
	"github.com/stripesync/stripesync/services/processor/internal/refetch"
	"github.com/stripesync/stripesync/services/processor/internal/store"
)

// Run is the processor from start to stop, one phase per step: config →
// logger → connect the database → migrate → connect NATS → declare the
// consumer → build the consumer → bind the HTTP port → consume until ctx is
// done → drain NATS. The deferred closes stop the rest in reverse order:
// NATS, then the pool. Settings come from args (flags) over getenv (their
// environment variables); logs go to stdout as JSON. For -h it prints the
// usage to stderr and returns an error wrapping flag.ErrHelp.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
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
	if err := migrate(ctx, pool, log); err != nil {
		return err
	}
	nc, js, err := connectNATS(cfg, log)
	if err != nil {
		return err
	}
	defer nc.Close()
	stream, cons, err := declareConsumer(ctx, nc, js, cfg, log)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(lagCollector{stream: stream, cons: cons})
	st := store.New(pool)
	w, err := buildWorkers(ctx, cfg, log, st, reg, js)
	if err != nil {
		return err
	}
	httpServer, err := listen(cfg, log, reg, nc, st)
	if err != nil {
		return err
	}

	err = serve(ctx, log, w, cons, httpServer, func(ctx context.Context) error {
		return maintainPartitions(ctx, log, pool, cfg.EventsRetentionMonths)
	})
	// serve has returned: every batch the consumer took is committed and
	// acked (or handed back). Draining flushes those acks before the
	// connection closes.
	err = errors.Join(err, events.Drain(nc, cfg.ShutdownTimeout))
	log.Info("stopped", "err", err)
	return err
}

func connectDB(ctx context.Context, cfg config) (*pgxpool.Pool, error) {
	pcfg, err := db.PoolConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	pcfg.MaxConns = int32(max(4, cfg.Workers+2))
	addr := net.JoinHostPort(pcfg.ConnConfig.Host, strconv.Itoa(int(pcfg.ConnConfig.Port)))
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL at %s (DATABASE_URL): %w", addr, err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		// pgx's errors name the host, user and database, never the password.
		return nil, fmt.Errorf("PostgreSQL refused at %s (DATABASE_URL): %w", addr, events.Cause(err))
	}
	return pool, nil
}

func migrate(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) error {
	if err := db.Migrate(ctx, pool); err != nil {
		return err
	}
	log.Info("schema migrated")
	return nil
}

func connectNATS(cfg config, log *slog.Logger) (*nats.Conn, jetstream.JetStream, error) {
	return events.ConnectJetStream(cfg.NATSURL, "stripesync-processor", log)
}

// declareConsumer makes sure the stream exists and creates or updates the
// processor's durable consumer, retrying while NATS cannot be reached (one
// warning per outage, see events.Retry).
func declareConsumer(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, cfg config, log *slog.Logger) (jetstream.Stream, jetstream.Consumer, error) {
	maxAckPending := 2 * cfg.BatchSize * cfg.Workers * 2
	var stream jetstream.Stream
	var cons jetstream.Consumer
	err := events.Retry(ctx, nc, log, "consumer "+events.ConsumerName, 2*time.Second, func(ctx context.Context) error {
		var err error
		stream, err = events.EnsureStream(ctx, js, cfg.Stream)
		if err != nil {
			return err
		}
		cons, err = stream.CreateOrUpdateConsumer(ctx, events.ConsumerConfig(cfg.AckWait, maxAckPending))
		if err != nil {
			return fmt.Errorf("declare consumer %s: %w", events.ConsumerName, err)
		}
		return nil
	})
	return stream, cons, err
}

// workers are what the processor runs: the consumer, and, when a Stripe key
// is set, the refetcher that fetches the objects thin events name and
// settles ties of the version rule, and the report of its API usage.
type workers struct {
	consumer  *consume.Consumer
	refetcher *refetch.Refetcher // nil without STRIPE_API_KEY
	usage     func(context.Context) error
}

func buildWorkers(ctx context.Context, cfg config, log *slog.Logger, st *store.Store, reg *prometheus.Registry, js jetstream.JetStream) (workers, error) {
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	consumeCfg := consume.Config{
		BatchSize:   cfg.BatchSize,
		Workers:     cfg.Workers,
		MaxAttempts: cfg.MaxAttempts,
		APIVersion:  cfg.Stripe.APIVersion,
		AckWait:     cfg.AckWait,
	}
	var w workers
	reg.MustRegister(awaitingFetch(st), reconcileCollector{store: st, log: log})
	if cfg.Stripe.Key != "" {
		lim := stripeapi.NewLimiter(fetchRate(cfg.Stripe))
		reg.MustRegister(stripeapi.Collector("stripe_sync_processor", lim))
		api := cfg.Stripe.Client(lim, log)
		w.refetcher = refetch.New(log, api, st, reg)
		consumeCfg.TiesFunc = w.refetcher.Enqueue
		kv, err := stateBucket(ctx, js)
		if err != nil {
			return workers{}, err
		}
		w.usage = func(ctx context.Context) error { return stripeapi.ReportUsage(ctx, kv, "processor", log, lim) }
	}
	w.consumer = consume.New(log, st, consumeCfg, consume.NewMetrics(reg))
	return w, nil
}

// stateBucket opens the syncer's state bucket, creating it if missing
// (the processor may start first), for the API usage record.
func stateBucket(ctx context.Context, js jetstream.JetStream) (jetstream.KeyValue, error) {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	kv, err := js.CreateOrUpdateKeyValue(dctx, events.StateBucketConfig())
	if err != nil {
		return nil, fmt.Errorf("state bucket %s: %w", events.StateBucket, err)
	}
	return kv, nil
}

// fetchRate is the processor's share of Stripe's read budget (100 requests/s
// live, 25 test), requests per second and burst: a fifth, leaving the
// syncer's default 80 (live) or 20 (test), so that fetches for thin events
// and backfills never starve each other.
func fetchRate(c stripeapi.Config) (float64, int) {
	if c.Livemode() {
		return 20, 5
	}
	return 5, 2
}

// awaitingFetch exports the objects waiting for a fetch (the objects of
// thin events): without STRIPE_API_KEY they wait until a key is set or a
// backfill brings a newer state.
func awaitingFetch(st *store.Store) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "stripe_sync_processor_objects_awaiting_fetch",
		Help: "Objects named by thin events whose current state has not been fetched yet.",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, _, err := st.FetchStats(ctx)
		if err != nil {
			return math.NaN()
		}
		return float64(n)
	})
}

// listen binds the HTTP port before consuming starts: a taken port stops
// the processor at once. /readyz answers 200 while NATS is connected and
// the database answers.
func listen(cfg config, log *slog.Logger, reg *prometheus.Registry, nc *nats.Conn, st *store.Store) (*ops.Server, error) {
	return ops.Listen(log, ops.Config{
		Addr:     cfg.Addr,
		Registry: reg,
		Checks: []ops.Check{
			{Name: "nats", Func: func(context.Context) error {
				if !nc.IsConnected() {
					return errors.New("not connected")
				}
				return nil
			}},
			{Name: "database", Func: st.Ping},
		},
		ShutdownTimeout: cfg.ShutdownTimeout,
	})
}

// serve runs the workers and the HTTP server until ctx is done or one of
// them fails, and returns once all have stopped.
func serve(ctx context.Context, log *slog.Logger, w workers, cons jetstream.Consumer, httpServer *ops.Server, maintain func(context.Context) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return maintain(gctx) })
	if w.refetcher != nil {
		g.Go(func() error { return w.refetcher.Run(gctx) })
		g.Go(func() error { return w.refetcher.RunPending(gctx) })
		g.Go(func() error { return w.usage(gctx) })
	}
	g.Go(func() error {
		log.Info("consuming", "stream", events.StreamName, "consumer", events.ConsumerName)
		return w.consumer.Run(gctx, cons)
	})
	g.Go(func() error { return httpServer.Run(gctx) })
	return g.Wait()
}
