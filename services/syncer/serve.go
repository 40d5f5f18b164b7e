package syncer

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/ops"
	"github.com/stripesync/stripesync/pkg/stripeapi"
	"github.com/stripesync/stripesync/services/syncer/internal/backfill"
	"github.com/stripesync/stripesync/services/syncer/internal/catchup"
	"github.com/stripesync/stripesync/services/syncer/internal/schedule"
)

// serve is syncer serve from start to stop: logger → connect → declare the
// job stream and its consumers → bind the ops HTTP port → take jobs
// (backfills, catch-ups) one at a time each with the rest of the fleet,
// publish the schedules' slots, and serve HTTP until ctx is done → NATS.
//
// A job taken stays this replica's while it sends in-progress acks; when
// ctx ends mid-job the job is left unacknowledged, as by a replica that
// died, and another replica takes it over once cfg.JobAckWait has passed,
// resuming a backfill from its checkpoints.
func serve(ctx context.Context, cfg config, stdout io.Writer) error {
	log := newLogger(cfg, stdout)
	log.Info("starting", "config", &cfg)
	d, err := connect(ctx, cfg, log, cfg.RateLimit-cfg.EventsRateLimit)
	if err != nil {
		return err
	}
	defer d.close()

	s, err := newServer(ctx, cfg, log, d)
	if err != nil {
		return err
	}
	httpServer, err := ops.Listen(log, ops.Config{
		Addr:            cfg.Addr,
		Registry:        s.reg,
		Checks:          []ops.Check{{Name: "nats", Func: s.natsConnected}},
		ShutdownTimeout: cfg.ShutdownTimeout,
	})
	if err != nil {
		return err
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.jobs(gctx, s.backfillJobs, s.backfill) })
	g.Go(func() error { return s.jobs(gctx, s.catchUpJobs, s.catchUp) })
	if !cfg.BackfillInterval.Off() {
		g.Go(func() error {
			return slots(gctx, log, "backfill", cfg.BackfillInterval, func(msgID string) error {
				return s.queueBackfill(gctx, events.SyncRequest{}, msgID)
			})
		})
	}
	if !cfg.EventsInterval.Off() {
		g.Go(func() error {
			return slots(gctx, log, "catchup", cfg.EventsInterval, func(msgID string) error {
				_, err := events.PublishCatchUp(gctx, d.js, msgID)
				return err
			})
		})
	}
	g.Go(func() error { return httpServer.Run(gctx) })
	g.Go(func() error { return stripeapi.ReportUsage(gctx, d.kv, "syncer", log, d.limiter, s.eventsLimiter) })
	err = g.Wait()
	log.Info("stopped", "err", err)
	return err
}

// server is what syncer serve runs: the jobs of the fleet's two consumers,
// each on its own share of the API budget.
type server struct {
	cfg     config
	log     *slog.Logger
	d       *deps
	replica string
	engine  *backfill.Engine
	// events is the API client of the catch-ups, behind a limiter of its
	// own (cfg.EventsRateLimit); d.api is the backfills'.
	events        *stripeapi.Client
	eventsLimiter *stripeapi.Limiter

	backfillJobs, catchUpJobs jetstream.Consumer

	reg     *prometheus.Registry
	metrics *serveMetrics
}

func newServer(ctx context.Context, cfg config, log *slog.Logger, d *deps) (*server, error) {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	now := time.Now()
	// Twice the longest slot: a replica whose clock runs a little behind
	// still publishes a slot within the window of the first publication.
	dup := 2 * max(cfg.BackfillInterval.Longest(now), cfg.EventsInterval.Longest(now))
	if _, err := events.DeclareSyncStream(dctx, d.js, cfg.Stream, dup); err != nil {
		return nil, err
	}
	var cons [2]jetstream.Consumer
	for i, subject := range []string{events.SyncBackfillSubject, events.SyncCatchUpSubject} {
		c, err := d.js.CreateOrUpdateConsumer(dctx, events.SyncStream, events.SyncConsumerConfig(subject, cfg.JobAckWait))
		if err != nil {
			return nil, fmt.Errorf("consumer of %s: %w", subject, err)
		}
		cons[i] = c
	}
	progress := backfill.NewProgress()
	reg := prometheus.NewRegistry()
	eventsLimiter := newLimiter(cfg, cfg.EventsRateLimit, d.levels)
	return &server{
		cfg: cfg, log: log, d: d, replica: replicaName(),
		engine:        d.engine(cfg, progress),
		events:        cfg.Stripe.Client(eventsLimiter, log),
		eventsLimiter: eventsLimiter,
		backfillJobs:  cons[0], catchUpJobs: cons[1],
		reg:     reg,
		metrics: newServeMetrics(reg, progress, d.limiter, eventsLimiter),
	}, nil
}

// replicaName names this syncer serve in run records: host, process and a
// random part, since one process may run several (tests, stripesync dev).
func replicaName() string {
	host, _ := os.Hostname()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%d-%x", cmp.Or(host, "syncer"), os.Getpid(), b)
}

func (s *server) natsConnected(context.Context) error {
	if !s.d.nc.IsConnected() {
		return errors.New("not connected")
	}
	return nil
}

// queueBackfill records the run of sr as queued and publishes it with
// msgID; it is how both the schedule and syncer request ask for a run.
func (s *server) queueBackfill(ctx context.Context, sr events.SyncRequest, msgID string) error {
	req, err := backfill.NewRequest(sr)
	if err != nil {
		return err
	}
	return queueRun(ctx, s.d.js, s.d.kv, req, sr, msgID)
}

// jobs takes the jobs of cons, one at a time, until ctx is done, and runs
// each with handle while an in-progress ack every third of JobAckWait
// keeps it this replica's. handle acknowledges the job; a job left when ctx
// ends stays unacknowledged, for another replica.
func (s *server) jobs(ctx context.Context, cons jetstream.Consumer, handle func(context.Context, jetstream.Msg)) error {
	warned := false
	for ctx.Err() == nil {
		nctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		msg, err := cons.Next(jetstream.FetchContext(nctx))
		cancel()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, nats.ErrTimeout) {
				if !warned {
					s.log.Warn("take sync job", "err", err)
					warned = true
				}
				sleepCtx(ctx, time.Second)
			}
			continue
		}
		warned = false
		// At once, not a third of JobAckWait from now: the server started
		// the job's ack wait when it sent the job, and on a busy machine
		// the job may have waited in this process for much of it already;
		// another replica would be handed the same job.
		if err := msg.InProgress(); err != nil {
			s.log.Warn("keep sync job", "subject", msg.Subject(), "err", err)
		}
		jctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			t := time.NewTicker(s.cfg.JobAckWait / 3)
			defer t.Stop()
			for {
				select {
				case <-jctx.Done():
					return
				case <-t.C:
					if err := msg.InProgress(); err != nil {
						s.log.Warn("keep sync job", "subject", msg.Subject(), "err", err)
					}
				}
			}
		}()
		handle(jctx, msg)
		stop()
		<-done
	}
	return nil
}

// backfill runs the backfill job msg: it records the run as running, runs
// it (resuming from its checkpoints when another replica began it) and
// records it done or failed. A request that cannot be read is terminated.
func (s *server) backfill(ctx context.Context, msg jetstream.Msg) {
	var sr events.SyncRequest
	if err := json.Unmarshal(msg.Data(), &sr); err != nil {
		s.log.Error("sync request is not a SyncRequest; terminated", "err", err)
		s.settle(msg.Term())
		return
	}
	req, err := backfill.NewRequest(sr)
	if err != nil {
		s.log.Error("sync request refused; terminated", "err", err)
		s.settle(msg.Term())
		return
	}
	run := events.SyncRun{Run: req.RunID(), State: events.RunRunning, Request: sr, Replica: s.replica, StartedAt: time.Now().UTC()}
	if meta, err := msg.Metadata(); err == nil {
		run.Deliveries = meta.NumDelivered
		run.QueuedAt = meta.Timestamp.UTC()
	}
	s.record(ctx, run)
	s.log.Info("backfill taken", "run", run.Run, "deliveries", run.Deliveries, "resources", sr.Resources, "account", sr.Account, "since", sr.Since)
	err = s.runBackfill(ctx, req)
	if ctx.Err() != nil {
		s.log.Info("backfill left to another replica", "run", run.Run)
		return // unacknowledged: another replica takes it over after JobAckWait
	}
	run.FinishedAt = time.Now().UTC()
	outcome := "done"
	if err != nil {
		outcome = "failed"
		run.State, run.Error = events.RunFailed, err.Error()
		s.log.Error("backfill failed; the next run of the same request resumes it", "run", run.Run, "err", err)
	} else {
		run.State = events.RunDone
		s.log.Info("backfill done", "run", run.Run)
	}
	s.record(context.WithoutCancel(ctx), run)
	s.metrics.backfills.WithLabelValues(outcome).Inc()
	s.settle(msg.DoubleAck(context.WithoutCancel(ctx)))
}

// record writes run's status record; the run goes on if it cannot.
func (s *server) record(ctx context.Context, run events.SyncRun) {
	if err := putRun(ctx, s.d.kv, run); err != nil {
		s.log.Warn("record backfill run", "run", run.Run, "err", err)
	}
}

func (s *server) settle(err error) {
	if err != nil {
		s.log.Warn("acknowledge sync job", "err", err)
	}
}

// catchUp runs the catch-up job msg: it publishes the events of the
// platform and of the connected accounts whose turn it is since each one's
// cursor, and with SYNCER_THIN_EVENTS their thin events since theirs. A
// catch-up that failed for some accounts is acknowledged all the same:
// their cursors did not move, and the next slot's catch-up lists from them.
func (s *server) catchUp(ctx context.Context, msg jetstream.Msg) {
	n, err := catchup.Accounts(ctx, s.log, s.events, s.d.js, s.d.kv, catchup.AccountsOptions{
		Concurrency: s.cfg.Concurrency, Thin: s.cfg.ThinEvents, Limit: s.accountsPerCatchUp(),
	})
	s.metrics.events.Add(float64(n))
	if ctx.Err() != nil {
		return // unacknowledged: another replica takes it over
	}
	outcome := "done"
	if err != nil {
		outcome = "failed"
		s.log.Error("events catch-up", "published", n, "err", err)
	} else {
		s.log.Info("events caught up", "published", n)
	}
	s.metrics.catchUps.WithLabelValues(outcome).Inc()
	s.settle(msg.DoubleAck(context.WithoutCancel(ctx)))
}

// accountsPerCatchUp is how many connected accounts one catch-up visits:
// as many as half the catch-up's share of a slot lets it list, at a page
// of events each (two with thin events), so that a catch-up ends within
// its slot; 0 (all) without a schedule.
func (s *server) accountsPerCatchUp() int {
	slot := s.cfg.EventsInterval.Longest(time.Now())
	if slot == 0 {
		return 0
	}
	perAccount := 1.0
	if s.cfg.ThinEvents {
		perAccount = 2
	}
	return max(1, int(s.cfg.EventsRateLimit*slot.Seconds()/2/perAccount))
}

// slots publishes the job of kind for the slot holding now, then at the
// start of each next slot, until ctx is done. A publication that fails is
// retried every few seconds while its slot lasts.
func slots(ctx context.Context, log *slog.Logger, kind string, sched schedule.Schedule, publish func(msgID string) error) error {
	slot := sched.Slot(time.Now())
	for {
		for {
			err := publish(events.SlotMsgID(kind, slot))
			if err == nil {
				break
			}
			log.Warn("publish scheduled job; retrying", "job", kind, "slot", slot, "err", err)
			if !sleepCtx(ctx, 5*time.Second) {
				return nil
			}
			if !sched.Slot(time.Now()).Equal(slot) {
				break
			}
		}
		if !sleepCtx(ctx, time.Until(sched.Next(slot))) {
			return nil
		}
		slot = sched.Slot(time.Now())
	}
}

// sleepCtx sleeps for d, and reports false if ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

type serveMetrics struct {
	backfills *prometheus.CounterVec
	catchUps  *prometheus.CounterVec
	events    prometheus.Counter
}

// newServeMetrics exports the counts of the replica's limiters, summed.
func newServeMetrics(reg *prometheus.Registry, p *backfill.Progress, lims ...*stripeapi.Limiter) *serveMetrics {
	m := &serveMetrics{
		backfills: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stripe_sync_syncer_backfills_total", Help: "Backfill runs this replica ended, by outcome (done, failed).",
		}, []string{"outcome"}),
		catchUps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stripe_sync_syncer_catchups_total", Help: "Events catch-ups this replica ended, by outcome (done, failed).",
		}, []string{"outcome"}),
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stripe_sync_syncer_events_published_total", Help: "Events published by the Events API catch-up.",
		}),
	}
	reg.MustRegister(m.backfills, m.catchUps, m.events, progressCollector{p}, stripeapi.Collector("stripe_sync_syncer", lims...),
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
