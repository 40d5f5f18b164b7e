package schedule_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/services/syncer/internal/schedule"
)

func TestSchedule(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	for _, c := range []struct {
		spec       string
		slot, next time.Time
		longest    time.Duration
	}{
		{"5m", time.Date(2026, 3, 14, 15, 5, 0, 0, time.UTC), time.Date(2026, 3, 14, 15, 10, 0, 0, time.UTC), 5 * time.Minute},
		{"24h", time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC), 24 * time.Hour},
		{"0 3 * * *", time.Date(2026, 3, 14, 3, 0, 0, 0, time.UTC), time.Date(2026, 3, 15, 3, 0, 0, 0, time.UTC), 24 * time.Hour},
		{"*/15 * * * *", time.Date(2026, 3, 14, 15, 0, 0, 0, time.UTC), time.Date(2026, 3, 14, 15, 15, 0, 0, time.UTC), 15 * time.Minute},
		{"0 4 1 * *", time.Date(2026, 3, 1, 4, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 4, 0, 0, 0, time.UTC), 31 * 24 * time.Hour},
		{"@weekly", time.Date(2026, 3, 8, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC), 7 * 24 * time.Hour},
	} {
		s, err := schedule.Parse(c.spec)
		require.NoError(t, err, c.spec)
		require.False(t, s.Off(), c.spec)
		require.Equal(t, c.slot, s.Slot(at), "%s: slot", c.spec)
		require.Equal(t, c.next, s.Next(at), "%s: next", c.spec)
		require.Equal(t, c.slot, s.Slot(c.slot), "%s: a slot's start is in the slot", c.spec)
		require.Equal(t, c.longest, s.Longest(at), "%s: longest", c.spec)
		require.Equal(t, c.spec, s.String())
	}
	for _, off := range []string{"", "0", " 0 "} {
		s, err := schedule.Parse(off)
		require.NoError(t, err)
		require.True(t, s.Off(), "%q", off)
	}
	for _, bad := range []string{"soon", "-5m", "61 * * * *", "* * *"} {
		_, err := schedule.Parse(bad)
		require.Error(t, err, "%q", bad)
	}
}
