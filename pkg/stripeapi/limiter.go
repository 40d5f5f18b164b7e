package stripeapi

import (
	"cmp"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// DefaultEndpointRate is the rate of each endpoint, in requests per second,
// unless WithEndpointRate says otherwise: Stripe's default limit for an
// endpoint, in live mode and in a sandbox (https://docs.stripe.com/rate-limits).
const DefaultEndpointRate = 25

// endpointHeadroom stretches the gap between an endpoint's requests by 8%.
// The limiter times requests when it lets them go, Stripe when they arrive;
// over a second at the endpoint's rate the headroom is 80 ms, which absorbs
// the difference between the trips of an early request and a later one (a
// new connection, a busy machine), so that no second of Stripe's holds more
// than the rate.
const endpointHeadroom = 0.08

// Limiter keeps every request of a process under Stripe's two levels of
// rate limits (https://docs.stripe.com/rate-limits): one rate over all
// requests (100 requests/s in live mode, 25 in a sandbox; set it below), and
// one per endpoint (25 requests/s by default), where an endpoint is a method
// and a path with its ids taken out (see Endpoint). A request waits for
// both.
//
// The global level is a token bucket. An endpoint's level spaces its
// requests evenly, 1/rate apart and a little more, timed when each request
// leaves (after its global wait), so that a late request never brings the
// next ones closer: at 25/s, no second holds more than 25.
//
// When Stripe answers 429 anyway, the limiter lowers the rate of the level
// that Stripe-Rate-Limited-Reason names (the global one when it names none),
// waits (Retry-After when Stripe sends one, else a growing backoff) and
// retries; successes bring both levels back up.
type Limiter struct {
	lim          *rate.Limiter
	max          rate.Limit
	maxRetries   int
	endpointRate float64 // each endpoint's highest rate; 0: no limit
	started      time.Time
	levels       *EndpointLevels

	mu        sync.Mutex
	endpoints map[string]*endpoint

	requests atomic.Int64
	limited  atomic.Int64
}

// EndpointLevels are the per-endpoint levels of one or more Limiters
// (WithEndpointLevels): limiters that each spend a share of the global rate
// (a replica's backfills and its catch-ups) still meet Stripe's limit of
// each endpoint together, since an endpoint is one level for all of them.
type EndpointLevels struct {
	rate float64 // each endpoint's highest rate; 0: no limit

	mu     sync.Mutex
	levels map[string]*level
}

// NewEndpointLevels makes per-endpoint levels of perSecond requests per
// second each; zero or less is no limit.
func NewEndpointLevels(perSecond float64) *EndpointLevels {
	return &EndpointLevels{rate: max(perSecond, 0), levels: map[string]*level{}}
}

func (e *EndpointLevels) level(key string) *level {
	e.mu.Lock()
	defer e.mu.Unlock()
	lv, ok := e.levels[key]
	if !ok {
		lv = &level{turn: make(chan struct{}, 1), max: e.rate, rate: e.rate}
		e.levels[key] = lv
	}
	return lv
}

// LimiterOption configures a Limiter.
type LimiterOption func(*Limiter)

// WithEndpointRate lets each endpoint have perSecond requests per second
// instead of DefaultEndpointRate. Zero or less turns the per-endpoint level
// off; requests are still counted per endpoint.
func WithEndpointRate(perSecond float64) LimiterOption {
	return func(l *Limiter) { l.endpointRate = max(perSecond, 0) }
}

// WithEndpointLevels makes the limiter wait on levels, shared with other
// limiters, for each endpoint, instead of levels of its own; it overrides
// WithEndpointRate. Each limiter still counts its own requests.
func WithEndpointLevels(levels *EndpointLevels) LimiterOption {
	return func(l *Limiter) { l.levels = levels }
}

// NewLimiter allows perSecond requests per second on average over all
// endpoints, in bursts of at most burst, and DefaultEndpointRate on each
// endpoint unless an option says otherwise.
func NewLimiter(perSecond float64, burst int, opts ...LimiterOption) *Limiter {
	l := &Limiter{
		lim:          rate.NewLimiter(rate.Limit(perSecond), burst),
		max:          rate.Limit(perSecond),
		maxRetries:   20,
		endpointRate: DefaultEndpointRate,
		endpoints:    make(map[string]*endpoint),
		started:      time.Now(),
	}
	for _, o := range opts {
		o(l)
	}
	if l.levels == nil {
		l.levels = NewEndpointLevels(l.endpointRate)
	}
	return l
}

// Requests is the number of requests sent, retries included.
func (l *Limiter) Requests() int64 { return l.requests.Load() }

// RateLimited is the number of 429 answers received, at every level.
func (l *Limiter) RateLimited() int64 { return l.limited.Load() }

// Rate is the global rate now, in requests per second: the configured one,
// or less after 429s.
func (l *Limiter) Rate() float64 { return float64(l.lim.Limit()) }

// MaxRate is the configured global rate, in requests per second: the
// budget the process spends at most.
func (l *Limiter) MaxRate() float64 { return float64(l.max) }

// EndpointStats is what a Limiter counted for one endpoint.
type EndpointStats struct {
	// Endpoint is the method and path template: "GET /v1/customers/{id}".
	Endpoint string
	// Requests is the number of requests sent, retries included.
	Requests int64
	// RateLimited is the number of 429 answers received.
	RateLimited int64
	// Rate is the endpoint's rate now, in requests per second: the
	// configured one, or less after 429s that named the endpoint; 0 when
	// the per-endpoint level is off.
	Rate float64
	// Waiting is the number of requests waiting now to go, at either
	// level (see Waiting).
	Waiting int64
}

// Endpoints returns the counts of every endpoint requested so far, by
// endpoint.
func (l *Limiter) Endpoints() []EndpointStats {
	l.mu.Lock()
	eps := make([]*endpoint, 0, len(l.endpoints))
	for _, ep := range l.endpoints {
		eps = append(eps, ep)
	}
	l.mu.Unlock()
	out := make([]EndpointStats, 0, len(eps))
	for _, ep := range eps {
		ep.mu.Lock()
		r := ep.rate
		ep.mu.Unlock()
		out = append(out, EndpointStats{Endpoint: ep.key, Requests: ep.requests.Load(), RateLimited: ep.limited.Load(), Rate: r,
			Waiting: ep.waiting.Load()})
	}
	slices.SortFunc(out, func(a, b EndpointStats) int { return cmp.Compare(a.Endpoint, b.Endpoint) })
	return out
}

// Waiting is the number of requests to endpoint (see Endpoint) waiting now
// to go, for the endpoint's level or the global one. While some wait, more
// requests at once to the endpoint would not go any faster.
func (l *Limiter) Waiting(endpoint string) int64 {
	l.mu.Lock()
	ep := l.endpoints[endpoint]
	l.mu.Unlock()
	if ep == nil {
		return 0
	}
	return ep.waiting.Load()
}

// Transport wraps base with the limiter.
func (l *Limiter) Transport(base http.RoundTripper) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		ep := l.endpoint(Endpoint(req.Method, req.URL.EscapedPath()))
		for attempt := 0; ; attempt++ {
			if err := l.wait(req.Context(), ep); err != nil {
				return nil, err
			}
			l.requests.Add(1)
			ep.requests.Add(1)
			resp, err := base.RoundTrip(req)
			if err != nil || resp.StatusCode != http.StatusTooManyRequests || attempt == l.maxRetries || req.Body != nil && req.GetBody == nil {
				if err == nil && resp.StatusCode < 300 {
					l.recover()
					ep.recover()
				}
				return resp, err
			}
			l.limited.Add(1)
			ep.limited.Add(1)
			if endpointLevel(resp.Header.Get("Stripe-Rate-Limited-Reason")) && ep.max > 0 {
				ep.slowDown()
			} else {
				l.slowDown()
			}
			delay := retryAfter(resp, attempt)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if req.GetBody != nil {
				if req.Body, err = req.GetBody(); err != nil {
					return nil, err
				}
			}
			if err := sleep(req.Context(), delay); err != nil {
				return nil, err
			}
		}
	})
}

// endpointLevel reports whether a 429's Stripe-Rate-Limited-Reason names
// the endpoint's level: endpoint-rate, endpoint-concurrency, or
// resource-specific (a limit on one kind of object, the closest level the
// limiter has). global-rate, global-concurrency and none (a lock_timeout,
// or an answer without the header) are the global level's, and so is every
// 429 when the per-endpoint level is off.
func endpointLevel(reason string) bool {
	return strings.HasPrefix(reason, "endpoint-") || reason == "resource-specific"
}

// wait returns when the request may go on both levels. Requests to one
// endpoint take turns: only the one whose turn it is waits for the global
// level, so that a busy endpoint's queue holds no global tokens that
// requests to other endpoints could use.
func (l *Limiter) wait(ctx context.Context, ep *endpoint) error {
	ep.waiting.Add(1)
	defer ep.waiting.Add(-1)
	select {
	case ep.turn <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-ep.turn }()
	if err := ep.wait(ctx); err != nil {
		return err
	}
	if err := l.lim.Wait(ctx); err != nil {
		return err
	}
	// Again, in case a 429 lowered the endpoint's rate meanwhile.
	if err := ep.wait(ctx); err != nil {
		return err
	}
	ep.sent(time.Now())
	return nil
}

// slowDown cuts the rate by a quarter, to at least one request a second.
func (l *Limiter) slowDown() {
	l.lim.SetLimit(max(l.lim.Limit()*3/4, 1))
}

// recover raises the rate by 1% of the maximum, up to the maximum.
func (l *Limiter) recover() {
	if cur := l.lim.Limit(); cur < l.max {
		l.lim.SetLimit(min(cur+l.max/100, l.max))
	}
}

func (l *Limiter) endpoint(key string) *endpoint {
	l.mu.Lock()
	defer l.mu.Unlock()
	ep, ok := l.endpoints[key]
	if !ok {
		ep = &endpoint{key: key, level: l.levels.level(key)}
		l.endpoints[key] = ep
	}
	return ep
}

// endpoint is what a limiter counts of one endpoint, and the endpoint's
// level, which it may share with other limiters (EndpointLevels).
type endpoint struct {
	key string
	*level

	requests, limited, waiting atomic.Int64
}

// level is one endpoint's level: a virtual schedule (GCRA) of its
// requests, one every interval.
type level struct {
	turn chan struct{} // held by the request being let go
	max  float64       // the configured rate; 0: no limit

	mu   sync.Mutex
	rate float64
	// due is when the next request is due: an interval after the last
	// one, or after when it was due if it left early or a little late.
	due time.Time
}

// interval is the gap between requests at the current rate.
func (ep *level) interval() time.Duration {
	return time.Duration((1 + endpointHeadroom) / ep.rate * float64(time.Second))
}

// wait returns when the next request is due, or a sixteenth of an interval
// before: a request woken a little late does not cost the next one its
// turn.
func (ep *level) wait(ctx context.Context) error {
	if ep.max == 0 {
		return nil
	}
	for {
		ep.mu.Lock()
		d := time.Until(ep.due.Add(-ep.interval() / 16))
		ep.mu.Unlock()
		if d <= 0 {
			return nil
		}
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
}

// sent schedules the next request an interval after this one, which left
// at, or after when this one was due if it left early. Any 26 requests at
// 25/s thus leave at least 25 intervals less a sixteenth apart: 1.077 s.
func (ep *level) sent(at time.Time) {
	if ep.max == 0 {
		return
	}
	ep.mu.Lock()
	if at.After(ep.due) {
		ep.due = at
	}
	ep.due = ep.due.Add(ep.interval())
	ep.mu.Unlock()
}

// slowDown cuts the rate by a quarter, to at least one request a second.
func (ep *level) slowDown() {
	ep.mu.Lock()
	ep.rate = max(ep.rate*3/4, min(1, ep.max))
	ep.mu.Unlock()
}

// recover raises the rate by 1% of the maximum, up to the maximum.
func (ep *level) recover() {
	ep.mu.Lock()
	if ep.rate < ep.max {
		ep.rate = min(ep.rate+ep.max/100, ep.max)
	}
	ep.mu.Unlock()
}

// Endpoint is what a request counts against at Stripe beside the global
// limit: its method and its path with each id replaced by {id}, such as
// "GET /v1/customers/{id}/tax_ids". Stripe counts each named operation as
// its own endpoint, so GET /v1/customers and GET /v1/customers/{id} have a
// limit each, and requests for different ids share one
// (https://docs.stripe.com/rate-limits).
//
// An id is told from a name by its letters. Names (customers, tax_ids,
// upcoming) are lowercase letters and underscores; Stripe's ids
// (cus_NffrFeUfNV2Hib) carry digits or capitals, and an id of a custom form
// (a coupon "25OFF") mostly does too. The segment after the version (v1,
// v2) is always a name, as is everything before it. A custom id of
// lowercase letters alone (a coupon "summer") is taken for a name, so its
// requests count as an endpoint of their own.
func Endpoint(method, path string) string {
	segs := strings.Split(path, "/")
	first := 0 // the first segment that may be an id
	for i, s := range segs {
		if isVersion(s) {
			first = i + 2
			break
		}
	}
	for i := first; i < len(segs); i++ {
		if isID(segs[i]) {
			segs[i] = "{id}"
		}
	}
	return method + " " + strings.Join(segs, "/")
}

func isVersion(s string) bool {
	if len(s) < 2 || s[0] != 'v' {
		return false
	}
	_, err := strconv.Atoi(s[1:])
	return err == nil
}

func isID(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return (r < 'a' || r > 'z') && r != '_' })
}

// retryAfter is Stripe's Retry-After when given, else 0.5 s doubling to 8 s,
// with jitter so that workers do not retry in step.
func retryAfter(resp *http.Response, attempt int) time.Duration {
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	d := min(500*time.Millisecond<<min(attempt, 4), 8*time.Second)
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }
