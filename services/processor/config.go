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

// config is everything the processor reads from outside. Each setting is a
// flag whose default comes from the environment variable of the same name.
type config struct {
	DatabaseURL     string
	StripeAPIKey    envflag.Secret
	StripeAPIBase   string
	NATSURL         string
	Addr            string
	BatchSize       int
	Workers         int
	MaxAttempts     int
	AckWait         time.Duration
	ShutdownTimeout time.Duration
	LogLevel        slog.Level
	Stream          events.StreamOptions
}

func parseConfig(args []string, getenv func(string) string) (config, error) {
	cfg := config{Stream: events.DefaultStreamOptions}
	fs := flag.NewFlagSet("processor", flag.ContinueOnError)
	fs.StringVar(&cfg.DatabaseURL, "database-url", "", "PostgreSQL URL of the mirror (env DATABASE_URL)")
	fs.Func("stripe-api-key", "secret or restricted key (read access) used to re-fetch objects whose events tie; optional (env STRIPE_API_KEY)", func(s string) error {
		if !strings.HasPrefix(s, "sk_") && !strings.HasPrefix(s, "rk_") {
			return errors.New("must be a secret (sk_…) or restricted (rk_…) key")
		}
		cfg.StripeAPIKey = envflag.Secret(s)
		return nil
	})
	fs.StringVar(&cfg.StripeAPIBase, "stripe-api-base", "https://api.stripe.com", "Stripe API base URL (env STRIPE_API_BASE)")
	fs.StringVar(&cfg.NATSURL, "nats-url", "nats://127.0.0.1:4222", "NATS server URL (env NATS_URL)")
	fs.StringVar(&cfg.Addr, "processor-addr", ":8081", "HTTP listen address for /healthz, /readyz and /metrics (env PROCESSOR_ADDR)")
	fs.IntVar(&cfg.BatchSize, "processor-batch-size", 500, "most events applied in one transaction (env PROCESSOR_BATCH_SIZE)")
	fs.IntVar(&cfg.Workers, "processor-workers", 2, "batches applied at once (env PROCESSOR_WORKERS)")
	fs.IntVar(&cfg.MaxAttempts, "processor-max-attempts", 10, "deliveries before a failing event becomes a dead letter (env PROCESSOR_MAX_ATTEMPTS)")
	fs.DurationVar(&cfg.AckWait, "processor-ack-wait", 30*time.Second, "time before JetStream redelivers an unacknowledged event; above the slowest batch (env PROCESSOR_ACK_WAIT)")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 20*time.Second, "time to finish in-flight batches at shutdown (env SHUTDOWN_TIMEOUT)")
	fs.TextVar(&cfg.LogLevel, "log-level", slog.LevelInfo, "debug, info, warn or error (env LOG_LEVEL)")
	events.BindStreamFlags(fs, &cfg.Stream)
	if err := envflag.Parse(fs, args, getenv); err != nil {
		return config{}, err
	}
	return cfg, cfg.validate()
}

func (c config) validate() error {
	switch {
	case c.DatabaseURL == "":
		return errors.New("DATABASE_URL is required, e.g. postgres://postgres@127.0.0.1:5432/stripe")
	case !strings.HasPrefix(c.StripeAPIBase, "http://") && !strings.HasPrefix(c.StripeAPIBase, "https://"):
		return fmt.Errorf("STRIPE_API_BASE must be an http(s) URL, have %q", c.StripeAPIBase)
	case c.BatchSize < 1 || c.BatchSize > 10000:
		return fmt.Errorf("PROCESSOR_BATCH_SIZE must be between 1 and 10000, have %d", c.BatchSize)
	case c.Workers < 1:
		return fmt.Errorf("PROCESSOR_WORKERS must be at least 1, have %d", c.Workers)
	case c.MaxAttempts < 1:
		return fmt.Errorf("PROCESSOR_MAX_ATTEMPTS must be at least 1, have %d", c.MaxAttempts)
	case c.AckWait < time.Second:
		return fmt.Errorf("PROCESSOR_ACK_WAIT must be at least 1s, have %s", c.AckWait)
	case c.ShutdownTimeout <= 0:
		return fmt.Errorf("SHUTDOWN_TIMEOUT must be positive, have %s", c.ShutdownTimeout)
	}
	return c.Stream.Validate()
}

// LogValue is the effective configuration, passwords redacted.
func (c config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("database_url", envflag.RedactURL(c.DatabaseURL)),
		slog.String("nats_url", envflag.RedactURL(c.NATSURL)),
		slog.String("addr", c.Addr),
		slog.Bool("stripe_api_key_set", c.StripeAPIKey != ""),
		slog.String("stripe_api_base", c.StripeAPIBase),
		slog.Int("batch_size", c.BatchSize),
		slog.Int("workers", c.Workers),
		slog.Int("max_attempts", c.MaxAttempts),
		slog.Duration("ack_wait", c.AckWait),
	)
}
