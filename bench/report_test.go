package main

import (
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// syntheticRun is a steady run of 3 s at 1000/s in which event i becomes
// visible i%10 ms after its 2xx, every tenth event is thin, and the last
// event was never accepted.
func syntheticRun() *steadyRun {
	r := &steadyRun{opts: steadyOptions{rate: 1000, duration: 3 * time.Second, drainTimeout: time.Second}, total: 3000}
	r.due, r.answered, r.visible, r.thin = make([]time.Duration, r.total), make([]time.Duration, r.total), make([]time.Duration, r.total), make([]bool, r.total)
	for i := range r.total {
		r.due[i] = time.Duration(i) * time.Millisecond
		r.thin[i] = i%10 == 0
		if i == r.total-1 {
			continue
		}
		r.answered[i] = r.due[i] + time.Millisecond
		r.visible[i] = r.answered[i] + time.Duration(i%10)*time.Millisecond
	}
	r.sendTime = 3 * time.Second
	for s := range 4 {
		r.samples = append(r.samples, sample{at: time.Duration(s) * time.Second, rss: [4]int64{10 << 20, 20 << 20, 30 << 20, int64(40+s) << 20}, lag: uint64(100 * s), load: 1.5})
	}
	return r
}

func TestSteadyRunReport(t *testing.T) {
	t.Parallel()
	r := syntheticRun()

	t.Run("Summary", func(t *testing.T) {
		t.Parallel()
		var out strings.Builder
		r.summary(&out)
		require.Contains(t, out.String(), "accepted 2999; visible 2999; never visible within 1s of the last send 0")
		require.Contains(t, out.String(), "all events (  2999): p50    4.0  p90    8.0  p99    9.0  max     9.0 ms")
		require.Contains(t, out.String(), "thin       (   300): p50    0.0")
	})

	t.Run("TableHasARowPerWindow", func(t *testing.T) {
		t.Parallel()
		var out strings.Builder
		r.table(&out, time.Second)
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		require.Len(t, lines, 1+4+1, out.String()) // header, 0-1 … 3-4 (the last sample), peak RSS
		require.Regexp(t, `^\s*0-1\s+1000\s+4\.0\s+9\.0\s+9\.0\s+0\s+10\.0\s+20\.0\s+30\.0\s+40\.0\s+1\.50$`, lines[1])
		require.Regexp(t, `^\s*3-4\s+0\s+0\.0\s+0\.0\s+0\.0\s+300\s.*43\.0`, lines[4], "the drain after the last send has a row")
		require.Contains(t, lines[5], "postgres 43.0 MiB")
	})

	t.Run("PlotIsAPNG", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "out", "soak.png")
		require.NoError(t, r.plot(path, "synthetic"))
		f, err := os.Open(path)
		require.NoError(t, err)
		defer f.Close()
		cfg, err := png.DecodeConfig(f)
		require.NoError(t, err)
		require.Greater(t, cfg.Width, 500)
	})
}

func TestProcMemory(t *testing.T) {
	t.Parallel()
	rss, err := procMemory(os.Getpid(), "VmRSS")
	require.NoError(t, err)
	require.Greater(t, rss, int64(1<<20))
	_, err = procMemory(os.Getpid(), "NoSuchField")
	require.Error(t, err)
}
