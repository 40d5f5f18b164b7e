// Package load sends webhooks as Stripe does: each signed at the moment of
// its attempt, and any answer but a 2xx (or no answer) retried with a
// growing delay until it is accepted. It records when each event was first
// accepted, which is what a 2xx promises about.
package load

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/stripesync/stripesync/prove/internal/corpus"
)

// Sender posts events to a webhook URL.
type Sender struct {
	URL    string
	Secret string
	// Senders is how many requests are in flight at most; Rate, when
	// positive, caps new sends per second (retries included).
	Senders int
	Rate    float64

	mu       sync.Mutex
	accepted map[string]time.Time // event id → first 2xx

	sent, retries atomic.Int64
}

// Stats are what a run of Send did.
type Stats struct {
	Sends    int64 // events handed to the senders, duplicates included
	Retries  int64 // attempts that did not get a 2xx, each retried
	Accepted int   // distinct events that got a 2xx
}

// Send sends every event in order from Senders goroutines and returns once
// each got a 2xx, or ctx ended. progress, when set, is told how many events
// have been accepted so far after each.
func (s *Sender) Send(ctx context.Context, evs []corpus.Event, progress func(done int)) {
	s.mu.Lock()
	if s.accepted == nil {
		s.accepted = map[string]time.Time{}
	}
	s.mu.Unlock()
	client := &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: s.Senders,
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
	}, Timeout: 15 * time.Second}
	defer client.CloseIdleConnections()

	var tick <-chan time.Time
	if s.Rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / s.Rate))
		defer t.Stop()
		tick = t.C
	}
	var next, done atomic.Int64
	var wg sync.WaitGroup
	for range s.Senders {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(evs) {
					return
				}
				if tick != nil {
					select {
					case <-tick:
					case <-ctx.Done():
						return
					}
				}
				s.sent.Add(1)
				s.deliver(ctx, client, evs[i])
				if n := done.Add(1); progress != nil {
					progress(int(n))
				}
			}
		})
	}
	wg.Wait()
}

// deliver posts ev until it gets a 2xx: Stripe retries for days with
// growing delays; here the delays grow from 100 ms to 2 s.
func (s *Sender) deliver(ctx context.Context, client *http.Client, ev corpus.Event) {
	delay := 100 * time.Millisecond
	for ctx.Err() == nil {
		if s.post(ctx, client, ev) {
			now := time.Now()
			s.mu.Lock()
			if _, ok := s.accepted[ev.ID]; !ok {
				s.accepted[ev.ID] = now
			}
			s.mu.Unlock()
			return
		}
		s.retries.Add(1)
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
		delay = min(2*delay, 2*time.Second)
	}
}

func (s *Sender) post(ctx context.Context, client *http.Client, ev corpus.Event) bool {
	sig := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: ev.Body, Secret: s.Secret, Timestamp: time.Now()}).Header
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(ev.Body))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Stripe-Signature", sig)
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode/100 == 2
}

// Accepted returns the events accepted so far, each with the time of its
// first 2xx.
func (s *Sender) Accepted() map[string]time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]time.Time, len(s.accepted))
	for id, t := range s.accepted {
		out[id] = t
	}
	return out
}

// Stats reports what the sender did so far.
func (s *Sender) Stats() Stats {
	s.mu.Lock()
	n := len(s.accepted)
	s.mu.Unlock()
	return Stats{Sends: s.sent.Load(), Retries: s.retries.Load(), Accepted: n}
}
