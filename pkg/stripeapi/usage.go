package stripeapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stripesync/stripesync/pkg/events"
)

// ReportUsage publishes what the limiters of this process (of service)
// spend of the API budget, summed, for stripesync
// status: an events.APIUsage under events.APIUsageKey(service, this
// process) in kv (the state bucket), written at once and then every
// events.APIUsageInterval until ctx is done, then deleted. A write that
// fails is logged (a warning once per outage) and retried at the next
// interval; the record then turns stale, which status shows. It returns
// nil when ctx is done.
func ReportUsage(ctx context.Context, kv jetstream.KeyValue, service string, log *slog.Logger, lims ...*Limiter) error {
	host, _ := os.Hostname()
	instance := host + "-" + strconv.Itoa(os.Getpid())
	key := events.APIUsageKey(service, instance)
	// The limiters counted from zero when they were made.
	started := time.Now()
	for _, l := range lims {
		if l.started.Before(started) {
			started = l.started
		}
	}
	w := usageWindow{samples: []usageSample{{at: started}}}
	failing := false
	put := func(now time.Time) {
		var requests, limited int64
		var limit, rate float64
		for _, l := range lims {
			requests, limited = requests+l.Requests(), limited+l.RateLimited()
			limit, rate = limit+l.MaxRate(), rate+l.Rate()
		}
		u := w.observe(now, requests, limited)
		u.Service, u.Instance, u.Limit, u.Rate = service, instance, limit, rate
		b, err := json.Marshal(u)
		if err == nil {
			pctx, cancel := context.WithTimeout(ctx, events.APIUsageInterval)
			_, err = kv.Put(pctx, key, b)
			cancel()
		}
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			failing = true
			log.Warn("API usage not published; retried every interval", "key", key, "err", err)
		case err == nil && failing:
			failing = false
			log.Info("API usage published again", "key", key)
		}
	}
	t := time.NewTicker(events.APIUsageInterval)
	defer t.Stop()
	for {
		put(time.Now())
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			defer cancel()
			if err := kv.Delete(dctx, key); err != nil {
				log.Warn("API usage record left behind; status shows it stale", "key", key, "err", err)
			}
			return nil
		case <-t.C:
		}
	}
}

// usageWindow turns a limiter's running totals into counts over the last
// events.APIUsageWindow, from the totals it saw at each observation.
type usageWindow struct {
	samples []usageSample // oldest first, the newest at most a window apart from the first
}

type usageSample struct {
	at                time.Time
	requests, limited int64
}

// observe records the totals at now and returns the counts since the
// oldest observation within the window (WindowSeconds 0 at the first).
func (w *usageWindow) observe(now time.Time, requests, limited int64) events.APIUsage {
	w.samples = append(w.samples, usageSample{now, requests, limited})
	// Keep the newest sample at least a window old, so that the span
	// covers the whole window once the process has run that long.
	for len(w.samples) > 2 && now.Sub(w.samples[1].at) >= events.APIUsageWindow {
		w.samples = w.samples[1:]
	}
	first := w.samples[0]
	return events.APIUsage{
		At:            now.UTC(),
		WindowSeconds: now.Sub(first.at).Seconds(),
		Requests:      requests - first.requests,
		RateLimited:   limited - first.limited,
	}
}
