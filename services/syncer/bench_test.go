package syncer

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/events/eventstest"
	"github.com/stripesync/stripesync/pkg/stripefake"
)

// BenchmarkBackfill backfills a large seeded account from the fake Stripe API
// with Stripe's live-mode rate limits (100 requests/s, and 25/s on each
// endpoint) and a realistic list latency, and reports objects/s beside the
// ceiling: min(the syncer's rate, 25/s × the endpoints the run requested) ×
// 100 objects a page. Run it with
//
//	go test -run '^$' -bench Backfill -benchtime 1x ./services/syncer/
//
// Objects count everything stored, the items of nested lists that come
// inside a page included (invoice lines), so a page can bring more than 100.
// Resources with an account-wide list can reach the ceiling. Payment methods
// and tax ids are listed per customer (Stripe has no account-wide list), a
// request for one or two objects, so a whole account stays below it; for it
// the figure that shows the parallelism is requests/s beside the rate.
//
// The ceiling counts every endpoint as if it had work for the whole run. The
// best a run can do with its own requests is less when one endpoint holds
// most of them: each endpoint's requests take at least their count / 25 s,
// and all of them their count / the syncer's rate. best-requests/s is the
// requests over the longer of the two, and %-of-best the run's share of it.
// busiest-endpoint-second is the most requests one endpoint had in any
// second, at the fake: at most 25.
func BenchmarkBackfill(b *testing.B) {
	const stripeLimit, endpointLimit = 100, 25
	const syncerRate = 95
	for _, bc := range []struct {
		name, resources string
		customers       int
	}{
		{"AccountWideLists", "customers,invoices,charges,payment_intents,balance_transactions,invoiceitems,prices", 10000},
		{"WholeAccount", "", 1000},
	} {
		b.Run(bc.name, func(b *testing.B) {
			fake := stripefake.New(stripefake.Options{
				RateLimit: stripeLimit, Burst: 20, EndpointRateLimit: endpointLimit, RecordRequests: true,
				Latency: 120 * time.Millisecond, LatencyJitter: 80 * time.Millisecond,
			})
			require.NoError(b, stripefake.Seed(fake, stripefake.SeedOptions{
				Customers: bc.customers, ConnectedAccounts: 2, ConnectedCustomers: bc.customers / 10, RandSeed: 1}))
			url := fake.Start(b)
			for b.Loop() {
				ns := eventstest.RunServer(b)
				env := map[string]string{
					"STRIPE_API_KEY": stripefake.TestKey, "STRIPE_API_BASE": url, "NATS_URL": ns.ClientURL(),
					"SYNCER_RATE_LIMIT": fmt.Sprint(syncerRate), "SYNCER_ENDPOINT_RATE_LIMIT": fmt.Sprint(endpointLimit),
					"SYNCER_CONCURRENCY": "48", "LOG_LEVEL": "warn",
				}
				args := []string{"backfill"}
				if bc.resources != "" {
					args = append(args, "-resources", bc.resources)
				}
				before, recorded := fake.Stats(), len(fake.Requests())
				start := time.Now()
				require.NoError(b, Run(context.Background(), args, func(k string) string { return env[k] }, &strings.Builder{}))
				elapsed := time.Since(start).Seconds()
				after := fake.Stats()

				objects := streamed(b, ns.ClientURL())
				reqs := fake.Requests()[recorded:]
				perEndpoint := map[string]int{}
				for _, r := range reqs {
					perEndpoint[r.Endpoint]++
				}
				rate := min(syncerRate, endpointLimit*float64(len(perEndpoint)))
				ceiling := rate * 100
				// The shortest run of these requests: each endpoint's at
				// its limit, all of them at the syncer's rate.
				shortest := float64(len(reqs)) / syncerRate
				for _, n := range perEndpoint {
					shortest = max(shortest, float64(n)/endpointLimit)
				}
				busiest, _ := stripefake.MostInWindow(reqs, time.Second)
				requests := float64(after.Requests - before.Requests)
				b.ReportMetric(float64(objects)/elapsed, "objects/s")
				b.ReportMetric(ceiling, "ceiling-objects/s")
				b.ReportMetric(100*float64(objects)/elapsed/ceiling, "%-of-ceiling")
				b.ReportMetric(requests/elapsed, "requests/s")
				b.ReportMetric(100*requests/elapsed/rate, "%-of-rate")
				b.ReportMetric(float64(len(reqs))/shortest, "best-requests/s")
				b.ReportMetric(100*requests/elapsed/(float64(len(reqs))/shortest), "%-of-best")
				b.ReportMetric(float64(len(perEndpoint)), "endpoints")
				b.ReportMetric(float64(slices.Max(slices.Collect(maps.Values(busiest)))), "busiest-endpoint-second")
				b.ReportMetric(float64(objects)/requests, "objects/request")
				b.ReportMetric(float64(after.RateLimited-before.RateLimited), "429s")
			}
		})
	}
}

func streamed(b *testing.B, url string) uint64 {
	nc, err := nats.Connect(url)
	require.NoError(b, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(b, err)
	s, err := js.Stream(context.Background(), events.StreamName)
	require.NoError(b, err)
	info, err := s.Info(context.Background())
	require.NoError(b, err)
	return info.State.Msgs
}
