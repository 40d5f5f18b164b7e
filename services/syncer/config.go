package syncer

import (
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/events/envflag"
	"github.com/stripesync/stripesync/pkg/stripeapi"
	"github.com/stripesync/stripesync/services/syncer/internal/schedule"
)

// config is everything the syncer reads from outside. The settings shared by
// every command are flags whose default comes from the environment variable
// of the same name; a command's own options are flags only.
type config struct {
	Stripe            stripeapi.Config
	NATSURL           string
	RateLimit         float64
	EndpointRateLimit float64
	Concurrency       int
	Addr              string
	BackfillInterval  schedule.Schedule
	EventsInterval    schedule.Schedule
	EventsRateLimit   float64
	JobAckWait        time.Duration
	ThinEvents        bool
	ShutdownTimeout   time.Duration
	LogLevel          slog.Level
	Stream            events.StreamOptions
}

// newFlags returns the flags of command cmd, the settings it uses bound to
// their environment variables and written into cfg: every command's (NATS,
// the stream, the log level), those of the commands that call the Stripe
// API (all but request), and serve's own. The command adds its own options
// to the FlagSet. A setting a command does not bind keeps its default, so
// -h lists only what the command reads.
func newFlags(cmd string, cfg *config) *envflag.Binder {
	b := envflag.New(flag.NewFlagSet("syncer "+cmd, flag.ContinueOnError))
	cfg.Stream = events.DefaultStreamOptions
	cfg.EndpointRateLimit, cfg.Concurrency = stripeapi.DefaultEndpointRate, 32
	cfg.Addr, cfg.BackfillInterval, cfg.EventsInterval = ":8082", mustSchedule("24h"), mustSchedule("5m")
	cfg.JobAckWait, cfg.ShutdownTimeout = events.SyncJobAckWait, 20*time.Second
	b.StringVar(&cfg.NATSURL, "nats-url", "nats://127.0.0.1:4222", "NATS server URL")
	if cmd != "request" {
		stripeapi.BindFlags(b, &cfg.Stripe, "to list the account")
		b.Float64Var(&cfg.RateLimit, "syncer-rate-limit", 0, "API requests per second of the whole syncer fleet (however many serve replicas), shared by all work; 0: 80 for live keys, 20 for test keys, under Stripe's 100 and 25 less the processor's share")
		b.Float64Var(&cfg.EndpointRateLimit, "syncer-endpoint-rate-limit", cfg.EndpointRateLimit, "API requests per second to each endpoint (GET /v1/customers, GET /v1/customers/{id}…), Stripe's limit beside the global one")
		b.IntVar(&cfg.Concurrency, "syncer-concurrency", cfg.Concurrency, "lists fetched at once; must cover rate × request latency")
	}
	if cmd == "serve" {
		b.Float64Var(&cfg.EventsRateLimit, "syncer-events-rate-limit", 0, "the part of SYNCER_RATE_LIMIT kept for the events catch-up, the rest being the backfills'; 0: a fifth")
		b.StringVar(&cfg.Addr, "syncer-addr", cfg.Addr, "HTTP address for /healthz, /readyz and /metrics")
		b.TextVar(&cfg.BackfillInterval, "syncer-backfill-interval", cfg.BackfillInterval, "the full backfills' schedule, an interval (24h) or a cron expression in UTC (0 3 * * *), one run a slot for the whole fleet, the current slot's at start; 0: only on request")
		b.TextVar(&cfg.EventsInterval, "syncer-events-interval", cfg.EventsInterval, "the Events API catch-ups' schedule, an interval or a cron expression, one a slot for the whole fleet; 0: never")
		b.DurationVar(&cfg.JobAckWait, "syncer-job-ack-wait", cfg.JobAckWait, "how long a job (a backfill, a catch-up) stays with a replica that stopped answering before another takes it over")
		b.BoolVar(&cfg.ThinEvents, "syncer-thin-events", false, "each Events API catch-up also lists thin events (GET /v2/core/events), from cursors of their own")
		b.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", cfg.ShutdownTimeout, "time to stop at shutdown")
	}
	b.TextVar(&cfg.LogLevel, "log-level", slog.LevelInfo, "debug, info, warn or error")
	events.BindStreamFlags(b, &cfg.Stream)
	return b
}

// parse reads args and the environment into cfg and checks it; needKey says
// the command calls the Stripe API.
func parse(b *envflag.Binder, args []string, getenv func(string) string, cfg *config, needKey bool) error {
	if err := b.Parse(args, getenv); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := cfg.validate(needKey); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

func (c *config) validate(needKey bool) error {
	if c.RateLimit == 0 {
		c.RateLimit = 20
		if c.Stripe.Livemode() {
			c.RateLimit = 80
		}
	}
	if c.EventsRateLimit == 0 {
		c.EventsRateLimit = c.RateLimit / 5
	}
	if !needKey {
		return c.Stream.Validate() // request: no API settings bound
	}
	if err := c.Stripe.Validate(needKey); err != nil {
		return err
	}
	switch {
	case c.RateLimit < 0:
		return fmt.Errorf("SYNCER_RATE_LIMIT must be positive, have %g", c.RateLimit)
	case c.EndpointRateLimit <= 0:
		return fmt.Errorf("SYNCER_ENDPOINT_RATE_LIMIT must be positive, have %g", c.EndpointRateLimit)
	case c.Concurrency < 1:
		return fmt.Errorf("SYNCER_CONCURRENCY must be at least 1, have %d", c.Concurrency)
	case c.EventsRateLimit < 0 || c.EventsRateLimit >= c.RateLimit:
		return fmt.Errorf("SYNCER_EVENTS_RATE_LIMIT must be positive and below SYNCER_RATE_LIMIT (%g), have %g", c.RateLimit, c.EventsRateLimit)
	case c.JobAckWait < time.Second:
		return fmt.Errorf("SYNCER_JOB_ACK_WAIT must be at least 1s, have %s", c.JobAckWait)
	case c.ShutdownTimeout <= 0:
		return fmt.Errorf("SHUTDOWN_TIMEOUT must be positive, have %s", c.ShutdownTimeout)
	}
	return c.Stream.Validate()
}

// LogValue is the effective configuration, the key redacted.
func (c *config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Bool("stripe_api_key_set", c.Stripe.Key != ""),
		slog.Bool("livemode", c.Stripe.Livemode()),
		slog.String("stripe_api_base", envflag.Redact(c.Stripe.BaseURL)),
		slog.String("nats_url", envflag.Redact(c.NATSURL)),
		slog.Float64("rate_limit", c.RateLimit),
		slog.Float64("events_rate_limit", c.EventsRateLimit),
		slog.Float64("endpoint_rate_limit", c.EndpointRateLimit),
		slog.String("backfill_schedule", c.BackfillInterval.String()),
		slog.String("events_schedule", c.EventsInterval.String()),
		slog.Int("concurrency", c.Concurrency),
		slog.Bool("thin_events", c.ThinEvents),
	)
}

// mustSchedule parses a default schedule.
func mustSchedule(s string) schedule.Schedule {
	sc, err := schedule.Parse(s)
	if err != nil {
		panic(err)
	}
	return sc
}

// parseSince reads a start time: a date, an RFC 3339 time, or a duration
// back from now ("72h").
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		// To the hour, so that running the same command again within the
		// hour is the same request, and resumes it (backfill.Request.RunID).
		return now.Add(-d).Truncate(time.Hour), nil
	}
	for _, layout := range []string{time.RFC3339, time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("since %q is neither a duration (72h), a date (2024-01-31) nor an RFC 3339 time", s)
}

func splitList(s string) []string {
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
