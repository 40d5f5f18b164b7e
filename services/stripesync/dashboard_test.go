package stripesync_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/db/dbtest"
	"github.com/stripesync/stripesync/pkg/events/eventstest"
	"github.com/stripesync/stripesync/services/stripesync"
)

// dashboardPath is the Grafana dashboard the README points to.
const dashboardPath = "../../docs/grafana/stripesync.json"

// metricName is how a stripesync metric appears in PromQL.
var metricName = regexp.MustCompile(`\bstripe_sync_[a-zA-Z0-9_:]+`)

// dashboardPanel is the part of a Grafana panel the test reads; rows hold
// panels of their own.
type dashboardPanel struct {
	Title   string           `json:"title"`
	Panels  []dashboardPanel `json:"panels"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

// dashboardMetrics returns, per panel title, the metric names its queries
// use; a panel without a stripesync metric in a query is an error.
func dashboardMetrics(data []byte) (map[string][]string, error) {
	var d struct {
		Panels []dashboardPanel `json:"panels"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, err
	}
	out := map[string][]string{}
	var walk func([]dashboardPanel) error
	walk = func(ps []dashboardPanel) error {
		for _, p := range ps {
			if err := walk(p.Panels); err != nil {
				return err
			}
			if len(p.Panels) > 0 && len(p.Targets) == 0 {
				continue // a row
			}
			if len(p.Targets) == 0 {
				return fmt.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				names := metricName.FindAllString(tg.Expr, -1)
				if len(names) == 0 {
					return fmt.Errorf("panel %q: query %q names no stripe_sync_ metric", p.Title, tg.Expr)
				}
				out[p.Title] = append(out[p.Title], names...)
			}
		}
		return nil
	}
	if err := walk(d.Panels); err != nil {
		return nil, err
	}
	return out, nil
}

// unknownMetrics lists "panel: metric" for each metric a panel uses that
// is not in exported.
func unknownMetrics(panels map[string][]string, exported map[string]bool) []string {
	var bad []string
	for title, names := range panels {
		for _, n := range names {
			if !exported[n] {
				bad = append(bad, title+": "+n)
			}
		}
	}
	slices.Sort(bad)
	return bad
}

// scrape returns the names of the samples a /metrics endpoint serves
// (histograms as their _bucket, _sum and _count series).
func scrape(ctx context.Context, url string) (map[string]bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	names := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	return names, sc.Err()
}

func TestDashboardNamesExportedMetrics(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(dashboardPath)
	require.NoError(t, err)
	panels, err := dashboardMetrics(data)
	require.NoError(t, err)
	require.NotEmpty(t, panels)

	t.Run("UnknownMetricFails", func(t *testing.T) {
		t.Parallel()
		bad, err := dashboardMetrics([]byte(`{"panels": [{"title": "Typo", "targets": [{"expr": "rate(stripe_sync_ingest_webhook_total[5m])"}]}]}`))
		require.NoError(t, err)
		require.Equal(t, []string{"Typo: stripe_sync_ingest_webhook_total"},
			unknownMetrics(bad, map[string]bool{"stripe_sync_ingest_webhooks_total": true}))
		_, err = dashboardMetrics([]byte(`{"panels": [{"title": "Empty", "targets": [{"expr": "up"}]}]}`))
		require.ErrorContains(t, err, "names no stripe_sync_ metric")
	})

	t.Run("EveryPanelMetricIsExported", func(t *testing.T) {
		t.Parallel()
		// The whole mirror, as stripesync dev runs it: ingest, processor and
		// syncer through their Run, the fake Stripe sending snapshot and
		// thin webhooks, the syncer backfilling it.
		env := map[string]string{
			"STRIPESYNC_DATA_DIR":       t.TempDir(),
			"DATABASE_URL":              dbtest.NewURL(t),
			"STRIPESYNC_NATS_ADDR":      "127.0.0.1:0",
			"INGEST_ADDR":               "127.0.0.1:0",
			"PROCESSOR_ADDR":            "127.0.0.1:0",
			"SYNCER_ADDR":               "127.0.0.1:0",
			"STRIPESYNC_DEMO_CUSTOMERS": "3",
			"STRIPESYNC_DEMO_INTERVAL":  "100ms",
			"SHUTDOWN_TIMEOUT":          "5s",
		}
		ctx, cancel := context.WithCancel(context.Background())
		out := &syncBuffer{}
		done := make(chan error, 1)
		go func() { done <- stripesync.Run(ctx, []string{"dev"}, func(k string) string { return env[k] }, out) }()
		t.Cleanup(func() {
			cancel()
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(20 * time.Second):
				t.Error("dev did not return within 20s of the cancel")
			}
			if t.Failed() {
				t.Logf("stripesync dev printed:\n%s", out)
			}
		})
		require.Eventually(t, func() bool { return strings.Contains(out.String(), "Stop: Ctrl-C") }, 60*time.Second, 50*time.Millisecond,
			"dev did not start")
		endpoints := regexp.MustCompile(`metrics (http://\S+/metrics)`).FindAllStringSubmatch(out.String(), -1)
		require.Len(t, endpoints, 3, "a metrics address for each service")
		ingestURL := regexp.MustCompile(`bin/send-test-event -url (\S+)`).FindStringSubmatch(out.String())
		require.NotNil(t, ingestURL)

		// An event of an older API version than the mirror's, so that the
		// per-version counter has a series.
		e := eventstest.NewEvent("evt_dashboard_old_version", "customer.created", eventstest.Object(t, "customer"))
		body := e.JSON(t)
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, ingestURL[1], strings.NewReader(string(body)))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Stripe-Signature", eventstest.Sign(body, stripesync.DefaultWebhookSecret, time.Now()))
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)

		// Series of labelled counters appear once something is counted:
		// wait until every metric the dashboard names has been seen.
		exported := map[string]bool{}
		var bad []string
		require.Eventually(t, func() bool {
			for _, ep := range endpoints {
				names, err := scrape(t.Context(), ep[1])
				if err != nil {
					t.Logf("scrape: %v", err)
					return false
				}
				for n := range names {
					exported[n] = true
				}
			}
			bad = unknownMetrics(panels, exported)
			return len(bad) == 0
		}, 60*time.Second, 250*time.Millisecond, "metrics the dashboard names that no service exports")
		if len(bad) > 0 {
			t.Errorf("panels naming metrics no service exports:\n%s", strings.Join(bad, "\n"))
		}
	})
}
