package syncer

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/pkg/catalog"
	"github.com/stripesync/stripesync/services/syncer/internal/backfill"
)

func TestRenderProgress(t *testing.T) {
	t.Parallel()
	s := screen{
		Resources: []resourceLine{
			{Relation: "customers", total: total{Objects: 12345, Share: 0.5, Ranged: true, Rate: 410, ETA: 90 * time.Second}},
			{Relation: "invoice_line_items", total: total{Objects: 800, Rate: 20}},
			{Relation: "prices", total: total{Objects: 7, Share: 1, Ranged: true}},
			{Relation: "coupons", total: total{Share: 0, Ranged: true}},
		},
		total:    total{Objects: 13152, Share: 0.25, Ranged: true, Rate: 430, ETA: 10 * time.Minute},
		Requests: 140, RateLimited: 2, Elapsed: 31*time.Second + 400*time.Millisecond,
	}
	require.Equal(t, []string{
		"customers          [██████████··········]  50%      12345 objects      410/s  ETA 1m30s",
		"invoice_line_items                                    800 objects       20/s",
		"prices             [████████████████████] 100%          7 objects        0/s  done",
		"coupons            [····················]   0%          0 objects        0/s  ETA ?",
		"total              [█████···············]  25%      13152 objects      430/s  ETA 10m",
		"140 requests, 2 rate-limited, 31s",
	}, renderProgress(s))

	s.Final = true
	lines := renderProgress(s)
	require.Equal(t, "total              [█████···············]  25%      13152 objects      430/s", lines[4], "no ETA on the final screen")
	require.Equal(t, "backfill complete: 140 requests, 2 rate-limited, 31s", lines[5])
	s.Err = errors.New("backfill incomplete: context canceled")
	require.Equal(t, "backfill stopped (backfill incomplete: context canceled): 140 requests, 2 rate-limited, 31s; the same request resumes it",
		renderProgress(s)[5])
}

func TestProgressScreen(t *testing.T) {
	t.Parallel()
	customer, line := catalog.MustLookup("customer"), catalog.MustLookup("line_item")
	start := time.Unix(1000, 0)
	then := reading{
		at:       start.Add(10 * time.Second),
		objects:  map[*catalog.Resource]int64{customer: 1000, line: 50},
		coverage: map[*catalog.Resource]backfill.Coverage{customer: {Planned: 1000, Covered: 100, Tasks: 1}},
	}
	now := reading{
		at:       start.Add(20 * time.Second),
		objects:  map[*catalog.Resource]int64{customer: 3000, line: 150},
		coverage: map[*catalog.Resource]backfill.Coverage{customer: {Planned: 1000, Covered: 300, Tasks: 1}},
	}
	s := progressScreen(start, then, now, []*catalog.Resource{customer, line})
	require.Equal(t, 20*time.Second, s.Elapsed)
	require.Len(t, s.Resources, 2)
	c := s.Resources[0]
	require.Equal(t, "customers", c.Relation)
	require.Equal(t, 200.0, c.Rate, "2000 objects in the last 10s")
	require.InDelta(t, 0.3, c.Share, 1e-9)
	// 20% covered in 10s, 70% left: 35s.
	require.Equal(t, 35*time.Second, c.ETA)
	require.False(t, s.Resources[1].Ranged, "items have no range of their own")
	require.Equal(t, 10.0, s.Resources[1].Rate)
	require.Equal(t, int64(3150), s.Objects)
	require.Equal(t, 210.0, s.Rate)
	require.Equal(t, 35*time.Second, s.ETA, "the total's share is the customers' alone")

	// The first reading measures since the start.
	s = progressScreen(start, now, now, []*catalog.Resource{customer})
	require.Equal(t, 150.0, s.Resources[0].Rate)
	require.InDelta(t, 46.67, s.Resources[0].ETA.Seconds(), 0.01, "30% in 20s, 70% left")
}

func TestDisplayDraw(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	d := &display{out: &out, tty: true}
	n := d.draw([]string{"a", "b", "c"}, 0)
	require.Equal(t, 3, n)
	require.Equal(t, "\r\033[Ka\n\r\033[Kb\n\r\033[Kc\n\033[J", out.String())
	out.Reset()
	d.draw([]string{"final"}, n)
	require.Equal(t, "\033[3A\r\033[Kfinal\n\033[J", out.String(), "the lines below the shorter screen are cleared")
}
