// Package syncer backfills the mirror from the Stripe API and catches up on
// missed events from Stripe's Events API. Everything it fetches goes through
// the stream to the processor, the mirror's only writer. Run is the whole
// service, one command at a time; cmd/syncer is its binary, and stripesync
// dev runs "serve" in-process beside the others.
package syncer

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/stripeapi"
	"github.com/stripesync/stripesync/services/syncer/internal/backfill"
	"github.com/stripesync/stripesync/services/syncer/internal/catchup"
)

const usage = `syncer backfills the mirror from the Stripe API and catches up on missed events from its Events API; everything it fetches goes through the stream to the processor.

usage: syncer <command> [flags]

commands:
  serve      backfill on a schedule and on request; catch up on events every few minutes
  backfill   backfill once, exiting when every object is on the stream (non-zero if any part failed)
  events     publish events from Stripe's Events API
  request    queue a backfill for syncer serve
  reconcile  list resources completely, for the processor to find the rows Stripe no longer has

"syncer <command> -h" lists a command's flags`

// about is what -h prints above each command's flags.
var about = map[string]string{
	"serve":    "syncer serve backfills the mirror on a schedule and on request, and catches up on missed events.\n\nusage: syncer serve [flags]",
	"backfill": "syncer backfill lists the account through the Stripe API and publishes every object, once.\n\nusage: syncer backfill [-resources a,b] [-account acct_…] [-since 2024-01-01|72h] [flags]",
	"events":   "syncer events publishes events from Stripe's Events API, as ingest would.\n\nusage: syncer events [-since 24h] [-failed] [-type 'invoice.*'] [-ids evt_…] [-account acct_…] [-thin] [flags]",
	"reconcile": "syncer reconcile backfills resources completely, with the listing markers from which the processor finds the rows of the\n" +
		"mirror the listing did not return, retrieves them, and marks deleted those Stripe no longer has (README \"Reconciliation\").\n" +
		"It needs no database; stripesync reconcile waits for the processor and prints the outcome.\n\n" +
		"usage: syncer reconcile [-resources a,b] [-account acct_…] [flags]",
	"request": "syncer request queues a backfill for the syncer serve replicas, and prints its run id; it waits in the stream while none runs.\n\nusage: syncer request [-resources a,b] [-account acct_…] [-since …] [flags]",
}

// Run runs the syncer command in args[0]. Settings come from args (flags)
// over getenv (their environment variables); logs go to stdout as JSON. For
// -h it prints the usage to stderr and returns an error wrapping
// flag.ErrHelp.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return flag.ErrHelp
	}
	var cfg config
	b := newFlags(cmd, &cfg)
	b.Describe(about[cmd])
	fs := b.FlagSet()
	switch cmd {
	case "serve":
		if err := parse(b, args, getenv, &cfg, true); err != nil {
			return err
		}
		return serve(ctx, cfg, stdout)
	case "backfill":
		syncRequest := syncRequestFlags(fs)
		if err := parse(b, args, getenv, &cfg, true); err != nil {
			return err
		}
		sr, err := syncRequest()
		if err != nil {
			return err
		}
		req, err := backfill.NewRequest(sr)
		if err != nil {
			return fmt.Errorf("config: %w", err)
		}
		return backfillOnce(ctx, cfg, req, stdout)
	case "events":
		since := fs.String("since", "24h", "events created since: a duration (24h), a date or an RFC 3339 time; Stripe keeps 30 days")
		failed := fs.Bool("failed", false, "only events whose delivery has not succeeded")
		types := fs.String("type", "", "event types, comma separated; one may end in .* (invoice.*)")
		ids := fs.String("ids", "", "these events only, comma separated")
		account := fs.String("account", "", "a connected account's events; default the platform's")
		thin := fs.Bool("thin", false, "thin events (GET /v2/core/events) instead: -type takes exact thin types (v1.customer.updated), -ids thin event ids; not with -failed")
		if err := parse(b, args, getenv, &cfg, true); err != nil {
			return err
		}
		t, err := parseSince(*since, time.Now())
		if err != nil {
			return fmt.Errorf("config: %w", err)
		}
		opts := catchup.Options{Since: t, Failed: *failed, Types: splitList(*types), IDs: splitList(*ids), Account: *account, Thin: *thin}
		if *thin && *failed {
			return errors.New("config: -thin and -failed: thin events cannot be selected by delivery")
		}
		return eventsOnce(ctx, cfg, opts, stdout)
	case "reconcile":
		out, err := Reconcile(ctx, args, getenv, stdout)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "listing %s: %d listings complete, for the processor to reconcile\n", out.Listing, out.Listings)
		return nil
	case "request":
		syncRequest := syncRequestFlags(fs)
		if err := parse(b, args, getenv, &cfg, false); err != nil {
			return err
		}
		sr, err := syncRequest()
		if err != nil {
			return err
		}
		// Checked here too, so that a name the catalog does not know fails
		// at once.
		if _, err := backfill.NewRequest(sr); err != nil {
			return fmt.Errorf("config: %w", err)
		}
		return request(ctx, cfg, sr, stdout)
	default:
		return fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}
}

// syncRequestFlags registers the options of a backfill, for the backfill
// and request commands; the returned function reads them once parsed.
func syncRequestFlags(fs *flag.FlagSet) func() (events.SyncRequest, error) {
	resources := fs.String("resources", "", "resources to backfill, comma separated, by Stripe object (customer, checkout.session) or relation (customers, invoice_line_items); default all")
	account := fs.String("account", "", "only this connected account; default the platform and every connected account")
	since := fs.String("since", "", "only objects created since, for the resources listed by created: a date, an RFC 3339 time or a duration (72h)")
	return func() (events.SyncRequest, error) {
		t, err := parseSince(*since, time.Now())
		if err != nil {
			return events.SyncRequest{}, fmt.Errorf("config: %w", err)
		}
		return events.SyncRequest{Resources: splitList(*resources), Account: *account, Since: t}, nil
	}
}

// deps are the connections every command that talks to Stripe needs.
type deps struct {
	log *slog.Logger
	nc  *nats.Conn
	js  jetstream.JetStream
	kv  jetstream.KeyValue
	// levels are the per-endpoint levels of every limiter of the process.
	levels  *stripeapi.EndpointLevels
	limiter *stripeapi.Limiter
	api     *stripeapi.Client
}

// jetStreamTimeout bounds each JetStream call of the syncer made without a
// deadline of its own: a checkpoint or cursor write, a job's ack. It is
// six times the client's default (5 s): a cluster electing a leader, or
// replicating on a loaded machine, can take longer than that to confirm a
// write, and a backfill part whose checkpoint write gave up fails the whole
// run, while waiting longer costs nothing but the wait.
const jetStreamTimeout = 30 * time.Second

// connect opens NATS, makes sure the stream and the state bucket exist, and
// builds the API client behind one rate limiter of rate requests per
// second.
func connect(ctx context.Context, cfg config, log *slog.Logger, rate float64) (*deps, error) {
	nc, js, err := events.ConnectJetStream(cfg.NATSURL, "stripesync-syncer", log, jetstream.WithDefaultTimeout(jetStreamTimeout))
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := events.AwaitConnected(dctx, nc, cfg.NATSURL, connectWait); err != nil {
		nc.Close()
		return nil, err
	}
	if _, err := events.EnsureStream(dctx, js, cfg.Stream); err != nil {
		nc.Close()
		return nil, err
	}
	kv, err := js.CreateOrUpdateKeyValue(dctx, events.StateBucketConfig())
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("state bucket %s: %w", events.StateBucket, err)
	}
	levels := stripeapi.NewEndpointLevels(cfg.EndpointRateLimit)
	lim := newLimiter(cfg, rate, levels)
	return &deps{log: log, nc: nc, js: js, kv: kv, levels: levels, limiter: lim, api: cfg.Stripe.Client(lim, log)}, nil
}

// connectWait is how long a command waits for NATS before it fails,
// naming the address (a supervisor restarts serve).
const connectWait = 15 * time.Second

// newLimiter is a limiter of rate requests per second, in bursts of a
// tenth of it (at least 1): in any second it lets rate + burst requests go
// at most, which is what a share of the API budget must count. Its
// endpoints wait on levels, shared by the process's limiters: Stripe's
// limit of an endpoint is one, whichever share spends it.
func newLimiter(cfg config, rate float64, levels *stripeapi.EndpointLevels) *stripeapi.Limiter {
	return stripeapi.NewLimiter(rate, max(1, int(rate/10)), stripeapi.WithEndpointLevels(levels))
}

// engine returns a backfill engine on d's connections.
func (d *deps) engine(cfg config, progress *backfill.Progress) *backfill.Engine {
	return backfill.New(d.log, d.api, d.js, d.kv, backfill.Config{Livemode: cfg.Stripe.Livemode(), Concurrency: cfg.Concurrency, Limiter: d.limiter}, progress)
}

func (d *deps) close() {
	if err := d.nc.Drain(); err != nil {
		d.log.Warn("drain nats", "err", err)
	}
}

func newLogger(cfg config, w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: cfg.LogLevel}))
}

func backfillOnce(ctx context.Context, cfg config, req backfill.Request, stdout io.Writer) error {
	// The progress display takes stdout when it is a terminal; logs go there
	// otherwise.
	display := newDisplay(stdout)
	log := newLogger(cfg, display.logWriter())
	log.Info("starting", "config", &cfg)
	d, err := connect(ctx, cfg, log, cfg.RateLimit)
	if err != nil {
		return err
	}
	defer d.close()
	progress := backfill.NewProgress()
	engine := d.engine(cfg, progress)
	stop := display.start(progress, d.limiter, log)
	start := time.Now()
	uctx, stopUsage := context.WithCancel(ctx)
	usageDone := make(chan struct{})
	go func() {
		defer close(usageDone)
		_ = stripeapi.ReportUsage(uctx, d.kv, "syncer", log, d.limiter) // only returns nil
	}()
	err = engine.Run(ctx, req)
	stopUsage()
	<-usageDone
	stop(err)
	log.Info("backfill finished", "run", req.RunID(), "objects", progress.Total(), "requests", d.limiter.Requests(),
		"rate_limited", d.limiter.RateLimited(), "seconds", time.Since(start).Seconds(), "err", err)
	return err
}

func eventsOnce(ctx context.Context, cfg config, opts catchup.Options, stdout io.Writer) error {
	log := newLogger(cfg, stdout)
	d, err := connect(ctx, cfg, log, cfg.RateLimit)
	if err != nil {
		return err
	}
	defer d.close()
	res, err := catchup.Run(ctx, log, d.api, d.js, opts)
	log.Info("events published", "count", res.Published, "newest", res.Newest, "err", err)
	return err
}

// syncReply is what syncer request prints: the run's id once it is
// queued.
type syncReply struct {
	Run    string `json:"run"`
	Queued bool   `json:"queued"`
}

// request queues a backfill of sr on the job stream, creating the stream
// when no syncer serve ever did, records the run as queued and prints its
// syncReply. No replica need be running: the request waits for one.
func request(ctx context.Context, cfg config, sr events.SyncRequest, stdout io.Writer) error {
	req, err := backfill.NewRequest(sr)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	log := newLogger(cfg, io.Discard)
	nc, js, err := events.ConnectJetStream(cfg.NATSURL, "stripesync-syncer-request", log)
	if err != nil {
		return err
	}
	defer nc.Close()
	// Long enough for a cluster to create the stream and the bucket. A
	// declaration is idempotent, so one whose answer a busy cluster lost is
	// tried again (10 s an attempt) rather than failing the request.
	rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := events.AwaitConnected(rctx, nc, cfg.NATSURL, connectWait); err != nil {
		return err
	}
	var kv jetstream.KeyValue
	err = events.Retry(rctx, nc, log, "sync stream and state bucket", 500*time.Millisecond, func(ctx context.Context) error {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if _, err := events.EnsureSyncStream(actx, js, cfg.Stream); err != nil {
			return err
		}
		var err error
		if kv, err = js.CreateOrUpdateKeyValue(actx, events.StateBucketConfig()); err != nil {
			return fmt.Errorf("state bucket %s: %w", events.StateBucket, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sync stream and state bucket: %w", err)
	}
	if err := queueRun(rctx, js, kv, req, sr, ""); err != nil {
		return fmt.Errorf("sync request: %w", err)
	}
	b, err := json.Marshal(syncReply{Run: req.RunID(), Queued: true})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\n", b)
	return nil
}

// getSettled reads key, waiting while the bucket cannot answer yet: on a
// cluster, a bucket just created answers "no responders" until its
// stream's leader is elected.
func getSettled(ctx context.Context, kv jetstream.KeyValue, key string) (jetstream.KeyValueEntry, error) {
	for {
		e, err := kv.Get(ctx, key)
		if !errors.Is(err, nats.ErrNoResponders) {
			return e, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// queueRun publishes sr with msgID ("" for none) and, unless the stream
// held it already (a slot another replica published), records its run as
// queued. The record moves by compare-and-set from what it was before the
// publication, so a replica that took the run meanwhile and recorded it
// running is never overwritten by a late "queued".
func queueRun(ctx context.Context, js jetstream.JetStream, kv jetstream.KeyValue, req backfill.Request, sr events.SyncRequest, msgID string) error {
	key := events.SyncRunKey(req.RunID())
	var (
		rev     uint64
		running bool
	)
	e, err := getSettled(ctx, kv, key)
	switch {
	case err == nil:
		var cur events.SyncRun
		rev, running = e.Revision(), json.Unmarshal(e.Value(), &cur) == nil && cur.State == events.RunRunning
	case !errors.Is(err, jetstream.ErrKeyNotFound):
		return fmt.Errorf("read run %s: %w", req.RunID(), err)
	}
	dup, err := events.PublishBackfill(ctx, js, sr, msgID)
	if err != nil || dup || running {
		return err // a running run's record stays: this request runs after it, and records itself then
	}
	b, err := json.Marshal(events.SyncRun{Run: req.RunID(), State: events.RunQueued, Request: sr, QueuedAt: time.Now().UTC()})
	if err != nil {
		return err
	}
	if rev == 0 {
		_, err = kv.Create(ctx, key, b)
	} else {
		_, err = kv.Update(ctx, key, b, rev)
	}
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return nil // a replica took the run already
	}
	if err != nil {
		return fmt.Errorf("record run %s: %w", req.RunID(), err)
	}
	return nil
}

// putRun writes run's status record (events.SyncRunKey).
func putRun(ctx context.Context, kv jetstream.KeyValue, run events.SyncRun) error {
	b, err := json.Marshal(run)
	if err != nil {
		return err
	}
	if _, err := kv.Put(ctx, events.SyncRunKey(run.Run), b); err != nil {
		return fmt.Errorf("record run %s: %w", run.Run, err)
	}
	return nil
}
