// Command fakestripe serves the fake Stripe API of package stripefake,
// seeded with a realistic account, for demos and manual runs: point the
// syncer at it with STRIPE_API_BASE and
// STRIPE_API_KEY=sk_test_fakestripe0000000000. With -webhook-url, -mutate
// makes changes every so often and delivers their events, signed with
// whsec_fakestripe0000000000, as Stripe would.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/stripesync/stripesync/pkg/stripefake"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "fakestripe:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("fakestripe", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "fakestripe serves the fake Stripe API, seeded with a realistic account, for demos and manual runs.\n\nusage: fakestripe [flags]\n\nflags:\n")
		fs.PrintDefaults()
	}
	addr := fs.String("addr", "127.0.0.1:12111", "listen address")
	customers := fs.Int("customers", 200, "customers on the platform")
	connected := fs.Int("connected", 2, "connected accounts")
	rateLimit := fs.Float64("rate-limit", 100, "requests per second before 429, as Stripe's live mode; 0 for none")
	endpointRateLimit := fs.Float64("endpoint-rate-limit", 0, "requests per second of each endpoint before 429; 0: 25 when -rate-limit is set, as Stripe's; negative for none")
	latency := fs.Duration("latency", 120*time.Millisecond, "added to every request, plus up to -jitter")
	jitter := fs.Duration("jitter", 80*time.Millisecond, "random extra latency")
	webhookURL := fs.String("webhook-url", "", "where to deliver events, e.g. http://127.0.0.1:8080/webhooks/stripe")
	mutate := fs.Duration("mutate", 0, "with -webhook-url: update a random customer this often")
	thin := fs.Bool("thin-events", false, "deliver thin events (v1.customer.updated…) to -webhook-url instead of snapshot events")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stdout, nil))

	s := stripefake.New(stripefake.Options{
		RateLimit: *rateLimit, EndpointRateLimit: *endpointRateLimit, Latency: *latency, LatencyJitter: *jitter, WebhookURL: *webhookURL,
		ThinEvents: *thin,
	})
	start := time.Now()
	if err := stripefake.Seed(s, stripefake.SeedOptions{Customers: *customers, ConnectedAccounts: *connected, RandSeed: 1}); err != nil {
		return err
	}
	log.Info("seeded", "customers", *customers, "connected_accounts", *connected, "seconds", time.Since(start).Seconds(),
		"api_base", "http://"+*addr, "api_key", stripefake.TestKey, "webhook_secret", stripefake.TestWebhookSecret)

	srv := &http.Server{Addr: *addr, Handler: s, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if *mutate > 0 && *webhookURL != "" {
		go func() {
			t := time.NewTicker(*mutate)
			defer t.Stop()
			ids := s.IDs("", "customer")
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					id := ids[rand.IntN(len(ids))]
					ev, err := s.UpdateCustomer("", id, map[string]any{"metadata": map[string]any{"touched": time.Now().Format(time.RFC3339)}})
					log.Info("mutated", "customer", id, "event", ev.ID, "delivered", ev.Delivered, "err", err)
				}
			}
		}()
	}
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
