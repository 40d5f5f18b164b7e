package backfill

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v76/form"

	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/stripeapi"
	"github.com/stripesync/stripesync/pkg/stripefake"
)

var (
	scaleAccounts = flag.Int("scale.accounts", 10000, "BenchmarkConnectAtScale: the platform's connected accounts")
	scaleRate     = flag.Float64("scale.rate", 800, "BenchmarkConnectAtScale: the backfill's budget, requests/s")
	scaleHeap     = flag.String("scale.heapprofile", "", "BenchmarkConnectAtScale: write a heap profile here as the run ends")
)

// scaleResources are what BenchmarkConnectAtScale lists of each account: a
// page each in a seeded account, each its own endpoint, so that together
// they can use the whole budget.
var scaleResources = []string{"tax_rate", "coupon", "product", "promotion_code"}

// scaleHugePages is how many pages of each of its tax rates, coupons and
// products the huge account has, against one in every other account.
const scaleHugePages = 20

// BenchmarkConnectAtScale backfills a platform with -scale.accounts
// connected accounts (10,000) from the fake, four resources of each, at a
// budget of -scale.rate requests/s (800: the syncer's backfill share of a
// fake that allows 1,000/s in all and 250/s per endpoint, Stripe's live
// limits ten times over, so that the run takes a minute, not ten). The
// account /v1/accounts lists first, planned first, has scaleHugePages pages
// of three of the resources (2,000 objects each). It reports the run's
// wall time, its requests/s beside the budget, how much the process's peak
// RSS (VmHWM, reset after seeding) and its live heap grew over what the
// fake's accounts hold, at the peak and after the run, per account (the
// peak live heap counts what was allocated while the collector marked the
// fake's large heap: garbage soon after), and how many of the small accounts were
// complete before the huge one. The stream is purged as the run goes, as a
// processor that keeps up frees it, so that what grows is the syncer's.
//
//	cd services/syncer && go test -run '^$' -bench ConnectAtScale -benchtime 1x ./internal/backfill
//	cd services/syncer && go test -run '^$' -bench ConnectAtScale -benchtime 1x ./internal/backfill -scale.accounts 1000
func BenchmarkConnectAtScale(b *testing.B) {
	for range b.N {
		connectAtScale(b, *scaleAccounts, *scaleRate)
	}
}

func connectAtScale(b *testing.B, accounts int, budget float64) {
	b.StopTimer()
	stripeRate := budget / 0.8 // the syncer keeps a fifth for catch-ups and fetches
	tb := setup(b, stripefake.Options{RateLimit: stripeRate, EndpointRateLimit: stripeRate / 4},
		stripefake.SeedOptions{ConnectedAccounts: accounts})
	lim := stripeapi.NewLimiter(budget, max(1, int(budget/10)), stripeapi.WithEndpointRate(stripeRate/4))
	api := stripeapi.New(tb.url, stripefake.TestKey, lim, tb.log, stripeapi.WithAPIVersion(stripeapi.DefaultAPIVersion))

	// The huge account is the first listed: planned first, it is what
	// could hold the workers while the small ones wait.
	var huge string
	require.ErrorIs(b, api.List(b.Context(), "/v1/accounts", stripeapi.ListParams{}, func(pg *stripeapi.Page, _ *form.Values) error {
		huge = pg.Items[0].ID
		return errEnoughAccounts
	}), errEnoughAccounts)
	for _, object := range []string{"tax_rate", "coupon", "product"} {
		for i := range scaleHugePages * 100 {
			_, err := tb.fake.Create(huge, object, map[string]any{"id": fmt.Sprintf("%s_huge%05d", object, i)})
			require.NoError(b, err)
		}
	}

	// Which account each object message is of, in the order published.
	nc, err := nats.Connect(tb.ns.ClientURL())
	require.NoError(b, err)
	defer nc.Close()
	var (
		mu   sync.Mutex
		last = map[string]time.Time{} // account → when its last message came
	)
	sub, err := nc.Subscribe(events.ObjectSubjectPrefix+">", func(m *nats.Msg) {
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		last[m.Header.Get(events.HeaderAccount)] = now
	})
	require.NoError(b, err)
	defer sub.Unsubscribe()
	stream, err := tb.js.Stream(b.Context(), events.StreamName)
	require.NoError(b, err)
	purged := make(chan struct{})
	stopPurge := make(chan struct{})
	go func() {
		defer close(purged)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopPurge:
				return
			case <-t.C:
				_ = stream.Purge(b.Context())
			}
		}
	}()

	req := request(b, events.SyncRequest{Resources: scaleResources})
	e := New(tb.log, api, tb.js, tb.kv, Config{Concurrency: 32, Limiter: lim}, NewProgress())
	// The fake's accounts make a large heap, which the garbage collector
	// lets grow by as much again before it runs (GOGC 100): the peak RSS
	// measures its pacing as much as what the run keeps; the live heap
	// after each collection is what the run keeps.
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	liveBefore := liveHeap()
	rssBefore := procStatus(b, "VmRSS")
	resetPeakRSS(b)
	var peakLive atomic.Uint64
	stop := sampleLiveHeap(&peakLive)
	before := tb.fake.Stats().Requests
	start := time.Now()
	b.StartTimer()
	require.NoError(b, e.Run(b.Context(), req))
	b.StopTimer()
	elapsed := time.Since(start)
	stop()
	runtime.GC()
	retained := int64(liveHeap()) - int64(liveBefore)
	if *scaleHeap != "" {
		f, err := os.Create(*scaleHeap)
		require.NoError(b, err)
		require.NoError(b, pprof.WriteHeapProfile(f))
		require.NoError(b, f.Close())
	}
	close(stopPurge)
	<-purged
	requests := tb.fake.Stats().Requests - before
	require.Zero(b, tb.fake.Stats().RateLimited, "answers 429")
	rssGrowth := procStatus(b, "VmHWM") - rssBefore
	heapGrowth := int64(peakLive.Load()) - int64(liveBefore)

	require.Eventually(b, func() bool { // the subscription has every message
		mu.Lock()
		defer mu.Unlock()
		return len(last) == accounts+1 // and the platform
	}, time.Minute, 50*time.Millisecond)
	mu.Lock()
	hugeDone, before1, end := last[huge], 0, start
	for acct, at := range last {
		if acct != huge && acct != "" && at.Before(hugeDone) {
			before1++
		}
		if at.After(end) {
			end = at
		}
	}
	mu.Unlock()
	// What the small accounts' pace over the whole run would have
	// completed by the time the huge one was: fewer done by then would be
	// the huge one holding them back.
	atPace := float64(accounts-1) * hugeDone.Sub(start).Seconds() / end.Sub(start).Seconds()

	perSecond := float64(requests) / elapsed.Seconds()
	b.ReportMetric(elapsed.Seconds(), "s/run")
	b.ReportMetric(perSecond, "requests/s")
	b.ReportMetric(perSecond/budget, "budget-share")
	b.ReportMetric(float64(rssGrowth)/float64(accounts), "RSS-B/account")
	b.ReportMetric(float64(heapGrowth)/float64(accounts), "live-heap-B/account")
	b.ReportMetric(float64(retained)/float64(accounts), "retained-B/account")
	b.ReportMetric(float64(before1), "small-done-before-huge")
	b.Logf("%d accounts: %s, %d requests, %.0f/s against a budget of %.0f/s; RSS %d MiB after seeding, peak +%d MiB during the run; live heap %d MiB, peak +%d MiB, +%d MiB after the run; "+
		"the huge account complete at %s, and %d small accounts before it (%.0f at the run's pace)",
		accounts, elapsed.Round(time.Millisecond), requests, perSecond, budget, rssBefore>>20, rssGrowth>>20,
		liveBefore>>20, heapGrowth>>20, retained>>20, hugeDone.Sub(start).Round(time.Millisecond), before1, atPace)
}

// liveHeap is the heap the last garbage collection found live, in bytes.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// sampleLiveHeap records the largest live heap until stop is called.
func sampleLiveHeap(peak *atomic.Uint64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if n := liveHeap(); n > peak.Load() {
				peak.Store(n)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// errEnoughAccounts stops a listing after its first page.
var errEnoughAccounts = errors.New("first page")

// procStatus reads a field of /proc/self/status in bytes (VmRSS, VmHWM).
func procStatus(tb testing.TB, field string) int64 {
	tb.Helper()
	raw, err := os.ReadFile("/proc/self/status")
	require.NoError(tb, err)
	for line := range bytes.Lines(raw) {
		name, value, ok := strings.Cut(string(line), ":")
		if ok && name == field {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
			require.NoError(tb, err)
			return kb << 10
		}
	}
	tb.Fatalf("no %s in /proc/self/status", field)
	return 0
}

// resetPeakRSS sets VmHWM to the RSS now (Linux: clear_refs 5), so that it
// measures the peak of what follows.
func resetPeakRSS(tb testing.TB) {
	tb.Helper()
	require.NoError(tb, os.WriteFile("/proc/self/clear_refs", []byte("5"), 0))
}
