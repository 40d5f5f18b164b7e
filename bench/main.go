// Command bench drives the real services on this machine and prints each
// figure beside its ceiling:
//
//   - ingest: webhooks/s and p99 latency at 64 concurrent senders, beside a
//     trivial handler (reads the body, answers 200) under the same load;
//   - processor: events/s into PostgreSQL, beside a plain batched insert of
//     the same rows;
//   - end to end: events/s from the first webhook sent to the last row visible.
//
// It runs bin/ingest, bin/processor and bin/nats-server (make bench builds
// them) as separate processes, against the PostgreSQL at -database-url, in
// databases and a NATS store of its own that it removes at the end.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) > 2 && os.Args[1] == "trivial-server" {
		// The ceiling runs in a process of its own, like ingest.
		srv := &http.Server{Addr: os.Args[2], Handler: trivialHandler(), ReadHeaderTimeout: 5 * time.Second}
		go func() { <-ctx.Done(); srv.Close() }()
		srv.ListenAndServe()
		return
	}
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type options struct {
	adminURL  string
	bin       string
	events    int
	senders   int
	batchSize int
	workers   int
	rounds    int
	// The steady runs': freshness at each of freshRates for freshFor (bench),
	// or a soak.
	freshRates string
	freshFor   time.Duration
	steady     steadyOptions
}

// pipelineFlags are the flags of the system under load, the same in bench
// and soak.
func pipelineFlags(fs *flag.FlagSet, o *options) {
	fs.StringVar(&o.adminURL, "database-url", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL URL of a role that may create databases")
	fs.StringVar(&o.bin, "bin", "bin", "directory holding ingest, processor and nats-server")
	fs.IntVar(&o.batchSize, "batch-size", 500, "processor batch size, also used by the plain insert")
	fs.IntVar(&o.workers, "workers", 2, "processor workers, also the plain insert's connections")
	fs.Float64Var(&o.steady.thinShare, "thin-share", 0.1, "share of thin events (v1.customer.updated, fetched from a fake Stripe API) in steady runs")
	fs.IntVar(&o.steady.inFlight, "in-flight", 32, "most webhooks in flight in steady runs (as ../shared/freshness)")
	fs.DurationVar(&o.steady.sampleEvery, "sample", time.Second, "period of the memory and lag samples of steady runs")
	fs.Func("types", "snapshot event types of steady runs, comma separated (customer.updated, invoice.paid…); default: the whole mix", func(v string) error {
		o.steady.types = strings.Split(v, ",")
		return nil
	})
	fs.DurationVar(&o.steady.drainTimeout, "drain-timeout", 2*time.Minute, "time after the last send of a steady run for accepted events to become visible")
}

// round holds one measurement of each figure and its ceiling, taken side by
// side so that the machine's drift affects both alike.
type round struct {
	trivial, ingest  loadResult
	plain, processor time.Duration
	storage          storage
}

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) > 0 && args[0] == "soak" {
		return soak(ctx, args[1:], out)
	}
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	pipelineFlags(fs, &o)
	fs.IntVar(&o.events, "events", 20000, "webhooks per run")
	fs.IntVar(&o.senders, "senders", 64, "concurrent webhook senders")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds of every measurement; the medians are reported")
	fs.StringVar(&o.freshRates, "freshness-rates", "1000,5000", "steady rates (events/s, comma separated) at which freshness is measured; empty for none")
	fs.DurationVar(&o.freshFor, "freshness-duration", 20*time.Second, "how long each freshness rate is held")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var freshRates []int
	for f := range strings.SplitSeq(o.freshRates, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		rate, err := strconv.Atoi(f)
		if err != nil || rate <= 0 {
			return fmt.Errorf("-freshness-rates: %q is not a positive number of events per second", f)
		}
		freshRates = append(freshRates, rate)
		so := o.steady
		so.rate, so.duration = rate, o.freshFor
		if err := so.check(); err != nil {
			return err
		}
	}
	work, err := os.MkdirTemp("", "stripesync-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	rounds := make([]round, o.rounds)
	var size int
	for i := range rounds {
		// Each round sends new event ids: JetStream would drop repeats as
		// duplicates, which is cheaper than storing them.
		evs, err := corpus(o.events, uint64(i+1))
		if err != nil {
			return err
		}
		if i == 0 {
			for _, ev := range evs {
				size += len(ev.body)
			}
			fmt.Fprintf(out, "%d events per run (mean %d bytes, from stripe-mock's fixtures); %d senders; %d rounds; %d CPUs\n",
				len(evs), size/len(evs), o.senders, o.rounds, runtime.NumCPU())
		}
		if rounds[i], err = measure(ctx, o, work, fmt.Sprint(i), evs); err != nil {
			return err
		}
		fmt.Fprintf(out, "round %d: ingest %.0f/s (trivial %.0f/s), processor %.0f/s (plain insert %.0f/s)\n", i+1,
			rounds[i].ingest.perSecond(), rounds[i].trivial.perSecond(),
			float64(o.events)/rounds[i].processor.Seconds(), float64(o.events)/rounds[i].plain.Seconds())
	}

	e2eEvs, err := corpus(o.events, uint64(o.rounds+1))
	if err != nil {
		return err
	}
	e2e, err := endToEnd(ctx, o, work, e2eEvs)
	if err != nil {
		return err
	}

	fresh := make([]quantiles, len(freshRates))
	for k, rate := range freshRates {
		so := o.steady
		so.rate, so.duration = rate, o.freshFor
		fmt.Fprintf(out, "\nfreshness at a steady %d/s for %s (the mix above, %.0f%% thin; load average before: %s)\n", rate, o.freshFor, 100*so.thinShare, loadAverages())
		r, err := steady(ctx, o, work, fmt.Sprint("fresh", rate), so)
		if err != nil {
			return fmt.Errorf("freshness at %d/s: %w", rate, err)
		}
		r.summary(out)
		fresh[k] = quantilesOf(r.freshness(all))
		fmt.Fprintf(out, "load average after: %s\n", loadAverages())
	}

	n := float64(o.events)
	med := func(f func(r round) float64) float64 {
		v := make([]float64, len(rounds))
		for i, r := range rounds {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	ingestRate, trivialRate := med(func(r round) float64 { return r.ingest.perSecond() }), med(func(r round) float64 { return r.trivial.perSecond() })
	procRate, plainRate := med(func(r round) float64 { return n / r.processor.Seconds() }), med(func(r round) float64 { return n / r.plain.Seconds() })
	fmt.Fprintf(out, "\nmedians of %d rounds (share: median of the rounds' shares)\n", o.rounds)
	fmt.Fprintf(out, "%-28s %12s %14s %8s\n", "figure", "measured", "ceiling", "share")
	// A share is the median of the rounds' shares: each round measures a
	// figure and its ceiling side by side.
	fmt.Fprintf(out, "%-28s %12.0f %14.0f %7.0f%%   (ceiling: trivial handler, same load)\n", "ingest webhooks/s",
		ingestRate, trivialRate, 100*med(func(r round) float64 { return r.ingest.perSecond() / r.trivial.perSecond() }))
	fmt.Fprintf(out, "%-28s %9.1f ms %11.1f ms\n", "ingest p99 latency",
		med(func(r round) float64 { return ms(r.ingest.p99) }), med(func(r round) float64 { return ms(r.trivial.p99) }))
	fmt.Fprintf(out, "%-28s %9.1f ms %11.1f ms\n", "ingest p50 latency",
		med(func(r round) float64 { return ms(r.ingest.p50) }), med(func(r round) float64 { return ms(r.trivial.p50) }))
	fmt.Fprintf(out, "%-28s %12.0f %14.0f %7.0f%%   (ceiling: plain batched insert, batches of %d, %d at once)\n", "processor events/s",
		procRate, plainRate, 100*med(func(r round) float64 { return r.plain.Seconds() / r.processor.Seconds() }), o.batchSize, o.workers)
	fmt.Fprintf(out, "%-28s %12.0f %14s\n", "end-to-end events/s", n/e2e.took.Seconds(), "")
	fmt.Fprintf(out, "%-28s %12.0f %14s\n", "  (ingest side of that run)", e2e.load.perSecond(), "")
	fmt.Fprintf(out, "%-28s %s\n", "  CPU ms per event", e2e.cpu)
	fmt.Fprintf(out, "%-28s %s\n", "  peak RSS", e2e.rss)
	for k, rate := range freshRates {
		fmt.Fprintf(out, "%-28s %6.1f / %.1f ms   (steady %d/s, 2xx -> committed in stripe.events)\n", fmt.Sprintf("freshness p50 / p99 @%d/s", rate), fresh[k].p50, fresh[k].p99, rate)
	}
	fmt.Fprintf(out, "%s (last round)\n", rounds[len(rounds)-1].storage.report(o.events))
	fmt.Fprintf(out, "\nprocessor: from its start (migrations checked) to its last acknowledgement, which follows the last commit\n")
	return nil
}

const secret = "whsec_bench"

// measure takes one round: the trivial handler and ingest under the same
// load, then the plain insert and the processor on what ingest stored.
func measure(ctx context.Context, o options, work, name string, evs []webhookEvent) (round, error) {
	var r round
	trivialAddr := freeAddr()
	trivial, err := start(ctx, work, "trivial"+name, os.Args[0], []string{"trivial-server", trivialAddr}, nil)
	if err != nil {
		return r, err
	}
	if err := waitHTTP(ctx, "http://"+trivialAddr+"/", http.StatusOK); err != nil {
		return r, err
	}
	drive(ctx, "http://"+trivialAddr+"/", evs[:min(2000, len(evs))], secret, o.senders) // warm up
	r.trivial, err = drive(ctx, "http://"+trivialAddr+"/", evs, secret, o.senders)
	trivial.stop()
	if err != nil {
		return r, fmt.Errorf("trivial handler: %w", err)
	}

	natsURL, nats, err := startNATS(ctx, work, "nats"+name, o.bin)
	if err != nil {
		return r, err
	}
	defer nats.stop()
	ingestAddr := freeAddr()
	ingest, err := start(ctx, work, "ingest"+name, filepath.Join(o.bin, "ingest"), nil,
		[]string{"NATS_URL=" + natsURL, "INGEST_ADDR=" + ingestAddr, "STRIPE_WEBHOOK_SECRET=" + secret, "LOG_LEVEL=warn"})
	if err != nil {
		return r, err
	}
	if err := waitHTTP(ctx, "http://"+ingestAddr+"/readyz", http.StatusOK); err != nil {
		return r, err
	}
	r.ingest, err = drive(ctx, "http://"+ingestAddr+"/webhooks/stripe", evs, secret, o.senders)
	ingest.stop()
	if err != nil {
		return r, fmt.Errorf("ingest: %w", err)
	}

	plainURL, dropPlain, err := freshDatabase(ctx, o.adminURL, "bench_plain")
	if err != nil {
		return r, err
	}
	defer dropPlain()
	plainPool, err := pgxpool.New(ctx, plainURL)
	if err != nil {
		return r, err
	}
	r.plain, err = plainInsert(ctx, plainPool, evs, o.batchSize, o.workers)
	plainPool.Close()
	if err != nil {
		return r, fmt.Errorf("plain insert: %w", err)
	}

	procURL, dropProc, err := freshDatabase(ctx, o.adminURL, "bench_processor")
	if err != nil {
		return r, err
	}
	defer dropProc()
	procPool, err := pgxpool.New(ctx, procURL)
	if err != nil {
		return r, err
	}
	defer procPool.Close()
	walFrom, err := walPosition(ctx, procPool)
	if err != nil {
		return r, err
	}
	procStart := time.Now()
	proc, err := start(ctx, work, "processor"+name, filepath.Join(o.bin, "processor"), nil, processorEnv(o, natsURL, procURL))
	if err != nil {
		return r, err
	}
	procDone, err := waitForConsumer(ctx, natsURL, 5*time.Minute)
	proc.stop()
	if err == nil {
		err = countEvents(ctx, procPool, len(evs))
	}
	if err != nil {
		return r, fmt.Errorf("processor: %w", err)
	}
	r.processor = procDone.Sub(procStart)
	if r.storage, err = measureStorage(ctx, procPool, walFrom); err != nil {
		return r, fmt.Errorf("storage: %w", err)
	}
	return r, nil
}

func processorEnv(o options, natsURL, dbURL string) []string {
	return []string{"NATS_URL=" + natsURL, "DATABASE_URL=" + dbURL, "PROCESSOR_ADDR=" + freeAddr(), "LOG_LEVEL=warn",
		fmt.Sprintf("PROCESSOR_BATCH_SIZE=%d", o.batchSize), fmt.Sprintf("PROCESSOR_WORKERS=%d", o.workers)}
}

// endToEnd sends evs through ingest with the processor running, and times
// the first send to the last event applied.
func endToEnd(ctx context.Context, o options, work string, evs []webhookEvent) (e2eResult, error) {
	p, err := startPipeline(ctx, o, work, "e2e", nil)
	if err != nil {
		return e2eResult{}, err
	}
	defer p.stop()
	postmaster, err := postmasterPID(ctx, p.pool)
	if err != nil {
		return e2eResult{}, fmt.Errorf("end to end: CPU of PostgreSQL: %w", err)
	}
	before, err := takeCPU(p, postmaster)
	if err != nil {
		return e2eResult{}, fmt.Errorf("end to end: %w", err)
	}
	start := time.Now()
	load, err := drive(ctx, p.webhookURL, evs, secret, o.senders)
	if err != nil {
		return e2eResult{}, fmt.Errorf("end to end: %w", err)
	}
	done, err := waitForConsumer(ctx, p.natsURL, 5*time.Minute)
	if err != nil {
		return e2eResult{}, fmt.Errorf("end to end: %w", err)
	}
	after, err := takeCPU(p, postmaster)
	if err == nil {
		err = countEvents(ctx, p.pool, len(evs))
	}
	if err != nil {
		return e2eResult{}, fmt.Errorf("end to end: %w", err)
	}
	return e2eResult{took: done.Sub(start), load: load, cpu: cpuPerEvent(before, after, len(evs)), rss: peakRSS(p)}, nil
}

// e2eResult is the end-to-end run: from the first webhook sent to the last
// event acknowledged, the senders' side of it, the CPU per event of each
// process over that time (ms) and their peak memory.
type e2eResult struct {
	took     time.Duration
	load     loadResult
	cpu, rss string
}

// pipeline is the system under load: nats-server, ingest and the processor
// as processes, over a database of its own.
type pipeline struct {
	natsURL, dbURL, dbName, webhookURL string
	nats, ingest, processor            *proc
	pool                               *pgxpool.Pool
	dropDB                             func()
}

// startPipeline starts a pipeline named name and waits until ingest and the
// processor are ready. procEnv is added to the processor's environment.
func startPipeline(ctx context.Context, o options, work, name string, procEnv []string) (_ *pipeline, err error) {
	p := &pipeline{dbName: "bench_" + name}
	defer func() {
		if err != nil {
			p.stop()
		}
	}()
	if p.natsURL, p.nats, err = startNATS(ctx, work, "nats-"+name, o.bin); err != nil {
		return nil, err
	}
	if p.dbURL, p.dropDB, err = freshDatabase(ctx, o.adminURL, p.dbName); err != nil {
		return nil, err
	}
	if p.pool, err = pgxpool.New(ctx, p.dbURL); err != nil {
		return nil, err
	}
	ingestAddr := freeAddr()
	p.webhookURL = "http://" + ingestAddr + "/webhooks/stripe"
	if p.ingest, err = start(ctx, work, "ingest-"+name, filepath.Join(o.bin, "ingest"), nil,
		[]string{"NATS_URL=" + p.natsURL, "INGEST_ADDR=" + ingestAddr, "STRIPE_WEBHOOK_SECRET=" + secret, "LOG_LEVEL=warn"}); err != nil {
		return nil, err
	}
	env := processorEnv(o, p.natsURL, p.dbURL)
	if p.processor, err = start(ctx, work, "processor-"+name, filepath.Join(o.bin, "processor"), nil, append(env, procEnv...)); err != nil {
		return nil, err
	}
	if err := waitHTTP(ctx, "http://"+ingestAddr+"/readyz", http.StatusOK); err != nil {
		return nil, err
	}
	procAddr := strings.TrimPrefix(env[2], "PROCESSOR_ADDR=")
	if err := waitHTTP(ctx, "http://"+procAddr+"/readyz", http.StatusOK); err != nil {
		return nil, err
	}
	return p, nil
}

// stop stops what started, in reverse order, and drops the database.
func (p *pipeline) stop() {
	for _, pr := range []*proc{p.ingest, p.processor, p.nats} {
		if pr != nil {
			pr.stop()
		}
	}
	if p.pool != nil {
		p.pool.Close()
	}
	if p.dropDB != nil {
		p.dropDB()
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// start runs a program with its output in a log file under work.
func start(ctx context.Context, work, name, path string, args, env []string) (*proc, error) {
	logFile, err := os.Create(filepath.Join(work, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w (run make build first)", name, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); logFile.Close(); close(p.done) }()
	return p, nil
}

func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

func startNATS(ctx context.Context, work, name, bin string) (string, *proc, error) {
	port := freePort()
	storeDir := filepath.Join(work, name)
	p, err := start(ctx, work, name, filepath.Join(bin, "nats-server"), []string{
		"-a", "127.0.0.1", "-p", fmt.Sprint(port), "-js", "-sd", storeDir, "-m", fmt.Sprint(freePort()),
	}, nil)
	if err != nil {
		return "", nil, err
	}
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			p.stop()
			return "", nil, fmt.Errorf("nats-server did not start: %w", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return url, p, nil
}

func waitHTTP(ctx context.Context, url string, want int) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == want {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready: %v", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func freeAddr() string { return fmt.Sprintf("127.0.0.1:%d", freePort()) }
