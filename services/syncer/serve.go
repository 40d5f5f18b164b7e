package syncer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/ops"
	"github.com/stripesync/stripesync/pkg/stripeapi"
	"github.com/stripesync/stripesync/services/syncer/internal/backfill"
	"github.com/stripesync/stripesync/services/syncer/internal/catchup"
	"github.com/stripesync/stripesync/services/syncer/internal/reconcile"
)

// queuedRuns is how many requested backfills wait behind the running one.
const queuedRuns = 16

// serve is syncer serve from start to stop: logger → connect → bind the ops
// HTTP port → subscribe to sync requests → run backfills, their schedule,
// the events catch-up and the HTTP server until ctx is done → drain the
// subscription, then NATS.
func serve(ctx context.Context, cfg config, stdout io.Writer) error {
	log := newLogger(cfg, stdout)
	log.Info("starting", "config", &cfg)
	d, err := connect(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer d.close()

	s := newServer(cfg, log, d)
	httpServer, err := ops.Listen(log, ops.Config{
		Addr:            cfg.Addr,
		Registry:        s.reg,
		Checks:          []ops.Check{{Name: "nats", Func: s.natsConnected}},
		ShutdownTimeout: cfg.ShutdownTimeout,
	})
	if err != nil {
		return err
	}
	sub, err := s.subscribe()
	if err != nil {
		httpServer.Close()
		return err
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.backfills(gctx) })
	if cfg.BackfillInterval > 0 {
		g.Go(func() error { return every(gctx, cfg.BackfillInterval, s.scheduleBackfill) })
	}
	if cfg.ReconcileInterval > 0 {
		g.Go(func() error { return after(gctx, cfg.ReconcileInterval, s.scheduleBackfill) })
	}
	if cfg.EventsInterval > 0 {
		g.Go(func() error { return every(gctx, cfg.EventsInterval, func() { s.catchUp(gctx) }) })
	}
	g.Go(func() error { return httpServer.Run(gctx) })
	g.Go(func() error {
		<-gctx.Done()
		if err := sub.Drain(); err != nil {
			log.Warn("drain sync requests", "err", err)
		}
		return nil
	})
	err = g.Wait()
	log.Info("stopped", "err", err)
	return err
}

// server is what syncer serve runs: backfills one at a time, in the order
// requested, and the events catch-up.
type server struct {
	cfg    config
	log    *slog.Logger
	d      *deps
	engine *backfill.Engine
	// reconciler reconciles the complete listings; nil without DATABASE_URL.
	reconciler *reconcile.Reconciler
	runs       chan backfill.Request
	reg        *prometheus.Registry
	metrics    *serveMetrics
}

func newServer(cfg config, log *slog.Logger, d *deps) *server {
	progress := backfill.NewProgress()
	reg := prometheus.NewRegistry()
	engine := d.engine(cfg, progress)
	if d.pool != nil {
		reg.MustRegister(reconcileCollector{db: d.pool, log: log})
	}
	return &server{
		cfg: cfg, log: log, d: d,
		engine:     engine,
		reconciler: d.reconciler(cfg, engine),
		runs:       make(chan backfill.Request, queuedRuns),
		reg:        reg,
		metrics:    newServeMetrics(reg, progress, d.limiter),
	}
}

func (s *server) natsConnected(context.Context) error {
	if !s.d.nc.IsConnected() {
		return errors.New("not connected")
	}
	return nil
}

// subscribe answers sync requests: each is checked, queued and answered
// with its run id, or refused.
func (s *server) subscribe() (*nats.Subscription, error) {
	sub, err := s.d.nc.QueueSubscribe(events.SyncRequestSubject, "syncer", func(msg *nats.Msg) {
		reply := s.syncRequest(msg.Data)
		b, err := json.Marshal(reply)
		if err == nil {
			err = msg.Respond(b)
		}
		if err != nil {
			s.log.Warn("answer sync request", "err", err)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", events.SyncRequestSubject, err)
	}
	return sub, nil
}

func (s *server) syncRequest(data []byte) events.SyncReply {
	var sr events.SyncRequest
	if err := json.Unmarshal(data, &sr); err != nil {
		return events.SyncReply{Error: "request is not a sync request: " + err.Error()}
	}
	req, err := backfill.NewRequest(sr)
	if err != nil {
		return events.SyncReply{Error: err.Error()}
	}
	select {
	case s.runs <- req:
		s.log.Info("sync request queued", "run", req.RunID(), "resources", sr.Resources, "account", req.Account, "since", req.Since)
		return events.SyncReply{Run: req.RunID(), Queued: true}
	default:
		return events.SyncReply{Error: "too many backfills queued, try later"}
	}
}

// scheduleBackfill queues a backfill of everything.
func (s *server) scheduleBackfill() {
	req, err := backfill.NewRequest(events.SyncRequest{})
	if err != nil {
		s.log.Error("scheduled backfill", "err", err)
		return
	}
	select {
	case s.runs <- req:
	default:
		s.log.Warn("scheduled backfill skipped: the queue is full")
	}
}

// backfills runs the queued backfills, one at a time, until ctx is done.
func (s *server) backfills(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case req := <-s.runs:
			err := s.runBackfill(ctx, req)
			outcome := "done"
			if err != nil {
				outcome = "failed"
				s.log.Error("backfill failed; the next run of the same request resumes it", "run", req.RunID(), "err", err)
			} else {
				s.log.Info("backfill done", "run", req.RunID())
			}
			s.metrics.backfills.WithLabelValues(outcome).Inc()
		}
	}
}

// catchUp publishes the events of the platform and of every connected
// account since each one's cursor, and with SYNCER_THIN_EVENTS their thin
// events since theirs.
func (s *server) catchUp(ctx context.Context) {
	n, err := catchup.Accounts(ctx, s.log, s.d.api, s.d.js, s.d.kv, s.cfg.Concurrency, s.cfg.ThinEvents)
	s.metrics.events.Add(float64(n))
	if err != nil && ctx.Err() == nil {
		s.log.Error("events catch-up", "published", n, "err", err)
		return
	}
	s.log.Info("events caught up", "published", n)
}

// every calls f now and then every interval until ctx is done.
func every(ctx context.Context, interval time.Duration, f func()) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		f()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// after calls f every interval, the first time one interval from now,
// until ctx is done.
func after(ctx context.Context, interval time.Duration, f func()) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			f()
		}
	}
}

type serveMetrics struct {
	backfills *prometheus.CounterVec
	events    prometheus.Counter
}

func newServeMetrics(reg *prometheus.Registry, p *backfill.Progress, lim *stripeapi.Limiter) *serveMetrics {
	m := &serveMetrics{
		backfills: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stripe_sync_syncer_backfills_total", Help: "Backfill runs by outcome (done, failed).",
		}, []string{"outcome"}),
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stripe_sync_syncer_events_published_total", Help: "Events published by the Events API catch-up.",
		}),
	}
	reg.MustRegister(m.backfills, m.events, progressCollector{p}, endpointCollector{lim},
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "stripe_sync_syncer_api_requests_total", Help: "Stripe API requests sent, retries included.",
		}, func() float64 { return float64(lim.Requests()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "stripe_sync_syncer_api_rate_limited_total", Help: "Stripe API answers 429.",
		}, func() float64 { return float64(lim.RateLimited()) }),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

var objectsDesc = prometheus.NewDesc("stripe_sync_syncer_objects_published_total",
	"Objects published by backfills, by resource (its relation).", []string{"resource"}, nil)

// progressCollector exports the backfill counts.
type progressCollector struct{ p *backfill.Progress }

func (c progressCollector) Describe(ch chan<- *prometheus.Desc) { ch <- objectsDesc }
func (c progressCollector) Collect(ch chan<- prometheus.Metric) {
	for res, n := range c.p.Snapshot() {
		ch <- prometheus.MustNewConstMetric(objectsDesc, prometheus.CounterValue, float64(n), res.Relation())
	}
}

var (
	endpointRequestsDesc = prometheus.NewDesc("stripe_sync_syncer_api_endpoint_requests_total",
		"Stripe API requests sent, by endpoint (method and path, ids as {id}): each has its own rate limit.", []string{"endpoint"}, nil)
	endpointLimitedDesc = prometheus.NewDesc("stripe_sync_syncer_api_endpoint_rate_limited_total",
		"Stripe API answers 429, by endpoint.", []string{"endpoint"}, nil)
)

// endpointCollector exports the limiter's counts per endpoint.
type endpointCollector struct{ lim *stripeapi.Limiter }

func (c endpointCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- endpointRequestsDesc
	ch <- endpointLimitedDesc
}

func (c endpointCollector) Collect(ch chan<- prometheus.Metric) {
	for _, e := range c.lim.Endpoints() {
		ch <- prometheus.MustNewConstMetric(endpointRequestsDesc, prometheus.CounterValue, float64(e.Requests), e.Endpoint)
		ch <- prometheus.MustNewConstMetric(endpointLimitedDesc, prometheus.CounterValue, float64(e.RateLimited), e.Endpoint)
	}
}
