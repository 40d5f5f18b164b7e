package stripesync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/stripesync/stripesync/pkg/stripefake"
)

// demoConnectedAccounts is how many connected accounts the demo platform has.
const demoConnectedAccounts = 2

// demo is the fake Stripe account dev mirrors without STRIPE_API_KEY: the
// fake Stripe API (package stripefake) seeded with a platform and its
// connected accounts, served on a free loopback port.
type demo struct {
	fake *stripefake.Server
	ln   net.Listener
	srv  *http.Server
}

// startDemo seeds the fake and binds its port. The seed is deterministic:
// the same sizes and seed time give the same objects and ids, and the seed
// time is kept in seedFile, so a second run serves the account the first
// one started from (not the changes it made since, which the mirror keeps).
func startDemo(customers int, webhookSecret, seedFile string) (*demo, error) {
	seededAt, err := seedTime(seedFile)
	if err != nil {
		return nil, err
	}
	fake := stripefake.New(stripefake.Options{WebhookSecret: webhookSecret})
	if err := stripefake.Seed(fake, stripefake.SeedOptions{
		Customers: customers, ConnectedAccounts: demoConnectedAccounts, RandSeed: 1, Now: seededAt,
	}); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fake stripe: %w", err)
	}
	return &demo{fake: fake, ln: ln, srv: &http.Server{
		Handler:           fake,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second, // a page of 100 objects
		IdleTimeout:       time.Minute,
	}}, nil
}

// seedTime reads the time of the first seed from path, writing it there on
// the first run.
func seedTime(path string) (time.Time, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(string(b)))
		if err != nil {
			return time.Time{}, fmt.Errorf("%s: %w (delete the file to seed anew)", path, err)
		}
		return t, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return time.Time{}, err
	}
	now := time.Now().UTC().Truncate(time.Second)
	if err := os.WriteFile(path, []byte(now.Format(time.RFC3339)+"\n"), 0o644); err != nil {
		return time.Time{}, err
	}
	return now, nil
}

// URL is the fake's API base, for STRIPE_API_BASE.
func (d *demo) URL() string { return "http://" + d.ln.Addr().String() }

// Serve serves the fake API until ctx is done, then closes every
// connection at once. dev stops it after the processor and the syncer, its
// only clients, so no request is in flight by then; waiting for their idle
// connections (which the server sees as new ones, never used) would only
// delay the stop.
func (d *demo) Serve(ctx context.Context) error {
	served := make(chan error, 1)
	go func() { served <- d.srv.Serve(d.ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("fake stripe: %w", err)
	case <-ctx.Done():
	}
	err := d.srv.Close()
	<-served
	return err
}

// webhooks changes the fake account every interval, in turn on the platform
// and on each connected account (every fifth change a new customer, the
// others an update of an existing one), and sends each change's event to
// url signed with secret twice, as an account with a webhook endpoint and
// a thin event destination gets it: the snapshot event and its thin twin.
type webhooks struct {
	log      *slog.Logger
	fake     *stripefake.Server
	url      string
	secret   string
	interval time.Duration
	hc       *http.Client
}

// Run makes changes until ctx is done; a delivery under way when it is done
// is finished, not cut. A delivery that fails is logged and not retried;
// the syncer's events catch-up repairs snapshot events.
func (w *webhooks) Run(ctx context.Context) error {
	defer w.hc.CloseIdleConnections()
	accounts := append([]string{""}, w.fake.ConnectedAccounts()...)
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		ev, err := w.change(accounts[i%len(accounts)], i)
		if err != nil {
			w.log.Warn("fake stripe change", "err", err)
			continue
		}
		for _, body := range [][]byte{ev.Payload, ev.ThinPayload} {
			if err := w.send(context.WithoutCancel(ctx), body); err != nil {
				w.log.Warn("webhook not delivered", "event_id", ev.ID, "err", err)
			}
		}
		w.log.Debug("webhook delivered", "event_id", ev.ID, "event_type", ev.Type, "account", ev.Account)
	}
}

func (w *webhooks) change(account string, i int) (stripefake.Event, error) {
	if i%5 == 4 {
		return w.fake.CreateCustomer(account, map[string]any{
			"email": fmt.Sprintf("new-%d@example.com", time.Now().UnixNano()),
			"name":  "New Customer",
		})
	}
	ids := w.fake.IDs(account, "customer")
	if len(ids) == 0 {
		return stripefake.Event{}, errors.New("no customers")
	}
	id := ids[(i/3)%len(ids)]
	return w.fake.UpdateCustomer(account, id, map[string]any{
		"metadata": map[string]any{"touched": time.Now().UTC().Format(time.RFC3339)},
	})
}

// send POSTs body to ingest as Stripe does: with Stripe-Signature (t=, v1=)
// over the body with the endpoint's secret.
func (w *webhooks) send(ctx context.Context, body []byte) error {
	signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: w.secret, Timestamp: time.Now()})
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(signed.Payload))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
	req.Header.Set("Stripe-Signature", signed.Header)
	resp, err := w.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("ingest answered %s: %s", resp.Status, bytes.TrimSpace(reply))
	}
	return nil
}
