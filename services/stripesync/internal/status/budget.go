package status

import (
	"cmp"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/stripesync/stripesync/pkg/events"
)

// usageExpiry is the age past which a usage record is left out: its
// process was killed long ago (a process that stops deletes its record).
const usageExpiry = time.Hour

// APIBudget is what the processes calling the Stripe API spend of their
// budget, from the usage records each publishes in the state bucket
// (events.APIUsage, every events.APIUsageInterval). Stripe's limits are per
// account, so the figures are summed over the processes.
type APIBudget struct {
	// PerSecond is the requests per second the fresh records spent over
	// their window (the last minute), summed.
	PerSecond float64 `json:"per_second"`
	// Limit is the sum of the fresh records' configured rates, requests/s.
	Limit float64 `json:"limit"`
	// RateLimited counts the 429s of the fresh records within their window.
	RateLimited int64 `json:"rate_limited"`
	// Processes are the records, fresh and stale (up to an hour old), by
	// service and instance.
	Processes []APIUsage `json:"processes"`
}

// APIUsage is one process's record.
type APIUsage struct {
	events.APIUsage
	// PerSecond is its requests per second over its window.
	PerSecond float64 `json:"per_second"`
	// AgeSeconds is the age of the record.
	AgeSeconds float64 `json:"age_seconds"`
	// Stale is true when the record is older than events.APIUsageStaleAfter:
	// its process is gone or cannot reach NATS, and it is not summed.
	Stale bool `json:"stale"`
}

// addUsage records the value of a usage key; one that does not decode or
// expired is left out.
func (b *APIBudget) addUsage(value []byte, now time.Time) {
	var u events.APIUsage
	if err := json.Unmarshal(value, &u); err != nil {
		return
	}
	age := max(now.Sub(u.At).Seconds(), 0)
	if age > usageExpiry.Seconds() {
		return
	}
	p := APIUsage{APIUsage: u, PerSecond: u.PerSecond(), AgeSeconds: age, Stale: age > events.APIUsageStaleAfter.Seconds()}
	b.Processes = append(b.Processes, p)
	if !p.Stale {
		b.PerSecond += p.PerSecond
		b.Limit += u.Limit
		b.RateLimited += u.RateLimited
	}
}

func (b *APIBudget) sort() {
	slices.SortFunc(b.Processes, func(x, y APIUsage) int {
		return cmp.Or(strings.Compare(x.Service, y.Service), strings.Compare(x.Instance, y.Instance))
	})
}

// Share is PerSecond as a share of Limit, 0 without a limit.
func (b APIBudget) Share() float64 {
	if b.Limit <= 0 {
		return 0
	}
	return b.PerSecond / b.Limit
}
