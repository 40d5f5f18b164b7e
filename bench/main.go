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
}

func run(ctx context.Context, args []string, out io.Writer) error {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&o.adminURL, "database-url", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL URL of a role that may create databases")
	fs.StringVar(&o.bin, "bin", "bin", "directory holding ingest, processor and nats-server")
	fs.IntVar(&o.events, "events", 20000, "webhooks per run")
	fs.IntVar(&o.senders, "senders", 64, "concurrent webhook senders")
	fs.IntVar(&o.batchSize, "batch-size", 500, "processor batch size, also used by the plain insert")
	fs.IntVar(&o.workers, "workers", 2, "processor workers")
	if err := fs.Parse(args); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "stripesync-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	const secret = "whsec_bench"

	fmt.Fprintf(out, "generating %d events from stripe-mock fixtures…\n", o.events)
	evs, err := corpus(o.events, 1)
	if err != nil {
		return err
	}
	e2eEvs, err := corpus(o.events, 2)
	if err != nil {
		return err
	}
	var size int
	for _, ev := range evs {
		size += len(ev.body)
	}
	fmt.Fprintf(out, "mean event size %d bytes; %d senders; machine: %d CPUs\n\n", size/len(evs), o.senders, runtime.NumCPU())

	// 1. Ingest beside a trivial handler.
	trivialAddr := freeAddr()
	trivial, err := start(ctx, work, "trivial", os.Args[0], []string{"trivial-server", trivialAddr}, nil)
	if err != nil {
		return err
	}
	if err := waitHTTP(ctx, "http://"+trivialAddr+"/", http.StatusOK); err != nil {
		return err
	}
	drive(ctx, "http://"+trivialAddr+"/", evs[:min(2000, len(evs))], secret, o.senders) // warm up
	trivialRes, err := drive(ctx, "http://"+trivialAddr+"/", evs, secret, o.senders)
	trivial.stop()
	if err != nil {
		return fmt.Errorf("trivial handler: %w", err)
	}

	natsURL, stopNATS, err := startNATS(ctx, work, "nats1", o.bin)
	if err != nil {
		return err
	}
	defer stopNATS()
	ingestAddr := freeAddr()
	ingestEnv := []string{"NATS_URL=" + natsURL, "INGEST_ADDR=" + ingestAddr, "STRIPE_WEBHOOK_SECRET=" + secret, "LOG_LEVEL=warn"}
	ingest, err := start(ctx, work, "ingest", filepath.Join(o.bin, "ingest"), nil, ingestEnv)
	if err != nil {
		return err
	}
	if err := waitHTTP(ctx, "http://"+ingestAddr+"/readyz", http.StatusOK); err != nil {
		return err
	}
	ingestRes, err := drive(ctx, "http://"+ingestAddr+"/webhooks/stripe", evs, secret, o.senders)
	ingest.stop()
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}

	// 2. The processor drains what ingest stored, beside a plain batched insert.
	plainURL, dropPlain, err := freshDatabase(ctx, o.adminURL, "bench_plain")
	if err != nil {
		return err
	}
	defer dropPlain()
	plainPool, err := pgxpool.New(ctx, plainURL)
	if err != nil {
		return err
	}
	plainTime, err := plainInsert(ctx, plainPool, evs, o.batchSize, o.workers)
	plainPool.Close()
	if err != nil {
		return fmt.Errorf("plain insert: %w", err)
	}

	procURL, dropProc, err := freshDatabase(ctx, o.adminURL, "bench_processor")
	if err != nil {
		return err
	}
	defer dropProc()
	procPool, err := pgxpool.New(ctx, procURL)
	if err != nil {
		return err
	}
	defer procPool.Close()
	procEnv := []string{"NATS_URL=" + natsURL, "DATABASE_URL=" + procURL, "PROCESSOR_ADDR=" + freeAddr(), "LOG_LEVEL=warn",
		fmt.Sprintf("PROCESSOR_BATCH_SIZE=%d", o.batchSize), fmt.Sprintf("PROCESSOR_WORKERS=%d", o.workers)}
	procStart := time.Now()
	proc, err := start(ctx, work, "processor", filepath.Join(o.bin, "processor"), nil, procEnv)
	if err != nil {
		return err
	}
	procDone, err := waitForEvents(ctx, procPool, len(evs), 5*time.Minute)
	proc.stop()
	if err != nil {
		return fmt.Errorf("processor: %w", err)
	}
	procTime := procDone.Sub(procStart)
	stopNATS()

	// 3. End to end: webhooks in, rows out, both services running.
	natsURL2, stopNATS2, err := startNATS(ctx, work, "nats2", o.bin)
	if err != nil {
		return err
	}
	defer stopNATS2()
	e2eURL, dropE2E, err := freshDatabase(ctx, o.adminURL, "bench_e2e")
	if err != nil {
		return err
	}
	defer dropE2E()
	e2ePool, err := pgxpool.New(ctx, e2eURL)
	if err != nil {
		return err
	}
	defer e2ePool.Close()
	ingestAddr2 := freeAddr()
	procAddr2 := freeAddr()
	ingest2, err := start(ctx, work, "ingest2", filepath.Join(o.bin, "ingest"), nil,
		[]string{"NATS_URL=" + natsURL2, "INGEST_ADDR=" + ingestAddr2, "STRIPE_WEBHOOK_SECRET=" + secret, "LOG_LEVEL=warn"})
	if err != nil {
		return err
	}
	defer ingest2.stop()
	proc2, err := start(ctx, work, "processor2", filepath.Join(o.bin, "processor"), nil,
		[]string{"NATS_URL=" + natsURL2, "DATABASE_URL=" + e2eURL, "PROCESSOR_ADDR=" + procAddr2, "LOG_LEVEL=warn",
			fmt.Sprintf("PROCESSOR_BATCH_SIZE=%d", o.batchSize), fmt.Sprintf("PROCESSOR_WORKERS=%d", o.workers)})
	if err != nil {
		return err
	}
	defer proc2.stop()
	if err := waitHTTP(ctx, "http://"+ingestAddr2+"/readyz", http.StatusOK); err != nil {
		return err
	}
	if err := waitHTTP(ctx, "http://"+procAddr2+"/readyz", http.StatusOK); err != nil {
		return err
	}
	e2eStart := time.Now()
	e2eLoad, err := drive(ctx, "http://"+ingestAddr2+"/webhooks/stripe", e2eEvs, secret, o.senders)
	if err != nil {
		return fmt.Errorf("end to end: %w", err)
	}
	e2eDone, err := waitForEvents(ctx, e2ePool, len(e2eEvs), 5*time.Minute)
	if err != nil {
		return fmt.Errorf("end to end: %w", err)
	}
	e2eTime := e2eDone.Sub(e2eStart)

	n := float64(len(evs))
	fmt.Fprintf(out, "%-28s %12s %14s %8s\n", "figure", "measured", "ceiling", "share")
	fmt.Fprintf(out, "%-28s %12.0f %14.0f %7.0f%%   (ceiling: trivial handler)\n", "ingest webhooks/s",
		ingestRes.perSecond(), trivialRes.perSecond(), 100*ingestRes.perSecond()/trivialRes.perSecond())
	fmt.Fprintf(out, "%-28s %12s %14s\n", "ingest p99 latency", ms(ingestRes.p99), ms(trivialRes.p99))
	fmt.Fprintf(out, "%-28s %12s %14s\n", "ingest p50 latency", ms(ingestRes.p50), ms(trivialRes.p50))
	fmt.Fprintf(out, "%-28s %12.0f %14.0f %7.0f%%   (ceiling: plain batched insert, batches of %d, %d at once)\n", "processor events/s",
		n/procTime.Seconds(), n/plainTime.Seconds(), 100*plainTime.Seconds()/procTime.Seconds(), o.batchSize, o.workers)
	fmt.Fprintf(out, "%-28s %12.0f %14s\n", "end-to-end events/s", float64(len(e2eEvs))/e2eTime.Seconds(), "")
	fmt.Fprintf(out, "%-28s %12.0f %14s\n", "  (ingest side of that run)", e2eLoad.perSecond(), "")
	fmt.Fprintf(out, "\n%d events per run; processor time includes its start-up and migrations check.\n", len(evs))
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

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

func startNATS(ctx context.Context, work, name, bin string) (string, func(), error) {
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
	return url, p.stop, nil
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
