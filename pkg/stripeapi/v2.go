package stripeapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/form"
)

// isV2 reports whether path is in the API v2 namespace, where requests name
// the account in Stripe-Context rather than Stripe-Account.
func isV2(path string) bool { return strings.HasPrefix(path, "/v2/") }

// accountParams returns request params naming account (none for "", the
// platform) in the header path's namespace reads: Stripe-Context on /v2
// (https://docs.stripe.com/context), Stripe-Account on /v1.
func accountParams(ctx context.Context, path, account string) *stripe.Params {
	params := &stripe.Params{Context: ctx}
	switch {
	case account == "":
	case isV2(path):
		params.Headers = http.Header{"Stripe-Context": {account}}
	default:
		params.SetStripeAccount(account)
	}
	return params
}

// V2Page is one page of an API v2 list, as Stripe rendered it:
// {"data": […], "next_page_url": …, "previous_page_url": …}.
type V2Page struct {
	stripe.APIResource
	// Data holds the items verbatim.
	Data []json.RawMessage `json:"-"`
	// NextPageURL is the path (with its query) of the next page, "" on the
	// last one. For /v2/core/events, which lists newest first, the next
	// page is older.
	NextPageURL string `json:"-"`
	// PreviousPageURL is the path of the previous page, "" on the first.
	PreviousPageURL string `json:"-"`
	// FetchedAt is when the request was sent.
	FetchedAt time.Time `json:"-"`
}

// UnmarshalJSON leaves the page to decode, which reads LastResponse.RawJSON
// (as Page does).
func (p *V2Page) UnmarshalJSON([]byte) error { return nil }

func (p *V2Page) decode() error {
	if p.LastResponse == nil {
		return errors.New("no response")
	}
	var w struct {
		Data            []json.RawMessage `json:"data"`
		NextPageURL     *string           `json:"next_page_url"`
		PreviousPageURL *string           `json:"previous_page_url"`
	}
	if err := gojson.Unmarshal(p.LastResponse.RawJSON, &w); err != nil {
		return fmt.Errorf("decode page: %w", err)
	}
	p.Data = w.Data
	if w.NextPageURL != nil {
		p.NextPageURL = *w.NextPageURL
	}
	if w.PreviousPageURL != nil {
		p.PreviousPageURL = *w.PreviousPageURL
	}
	return nil
}

// V2ListParams selects what an API v2 list returns.
type V2ListParams struct {
	// Account, when set, lists a connected account's objects
	// (Stripe-Context header).
	Account string
	// Filters are the first request's query parameters, e.g.
	// created[gte]=2026-10-01T12:00:00.000Z, limit=100, or types repeated
	// once per type. The pages after it carry them in their page token.
	Filters url.Values
}

// ListV2 pages through the API v2 list at path (such as /v2/core/events),
// following next_page_url to its end, and calls page for each page before
// fetching the next. An error from page stops the listing and is returned.
// See https://docs.stripe.com/api-v2-overview.
func (c *Client) ListV2(ctx context.Context, path string, p V2ListParams, page func(*V2Page) error) error {
	if !isV2(path) {
		return fmt.Errorf("list %s: not an API v2 path", path)
	}
	fv := &form.Values{}
	keys := make([]string, 0, len(p.Filters))
	for k := range p.Filters {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range p.Filters[k] {
			fv.Add(k, v)
		}
	}
	next := path
	for next != "" {
		pg := &V2Page{FetchedAt: time.Now()}
		if err := c.backend.CallRaw(http.MethodGet, next, c.key, fv, accountParams(ctx, path, p.Account), pg); err != nil {
			return fmt.Errorf("list %s: %w", path, err)
		}
		if err := pg.decode(); err != nil {
			return fmt.Errorf("list %s: %w", path, err)
		}
		if err := page(pg); err != nil {
			return err
		}
		var err error
		if next, err = relative(pg.NextPageURL); err != nil {
			return fmt.Errorf("list %s: next_page_url: %w", path, err)
		}
		fv = nil // the page token carries the filters
	}
	return nil
}

// relative returns the path and query of a page URL, which Stripe sends as
// a path ("/v2/core/events?page=…") but might send whole.
func relative(pageURL string) (string, error) {
	if pageURL == "" || strings.HasPrefix(pageURL, "/") {
		return pageURL, nil
	}
	u, err := url.Parse(pageURL)
	if err != nil {
		return "", err
	}
	return u.RequestURI(), nil
}
