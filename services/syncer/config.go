package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/events/envflag"
)

// config is everything the syncer reads from outside. The settings shared by
// every command are flags whose default comes from the environment variable
// of the same name; a command's own options are flags only.
type config struct {
	StripeAPIKey     envflag.Secret
	StripeAPIBase    string
	NATSURL          string
	RateLimit        float64
	Concurrency      int
	Addr             string
	BackfillInterval time.Duration
	EventsInterval   time.Duration
	ShutdownTimeout  time.Duration
	LogLevel         slog.Level
	Stream           events.StreamOptions
}

func bindConfig(fs *flag.FlagSet, cfg *config) {
	cfg.Stream = events.DefaultStreamOptions
	fs.Func("stripe-api-key", "secret or restricted key with read access (env STRIPE_API_KEY)", func(s string) error {
		if !strings.HasPrefix(s, "sk_") && !strings.HasPrefix(s, "rk_") {
			return errors.New("must be a secret (sk_…) or restricted (rk_…) key")
		}
		cfg.StripeAPIKey = envflag.Secret(s)
		return nil
	})
	fs.StringVar(&cfg.StripeAPIBase, "stripe-api-base", "https://api.stripe.com", "Stripe API base URL (env STRIPE_API_BASE)")
	fs.StringVar(&cfg.NATSURL, "nats-url", "nats://127.0.0.1:4222", "NATS server URL (env NATS_URL)")
	fs.Float64Var(&cfg.RateLimit, "syncer-rate-limit", 0, "API requests per second, shared by all work; 0: 80 for live keys, 20 for test keys, under Stripe's 100 and 25 (env SYNCER_RATE_LIMIT)")
	fs.IntVar(&cfg.Concurrency, "syncer-concurrency", 32, "lists fetched at once; must cover rate × request latency (env SYNCER_CONCURRENCY)")
	fs.StringVar(&cfg.Addr, "syncer-addr", ":8082", "serve: HTTP address for /healthz, /readyz and /metrics (env SYNCER_ADDR)")
	fs.DurationVar(&cfg.BackfillInterval, "syncer-backfill-interval", 24*time.Hour, "serve: time between full backfills, the first at start; 0: only on request (env SYNCER_BACKFILL_INTERVAL)")
	fs.DurationVar(&cfg.EventsInterval, "syncer-events-interval", 5*time.Minute, "serve: time between Events API catch-ups; 0: never (env SYNCER_EVENTS_INTERVAL)")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 20*time.Second, "time to stop at shutdown (env SHUTDOWN_TIMEOUT)")
	fs.TextVar(&cfg.LogLevel, "log-level", slog.LevelInfo, "debug, info, warn or error (env LOG_LEVEL)")
	events.BindStreamFlags(fs, &cfg.Stream)
}

func (c *config) validate(needKey bool) error {
	if c.RateLimit == 0 {
		c.RateLimit = 20
		if c.livemode() {
			c.RateLimit = 80
		}
	}
	switch {
	case needKey && c.StripeAPIKey == "":
		return errors.New("STRIPE_API_KEY is required: a secret or restricted key with read access")
	case !strings.HasPrefix(c.StripeAPIBase, "http://") && !strings.HasPrefix(c.StripeAPIBase, "https://"):
		return fmt.Errorf("STRIPE_API_BASE must be an http(s) URL, have %q", c.StripeAPIBase)
	case c.RateLimit < 0:
		return fmt.Errorf("SYNCER_RATE_LIMIT must be positive, have %g", c.RateLimit)
	case c.Concurrency < 1:
		return fmt.Errorf("SYNCER_CONCURRENCY must be at least 1, have %d", c.Concurrency)
	case c.BackfillInterval < 0 || c.EventsInterval < 0:
		return errors.New("SYNCER_BACKFILL_INTERVAL and SYNCER_EVENTS_INTERVAL must not be negative")
	}
	return c.Stream.Validate()
}

// livemode is the key's mode: objects fetched with a live key are live.
func (c *config) livemode() bool {
	k := string(c.StripeAPIKey)
	return strings.HasPrefix(k, "sk_live_") || strings.HasPrefix(k, "rk_live_")
}

// LogValue is the effective configuration, the key redacted.
func (c *config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Bool("stripe_api_key_set", c.StripeAPIKey != ""),
		slog.Bool("livemode", c.livemode()),
		slog.String("stripe_api_base", c.StripeAPIBase),
		slog.String("nats_url", envflag.RedactURL(c.NATSURL)),
		slog.Float64("rate_limit", c.RateLimit),
		slog.Int("concurrency", c.Concurrency),
	)
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
