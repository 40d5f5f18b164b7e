package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/stripefake"
)

// steadyOptions is one steady run: webhooks sent at a fixed rate, whatever
// the receiver's pace, as Stripe sends them (an open loop, unlike drive).
type steadyOptions struct {
	rate     int
	duration time.Duration
	// thinShare is the share of thin events (v1.customer.updated about a
	// customer of the fake Stripe API, which the processor fetches).
	thinShare float64
	// types are the snapshot event types sent, of the mix; none: all.
	types []string
	// inFlight bounds the requests in flight; a send that finds them all
	// busy waits, and counts as late.
	inFlight int
	// sampleEvery is the period of the memory and lag samples.
	sampleEvery time.Duration
	// drainTimeout is how long after the last send an accepted event may
	// take to become visible before it counts as never visible.
	drainTimeout time.Duration
}

// check says which setting cannot work, if one cannot.
func (so steadyOptions) check() error {
	switch {
	case so.rate <= 0:
		return fmt.Errorf("the rate must be positive, not %d", so.rate)
	case so.duration <= 0:
		return fmt.Errorf("the duration must be positive, not %s", so.duration)
	case so.thinShare < 0 || so.thinShare > 1:
		return fmt.Errorf("-thin-share must be between 0 and 1, not %g", so.thinShare)
	case so.inFlight <= 0:
		return fmt.Errorf("-in-flight must be positive, not %d", so.inFlight)
	case so.sampleEvery <= 0:
		return fmt.Errorf("-sample must be positive, not %s", so.sampleEvery)
	}
	return nil
}

// The processes a sample measures, in the order of sample.rss.
var measured = [...]string{"ingest", "processor", "nats-server", "postgres"}

// sample is the state of the pipeline at one moment of a steady run.
type sample struct {
	at time.Duration // since the first send
	// rss is each measured process's resident memory in bytes: VmRSS for
	// the services; for postgres, the private memory (RssAnon) of the
	// backends serving the run's database, summed, since every backend's
	// VmRSS also counts the shared buffers it touched.
	rss [len(measured)]int64
	// lag is what the processor has not acknowledged: pending plus
	// delivered but unacknowledged messages of its consumer.
	lag uint64
	// load is the machine's one-minute load average.
	load float64
}

// steadyRun is what a steady run saw, event by event.
type steadyRun struct {
	opts  steadyOptions
	total int
	// Per event i, since the first send: when it was due, when ingest
	// answered 2xx (0: not accepted), when its row in stripe.events was
	// seen committed (0: never).
	due, answered, visible []time.Duration
	thin                   []bool
	refused                int
	firstRefusal           error
	late                   int // sends that left more than 10 ms after they were due
	sendTime               time.Duration
	samples                []sample
}

// bench's own connections to the run's database, told apart from the
// processor's backends by this application_name.
const benchApplicationName = "stripesync-bench"

// steady runs a fresh pipeline, with a fake Stripe API for the processor to
// fetch thin events' objects from, and sends it webhooks at a steady rate.
// It measures each event's freshness as ../shared/freshness does: an AFTER
// INSERT trigger on stripe.events NOTIFYs the event's id, which PostgreSQL
// delivers when the transaction commits, against the time ingest's 2xx
// arrived.
func steady(ctx context.Context, o options, work, name string, so steadyOptions) (*steadyRun, error) {
	if err := so.check(); err != nil {
		return nil, err
	}
	fake := stripefake.New(stripefake.Options{})
	if err := stripefake.Seed(fake, stripefake.SeedOptions{Customers: 200, RandSeed: 1}); err != nil {
		return nil, err
	}
	fakeListener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	fakeServer := &http.Server{Handler: fake, ReadHeaderTimeout: 5 * time.Second}
	go fakeServer.Serve(fakeListener)
	defer fakeServer.Close()

	p, err := startPipeline(ctx, o, work, name, []string{
		"STRIPE_API_KEY=" + stripefake.TestKey, "STRIPE_API_BASE=http://" + fakeListener.Addr().String(),
	})
	if err != nil {
		return nil, err
	}
	defer p.stop()

	benchURL := p.dbURL + "&application_name=" + benchApplicationName
	admin, err := pgx.Connect(ctx, benchURL)
	if err != nil {
		return nil, err
	}
	defer admin.Close(context.WithoutCancel(ctx))
	if err := installVisibilityTrigger(ctx, admin); err != nil {
		return nil, err
	}
	listen, err := pgx.Connect(ctx, benchURL)
	if err != nil {
		return nil, err
	}
	defer listen.Close(context.WithoutCancel(ctx))
	if _, err := listen.Exec(ctx, "LISTEN "+visibilityChannel); err != nil {
		return nil, err
	}
	nc, err := nats.Connect(p.natsURL)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}

	r := &steadyRun{opts: so, total: int(float64(so.rate) * so.duration.Seconds())}
	r.due, r.answered, r.visible, r.thin = make([]time.Duration, r.total), make([]time.Duration, r.total), make([]time.Duration, r.total), make([]bool, r.total)
	start := time.Now()
	gen, err := newGenerator(uint64(so.rate), start.Add(-time.Duration(r.total)*time.Second),
		thinEvents{share: so.thinShare, customers: fake.IDs("", "customer")})
	if err == nil {
		err = gen.only(so.types)
	}
	if err != nil {
		return nil, err
	}

	// The listener records when each event became visible.
	var visibleCount atomic.Int64
	listenCtx, stopListening := context.WithCancel(ctx)
	listening := make(chan struct{})
	go func() {
		defer close(listening)
		for {
			n, err := listen.WaitForNotification(listenCtx)
			if err != nil {
				return
			}
			if i, ok := gen.eventIndex(n.Payload); ok && i < r.total && r.visible[i] == 0 {
				r.visible[i] = max(time.Since(start), 1)
				visibleCount.Add(1)
			}
		}
	}()
	defer func() { stopListening(); <-listening }()

	// The sampler records memory and lag until the run has drained.
	sampleCtx, stopSampling := context.WithCancel(ctx)
	sampling := make(chan struct{})
	go func() {
		defer close(sampling)
		tick := time.NewTicker(so.sampleEvery)
		defer tick.Stop()
		for {
			s := takeSample(sampleCtx, p, admin, js, time.Since(start))
			if sampleCtx.Err() != nil {
				return // a sample cut short reads as zeros
			}
			r.samples = append(r.samples, s)
			select {
			case <-sampleCtx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	defer func() { stopSampling(); <-sampling }()

	client := &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: so.inFlight,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	var accepted atomic.Int64
	var mu sync.Mutex
	next := make(chan int) // unbuffered: a send is taken when a sender is free
	var wg sync.WaitGroup
	for range so.inFlight {
		wg.Go(func() {
			for i := range next {
				ev := gen.event(i)
				r.thin[i] = ev.thin
				err := post(ctx, client, p.webhookURL, ev.body, sign(ev.body, secret))
				if err != nil {
					mu.Lock()
					r.refused++
					if r.firstRefusal == nil {
						r.firstRefusal = err
					}
					mu.Unlock()
					continue
				}
				r.answered[i] = max(time.Since(start), 1)
				accepted.Add(1)
			}
		})
	}
	for i := range r.total {
		r.due[i] = time.Duration(i) * time.Second / time.Duration(so.rate)
		if d := r.due[i] - time.Since(start); d > 0 {
			time.Sleep(d)
		}
		select {
		case next <- i:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		if time.Since(start)-r.due[i] > 10*time.Millisecond {
			r.late++
		}
	}
	close(next)
	wg.Wait()
	r.sendTime = time.Since(start)
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	deadline := time.Now().Add(so.drainTimeout)
	for visibleCount.Load() < accepted.Load() && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	return r, ctx.Err()
}

// post sends one signed webhook and fails unless ingest answers 2xx.
func post(ctx context.Context, client *http.Client, url string, body []byte, signature string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Stripe-Signature", signature)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("status %s", resp.Status)
	}
	return nil
}

// takeSample reads every measured process's memory, the consumer's lag and
// the load average. A figure that cannot be read is left at zero.
func takeSample(ctx context.Context, p *pipeline, admin *pgx.Conn, js jetstream.JetStream, at time.Duration) sample {
	s := sample{at: at}
	for i, pr := range []*proc{p.ingest, p.processor, p.nats} {
		s.rss[i], _ = procMemory(pr.cmd.Process.Pid, "VmRSS")
	}
	rows, err := admin.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name <> $2`,
		p.dbName, benchApplicationName)
	if err == nil {
		pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err == nil {
			for _, pid := range pids {
				b, _ := procMemory(int(pid), "RssAnon")
				s.rss[3] += b
			}
		}
	}
	if c, err := js.Consumer(ctx, events.StreamName, events.ConsumerName); err == nil {
		if info, err := c.Info(ctx); err == nil {
			s.lag = info.NumPending + uint64(info.NumAckPending)
		}
	}
	s.load, _ = loadAverage()
	return s
}

// procMemory reads one of the memory fields of /proc/<pid>/status, in bytes.
func procMemory(pid int, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New(field + " not in " + f.Name())
}

// loadAverage is the machine's one-minute load average.
func loadAverage() (float64, error) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, err
	}
	first, _, _ := strings.Cut(string(b), " ")
	return strconv.ParseFloat(first, 64)
}
