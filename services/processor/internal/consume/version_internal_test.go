package consume

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

func TestVersionWatch(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	w := newVersionWatch(slog.New(slog.NewTextHandler(&logs, nil)), "2026-10-28.endive", prometheus.NewRegistry())
	for _, v := range []string{"2026-10-28.endive", "", "2023-10-16", "2023-10-16", "2025-03-31.basil"} {
		w.observe(v)
	}
	require.Equal(t, float64(2), testutil.ToFloat64(w.other.WithLabelValues("2023-10-16")))
	require.Equal(t, float64(1), testutil.ToFloat64(w.other.WithLabelValues("2025-03-31.basil")))
	require.Equal(t, float64(0), testutil.ToFloat64(w.other.WithLabelValues("2026-10-28.endive")))
	require.Equal(t, 2, strings.Count(logs.String(), "another API version"), "one warning per version:\n%s", logs.String())

	var none *versionWatch
	none.observe("2023-10-16") // no version configured: nothing to compare with
}
