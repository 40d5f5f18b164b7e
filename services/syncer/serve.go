package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/stripeapi"
	"github.com/stripesync/stripesync/services/syncer/internal/backfill"
	"github.com/stripesync/stripesync/services/syncer/internal/catchup"
)

// eventsOverlap is how far before its cursor each catch-up starts again: an
// event may become visible in the Events API a little after a later one.
const eventsOverlap = 5 * time.Minute

func serve(ctx context.Context, cfg config, stdout io.Writer) error {
	log := newLogger(cfg, stdout)
	log.Info("starting", "config", &cfg)
	d, err := connect(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer d.close()

	progress := backfill.NewProgress()
	engine := d.engine(cfg, progress)
	reg := prometheus.NewRegistry()
	m := newServeMetrics(reg, progress, d.limiter)

	// Backfills run one at a time, in the order requested.
	runs := make(chan backfill.Request, 16)
	sub, err := d.nc.QueueSubscribe(events.SyncRequestSubject, "syncer", func(msg *nats.Msg) {
		reply := func(v any) {
			b, _ := json.Marshal(v)
			if err := msg.Respond(b); err != nil {
				log.Warn("answer sync request", "err", err)
			}
		}
		var req backfill.Request
		if err := json.Unmarshal(msg.Data, &req); err != nil {
			reply(map[string]string{"error": "request is not JSON: " + err.Error()})
			return
		}
		if _, err := backfill.Select(req.Resources); err != nil {
			reply(map[string]string{"error": err.Error()})
			return
		}
		select {
		case runs <- req:
			log.Info("sync request queued", "run", req.RunID(), "resources", req.Resources, "account", req.Account)
			reply(map[string]any{"run": req.RunID(), "queued": true})
		default:
			reply(map[string]string{"error": "too many backfills queued, try later"})
		}
	})
	if err != nil {
		return fmt.Errorf("subscribe %s: %w", events.SyncRequestSubject, err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !d.nc.IsConnected() {
			http.Error(w, "nats not connected", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	httpServer := &http.Server{
		Addr: cfg.Addr, Handler: mux,
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		for {
			select {
			case <-gctx.Done():
				return nil
			case req := <-runs:
				err := engine.Run(gctx, req)
				outcome := "done"
				if err != nil {
					outcome = "failed"
					log.Error("backfill failed; the next run of the same request resumes it", "run", req.RunID(), "err", err)
				} else {
					log.Info("backfill done", "run", req.RunID())
				}
				m.backfills.WithLabelValues(outcome).Inc()
			}
		}
	})
	if cfg.BackfillInterval > 0 {
		g.Go(func() error {
			return every(gctx, cfg.BackfillInterval, func() {
				select {
				case runs <- backfill.Request{}:
				default:
					log.Warn("scheduled backfill skipped: the queue is full")
				}
			})
		})
	}
	if cfg.EventsInterval > 0 {
		g.Go(func() error {
			return every(gctx, cfg.EventsInterval, func() {
				n, err := catchUp(gctx, log, d)
				m.events.Add(float64(n))
				if err != nil {
					log.Error("events catch-up", "err", err)
				}
			})
		})
	}
	g.Go(func() error {
		log.Info("listening", "addr", cfg.Addr)
		if err := httpServer.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve http: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		if err := sub.Drain(); err != nil {
			log.Warn("drain sync requests", "err", err)
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(gctx), cfg.ShutdownTimeout)
		defer cancel()
		return httpServer.Shutdown(sctx)
	})
	err = g.Wait()
	log.Info("stopped", "err", err)
	return err
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

// catchUp publishes the events of the platform and of every connected
// account since each one's cursor, kept in the checkpoint bucket.
func catchUp(ctx context.Context, log *slog.Logger, d *deps) (int, error) {
	connected, err := d.api.ConnectedAccounts(ctx)
	if err != nil {
		return 0, err
	}
	accounts := append([]string{""}, connected...)
	total := 0
	var errs []error
	for _, acct := range accounts {
		key := "cursor.events." + cmp.Or(acct, "platform")
		cursor := time.Now().Add(-24 * time.Hour)
		if e, err := d.kv.Get(ctx, key); err == nil {
			if t, err := time.Parse(time.RFC3339, string(e.Value())); err == nil {
				cursor = t
			}
		} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
			errs = append(errs, err)
			continue
		}
		if age := time.Since(cursor); age > catchup.Horizon-5*24*time.Hour {
			log.Warn("events cursor is near Stripe's 30-day horizon: events older than that cannot be caught up; run a backfill",
				"account", acct, "cursor", cursor, "age", age.Round(time.Hour).String())
		}
		started := time.Now()
		res, err := catchup.Run(ctx, log, d.api, d.js, catchup.Options{Since: cursor.Add(-eventsOverlap), Account: acct})
		total += res.Published
		if err != nil {
			errs = append(errs, fmt.Errorf("account %q: %w", acct, err))
			continue
		}
		// Everything created before the listing started was listed, but for
		// events that show up late, which the overlap catches next time. A
		// quiet account's cursor moves on too.
		next := started.Add(-eventsOverlap)
		if res.Newest.After(next) {
			next = res.Newest
		}
		if next.After(cursor) {
			if _, err := d.kv.Put(ctx, key, []byte(next.UTC().Format(time.RFC3339))); err != nil {
				errs = append(errs, err)
			}
		}
		log.Info("events caught up", "account", acct, "published", res.Published, "since", cursor.Add(-eventsOverlap))
	}
	return total, errors.Join(errs...)
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
	reg.MustRegister(m.backfills, m.events, progressCollector{p},
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
	"Objects published by backfills, by resource.", []string{"resource"}, nil)

// progressCollector exports the backfill counts.
type progressCollector struct{ p *backfill.Progress }

func (c progressCollector) Describe(ch chan<- *prometheus.Desc) { ch <- objectsDesc }
func (c progressCollector) Collect(ch chan<- prometheus.Metric) {
	for table, n := range c.p.Snapshot() {
		ch <- prometheus.MustNewConstMetric(objectsDesc, prometheus.CounterValue, float64(n), table)
	}
}
