package stripesync

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stripesync/stripesync/pkg/events/envflag"
	"github.com/stripesync/stripesync/pkg/stripefake"
)

// printBanner says where to look once everything is ready.
func printBanner(w io.Writer, cfg devConfig, services []*service, natsURL string, fake *demo, took time.Duration) {
	var b strings.Builder
	fmt.Fprintf(&b, "\nstripesync dev is running (ready in %.1fs). Data: %s (JetStream store, logs), database %s.\n\n",
		took.Seconds(), cfg.DataDir, redact(cfg.DatabaseURL))
	if fake != nil {
		fmt.Fprintf(&b, "  stripe     fake Stripe API %s (key %s): platform %s, connected %s\n",
			fake.URL(), stripefake.TestKey, fake.fake.PlatformID(), strings.Join(fake.fake.ConnectedAccounts(), ", "))
		fmt.Fprintf(&b, "             every %s a customer changes; its event goes to ingest as a snapshot and a thin webhook\n", cfg.DemoInterval)
	} else {
		fmt.Fprintf(&b, "  stripe     your account, through STRIPE_API_KEY; forward its webhooks with the Stripe CLI:\n")
		fmt.Fprintf(&b, "             stripe listen --forward-to %s/webhooks/stripe   (and set STRIPE_WEBHOOK_SECRET to the whsec_ it prints)\n", localURL(addrOf(services, "ingest")))
	}
	for _, svc := range services {
		u := localURL(svc.addr)
		extra := ""
		if svc.name == "ingest" {
			extra = "   webhooks " + u + "/webhooks/stripe"
		}
		fmt.Fprintf(&b, "  %-10s status %s/readyz   metrics %s/metrics%s\n", svc.name, u, u, extra)
	}
	embedded := ""
	if cfg.NATSURL == "" {
		embedded = fmt.Sprintf(" (embedded, store %s)", filepath.Join(cfg.DataDir, "nats"))
	}
	fmt.Fprintf(&b, "  %-10s %s%s\n", "nats", envflag.Redact(natsURL), embedded)
	fmt.Fprintf(&b, "  %-10s %s/{processor,ingest,syncer,nats}.log\n", "logs", filepath.Join(cfg.DataDir, "logs"))

	psql := "psql " + shellQuote(cfg.DatabaseURL)
	if hasPassword(cfg.DatabaseURL) {
		psql = `psql "$DATABASE_URL"`
	}
	fmt.Fprintf(&b, "\nQuery the mirror:\n")
	for _, q := range []string{
		`SELECT coalesce(account, 'platform') AS account, count(*) FROM stripe.customers GROUP BY 1 ORDER BY 1`,
		`SELECT id, account, email, data->'metadata'->>'touched' AS touched FROM stripe.customers ORDER BY updated_at DESC LIMIT 5`,
		`SELECT type, count(*) FROM stripe.events GROUP BY 1 ORDER BY 2 DESC LIMIT 10`,
	} {
		fmt.Fprintf(&b, "  %s -c \"%s\"\n", psql, q)
	}
	fmt.Fprintf(&b, "\nSend a test event: bin/send-test-event -url %s/webhooks/stripe\n", localURL(addrOf(services, "ingest")))
	fmt.Fprintf(&b, "Stop: Ctrl-C (everything stops in order; the next run continues with the same data).\n\n")
	io.WriteString(w, b.String())
}

func addrOf(services []*service, name string) string {
	for _, svc := range services {
		if svc.name == name {
			return svc.addr
		}
	}
	return ""
}

// reportFirstRows logs once when stripe.customers first holds rows, and how
// long after the start, then waits for ctx.
func reportFirstRows(ctx context.Context, log *slog.Logger, dbURL string, began time.Time) error {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		if n, err := countCustomers(ctx, dbURL); err == nil && n > 0 {
			log.Info("rows in stripe.customers", "rows", n, "after", time.Since(began).Round(100*time.Millisecond))
			break
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
	<-ctx.Done()
	return nil
}

func countCustomers(ctx context.Context, dbURL string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var n int64
	err = conn.QueryRow(ctx, "SELECT count(*) FROM stripe.customers").Scan(&n)
	return n, err
}

func redact(dbURL string) string { return envflag.Redact(dbURL) }

func hasPassword(dbURL string) bool {
	cfg, err := pgx.ParseConfig(dbURL)
	return err != nil || cfg.Password != ""
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
