// Package stripeapi is the services' way to the Stripe API: stripe-go's
// backend behind one rate limiter per process that also waits out 429s, and
// objects and list pages kept as the raw bytes Stripe sent.
package stripeapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/form"
)

// Client calls the Stripe API with one key, in one API version, through one
// rate limiter.
type Client struct {
	backend    stripe.Backend
	key        string
	apiVersion string
}

// Option configures a Client.
type Option func(*Client)

// WithAPIVersion makes every request ask for version (Stripe-Version),
// instead of DefaultAPIVersion.
func WithAPIVersion(version string) Option {
	return func(c *Client) {
		if version != "" {
			c.apiVersion = version
		}
	}
}

// New returns a Client for the API at baseURL. Every request waits for lim,
// which also retries the ones Stripe answers with 429, and asks for the
// client's API version whatever stripe-go pins.
func New(baseURL, key string, lim *Limiter, log *slog.Logger, opts ...Option) *Client {
	c := &Client{key: key, apiVersion: DefaultAPIVersion}
	for _, o := range opts {
		o(c)
	}
	c.backend = stripe.GetBackendWithConfig(stripe.APIBackend, &stripe.BackendConfig{
		URL: stripe.String(baseURL),
		// stripe-go retries network errors, 5xx and lock timeouts; rate
		// limiting is the Limiter's job (stripe-go does not retry it).
		MaxNetworkRetries: stripe.Int64(3),
		HTTPClient: &http.Client{Timeout: 80 * time.Second,
			Transport: versioned{version: c.apiVersion, next: lim.Transport(http.DefaultTransport)}},
		LeveledLogger: leveledLogger{log},
	})
	return c
}

// APIVersion is the version every request of c asks for: the shape of every
// object it returns.
func (c *Client) APIVersion() string { return c.apiVersion }

// versioned replaces the Stripe-Version stripe-go v76 sets (its pinned
// 2023-10-16) with the client's.
type versioned struct {
	version string
	next    http.RoundTripper
}

func (v versioned) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Stripe-Version", v.version)
	return v.next.RoundTrip(r)
}

// Page is one page of a list, as Stripe rendered it.
type Page struct {
	stripe.APIResource
	stripe.ListMeta
	// Data holds the items verbatim.
	Data []json.RawMessage `json:"data"`
	// Items are Data's items with their ids (stripe-go's iterator pages by
	// the last item's ID field).
	Items []*Item `json:"-"`
	// FetchedAt is when the request was sent: every item is at least that
	// new.
	FetchedAt time.Time `json:"-"`
}

// UnmarshalJSON leaves the page to decode, which reads LastResponse.RawJSON.
func (p *Page) UnmarshalJSON([]byte) error { return nil }

func (p *Page) decode() error {
	if p.LastResponse == nil {
		return errors.New("no response")
	}
	var w struct {
		Data    []json.RawMessage `json:"data"`
		HasMore bool              `json:"has_more"`
		URL     string            `json:"url"`
	}
	if err := gojson.Unmarshal(p.LastResponse.RawJSON, &w); err != nil {
		return fmt.Errorf("decode page: %w", err)
	}
	p.Data, p.HasMore, p.URL = w.Data, w.HasMore, w.URL
	return nil
}

// Item is one object of a page.
type Item struct {
	ID      string
	Object  string
	Created int64
	Raw     []byte
}

// ListParams selects what a list returns.
type ListParams struct {
	// Account, when set, lists a connected account's objects
	// (Stripe-Account header).
	Account string
	// Filters are added as query parameters, e.g. status=all; the key may
	// carry an operator: "created[gte]".
	Filters url.Values
	// StartingAfter resumes after this object id.
	StartingAfter string
}

// List pages through path from newest to oldest with stripe-go's iterator,
// 100 objects a page, and calls page for each page before fetching the next.
// page may change the filters of the pages after it (to narrow a created
// range). An error from page stops the listing and is returned.
func (c *Client) List(ctx context.Context, path string, p ListParams, page func(*Page, *form.Values) error) error {
	params := &stripe.ListParams{Context: ctx, Limit: stripe.Int64(100)}
	if p.Account != "" {
		params.SetStripeAccount(p.Account)
	}
	if p.StartingAfter != "" {
		params.StartingAfter = stripe.String(p.StartingAfter)
	}
	var pageErr error
	// On an error the iterator gets an empty page, so that it stops rather
	// than page on from a page it never saw.
	stop := func(err error) ([]any, stripe.ListContainer, error) { return nil, &Page{}, err }
	it := stripe.GetIter(params, func(sp *stripe.Params, fv *form.Values) ([]any, stripe.ListContainer, error) {
		pg := &Page{}
		if pageErr != nil {
			return stop(pageErr)
		}
		if len(p.Filters) > 0 { // once: the iterator keeps fv across pages
			for k, vs := range p.Filters {
				for _, v := range vs {
					fv.Add(k, v)
				}
			}
			p.Filters = nil
		}
		pg.FetchedAt = time.Now()
		// stripe-go runs encoding/json over the page (twice, through its
		// metrics wrapper) but leaves the decoding to Page.UnmarshalJSON,
		// which does nothing; the page is decoded here with goccy/go-json,
		// the main CPU cost of a backfill. (CallStreaming would skip
		// encoding/json altogether, but stripe-go v76's DoStreaming
		// dereferences a nil response on transport errors.)
		if err := c.backend.CallRaw(http.MethodGet, path, c.key, fv, sp, pg); err != nil {
			return stop(fmt.Errorf("list %s: %w", path, err))
		}
		if err := pg.decode(); err != nil {
			return stop(fmt.Errorf("list %s: %w", path, err))
		}
		items := make([]any, len(pg.Data))
		for i, raw := range pg.Data {
			var ref struct {
				ID      string `json:"id"`
				Object  string `json:"object"`
				Created int64  `json:"created"`
			}
			if err := gojson.Unmarshal(raw, &ref); err != nil {
				return stop(fmt.Errorf("list %s: item %d: %w", path, i, err))
			}
			item := &Item{ID: ref.ID, Object: ref.Object, Created: ref.Created, Raw: raw}
			pg.Items = append(pg.Items, item)
			items[i] = item
		}
		if err := page(pg, fv); err != nil {
			pageErr = err
			return stop(err)
		}
		return items, pg, nil
	})
	for it.Next() {
	}
	if pageErr != nil {
		return pageErr
	}
	return it.Err()
}

// ConnectedAccounts returns the ids of the platform's connected accounts.
func (c *Client) ConnectedAccounts(ctx context.Context) ([]string, error) {
	var ids []string
	err := c.List(ctx, "/v1/accounts", ListParams{}, func(pg *Page, _ *form.Values) error {
		for _, it := range pg.Items {
			ids = append(ids, it.ID)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list connected accounts: %w", err)
	}
	return ids, nil
}

// Get fetches one object, verbatim. account names a connected account (""
// for the platform) in the header of path's namespace: Stripe-Account for
// /v1, Stripe-Context for /v2.
func (c *Client) Get(ctx context.Context, path, account string) ([]byte, time.Time, error) {
	params := accountParams(ctx, path, account)
	at := time.Now()
	var obj struct{ stripe.APIResource }
	if err := c.backend.Call(http.MethodGet, path, c.key, params, &obj); err != nil {
		return nil, at, fmt.Errorf("get %s: %w", path, err)
	}
	return obj.LastResponse.RawJSON, at, nil
}

// leveledLogger sends stripe-go's logs to slog; its per-request info lines
// become debug.
type leveledLogger struct{ log *slog.Logger }

func (l leveledLogger) Debugf(format string, v ...any) {
	l.log.Debug("stripe: " + fmt.Sprintf(format, v...))
}
func (l leveledLogger) Infof(format string, v ...any) {
	l.log.Debug("stripe: " + fmt.Sprintf(format, v...))
}
func (l leveledLogger) Warnf(format string, v ...any) {
	l.log.Warn("stripe: " + fmt.Sprintf(format, v...))
}
func (l leveledLogger) Errorf(format string, v ...any) {
	l.log.Error("stripe: " + fmt.Sprintf(format, v...))
}
