package stripeapi

import (
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Limiter keeps every request of a process under one rate, set below
// Stripe's limits (https://docs.stripe.com/rate-limits: 100 read requests/s
// in live mode, 25 in test mode). When Stripe answers 429 anyway, it waits
// (Retry-After when Stripe sends one, else a growing backoff) and retries,
// and lowers the rate for everyone; successes bring it back up.
type Limiter struct {
	lim        *rate.Limiter
	max        rate.Limit
	maxRetries int

	requests atomic.Int64
	limited  atomic.Int64
}

// NewLimiter allows perSecond requests per second on average, in bursts of
// at most burst.
func NewLimiter(perSecond float64, burst int) *Limiter {
	return &Limiter{
		lim:        rate.NewLimiter(rate.Limit(perSecond), burst),
		max:        rate.Limit(perSecond),
		maxRetries: 20,
	}
}

// Requests is the number of requests sent, retries included.
func (l *Limiter) Requests() int64 { return l.requests.Load() }

// RateLimited is the number of 429 answers received.
func (l *Limiter) RateLimited() int64 { return l.limited.Load() }

// Transport wraps base with the limiter.
func (l *Limiter) Transport(base http.RoundTripper) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		for attempt := 0; ; attempt++ {
			if err := l.lim.Wait(req.Context()); err != nil {
				return nil, err
			}
			l.requests.Add(1)
			resp, err := base.RoundTrip(req)
			if err != nil || resp.StatusCode != http.StatusTooManyRequests || attempt == l.maxRetries || req.Body != nil && req.GetBody == nil {
				if err == nil && resp.StatusCode < 300 {
					l.recover()
				}
				return resp, err
			}
			l.limited.Add(1)
			l.slowDown()
			delay := retryAfter(resp, attempt)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if req.GetBody != nil {
				if req.Body, err = req.GetBody(); err != nil {
					return nil, err
				}
			}
			select {
			case <-req.Context().Done():
				return nil, req.Context().Err()
			case <-time.After(delay):
			}
		}
	})
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

// retryAfter is Stripe's Retry-After when given, else 0.5 s doubling to 8 s,
// with jitter so that workers do not retry in step.
func retryAfter(resp *http.Response, attempt int) time.Duration {
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	d := min(500*time.Millisecond<<min(attempt, 4), 8*time.Second)
	return d/2 + rand.N(d/2+1)
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }
