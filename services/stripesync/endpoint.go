package stripesync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/stripesync/stripesync/pkg/events/envflag"
	"github.com/stripesync/stripesync/pkg/stripeapi"
)

const endpointAbout = `stripesync endpoint create makes the Stripe webhook endpoint the mirror's ingest needs.

usage: stripesync endpoint create -url https://…/webhooks/stripe [-connect] [-thin] [flags]

It creates a webhook endpoint (POST /v1/webhook_endpoints) with the mirror's
API version (STRIPE_API_VERSION), so that webhooks and fetched objects have
one shape; with -thin, an event destination of thin events instead (POST
/v2/core/event_destinations), whose objects the processor fetches in that
version. -connect makes it receive the connected accounts' events too.

It subscribes to every event type ("*"): the mirror stores every event, the
types that change a resource are many more than created/updated/deleted
(invoice.paid, charge.refunded, customer.source.expiring…) and the catalog
does not list them, so a narrower list would silently miss changes; events
of types the mirror does not model are stored and cost one request each.

It prints the endpoint's signing secret once, as Stripe returns it only at
creation: put it in ingest's STRIPE_WEBHOOK_SECRET. It is not logged.`

func endpointCmd(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
			fmt.Fprintln(stdout, endpointAbout)
			return flag.ErrHelp
		}
		return errors.New(`usage: stripesync endpoint create -url URL [-connect] [-thin]`)
	}
	fs := flag.NewFlagSet("stripesync endpoint create", flag.ContinueOnError)
	fs.SetOutput(stdout)
	b := envflag.New(fs)
	b.Describe(endpointAbout)
	var api stripeapi.Config
	stripeapi.BindFlags(b, &api, "allowed to write webhook endpoints")
	endpointURL := fs.String("url", "", "ingest's public webhook URL, https://…/webhooks/stripe (required)")
	connect := fs.Bool("connect", false, "also receive the events of connected accounts")
	thin := fs.Bool("thin", false, "an event destination of thin events instead of a webhook endpoint")
	if err := b.Parse(args[1:], getenv); err != nil {
		return err
	}
	if err := api.Validate(true); err != nil {
		return err
	}
	if u, err := url.Parse(*endpointURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("-url must be the http(s) URL of ingest's webhooks, such as https://mirror.example.com/webhooks/stripe")
	}
	var (
		id, secret string
		err        error
	)
	if *thin {
		id, secret, err = createEventDestination(ctx, api, *endpointURL, *connect)
	} else {
		id, secret, err = createWebhookEndpoint(ctx, api, *endpointURL, *connect)
	}
	if err != nil {
		return err
	}
	kind := "webhook endpoint"
	if *thin {
		kind = "event destination (thin events)"
	}
	fmt.Fprintf(stdout, "created %s %s for %s: every event type, API version %s, connect %t\n", kind, id, *endpointURL, api.APIVersion, *connect)
	fmt.Fprintf(stdout, "signing secret, shown this once (set ingest's STRIPE_WEBHOOK_SECRET to it):\n%s\n", secret)
	return nil
}

// allEvents is the endpoint's enabled_events: every type (see endpointAbout).
var allEvents = []string{"*"}

// createWebhookEndpoint is https://docs.stripe.com/api/webhook_endpoints/create.
func createWebhookEndpoint(ctx context.Context, api stripeapi.Config, endpointURL string, connect bool) (id, secret string, err error) {
	form := url.Values{"url": {endpointURL}, "api_version": {api.APIVersion}, "description": {"stripesync mirror"}}
	for _, e := range allEvents {
		form.Add("enabled_events[]", e)
	}
	if connect {
		form.Set("connect", "true")
	}
	var resp struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	if err := stripePost(ctx, api, "/v1/webhook_endpoints", "application/x-www-form-urlencoded", []byte(form.Encode()), &resp); err != nil {
		return "", "", err
	}
	return resp.ID, resp.Secret, nil
}

// createEventDestination is
// https://docs.stripe.com/api/v2/core/event-destinations/create, asking
// for the signing secret in the response (include).
func createEventDestination(ctx context.Context, api stripeapi.Config, endpointURL string, connect bool) (id, secret string, err error) {
	from := []string{"self"}
	if connect {
		from = append(from, "other_accounts")
	}
	body, err := json.Marshal(map[string]any{
		"name": "stripesync mirror", "type": "webhook_endpoint", "event_payload": "thin",
		"enabled_events": allEvents, "events_from": from,
		"webhook_endpoint": map[string]any{"url": endpointURL},
		"include":          []string{"webhook_endpoint.signing_secret", "webhook_endpoint.url"},
	})
	if err != nil {
		return "", "", err
	}
	var resp struct {
		ID              string `json:"id"`
		WebhookEndpoint struct {
			SigningSecret string `json:"signing_secret"`
		} `json:"webhook_endpoint"`
	}
	if err := stripePost(ctx, api, "/v2/core/event_destinations", "application/json", body, &resp); err != nil {
		return "", "", err
	}
	return resp.ID, resp.WebhookEndpoint.SigningSecret, nil
}

// stripePost sends one POST and decodes the answer into out; an error
// answer becomes an error with Stripe's message. It is not retried: a
// second POST would make a second endpoint.
func stripePost(ctx context.Context, api stripeapi.Config, path, contentType string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(api.BaseURL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+string(api.Key))
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Stripe-Version", api.APIVersion)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		_ = json.Unmarshal(raw, &e)
		return fmt.Errorf("POST %s: %s: %s", path, resp.Status, e.Error.Message)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("POST %s: decode: %w", path, err)
	}
	return nil
}
