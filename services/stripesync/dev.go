package stripesync

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/stripesync/stripesync/pkg/stripefake"
	"github.com/stripesync/stripesync/services/ingest"
	"github.com/stripesync/stripesync/services/processor"
	"github.com/stripesync/stripesync/services/syncer"
)

// readyTimeout bounds the start: migrations, the stream and the consumer.
const readyTimeout = 2 * time.Minute

// service is one of the services dev runs through its Run function.
type service struct {
	name string
	args []string
	run  func(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error
	addr string // its ops address, for /readyz and /metrics
}

// dev is stripesync dev from start to stop: config → the data directory →
// the database → ports → NATS (embedded unless NATS_URL) → the fake Stripe
// (unless STRIPE_API_KEY) → processor, ingest, syncer → wait until all are
// ready → the fake's webhooks → print where to look → wait for ctx → stop
// in reverse order.
func dev(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) (err error) {
	began := time.Now()
	cfg, err := parseDevConfig(args, getenv, stdout)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stdout, &slog.HandlerOptions{ReplaceAttr: dropTime}))

	logDir := filepath.Join(cfg.DataDir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	created, err := ensureDatabase(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	if created {
		log.Info("created the database", "database_url", redact(cfg.DatabaseURL))
	}

	proc := &service{name: "processor", run: processor.Run, addr: cfg.ProcessorAddr}
	ing := &service{name: "ingest", run: ingest.Run, addr: cfg.IngestAddr}
	sync := &service{name: "syncer", args: []string{"serve"}, run: syncer.Run, addr: cfg.SyncerAddr}
	services := []*service{proc, ing, sync} // in the order they start
	for _, svc := range services {
		picked, taken, err := pickAddr(svc.addr)
		if err != nil {
			return fmt.Errorf("%s: %w", svc.name, err)
		}
		if taken {
			log.Info("port taken, using a free one", "service", svc.name, "wanted", svc.addr, "addr", picked)
		}
		svc.addr = picked
	}

	st := newStack(log, cfg.ShutdownTimeout+5*time.Second)
	defer func() {
		log.Info("stopping")
		err = errors.Join(err, st.stop())
		if err == nil {
			log.Info("stopped; run again to continue with the same data")
		}
	}()

	natsURL := cfg.NATSURL
	if natsURL == "" {
		addr, taken, err := pickAddr(cfg.NATSAddr)
		if err != nil {
			return fmt.Errorf("nats: %w", err)
		}
		if taken {
			log.Info("port taken, using a free one", "service", "nats", "wanted", cfg.NATSAddr, "addr", addr)
		}
		ns, err := startNATS(addr, filepath.Join(cfg.DataDir, "nats"), filepath.Join(logDir, "nats.log"))
		if err != nil {
			return err
		}
		st.start(ctx, "nats", ns.Run)
		natsURL = ns.ClientURL()
	}

	env := map[string]string{
		"NATS_URL":              natsURL,
		"DATABASE_URL":          cfg.DatabaseURL,
		"STRIPE_WEBHOOK_SECRET": string(cfg.WebhookSecrets),
		"SHUTDOWN_TIMEOUT":      cfg.ShutdownTimeout.String(),
	}
	env["PROCESSOR_ADDR"], env["INGEST_ADDR"], env["SYNCER_ADDR"] = proc.addr, ing.addr, sync.addr
	var fake *demo
	if cfg.StripeAPIKey == "" {
		if fake, err = startDemo(cfg.DemoCustomers, cfg.firstWebhookSecret(), filepath.Join(cfg.DataDir, "demo-seeded-at")); err != nil {
			return err
		}
		st.start(ctx, "fake stripe", fake.Serve)
		env["STRIPE_API_KEY"] = stripefake.TestKey
		env["STRIPE_API_BASE"] = fake.URL()
		// The fake has no rate limit; Stripe's test mode would allow 25/s.
		env["SYNCER_RATE_LIMIT"] = cmp.Or(getenv("SYNCER_RATE_LIMIT"), "100")
	} else {
		env["STRIPE_API_KEY"] = string(cfg.StripeAPIKey)
	}
	svcEnv := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return getenv(k)
	}

	for _, svc := range services {
		f, err := os.OpenFile(filepath.Join(logDir, svc.name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		st.start(ctx, svc.name, func(ctx context.Context) error {
			defer f.Close()
			return svc.run(ctx, svc.args, svcEnv, f)
		})
	}
	if err := waitReady(ctx, st, services); err != nil {
		if ctx.Err() != nil {
			return nil // Ctrl-C while starting
		}
		return err
	}
	if fake != nil {
		st.start(ctx, "fake stripe webhooks", (&webhooks{
			log: log, fake: fake.fake, url: localURL(ing.addr) + "/webhooks/stripe",
			secret: cfg.firstWebhookSecret(), interval: cfg.DemoInterval, hc: &http.Client{Transport: &http.Transport{}},
		}).Run)
	}
	printBanner(stdout, cfg, services, natsURL, fake, time.Since(began))
	st.start(ctx, "rows", func(ctx context.Context) error { return reportFirstRows(ctx, log, cfg.DatabaseURL, began) })

	select {
	case <-ctx.Done():
		return nil
	case p := <-st.Exited():
		return fmt.Errorf("%s stopped by itself; see %s", p.name, filepath.Join(logDir, p.name+".log"))
	}
}

// waitReady polls each service's /readyz until all answer 200, a part
// stops, ctx is done or readyTimeout passes.
func waitReady(ctx context.Context, st *stack, services []*service) error {
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	ready := map[string]bool{}
	deadline := time.After(readyTimeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, svc := range services {
			if !ready[svc.name] && isReady(ctx, hc, localURL(svc.addr)+"/readyz") {
				ready[svc.name] = true
				st.log.Info(svc.name+" ready", "addr", svc.addr)
			}
		}
		if len(ready) == len(services) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case p := <-st.Exited():
			return fmt.Errorf("%s stopped while starting", p.name)
		case <-deadline:
			return fmt.Errorf("not ready after %s: %v ready", readyTimeout, ready)
		case <-tick.C:
		}
	}
}

func isReady(ctx context.Context, hc *http.Client, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}

// dropTime leaves the time out of dev's own log lines, which a person
// reads as they come.
func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}
