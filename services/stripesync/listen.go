package stripesync

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76/form"

	"github.com/stripesync/stripesync/pkg/events/envflag"
	"github.com/stripesync/stripesync/pkg/stripeapi"
)

const listenAbout = `stripesync listen forwards a test-mode account's new events to the local ingest, signed.

usage: stripesync listen [-forward-to URL] [-events 'invoice.*,customer.*'] [-thin] [flags]

It needs neither the Stripe CLI nor a public URL: it polls the Events API
(GET /v1/events, and GET /v2/core/events with -thin) every -interval for the
events created since it started, and POSTs each one it has not forwarded yet,
oldest first, to -forward-to, signed with the first STRIPE_WEBHOOK_SECRET as
Stripe signs webhooks (Stripe-Signature: t=…,v1=…). It prints one line per
event: time, id, type, and the HTTP status ingest answered. An event ingest
refuses is not sent again; the syncer's Events API catch-up repairs that.

It follows the platform account's events only, and refuses live keys
(sk_live_, rk_live_): Stripe delivers live webhooks itself.`

// listenOverlap is how far before the newest event seen each poll starts
// again: an event may become visible in the Events API a little after a
// later one. Events seen are remembered for as long, so none is sent twice.
const listenOverlap = time.Minute

func listenCmd(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("stripesync listen", flag.ContinueOnError)
	fs.SetOutput(stdout)
	b := envflag.New(fs)
	b.Describe(listenAbout)
	var api stripeapi.Config
	stripeapi.BindFlags(b, &api, "to read the Events API (test mode only)")
	var secrets envflag.Secret
	b.SecretVar(&secrets, "stripe-webhook-secret", "ingest's signing secrets, whsec_…, comma separated; events are signed with the first (default "+DefaultWebhookSecret+")")
	forwardTo := fs.String("forward-to", "http://127.0.0.1:8080/webhooks/stripe", "ingest's webhook URL")
	filter := fs.String("events", "", "forward only these event types, comma separated, * as a wildcard ('invoice.*'); thin types also match without their v1. prefix; default all")
	thin := fs.Bool("thin", false, "forward thin events (GET /v2/core/events) too")
	interval := fs.Duration("interval", time.Second, "time between two polls")
	if err := b.Parse(args, getenv); err != nil {
		return err
	}
	if err := api.Validate(true); err != nil {
		return err
	}
	if api.Livemode() {
		return errors.New("STRIPE_API_KEY is a live key: stripesync listen is for test mode only (sk_test_…, rk_test_…)")
	}
	secret, _, _ := strings.Cut(string(secrets), ",")
	secret = strings.TrimSpace(secret)
	if secret == "" {
		secret = DefaultWebhookSecret
	}
	if !strings.HasPrefix(secret, "whsec_") {
		return errors.New("STRIPE_WEBHOOK_SECRET: each secret must start with whsec_")
	}
	if u, err := url.Parse(*forwardTo); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("-forward-to must be an http(s) URL, such as http://127.0.0.1:8080/webhooks/stripe")
	}
	if *interval <= 0 {
		return errors.New("-interval must be positive")
	}
	var patterns []string
	for p := range strings.SplitSeq(*filter, ",") {
		if p = strings.TrimSpace(p); p != "" {
			if _, err := path.Match(p, ""); err != nil {
				return fmt.Errorf("-events: bad pattern %q", p)
			}
			patterns = append(patterns, p)
		}
	}

	l := &listener{
		client:    api.Client(stripeapi.NewLimiter(10, 2), slog.New(slog.DiscardHandler)),
		forwardTo: *forwardTo,
		secret:    secret,
		patterns:  patterns,
		thin:      *thin,
		hc:        &http.Client{Timeout: 30 * time.Second},
		out:       stdout,
	}
	return l.run(ctx, *interval)
}

// listener polls the Events API and forwards what is new.
type listener struct {
	client    *stripeapi.Client
	forwardTo string
	secret    string
	patterns  []string
	thin      bool
	hc        *http.Client
	out       io.Writer

	snapshot, thinCur eventCursor
}

// eventCursor is where one Events API stands: the newest created seen, and
// the ids of the events seen since listenOverlap before it.
type eventCursor struct {
	newest time.Time
	seen   map[string]time.Time
}

// listedEvent is an event of either API, with its raw JSON.
type listedEvent struct {
	id, typ string
	created time.Time
	raw     []byte
}

func (l *listener) run(ctx context.Context, interval time.Duration) error {
	start := time.Now()
	l.snapshot = eventCursor{newest: start, seen: map[string]time.Time{}}
	l.thinCur = eventCursor{newest: start, seen: map[string]time.Time{}}
	// What is already there is not new: mark it seen without forwarding.
	if err := l.poll(ctx, false); err != nil {
		return err
	}
	fmt.Fprintf(l.out, "forwarding new events of the account to %s (%s)\n", l.forwardTo, cmp.Or(strings.Join(l.patterns, ","), "all types"))
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := l.poll(ctx, true); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// A failed poll is tried again at the next tick, from the same cursor.
			fmt.Fprintf(l.out, "%s poll: %v\n", time.Now().Format(time.TimeOnly), err)
		}
	}
}

// poll lists both APIs from their cursors and, when forward, sends each new
// event, oldest first.
func (l *listener) poll(ctx context.Context, forward bool) error {
	evs, err := l.listSnapshot(ctx)
	if err != nil {
		return err
	}
	if err := l.take(ctx, &l.snapshot, evs, forward); err != nil {
		return err
	}
	if !l.thin {
		return nil
	}
	if evs, err = l.listThin(ctx); err != nil {
		return err
	}
	return l.take(ctx, &l.thinCur, evs, forward)
}

func (l *listener) take(ctx context.Context, c *eventCursor, evs []listedEvent, forward bool) error {
	slices.SortFunc(evs, func(a, b listedEvent) int {
		if n := a.created.Compare(b.created); n != 0 {
			return n
		}
		return strings.Compare(a.id, b.id)
	})
	for _, ev := range evs {
		if _, ok := c.seen[ev.id]; ok {
			continue
		}
		if forward && l.wanted(ev.typ) {
			status, err := l.forward(ctx, ev.raw)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				// Not marked seen: sent again at the next poll.
				fmt.Fprintf(l.out, "%s %s %s %v\n", time.Now().Format(time.TimeOnly), ev.id, ev.typ, err)
				continue
			}
			fmt.Fprintf(l.out, "%s %s %s %d\n", time.Now().Format(time.TimeOnly), ev.id, ev.typ, status)
		}
		c.seen[ev.id] = ev.created
		if ev.created.After(c.newest) {
			c.newest = ev.created
		}
	}
	for id, at := range c.seen {
		if at.Before(c.newest.Add(-2 * listenOverlap)) {
			delete(c.seen, id)
		}
	}
	return nil
}

func (l *listener) wanted(typ string) bool {
	if len(l.patterns) == 0 {
		return true
	}
	for _, p := range l.patterns {
		if ok, _ := path.Match(p, typ); ok {
			return true
		}
		if rest, thin := strings.CutPrefix(typ, "v1."); thin {
			if ok, _ := path.Match(p, rest); ok {
				return true
			}
		}
	}
	return false
}

func (l *listener) listSnapshot(ctx context.Context) ([]listedEvent, error) {
	since := l.snapshot.newest.Add(-listenOverlap)
	var evs []listedEvent
	err := l.client.List(ctx, "/v1/events", stripeapi.ListParams{Filters: url.Values{"created[gte]": {strconv.FormatInt(since.Unix(), 10)}}},
		func(pg *stripeapi.Page, _ *form.Values) error {
			for _, it := range pg.Items {
				var ev struct {
					Type string `json:"type"`
				}
				if err := json.Unmarshal(it.Raw, &ev); err != nil {
					return fmt.Errorf("decode event %s: %w", it.ID, err)
				}
				evs = append(evs, listedEvent{id: it.ID, typ: ev.Type, created: time.Unix(it.Created, 0), raw: it.Raw})
			}
			return nil
		})
	return evs, err
}

func (l *listener) listThin(ctx context.Context) ([]listedEvent, error) {
	since := l.thinCur.newest.Add(-listenOverlap)
	var evs []listedEvent
	err := l.client.ListV2(ctx, "/v2/core/events", stripeapi.V2ListParams{Filters: url.Values{"created[gte]": {since.UTC().Format("2006-01-02T15:04:05.000Z")}}},
		func(pg *stripeapi.V2Page) error {
			for _, raw := range pg.Data {
				var ev struct {
					ID      string    `json:"id"`
					Type    string    `json:"type"`
					Created time.Time `json:"created"`
				}
				if err := json.Unmarshal(raw, &ev); err != nil {
					return fmt.Errorf("decode thin event: %w", err)
				}
				evs = append(evs, listedEvent{id: ev.ID, typ: ev.Type, created: ev.Created, raw: raw})
			}
			return nil
		})
	return evs, err
}

// forward POSTs one event to ingest, signed, and returns the status.
func (l *listener) forward(ctx context.Context, payload []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.forwardTo, bytes.NewReader(payload))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Stripe-Signature", signature(l.secret, payload, time.Now()))
	resp, err := l.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode, nil
}

// signature is the Stripe-Signature header Stripe sends with payload at t:
// t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<payload>" keyed with the
// whole secret, whsec_ prefix included>
// (https://docs.stripe.com/webhooks#verify-manually).
func signature(secret string, payload []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(payload)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}
