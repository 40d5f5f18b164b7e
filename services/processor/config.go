package processor

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/stripesync/stripesync/db"
	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/events/envflag"
	"github.com/stripesync/stripesync/pkg/stripeapi"
)

// config is everything the processor reads from outside. Each setting is a
// flag whose default comes from the environment variable of the same name.
type config struct {
	DatabaseURL     string
	Stripe          stripeapi.Config
	NATSURL         string
	Addr            string
	BatchSize       int
	Workers         int
	MaxAttempts     int
	AckWait         time.Duration
	ShutdownTimeout time.Duration
	LogLevel        slog.Level
	Stream          events.StreamOptions
	// EventsRetentionMonths is how many whole months before the current
	// one stripe.events keeps; 0 keeps every month.
	EventsRetentionMonths int
}

func parseConfig(args []string, getenv func(string) string) (config, error) {
	cfg := config{Stream: events.DefaultStreamOptions}
	b := envflag.New(flag.NewFlagSet("processor", flag.ContinueOnError))
	b.Describe("processor consumes Stripe events from JetStream and writes them, and the objects they carry, into the PostgreSQL mirror.\n\nusage: processor [flags]")
	b.StringVar(&cfg.DatabaseURL, "database-url", "", "PostgreSQL URL or keyword/value string of the mirror")
	stripeapi.BindFlags(b, &cfg.Stripe, "used to re-fetch objects whose events tie; optional")
	b.StringVar(&cfg.NATSURL, "nats-url", "nats://127.0.0.1:4222", "NATS server URL")
	b.StringVar(&cfg.Addr, "processor-addr", ":8081", "HTTP listen address for /healthz, /readyz and /metrics")
	b.IntVar(&cfg.BatchSize, "processor-batch-size", 500, "most events applied in one transaction")
	b.IntVar(&cfg.Workers, "processor-workers", 2, "batches applied at once")
	b.IntVar(&cfg.MaxAttempts, "processor-max-attempts", 10, "deliveries before a failing event becomes a dead letter")
	b.DurationVar(&cfg.AckWait, "processor-ack-wait", 5*time.Second, "time before JetStream redelivers an event taken and not acknowledged (its processor died, or its delivery was lost with a server); batches being applied are kept in progress")
	b.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 20*time.Second, "time to finish in-flight batches at shutdown")
	b.IntVar(&cfg.EventsRetentionMonths, "processor-events-retention-months", 0,
		"whole months before the current one that stripe.events keeps (its month partitions older are dropped, hourly); 0 keeps every month")
	b.TextVar(&cfg.LogLevel, "log-level", slog.LevelInfo, "debug, info, warn or error")
	events.BindStreamFlags(b, &cfg.Stream)
	if err := b.Parse(args, getenv); err != nil {
		return config{}, err
	}
	return cfg, cfg.validate()
}

func (c config) validate() error {
	switch {
	case c.DatabaseURL == "":
		return errors.New("DATABASE_URL is required, e.g. postgres://postgres@127.0.0.1:5432/stripe")
	case c.BatchSize < 1 || c.BatchSize > 10000:
		return fmt.Errorf("PROCESSOR_BATCH_SIZE must be between 1 and 10000, have %d", c.BatchSize)
	case c.Workers < 1:
		return fmt.Errorf("PROCESSOR_WORKERS must be at least 1, have %d", c.Workers)
	case c.MaxAttempts < 1:
		return fmt.Errorf("PROCESSOR_MAX_ATTEMPTS must be at least 1, have %d", c.MaxAttempts)
	case c.AckWait < time.Second:
		return fmt.Errorf("PROCESSOR_ACK_WAIT must be at least 1s, have %s", c.AckWait)
	case c.EventsRetentionMonths != 0 && c.EventsRetentionMonths < db.MinEventRetentionMonths:
		return fmt.Errorf("PROCESSOR_EVENTS_RETENTION_MONTHS must be 0 (keep every month) or at least %d, have %d",
			db.MinEventRetentionMonths, c.EventsRetentionMonths)
	case c.ShutdownTimeout <= 0:
		return fmt.Errorf("SHUTDOWN_TIMEOUT must be positive, have %s", c.ShutdownTimeout)
	}
	if err := c.Stripe.Validate(false); err != nil {
		return err
	}
	return c.Stream.Validate()
}

// LogValue is the effective configuration, passwords redacted.
func (c config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("database_url", envflag.Redact(c.DatabaseURL)),
		slog.String("nats_url", envflag.Redact(c.NATSURL)),
		slog.String("addr", c.Addr),
		slog.Bool("stripe_api_key_set", c.Stripe.Key != ""),
		slog.String("stripe_api_base", envflag.Redact(c.Stripe.BaseURL)),
		slog.Int("batch_size", c.BatchSize),
		slog.Int("workers", c.Workers),
		slog.Int("max_attempts", c.MaxAttempts),
		slog.Duration("ack_wait", c.AckWait),
		slog.Int("events_retention_months", c.EventsRetentionMonths),
	)
}
