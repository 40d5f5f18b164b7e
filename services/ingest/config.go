package ingest

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

// config is everything ingest reads from outside. Each setting is a flag
// whose default comes from the environment variable of the same name.
type config struct {
	Addr            string
	NATSURL         string
	WebhookSecrets  []envflag.Secret
	Tolerance       time.Duration
	MaxBodyBytes    int64
	ReadTimeout     time.Duration
	PublishTimeout  time.Duration
	ShutdownTimeout time.Duration
	LogLevel        slog.Level
	Stream          events.StreamOptions
}

func parseConfig(args []string, getenv func(string) string) (config, error) {
	cfg := config{Stream: events.DefaultStreamOptions}
	b := envflag.New(flag.NewFlagSet("ingest", flag.ContinueOnError))
	b.Describe("ingest receives Stripe webhooks, verifies them and stores each event in JetStream before answering 2xx.\n\nusage: ingest [flags]")
	b.StringVar(&cfg.Addr, "ingest-addr", ":8080", "HTTP listen address for webhooks, /healthz, /readyz and /metrics")
	b.StringVar(&cfg.NATSURL, "nats-url", "nats://127.0.0.1:4222", "NATS server URL")
	b.Func("stripe-webhook-secret", "endpoint signing secrets, whsec_…, comma separated; any may verify", func(s string) error {
		cfg.WebhookSecrets = nil
		for part := range strings.SplitSeq(s, ",") {
			part = strings.TrimSpace(part)
			if !strings.HasPrefix(part, "whsec_") {
				return errors.New("each secret must start with whsec_")
			}
			cfg.WebhookSecrets = append(cfg.WebhookSecrets, envflag.Secret(part))
		}
		return nil
	})
	b.DurationVar(&cfg.Tolerance, "stripe-webhook-tolerance", 300*time.Second, "oldest signature timestamp accepted")
	b.Int64Var(&cfg.MaxBodyBytes, "ingest-max-body-bytes", 512<<10, "largest webhook body accepted; larger gets 413")
	b.DurationVar(&cfg.ReadTimeout, "ingest-read-timeout", 30*time.Second, "how long a client may take to send a webhook request, headers and body; a slower one is cut off")
	b.DurationVar(&cfg.PublishTimeout, "ingest-publish-timeout", 5*time.Second, "how long to wait for JetStream to store an event before answering 503")
	b.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 20*time.Second, "time to finish in-flight requests at shutdown")
	b.TextVar(&cfg.LogLevel, "log-level", slog.LevelInfo, "debug, info, warn or error")
	events.BindStreamFlags(b, &cfg.Stream)
	if err := b.Parse(args, getenv); err != nil {
		return config{}, err
	}
	return cfg, cfg.validate()
}

func (c config) validate() error {
	switch {
	case len(c.WebhookSecrets) == 0:
		return errors.New("STRIPE_WEBHOOK_SECRET is required: the endpoint's signing secret, whsec_…")
	case c.Tolerance <= 0:
		return fmt.Errorf("STRIPE_WEBHOOK_TOLERANCE must be positive, have %s", c.Tolerance)
	case c.MaxBodyBytes < 1<<10:
		return fmt.Errorf("INGEST_MAX_BODY_BYTES must be at least 1024, have %d", c.MaxBodyBytes)
	case c.ReadTimeout <= 0:
		return fmt.Errorf("INGEST_READ_TIMEOUT must be positive, have %s", c.ReadTimeout)
	case c.PublishTimeout <= 0:
		return fmt.Errorf("INGEST_PUBLISH_TIMEOUT must be positive, have %s", c.PublishTimeout)
	case c.ShutdownTimeout <= 0:
		return fmt.Errorf("SHUTDOWN_TIMEOUT must be positive, have %s", c.ShutdownTimeout)
	}
	return c.Stream.Validate()
}

func (c config) secrets() []string {
	s := make([]string, len(c.WebhookSecrets))
	for i, v := range c.WebhookSecrets {
		s[i] = string(v)
	}
	return s
}

// LogValue is the effective configuration, secrets redacted.
func (c config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("addr", c.Addr),
		slog.String("nats_url", envflag.Redact(c.NATSURL)),
		slog.Int("webhook_secrets", len(c.WebhookSecrets)),
		slog.Duration("tolerance", c.Tolerance),
		slog.Int64("max_body_bytes", c.MaxBodyBytes),
		slog.Duration("read_timeout", c.ReadTimeout),
		slog.Duration("publish_timeout", c.PublishTimeout),
		slog.Int("stream_replicas", c.Stream.Replicas),
		slog.String("stream_storage", c.Stream.Storage.String()),
		slog.Duration("stream_max_age", c.Stream.MaxAge),
	)
}
