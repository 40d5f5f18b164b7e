package status

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/stripesync/stripesync/pkg/events"
)

// Thresholds decide what in a Report needs attention.
type Thresholds struct {
	// MaxPending is the most messages the processor's consumer may have
	// not delivered yet (its lag) before it needs attention.
	MaxPending uint64 `json:"max_pending"`
	// MaxUnackedAge is the oldest a message not yet acknowledged may be:
	// a processor that stopped, or a message failing again and again.
	MaxUnackedAge time.Duration `json:"max_unacked_age"`
	// MaxFetchWait is the longest an object may wait for a fetch from the
	// API, counted from the event that named it.
	MaxFetchWait time.Duration `json:"max_fetch_wait"`
}

// DefaultThresholds: 10,000 messages pending, a message unacknowledged for
// 5 minutes, an object waiting 15 minutes for its fetch.
var DefaultThresholds = Thresholds{MaxPending: 10_000, MaxUnackedAge: 5 * time.Minute, MaxFetchWait: 15 * time.Minute}

// Attention lists what needs an operator, one sentence each, under
// r.Thresholds: a source that could not be read, a stream or consumer
// missing or losing messages, a lag or an oldest unacknowledged message
// over its threshold, any dead letter, an object waiting for a fetch too
// long. Empty when all is well.
func (r *Report) Attention() []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	for _, u := range r.Unavailable {
		add("cannot read %s", u)
	}
	th := r.Thresholds
	switch {
	case r.busUnknown:
	case r.Stream == nil:
		add("stream %s does not exist: ingest has not run", events.StreamName)
	case r.Consumer == nil:
		add("consumer %s does not exist: the processor has not run", events.ConsumerName)
	}
	if r.Stream != nil && r.Stream.LostMessages > 0 {
		add("stream %s lost %d messages", events.StreamName, r.Stream.LostMessages)
	}
	if c := r.Consumer; c != nil {
		if c.Pending > th.MaxPending {
			add("consumer %s has %d messages pending, over %d", events.ConsumerName, c.Pending, th.MaxPending)
		}
		if age := seconds(c.OldestUnackedSeconds); !c.OldestUnacked.IsZero() && age > th.MaxUnackedAge {
			add("the oldest unacknowledged message is %s old, over %s", round(age), th.MaxUnackedAge)
		}
	}
	if r.DeadLettersTotal > 0 {
		add("%d dead letters (stripe.dead_letters; replay them once the cause is fixed)", r.DeadLettersTotal)
	}
	if p := r.PendingFetches; p.Waiting > 0 && seconds(p.OldestSeconds) > th.MaxFetchWait {
		add("%d objects wait for a fetch, the oldest for %s, over %s", p.Waiting, round(seconds(p.OldestSeconds)), th.MaxFetchWait)
	}
	return out
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// round makes a duration short to read: to the second, or the minute past
// an hour.
func round(d time.Duration) time.Duration {
	if d >= time.Hour {
		return d.Round(time.Minute)
	}
	if d >= time.Second {
		return d.Round(time.Second)
	}
	return d.Round(time.Millisecond)
}

// MarshalJSON writes the durations as Go durations ("5m0s").
func (t Thresholds) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		MaxPending    uint64 `json:"max_pending"`
		MaxUnackedAge string `json:"max_unacked_age"`
		MaxFetchWait  string `json:"max_fetch_wait"`
	}{t.MaxPending, t.MaxUnackedAge.String(), t.MaxFetchWait.String()})
}
