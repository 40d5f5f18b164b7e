// Command send-test-event posts a realistic, signed Stripe event to ingest,
// as Stripe would: by default a customer.created for a new customer. It is
// how to try the pipeline without a Stripe account (with one, use the Stripe
// CLI: stripe listen --forward-to localhost:8080/webhooks/stripe).
package main

import (
	"bytes"
	"cmp"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"
)

//go:embed customer.json
var customerFixture []byte

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "send-test-event:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("send-test-event", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "send-test-event posts a signed customer.created to ingest, as Stripe would.\n\nusage: send-test-event [flags]\n\nflags:\n")
		fs.PrintDefaults()
	}
	url := fs.String("url", cmp.Or(getenv("INGEST_URL"), "http://127.0.0.1:8080/webhooks/stripe"), "ingest's webhook URL (env INGEST_URL)")
	secrets := fs.String("secret", cmp.Or(getenv("STRIPE_WEBHOOK_SECRET"), "whsec_local_development_secret"), "signing secret; the first of a comma-separated list is used (env STRIPE_WEBHOOK_SECRET)")
	email := fs.String("email", "jenny.rosen@example.com", "the new customer's email")
	if err := fs.Parse(args); err != nil {
		return err
	}
	secret, _, _ := strings.Cut(*secrets, ",")

	var customer map[string]any
	if err := json.Unmarshal(customerFixture, &customer); err != nil {
		return fmt.Errorf("decode fixture: %w", err)
	}
	now := time.Now()
	suffix := fmt.Sprintf("%d", now.UnixNano())
	customer["id"] = "cus_test" + suffix
	customer["email"] = *email
	customer["created"] = now.Unix()
	body, err := json.Marshal(map[string]any{
		"id":               "evt_test" + suffix,
		"object":           "event",
		"api_version":      "2023-10-16",
		"created":          now.Unix(),
		"data":             map[string]any{"object": customer},
		"livemode":         false,
		"pending_webhooks": 1,
		"request":          map[string]any{"id": nil, "idempotency_key": nil},
		"type":             "customer.created",
	})
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: now})

	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, *url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Stripe-Signature", signed.Header)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("post: %w", err)
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("ingest answered %s: %s", resp.Status, bytes.TrimSpace(reply))
	}
	fmt.Fprintf(stdout, "sent %s (customer.created, %s): %s\n", "evt_test"+suffix, customer["id"], resp.Status)
	fmt.Fprintf(stdout, "check: psql \"$DATABASE_URL\" -c \"SELECT id, email, created FROM stripe.customers WHERE id = '%s'\"\n", customer["id"])
	return nil
}
