package stripefake

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Defaults for Options.
const (
	// TestKey is a secret key the fake accepts when Options.APIKey is empty.
	TestKey = "sk_test_fakestripe0000000000"
	// TestWebhookSecret signs webhooks when Options.WebhookSecret is empty.
	TestWebhookSecret = "whsec_fakestripe0000000000"
	// DefaultAccountID is the platform account's id when Options.AccountID is empty.
	DefaultAccountID = "acct_1FakePlatform0Ac"
	// EventRetention is how far back GET /v1/events reaches, as in Stripe.
	EventRetention = 30 * 24 * time.Hour
)

// Options configures a Server. The zero value is a fake with no rate limit,
// no latency and no webhooks, that accepts any sk_test_ key.
type Options struct {
	// APIKey, when set, is the only secret key accepted. Otherwise any key
	// starting with sk_test_ or rk_test_ is. Live keys are always refused.
	APIKey string
	// AccountID is the platform account's id. Default DefaultAccountID.
	AccountID string

	// RateLimit is the sustained rate in requests per second, over all
	// accounts and endpoints (a token bucket). Zero means unlimited. Stripe
	// allows 25/s in a sandbox and 100/s in live mode. A request over it is
	// answered 429 with Stripe-Rate-Limited-Reason global-rate.
	RateLimit float64
	// Burst is the bucket size. Default max(1, RateLimit).
	Burst int
	// EndpointRateLimit is the sustained rate of each endpoint in requests
	// per second (a token bucket each), where an endpoint is a route, as
	// Stripe counts each named operation: GET /v1/customers and GET
	// /v1/customers/{id} have a bucket each, whatever the id. A request
	// over it is answered 429 with Stripe-Rate-Limited-Reason endpoint-rate,
	// and takes no token from the global bucket. Zero means
	// DefaultEndpointRateLimit when RateLimit is set and unlimited when it
	// is not; negative means unlimited.
	EndpointRateLimit float64
	// EndpointBurst is each endpoint's bucket size. Default
	// max(1, EndpointRateLimit).
	EndpointBurst int
	// RecordRequests keeps the arrival time, endpoint and rate-limit answer
	// of every authenticated request, for Requests: tests check a client's
	// pace with it.
	RecordRequests bool
	// Force429Func, when it returns true, makes the request fail as if rate
	// limited (global-rate), whatever the buckets hold: use it for 429
	// storms.
	Force429Func func(*http.Request) bool
	// LockTimeoutFunc, when it returns true, makes the request fail with a
	// 429 lock_timeout, the one kind of 429 that stripe-go retries by itself.
	LockTimeoutFunc func(*http.Request) bool

	// Latency is added to every request, plus a uniform random share of
	// LatencyJitter.
	Latency       time.Duration
	LatencyJitter time.Duration

	// WebhookURL receives every event a mutation records, POSTed and signed
	// as Stripe does. Empty means no delivery.
	WebhookURL string
	// ThinEvents makes WebhookURL an event destination of thin events
	// (https://docs.stripe.com/event-destinations): it receives each
	// event's thin twin (v1.customer.updated…, Event.ThinPayload) instead
	// of the snapshot event, signed the same way. The snapshot events are
	// still listed by /v1/events, with no webhook pending.
	ThinEvents bool
	// WebhookSecret signs the deliveries. Default TestWebhookSecret.
	WebhookSecret string
	// WebhookClient posts the deliveries. Default: a client with a 10s timeout.
	WebhookClient *http.Client
	// DropWebhookFunc, when it returns true, skips the delivery of an event,
	// which then stays undelivered (delivery_success=false) in /v1/events
	// (without ThinEvents).
	DropWebhookFunc func(Event) bool

	// NowFunc is the fake's clock: object timestamps, event times and the
	// 30-day horizon of /v1/events and /v2/core/events. Default time.Now. Webhook signatures
	// always use the real time, since receivers check it.
	NowFunc func() time.Time

	// APIVersion is the account's default API version: what a request
	// without Stripe-Version gets, and the version events are rendered in
	// when they are listed or retrieved (their api_version). Default
	// CurrentAPIVersion; LegacyAPIVersion or later (see version.go).
	APIVersion string
	// WebhookAPIVersion is the webhook endpoint's API version, the version
	// of every event POSTed to WebhookURL (Event.Payload). Default
	// CurrentAPIVersion.
	WebhookAPIVersion string
}

// Server is a stateful, in-memory fake of the Stripe API. It implements
// http.Handler; serve it with httptest.NewServer(s) or Start. All methods are
// safe for concurrent use.
type Server struct {
	opts     Options
	mux      *http.ServeMux
	limits   *limits
	hc       *http.Client
	platform *account

	mu        sync.Mutex
	accounts  map[string]*account // by id, the platform included
	endpoints webhookEndpoints    // created by POST, see webhook_endpoints.go

	requests, rateLimited, endpointLimited, delivered, failed atomic.Int64
}

// Stats counts what the fake has done since New.
type Stats struct {
	Requests          int64 // every HTTP request, rejected ones included
	RateLimited       int64 // requests answered 429 (rate limit or lock timeout)
	EndpointLimited   int64 // of RateLimited, those over an endpoint's limit (endpoint-rate)
	WebhooksDelivered int64 // deliveries answered 2xx
	WebhooksFailed    int64 // deliveries that failed or were dropped on purpose
}

// New returns a fake holding one empty platform account. Fill it with Seed
// or the mutation methods.
func New(opts Options) *Server {
	if opts.AccountID == "" {
		opts.AccountID = DefaultAccountID
	}
	if opts.WebhookSecret == "" {
		opts.WebhookSecret = TestWebhookSecret
	}
	if opts.NowFunc == nil {
		opts.NowFunc = time.Now
	}
	for _, v := range []*string{&opts.APIVersion, &opts.WebhookAPIVersion} {
		if *v == "" {
			*v = CurrentAPIVersion
		}
		if err := checkAPIVersion(*v); err != nil {
			panic("stripefake: Options: " + err.Error())
		}
	}
	s := &Server{
		opts:     opts,
		mux:      http.NewServeMux(),
		hc:       opts.WebhookClient,
		accounts: make(map[string]*account),
	}
	if s.hc == nil {
		s.hc = &http.Client{Timeout: 10 * time.Second}
	}
	s.limits = newLimits(opts)
	s.platform = newAccount(opts.AccountID, false)
	s.platform.self = &record{object: "account", id: opts.AccountID, data: accountObject(opts.AccountID, "standard", "US", "usd", s.now().Add(-3*365*24*time.Hour).Unix(), false)}
	s.accounts[opts.AccountID] = s.platform
	s.platform.peers = s.accounts
	s.routes()
	return s
}

// Start serves s on a new httptest server, closed when the test ends, and
// returns its URL, the value for stripe.BackendConfig.URL.
func (s *Server) Start(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv.URL
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	return Stats{
		Requests:          s.requests.Load(),
		RateLimited:       s.rateLimited.Load(),
		EndpointLimited:   s.endpointLimited.Load(),
		WebhooksDelivered: s.delivered.Load(),
		WebhooksFailed:    s.failed.Load(),
	}
}

// PlatformID returns the platform account's id.
func (s *Server) PlatformID() string { return s.platform.id }

func (s *Server) now() time.Time { return s.opts.NowFunc() }

type accountKey struct{}

// ServeHTTP answers like api.stripe.com: authentication and rate limiting
// as the request arrives, then latency, the Stripe-Account scope, and the
// route.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now()
	s.requests.Add(1)
	w.Header().Set("Request-Id", "req_"+randString(rand.IntN, 14))
	version, verr := s.requestVersion(r)
	w.Header().Set("Stripe-Version", cmp.Or(version, s.opts.APIVersion))
	key, authErr := s.authenticate(r)
	var limitErr error
	if authErr == nil {
		limitErr = s.throttle(w, r, arrived)
	}
	if err := s.sleep(r.Context()); err != nil {
		return // the client gave up
	}
	if authErr != nil {
		w.Header().Set("WWW-Authenticate", `Basic realm="Stripe"`)
		writeError(w, authErr)
		return
	}
	if limitErr != nil {
		s.rateLimited.Add(1)
		if w.Header().Get("Stripe-Rate-Limited-Reason") == ReasonEndpointRate {
			s.endpointLimited.Add(1)
		}
		writeError(w, limitErr)
		return
	}
	if verr != nil {
		writeError(w, verr)
		return
	}
	a, err := s.scope(r, key)
	if err != nil {
		writeError(w, err)
		return
	}
	ctx := context.WithValue(context.WithValue(r.Context(), accountKey{}, a), versionKey{}, version)
	s.mux.ServeHTTP(w, r.WithContext(ctx))
}

func (s *Server) sleep(ctx context.Context) error {
	d := s.opts.Latency
	if j := s.opts.LatencyJitter; j > 0 {
		d += rand.N(j)
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("latency: %w", ctx.Err())
	}
}

func (s *Server) authenticate(r *http.Request) (string, error) {
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		key, _, ok = r.BasicAuth() // Stripe takes the key as the basic auth user too
	}
	if !ok || key == "" {
		return "", &Error{Status: http.StatusUnauthorized, Type: "invalid_request_error",
			Message: "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/."}
	}
	valid := strings.HasPrefix(key, "sk_test_") || strings.HasPrefix(key, "rk_test_")
	if s.opts.APIKey != "" {
		valid = key == s.opts.APIKey
	}
	if !valid {
		return "", &Error{Status: http.StatusUnauthorized, Type: "invalid_request_error", Code: "api_key_invalid",
			Message: "Invalid API Key provided: " + redact(key)}
	}
	return key, nil
}

func redact(key string) string {
	if len(key) <= 12 {
		return strings.Repeat("*", len(key))
	}
	return key[:8] + strings.Repeat("*", len(key)-12) + key[len(key)-4:]
}

// throttle answers the way Stripe rate limits: 429 with code rate_limit,
// type invalid_request_error and the Stripe-Rate-Limited-Reason header
// naming the level, global-rate or endpoint-rate. Note that stripe-go does
// not retry these (only lock_timeout ones), so callers must back off
// themselves. See https://docs.stripe.com/rate-limits.
func (s *Server) throttle(w http.ResponseWriter, r *http.Request, arrived time.Time) error {
	if f := s.opts.LockTimeoutFunc; f != nil && f(r) {
		return &Error{Status: http.StatusTooManyRequests, Type: "invalid_request_error", Code: "lock_timeout",
			Message: "This object cannot be accessed right now because another API request or Stripe process is currently accessing it. If you see this error intermittently, retry the request. If you see this error frequently and are making multiple concurrent requests to a single object, make your requests serially or at a lower rate."}
	}
	forced := s.opts.Force429Func != nil && s.opts.Force429Func(r)
	endpoint := ""
	if s.limits.byEndpoint() {
		endpoint = s.endpoint(r)
	}
	if reason := s.limits.allow(endpoint, r.Header.Get("Stripe-Version"), arrived, forced); reason != "" {
		w.Header().Set("Stripe-Rate-Limited-Reason", reason)
		return &Error{Status: http.StatusTooManyRequests, Type: "invalid_request_error", Code: "rate_limit",
			Message: "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits."}
	}
	return nil
}

// scope resolves the Stripe-Account header to the account the request reads.
func (s *Server) scope(r *http.Request, key string) (*account, error) {
	id := r.Header.Get("Stripe-Account")
	if id == "" {
		return s.platform, nil
	}
	s.mu.Lock()
	a, ok := s.accounts[id]
	s.mu.Unlock()
	if !ok {
		return nil, &Error{Status: http.StatusForbidden, Type: "invalid_request_error", Code: "account_invalid",
			Message: fmt.Sprintf("The provided key '%s' does not have access to account '%s' (or that account does not exist). Application access may have been revoked.", redact(key), id)}
	}
	return a, nil
}

// FractionFunc returns a func for Options.Force429Func or LockTimeoutFunc
// that fires on about the given fraction of requests, reproducibly for a seed.
func FractionFunc(fraction float64, seed uint64) func(*http.Request) bool {
	var mu sync.Mutex
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return func(*http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		return r.Float64() < fraction
	}
}

// StormFunc returns a func for Options.Force429Func that lets `ok` requests
// through, then fails the next `fail` ones, and so on.
func StormFunc(ok, fail int) func(*http.Request) bool {
	var n atomic.Int64
	return func(*http.Request) bool {
		return int((n.Add(1)-1)%int64(ok+fail)) >= ok
	}
}
