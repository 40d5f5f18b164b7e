// Package suite is the faults-under-load suite of make prove: it runs the
// system as real processes (ingest, two processors, a syncer backfill, the
// fake Stripe API, a three-node JetStream cluster with the stream at R3 on
// file storage, and a PostgreSQL cluster of its own), sends a signed event
// set through ingest while it injects faults, and compares the mirror with
// the state the event set must produce.
package suite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stripesync/stripesync/db"
	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/pkg/stack"
	"github.com/stripesync/stripesync/pkg/stripefake"
	"github.com/stripesync/stripesync/prove/internal/check"
	"github.com/stripesync/stripesync/prove/internal/corpus"
	"github.com/stripesync/stripesync/prove/internal/load"
)

// Options size a run.
type Options struct {
	Name string // "quick" or "full", for the report
	Bin  string // holds ingest, processor, syncer, fakestripe and nats-server
	// Events is about how many distinct events are sent, a fifth of them
	// thin; a tenth more are sent twice.
	Events int
	Rate   float64 // webhooks per second, retries included
	// FakeCustomers is the fake's customers per account (platform and two
	// connected accounts): the backfill lists them and thin events name them.
	FakeCustomers int
	// Gap is the pause between one fault and the next; PGOutage how long
	// PostgreSQL stays down.
	Gap, PGOutage time.Duration
	Seed          uint64
	Log           io.Writer // progress lines
	KeepDir       bool      // keep the work directory (logs, stores) even when the run passed
}

// Fault is one kind of fault injected, with how often, and what was
// measured of it.
type Fault struct {
	Name   string
	Count  int
	Detail string
	// UnderLoad is false when the load had finished before the fault.
	UnderLoad bool
}

// Report is what a run found.
type Report struct {
	Distinct, Sends, Thin int
	Accepted              int
	Retries               int64
	Faults                []Fault
	// LeaderRecovery is the time from the stream leader's SIGKILL until
	// every event accepted before it was applied, and until the first
	// event accepted after it was.
	LeaderBacklog, LeaderNext time.Duration
	// LeaderWorst is the longest time from 2xx to row of the events
	// accepted in the 10 s before and after the kill (LeaderWindow of them);
	// RunWorst the same over the whole run, every fault included.
	LeaderWorst, RunWorst time.Duration
	LeaderWindow          int
	Counts                check.Counts
	PeakRSS               []RSS
	Elapsed               time.Duration
	Dir                   string
}

// RSS is the peak resident memory of a process over the run, restarts
// included.
type RSS struct {
	Name  string
	Bytes int64
}

const secret = "whsec_prove_local_secret"

// system is what the suite runs.
type system struct {
	o       Options
	dir     string
	pg      *stack.Postgres
	dbURL   string
	nats    *stack.NATSCluster
	fake    *stack.Process
	fakeURL string
	ingest  *stack.Process
	ingestA string
	procs   []*stack.Process
	procA   []string

	mu       sync.Mutex
	backfill *stack.Process
	syncers  []*stack.Process // every backfill run, for their memory
}

// Run runs the suite once.
func Run(ctx context.Context, o Options) (rep Report, err error) {
	start := time.Now()
	dir, err := os.MkdirTemp("", "stripesync-prove-")
	if err != nil {
		return rep, err
	}
	rep.Dir = dir
	// PostgreSQL runs as the user postgres when the suite runs as root: it
	// must reach its directory under this one.
	if err := os.Chmod(dir, 0o755); err != nil {
		return rep, err
	}
	defer func() {
		if err == nil && rep.Counts.Total() == 0 && !o.KeepDir {
			os.RemoveAll(dir)
			rep.Dir = ""
		}
	}()
	s := &system{o: o, dir: dir}
	defer s.stop()
	if err := s.start(ctx); err != nil {
		return rep, err
	}
	logf(o, "system up in %.1fs (logs in %s)", time.Since(start).Seconds(), dir)

	pool, err := pgxpool.New(ctx, s.dbURL)
	if err != nil {
		return rep, err
	}
	defer pool.Close()
	nc, err := nats.Connect(s.nats.URLs(), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond))
	if err != nil {
		return rep, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return rep, err
	}

	fake := check.Fake{BaseURL: s.fakeURL, Key: stripefake.TestKey, APIVersion: corpus.APIVersion}
	if fake.Accounts, err = fake.AccountIDs(ctx); err != nil {
		return rep, err
	}
	var thin []corpus.ThinTarget
	for _, account := range append([]string{""}, fake.Accounts...) {
		ids, err := fake.CustomerIDs(ctx, account)
		if err != nil {
			return rep, err
		}
		for _, id := range ids {
			thin = append(thin, corpus.ThinTarget{ID: id, Account: account})
		}
	}
	thinEvents := o.Events / 5
	snapObjects := max(1, (o.Events-thinEvents)/4)
	set, err := corpus.Make(corpus.Options{
		SnapshotObjects: snapObjects, SnapshotEvents: o.Events - thinEvents,
		ThinEvents: thinEvents, Thin: thin, Accounts: fake.Accounts,
		DeleteShare: 0.1, DuplicateShare: 0.1, Seed: o.Seed, Now: time.Now(),
	})
	if err != nil {
		return rep, err
	}
	rep.Distinct, rep.Sends, rep.Thin = set.Distinct, len(set.Sends), thinEvents
	logf(o, "%d distinct events (%d sends with duplicates; %d thin over %d fake customers, the rest over %d snapshot customers)",
		set.Distinct, len(set.Sends), thinEvents, len(thin), snapObjects)

	sender := &load.Sender{URL: "http://" + s.ingestA + "/webhooks/stripe", Secret: secret, Senders: 32, Rate: o.Rate}
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		last := time.Now()
		sender.Send(ctx, set.Sends, func(n int) {
			if n%2000 == 0 && time.Since(last) > time.Second {
				last = time.Now()
				logf(o, "sent %d of %d", n, len(set.Sends))
			}
		})
	}()

	f := &faults{s: s, js: js, pool: pool, sender: sender, loadDone: loadDone}
	if err := f.run(ctx); err != nil {
		return rep, fmt.Errorf("injecting faults: %w", err)
	}
	rep.Faults, rep.LeaderBacklog, rep.LeaderNext = f.done, f.backlog, f.next
	select {
	case <-loadDone:
	case <-ctx.Done():
		return rep, ctx.Err()
	}
	st := sender.Stats()
	rep.Accepted, rep.Retries = st.Accepted, st.Retries
	logf(o, "load done: %d accepted, %d attempts retried", st.Accepted, st.Retries)

	if err := s.waitBackfill(ctx); err != nil {
		return rep, err
	}
	if err := settle(ctx, js, pool, 5*time.Minute); err != nil {
		logf(o, "not settled: %v (comparing anyway)", err)
	}
	accepted := sender.Accepted()
	rep.Counts, err = check.Compare(ctx, pool, set.Expected, accepted, fake)
	if err != nil {
		return rep, fmt.Errorf("compare: %w", err)
	}
	if rep.LeaderWorst, rep.LeaderWindow, err = worstLatency(ctx, pool, accepted, f.killedAt, 10*time.Second); err != nil {
		return rep, err
	}
	if rep.RunWorst, _, err = worstLatency(ctx, pool, accepted, time.Time{}, 0); err != nil {
		return rep, err
	}
	s.stop()
	rep.PeakRSS = s.peaks()
	rep.Elapsed = time.Since(start)
	return rep, nil
}

func logf(o Options, format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, "prove: "+format+"\n", args...)
	}
}

func (s *system) start(ctx context.Context) error {
	var err error
	pgDir := filepath.Join(s.dir, "pg")
	if err := os.Mkdir(pgDir, 0o700); err != nil {
		return err
	}
	if s.pg, err = stack.StartPostgres(ctx, "", pgDir); err != nil {
		return err
	}
	if err := s.pg.CreateDatabase(ctx, "stripesync"); err != nil {
		return err
	}
	s.dbURL = s.pg.URL("stripesync")

	natsDir := filepath.Join(s.dir, "nats")
	if err := os.Mkdir(natsDir, 0o755); err != nil {
		return err
	}
	if s.nats, err = stack.StartNATSCluster(ctx, stack.NATSOptions{Binary: filepath.Join(s.o.Bin, "nats-server"), Dir: natsDir}); err != nil {
		return err
	}

	fakeAddr, err := stack.FreeAddr()
	if err != nil {
		return err
	}
	s.fakeURL = "http://" + fakeAddr
	// Little added latency: the fake stands in for Stripe's API, whose
	// speed is not under test.
	if s.fake, err = s.run("fakestripe", "fakestripe", []string{"-addr", fakeAddr, "-customers", fmt.Sprint(s.o.FakeCustomers),
		"-connected", "2", "-latency", "5ms", "-jitter", "5ms"}, nil); err != nil {
		return err
	}
	if err := stack.WaitTCP(ctx, fakeAddr, 30*time.Second); err != nil {
		return err
	}

	if s.ingestA, err = stack.FreeAddr(); err != nil {
		return err
	}
	if s.ingest, err = s.run("ingest", "ingest", nil, []string{"INGEST_ADDR=" + s.ingestA, "STRIPE_WEBHOOK_SECRET=" + secret}); err != nil {
		return err
	}
	if err := stack.WaitHTTP(ctx, "http://"+s.ingestA+"/readyz", time.Minute); err != nil {
		return err
	}
	for i := range 2 {
		addr, err := stack.FreeAddr()
		if err != nil {
			return err
		}
		p, err := s.run(fmt.Sprintf("processor-%d", i+1), "processor", nil, []string{"PROCESSOR_ADDR=" + addr, "DATABASE_URL=" + s.dbURL,
			"STRIPE_API_KEY=" + stripefake.TestKey, "STRIPE_API_BASE=" + s.fakeURL})
		if err != nil {
			return err
		}
		s.procs, s.procA = append(s.procs, p), append(s.procA, addr)
	}
	for _, a := range s.procA {
		if err := stack.WaitHTTP(ctx, "http://"+a+"/readyz", time.Minute); err != nil {
			return err
		}
	}
	return nil
}

// run starts one of the system's binaries with the settings they share.
func (s *system) run(name, binary string, args, env []string) (*stack.Process, error) {
	env = append([]string{"NATS_URL=" + s.nats.URLs(), "NATS_STREAM_REPLICAS=3", "LOG_LEVEL=info"}, env...)
	return stack.Start(stack.Program{Name: name, Path: filepath.Join(s.o.Bin, binary), Args: args, Env: env, Dir: s.dir})
}

// startBackfill runs syncer backfill of the fake, again each time it fails
// (it resumes from its checkpoints), until it completes.
func (s *system) startBackfill(reruns *int) error {
	env := []string{"STRIPE_API_KEY=" + stripefake.TestKey, "STRIPE_API_BASE=" + s.fakeURL}
	p, err := s.run("syncer", "syncer", []string{"backfill"}, env)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.backfill = p
	s.syncers = append(s.syncers, p)
	s.mu.Unlock()
	go func() {
		for {
			<-p.Done()
			if _, err := p.Exited(); err == nil {
				return
			}
			time.Sleep(time.Second)
			np, err := p.Restart()
			if err != nil {
				return
			}
			s.mu.Lock()
			*reruns++
			s.backfill = np
			s.syncers = append(s.syncers, np)
			s.mu.Unlock()
			p = np
		}
	}()
	return nil
}

// waitBackfill waits until a backfill run has completed.
func (s *system) waitBackfill(ctx context.Context) error {
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		p := s.backfill
		s.mu.Unlock()
		if p == nil {
			return errors.New("no backfill was started")
		}
		if done, err := p.Exited(); done && err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return errors.New("the backfill did not complete within 5 minutes")
}

// settle waits until the consumer has nothing pending or unacknowledged and
// no fetch is waiting: everything that will land has landed.
func settle(ctx context.Context, js jetstream.JetStream, pool *pgxpool.Pool, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last string
	for {
		var fetches int64
		c, err := js.Consumer(ctx, events.StreamName, events.ConsumerName)
		if err == nil {
			var info *jetstream.ConsumerInfo
			if info, err = c.Info(ctx); err == nil {
				fetches, _, err = db.PendingFetchStats(ctx, pool)
				if err == nil && info.NumPending == 0 && info.NumAckPending == 0 && fetches == 0 {
					return nil
				}
				last = fmt.Sprintf("%d pending, %d unacknowledged, %d fetches waiting", info.NumPending, info.NumAckPending, fetches)
			}
		}
		if err != nil {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return errors.New(last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (s *system) stop() {
	s.mu.Lock()
	if s.backfill != nil {
		s.backfill.Stop(10 * time.Second)
	}
	s.mu.Unlock()
	if s.ingest != nil {
		s.ingest.Stop(20 * time.Second)
	}
	for _, p := range s.procs {
		p.Stop(20 * time.Second)
	}
	if s.fake != nil {
		s.fake.Stop(5 * time.Second)
	}
	if s.nats != nil {
		s.nats.Stop()
	}
	if s.pg != nil {
		_ = s.pg.Stop(context.Background(), "fast")
	}
}

func (s *system) peaks() []RSS {
	var out []RSS
	add := func(name string, p *stack.Process) {
		if p != nil {
			out = append(out, RSS{name, p.PeakRSS()})
		}
	}
	add("ingest", s.ingest)
	for i, p := range s.procs {
		add(fmt.Sprintf("processor-%d", i+1), p)
	}
	var syncer int64
	for _, p := range s.syncers {
		syncer = max(syncer, p.PeakRSS())
	}
	out = append(out, RSS{"syncer backfill", syncer})
	add("fakestripe", s.fake)
	for _, n := range s.nats.Nodes {
		add("nats-server "+n.Name, n.Proc)
	}
	return out
}

func stackWaitReady(ctx context.Context, addr string) error {
	return stack.WaitHTTP(ctx, "http://"+addr+"/readyz", time.Minute)
}
