package stripeapi

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestUsageWindow(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	w := usageWindow{samples: []usageSample{{at: start}}}
	at := func(s int) time.Time { return start.Add(time.Duration(s) * time.Second) }

	// Until a minute has passed, the window is the time since the start.
	u := w.observe(at(10), 50, 1)
	require.Equal(t, 10.0, u.WindowSeconds)
	require.EqualValues(t, 50, u.Requests)
	require.EqualValues(t, 1, u.RateLimited)
	for s := 20; s <= 60; s += 10 {
		w.observe(at(s), int64(5*s), 1)
	}
	// Then it covers the last minute or a little more (up to an interval):
	// the totals of the newest observation at least a minute old.
	u = w.observe(at(70), 400, 3)
	require.Equal(t, 60.0, u.WindowSeconds)
	require.EqualValues(t, 400-50, u.Requests)
	require.EqualValues(t, 2, u.RateLimited)
	u = w.observe(at(75), 410, 3)
	require.Equal(t, 65.0, u.WindowSeconds, "at(10) is the newest a minute old")
	require.EqualValues(t, 410-50, u.Requests)
	require.LessOrEqual(t, len(w.samples), 9, "the observations kept stay bounded")
	for s := 80; s < 1000; s += 10 {
		w.observe(at(s), int64(s), 3)
	}
	require.LessOrEqual(t, len(w.samples), 9)
}
