package stripefake

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultEndpointRateLimit is each endpoint's rate, in requests per second,
// when Options.RateLimit is set and Options.EndpointRateLimit is not:
// Stripe's default limit for an endpoint (https://docs.stripe.com/rate-limits).
const DefaultEndpointRateLimit = 25

// The values of Stripe-Rate-Limited-Reason the fake sends. Stripe sends
// these two, and global-concurrency, endpoint-concurrency and
// resource-specific, which the fake does not enforce.
const (
	ReasonGlobalRate   = "global-rate"
	ReasonEndpointRate = "endpoint-rate"
)

// Request is one authenticated request the fake received, recorded when
// Options.RecordRequests is set.
type Request struct {
	// At is when it arrived, before Options.Latency.
	At time.Time
	// Endpoint is the route it counts against, the method and path with
	// {id} for each wildcard: "GET /v1/customers/{id}/tax_ids".
	Endpoint string
	// Limited is the Stripe-Rate-Limited-Reason it was answered with, ""
	// when it was not rate limited.
	Limited string
	// APIVersion is the Stripe-Version it asked for, "" when it sent none.
	APIVersion string
}

// Requests returns the requests received so far, in order of arrival, when
// Options.RecordRequests is set; nil otherwise.
func (s *Server) Requests() []Request {
	if s.limits.log == nil {
		return nil
	}
	s.limits.mu.Lock()
	defer s.limits.mu.Unlock()
	return slices.Clone(*s.limits.log)
}

// MostInWindow returns the largest number of reqs that arrived in any
// window [t, t+d), per endpoint and over all endpoints.
func MostInWindow(reqs []Request, d time.Duration) (perEndpoint map[string]int, all int) {
	reqs = slices.Clone(reqs)
	slices.SortFunc(reqs, func(a, b Request) int { return a.At.Compare(b.At) })
	byEndpoint := map[string][]time.Time{}
	times := make([]time.Time, len(reqs))
	for i, r := range reqs {
		byEndpoint[r.Endpoint] = append(byEndpoint[r.Endpoint], r.At)
		times[i] = r.At
	}
	perEndpoint = make(map[string]int, len(byEndpoint))
	for e, ts := range byEndpoint {
		perEndpoint[e] = mostInWindow(ts, d)
	}
	return perEndpoint, mostInWindow(times, d)
}

// mostInWindow counts, for sorted times, the most that fall in [t, t+d):
// the busiest window starts at one of them.
func mostInWindow(times []time.Time, d time.Duration) int {
	most, j := 0, 0
	for i, t := range times {
		for j < len(times) && times[j].Before(t.Add(d)) {
			j++
		}
		most = max(most, j-i)
	}
	return most
}

// limits are the fake's rate limits: a token bucket over all requests and
// one per endpoint, both optional. A request takes a token from both or
// from neither.
type limits struct {
	mu sync.Mutex
	// global is nil when unlimited.
	global *bucket
	// rate and burst configure each endpoint's bucket; rate 0: unlimited.
	rate, burst float64
	endpoints   map[string]*bucket
	// log is the record of requests, nil unless Options.RecordRequests.
	log *[]Request
}

func newLimits(opts Options) *limits {
	l := &limits{endpoints: map[string]*bucket{}}
	if opts.RateLimit > 0 {
		l.global = newBucket(opts.RateLimit, opts.Burst)
	}
	switch r := opts.EndpointRateLimit; {
	case r > 0:
		l.rate = r
	case r == 0 && opts.RateLimit > 0:
		l.rate = DefaultEndpointRateLimit
	}
	l.burst = float64(opts.EndpointBurst)
	if l.burst <= 0 {
		l.burst = max(1, l.rate)
	}
	if opts.RecordRequests {
		l.log = new([]Request)
	}
	return l
}

// allow takes a token from both levels for a request to endpoint that
// arrived at now, or returns the Stripe-Rate-Limited-Reason of the level
// that has none (the global one first). forced fails it on the global level
// whatever the buckets hold.
func (l *limits) allow(endpoint, apiVersion string, now time.Time, forced bool) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ep *bucket
	if l.rate > 0 {
		ep = l.endpoints[endpoint]
		if ep == nil {
			ep = &bucket{rate: l.rate, burst: l.burst, tokens: l.burst}
			l.endpoints[endpoint] = ep
		}
	}
	reason := ""
	switch {
	case forced || l.global != nil && !l.global.has(now):
		reason = ReasonGlobalRate
	case ep != nil && !ep.has(now):
		reason = ReasonEndpointRate
	default:
		if l.global != nil {
			l.global.tokens--
		}
		if ep != nil {
			ep.tokens--
		}
	}
	if l.log != nil {
		*l.log = append(*l.log, Request{At: now, Endpoint: endpoint, Limited: reason, APIVersion: apiVersion})
	}
	return reason
}

// byEndpoint reports whether allow needs the request's endpoint.
func (l *limits) byEndpoint() bool { return l.rate > 0 || l.log != nil }

// endpoint is the route r counts against, the way Stripe counts a named
// operation: the pattern the mux serves it with, its wildcards written
// {id}. Unrouted requests share the catch-all's.
func (s *Server) endpoint(r *http.Request) string {
	_, pattern := s.mux.Handler(r)
	if !strings.Contains(pattern, " ") {
		pattern = r.Method + " " + pattern
	}
	segs := strings.Split(pattern, "/")
	for i, seg := range segs {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			segs[i] = "{id}"
		}
	}
	return strings.Join(segs, "/")
}

// bucket is a token bucket refilled at rate tokens per second.
type bucket struct {
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newBucket(rate float64, burst int) *bucket {
	b := float64(burst)
	if b <= 0 {
		b = max(1, rate)
	}
	return &bucket{rate: rate, burst: b, tokens: b}
}

// has refills the bucket up to now and reports whether it holds a token.
// Times before the last refill (requests that arrived at once, checked in
// another order) add nothing.
func (b *bucket) has(now time.Time) bool {
	if b.last.IsZero() {
		b.last = now
	} else if now.After(b.last) {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
		b.last = now
	}
	return b.tokens >= 1
}
