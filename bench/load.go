package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

type loadResult struct {
	requests int
	elapsed  time.Duration
	p50, p99 time.Duration
}

func (r loadResult) perSecond() float64 { return float64(r.requests) / r.elapsed.Seconds() }

// drive posts every event to url from `senders` goroutines at once, each
// request signed as Stripe signs it, and measures each request's latency.
func drive(ctx context.Context, url string, evs []webhookEvent, secret string, senders int) (loadResult, error) {
	client := &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: senders,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()

	// Signing is Stripe's work, not the receiver's: done before the clock starts.
	sigs := make([]string, len(evs))
	for i, ev := range evs {
		sigs[i] = sign(ev.body, secret)
	}
	latencies := make([]time.Duration, len(evs))
	var next, failures atomic.Int64
	var firstErr error
	var errOnce sync.Once
	start := time.Now()
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(evs) || ctx.Err() != nil {
					return
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(evs[i].body))
				req.Header.Set("Content-Type", "application/json; charset=utf-8")
				req.Header.Set("Stripe-Signature", sigs[i])
				t := time.Now()
				resp, err := client.Do(req)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %s", resp.Status)
					}
				}
				latencies[i] = time.Since(t)
				if err != nil {
					failures.Add(1)
					errOnce.Do(func() { firstErr = err })
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return loadResult{}, fmt.Errorf("%d of %d requests failed, first: %w", failures.Load(), len(evs), firstErr)
	}
	slices.Sort(latencies)
	return loadResult{
		requests: len(evs),
		elapsed:  elapsed,
		p50:      latencies[len(latencies)/2],
		p99:      latencies[len(latencies)*99/100],
	}, nil
}

// trivialHandler is the ceiling for ingest: it reads the body and answers 200.
func trivialHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write([]byte(`{"received":true}`))
	})
}
