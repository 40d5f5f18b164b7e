package stripesync

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/stripesync/stripesync/pkg/events/envflag"
)

// DefaultDatabaseURL is the mirror's database when DATABASE_URL is not set:
// database stripesync on the local server, created if missing.
const DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/stripesync?sslmode=disable"

// DefaultWebhookSecret signs and verifies webhooks when
// STRIPE_WEBHOOK_SECRET is not set; bin/send-test-event uses it too.
const DefaultWebhookSecret = "whsec_local_development_secret"

// devConfig is everything dev reads from outside. Each setting is a flag
// whose default comes from the environment variable of the same name; the
// services' other settings are read from the environment by the services.
type devConfig struct {
	DataDir         string
	NATSURL         string // "": JetStream embedded, listening on NATSAddr
	NATSAddr        string
	DatabaseURL     string
	StripeAPIKey    envflag.Secret // "": the fake Stripe
	WebhookSecrets  envflag.Secret // comma separated, as ingest reads them
	IngestAddr      string
	ProcessorAddr   string
	SyncerAddr      string
	DemoCustomers   int
	DemoInterval    time.Duration
	ShutdownTimeout time.Duration
}

const devAbout = `stripesync dev runs the whole mirror in one process, with nothing installed but PostgreSQL.

usage: stripesync dev [flags]

JetStream runs embedded (unless NATS_URL is set), its store in the data
directory; ingest, processor and syncer serve run in-process and write to
DATABASE_URL (the database is created if missing). Without STRIPE_API_KEY a
fake Stripe account (a platform and two connected accounts) is seeded and
backfilled, then changes every STRIPESYNC_DEMO_INTERVAL, each change sent to
ingest as signed webhooks, snapshot and thin. A port that is taken is replaced
by a free one. Ctrl-C stops everything; the next run continues with the same
data. The services' other settings (LOG_LEVEL, PROCESSOR_WORKERS…) are read
from the environment, as the services read them.`

func parseDevConfig(args []string, getenv func(string) string, out io.Writer) (devConfig, error) {
	var cfg devConfig
	fs := flag.NewFlagSet("stripesync dev", flag.ContinueOnError)
	fs.SetOutput(out) // -h prints to stdout
	b := envflag.New(fs)
	b.Describe(devAbout)
	b.StringVar(&cfg.DataDir, "stripesync-data-dir", ".stripesync", "directory of the embedded JetStream store, the services' logs and the demo's seed; kept between runs")
	b.StringVar(&cfg.NATSURL, "nats-url", "", "NATS server with JetStream to use instead of the embedded one")
	b.StringVar(&cfg.NATSAddr, "stripesync-nats-addr", "127.0.0.1:4222", "listen address of the embedded NATS server")
	b.StringVar(&cfg.DatabaseURL, "database-url", DefaultDatabaseURL, "PostgreSQL URL of the mirror; the database is created if missing")
	b.SecretVar(&cfg.StripeAPIKey, "stripe-api-key", "secret (sk_…) or restricted (rk_…) key of the Stripe account to mirror; unset: a fake Stripe account")
	b.SecretVar(&cfg.WebhookSecrets, "stripe-webhook-secret", "endpoint signing secrets, whsec_…, comma separated; the fake signs with the first (default "+DefaultWebhookSecret+")")
	b.StringVar(&cfg.IngestAddr, "ingest-addr", "127.0.0.1:8080", "ingest's listen address: POST /webhooks/stripe, /readyz, /metrics")
	b.StringVar(&cfg.ProcessorAddr, "processor-addr", "127.0.0.1:8081", "the processor's listen address: /readyz, /metrics")
	b.StringVar(&cfg.SyncerAddr, "syncer-addr", "127.0.0.1:8082", "the syncer's listen address: /readyz, /metrics")
	b.IntVar(&cfg.DemoCustomers, "stripesync-demo-customers", 20, "customers of each account of the fake Stripe")
	b.DurationVar(&cfg.DemoInterval, "stripesync-demo-interval", time.Second, "time between two changes in the fake Stripe account, each sent to ingest as a snapshot and a thin event")
	b.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 20*time.Second, "time each part has to stop at Ctrl-C")
	if err := b.Parse(args, getenv); err != nil {
		return devConfig{}, err
	}
	if cfg.WebhookSecrets == "" {
		cfg.WebhookSecrets = DefaultWebhookSecret
	}
	return cfg, cfg.validate()
}

func (c devConfig) validate() error {
	for name, addr := range map[string]string{
		"INGEST_ADDR": c.IngestAddr, "PROCESSOR_ADDR": c.ProcessorAddr, "SYNCER_ADDR": c.SyncerAddr, "STRIPESYNC_NATS_ADDR": c.NATSAddr,
	} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("%s must be host:port, have %q", name, addr)
		}
	}
	switch {
	case c.DataDir == "":
		return errors.New("STRIPESYNC_DATA_DIR must not be empty")
	case c.DatabaseURL == "":
		return errors.New("DATABASE_URL must not be empty")
	case !strings.HasPrefix(c.firstWebhookSecret(), "whsec_"):
		return errors.New("STRIPE_WEBHOOK_SECRET: each secret must start with whsec_")
	case c.DemoCustomers < 1:
		return fmt.Errorf("STRIPESYNC_DEMO_CUSTOMERS must be at least 1, have %d", c.DemoCustomers)
	case c.DemoInterval <= 0:
		return fmt.Errorf("STRIPESYNC_DEMO_INTERVAL must be positive, have %s", c.DemoInterval)
	case c.ShutdownTimeout <= 0:
		return fmt.Errorf("SHUTDOWN_TIMEOUT must be positive, have %s", c.ShutdownTimeout)
	}
	return nil
}

// firstWebhookSecret is the secret the fake Stripe signs with.
func (c devConfig) firstWebhookSecret() string {
	s, _, _ := strings.Cut(string(c.WebhookSecrets), ",")
	return strings.TrimSpace(s)
}
