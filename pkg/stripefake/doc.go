// Package stripefake is a stateful fake of the Stripe API, served over real
// HTTP, for tests, demos and benchmarks. It holds accounts in memory and
// answers the read endpoints a sync engine uses the way api.stripe.com does,
// so that stripe-go's real client and iterators run against it unchanged.
//
// Serve it with Start in tests, or httptest.NewServer(s) / an http.Server
// anywhere else, and point stripe-go at its URL:
//
//	s := stripefake.New(stripefake.Options{RateLimit: 25})
//	if err := stripefake.Seed(s, stripefake.SeedOptions{Customers: 100, ConnectedAccounts: 2}); err != nil { … }
//	url := s.Start(t) // or: srv := httptest.NewServer(s); defer srv.Close(); url := srv.URL
//	backend := stripe.GetBackendWithConfig(stripe.APIBackend, &stripe.BackendConfig{URL: stripe.String(url)})
//	api := client.New(stripefake.TestKey, &stripe.Backends{API: backend})
//
// The fake itself imports none of stripe-go's per-resource packages
// (stripe-go/v76/client pulls in about 130), so that a binary serving it,
// such as stripesync dev, compiles quickly from an empty build cache.
//
// It serves the paths package catalog gives each resource (Retrieve,
// List, Nested), so every resource the mirror knows is listed and
// retrieved where the mirror looks for it; resources Seed does not make
// list empty until objects are created.
//
// What behaves like Stripe:
//
//   - Lists (https://docs.stripe.com/api/pagination): newest first (created
//     descending, ties by id descending), limit 1–100 (default 10),
//     starting_after / ending_before by object id, created and created[gt|gte|lt|lte],
//     has_more and url; per-endpoint equality filters (customer, status…);
//     unknown parameters refused with 400.
//   - Hidden by default: canceled subscriptions (status=canceled|ended|all
//     shows them); payment methods need customer; tax ids live under a
//     customer; events older than 30 days are gone.
//   - Nested lists (invoice lines, subscription items, credit note lines)
//     carry the first 10 items, has_more, total_count and the url that pages
//     the rest. charge.refunds and checkout session line_items appear only
//     when expanded. expand[] works one level deep on id fields.
//   - Legacy payment sources: a customer's cards, bank accounts and source
//     objects at /v1/customers/{id}/sources (object filter), and a
//     connected account's external accounts at
//     /v1/accounts/{id}/external_accounts, which the platform reads without
//     a Stripe-Account header and which the account object embeds (first
//     10, has_more, total_count). customer.sources appears when expanded.
//   - Stripe-Account scopes a request to a connected account (403
//     account_invalid for others). A Bearer (or basic auth) sk_test_/rk_test_
//     key is required (401 otherwise).
//   - Rate limits at Stripe's two levels (https://docs.stripe.com/rate-limits):
//     a token bucket over all requests (RateLimit) and one per endpoint
//     (EndpointRateLimit, 25/s by default once RateLimit is set), an endpoint
//     being a route such as GET /v1/customers/{id}; plus injectable 429
//     storms. Like Stripe, a rate-limited request gets 429, code rate_limit,
//     type invalid_request_error and Stripe-Rate-Limited-Reason global-rate
//     or endpoint-rate; stripe-go does NOT retry those, only 429
//     lock_timeout (LockTimeoutFunc), so callers back off and resume from
//     their cursor. RecordRequests keeps when each request arrived, for
//     tests of a client's pace (MostInWindow).
//   - Mutations (Create, Update, Mutate, MutateAs, Delete and helpers) change
//     state and record the event Stripe would send (customer.updated with
//     previous_attributes, customer.subscription.deleted, product.deleted),
//     which GET /v1/events lists (type with * wildcards, types[],
//     delivery_success, created) and which is POSTed, signed with the
//     webhook secret, to Options.WebhookURL. DropWebhookFunc loses deliveries
//     on purpose, so a test can repair them from /v1/events.
//   - Thin events (https://docs.stripe.com/api/v2/core/events/object): each
//     recorded event, seeded ones included, has a thin twin (v1.<type>,
//     created in RFC 3339, related_object with the object's retrieve path,
//     context for a connected account, snapshot_event naming its snapshot
//     twin, id ThinEventID of the snapshot's). GET /v2/core/events lists the
//     last 30 days of them, newest first, with API v2 paging (data,
//     next_page_url, previous_page_url; limit 1–100, default 20, the fake's
//     choice), created[gt|gte|lt|lte] as RFC 3339, types (repeated, types[]
//     or types[0]…, up to 20) and object_id; GET /v2/core/events/{id}
//     retrieves one. /v2 paths read the account from Stripe-Context and,
//     stricter than Stripe may be, refuse Stripe-Account with 400.
//     Options.ThinEvents makes WebhookURL a thin event destination.
//   - API versions (https://docs.stripe.com/api/versioning): every object,
//     list, nested list, expansion and event is rendered in the version of
//     the request's Stripe-Version header, else Options.APIVersion (default
//     CurrentAPIVersion), from LegacyAPIVersion (2023-10-16, which
//     stripe-go v76 sends) on; other values get 400. The store keeps one
//     shape, 2023-10-16's; version.go applies the breaking changes since
//     (basil's invoice parent and pricing, item-level periods, clover's
//     discount source…) as an object is rendered. Events carry the version
//     they are rendered in: Options.APIVersion in /v1/events whatever the
//     request asks for, as Stripe renders them when they happen, and
//     Options.WebhookAPIVersion in webhooks, previous_attributes included.
//
// What it does not do: POST/DELETE over HTTP (mutations are Go methods),
// search endpoints, idempotency keys, webhook retries, test clocks, deeper
// expansions, totals with taxes and discounts applied, and the many endpoints
// a mirror does not read.
package stripefake
