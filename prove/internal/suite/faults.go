package suite

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stripesync/stripesync/db"
	"github.com/stripesync/stripesync/pkg/events"
	"github.com/stripesync/stripesync/prove/internal/load"
)

// faults injects the suite's faults one after the other while the load
// runs, each Gap after the one before.
type faults struct {
	s        *system
	js       jetstream.JetStream
	pool     *pgxpool.Pool
	sender   *load.Sender
	loadDone <-chan struct{}

	done          []Fault
	backlog, next time.Duration
	killedAt      time.Time
	reruns        int
}

func (f *faults) run(ctx context.Context) error {
	steps := []struct {
		name string
		do   func(context.Context) (int, string, error)
	}{
		{"processor SIGKILL under load (restarted)", f.killProcessor},
		{"stream leader SIGKILL (restarted)", f.killLeader},
		{"syncer backfill started", f.backfill},
		{"cluster nodes restarted one at a time", f.rollCluster},
		{fmt.Sprintf("PostgreSQL stopped %s (pg_ctl stop -m fast)", f.s.o.PGOutage), f.stopPostgres},
		{"ingest restarted under load (SIGTERM)", f.restartIngest},
	}
	for _, st := range steps {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(f.s.o.Gap):
		}
		under := !closed(f.loadDone)
		logf(f.s.o, "fault: %s", st.name)
		n, detail, err := st.do(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", st.name, err)
		}
		f.done = append(f.done, Fault{Name: st.name, Count: n, Detail: detail, UnderLoad: under})
	}
	f.s.mu.Lock()
	f.done = append(f.done, Fault{Name: "syncer backfill reruns after a failure", Count: f.reruns, UnderLoad: true})
	f.s.mu.Unlock()
	return nil
}

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// killProcessor kills the first processor while it applies batches, and
// starts it again a second later.
func (f *faults) killProcessor(ctx context.Context) (int, string, error) {
	p := f.s.procs[0]
	p.Kill()
	time.Sleep(time.Second)
	np, err := p.Restart()
	if err != nil {
		return 0, "", err
	}
	f.s.procs[0] = np
	return 1, "", stackWaitReady(ctx, f.s.procA[0])
}

// killLeader kills the stream's leader and measures, from that moment, how
// long until every event accepted before it is applied, and until the
// first event accepted after it is. The node comes back once both have
// happened (or after a minute): the recovery measured is the two other
// nodes'.
func (f *faults) killLeader(ctx context.Context) (int, string, error) {
	leader, consLeader, err := f.leaders(ctx)
	if err != nil {
		return 0, "", err
	}
	node := f.s.nats.Node(leader)
	if node == nil {
		return 0, "", fmt.Errorf("leader %q is none of the cluster's nodes", leader)
	}
	node.Proc.Kill()
	killed := time.Now()
	f.killedAt = killed
	before := f.sender.Accepted()
	var pre []string
	for id, t := range before {
		if t.Before(killed) {
			pre = append(pre, id)
		}
	}
	f.backlog, f.next = -1, -1
	deadline := killed.Add(time.Minute)
	for time.Now().Before(deadline) && (f.backlog < 0 || f.next < 0) {
		if f.backlog < 0 {
			if got, err := db.EventReceipts(ctx, f.pool, pre); err == nil && len(got) == len(pre) {
				f.backlog = time.Since(killed)
			}
		}
		if f.next < 0 {
			var post []string
			for id, t := range f.sender.Accepted() {
				if t.After(killed) {
					post = append(post, id)
				}
			}
			if len(post) > 0 {
				if got, err := db.EventReceipts(ctx, f.pool, post); err == nil && len(got) > 0 {
					f.next = time.Since(killed)
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := node.Restart(ctx); err != nil {
		return 0, "", err
	}
	detail := fmt.Sprintf("leader %s (consumer leader %s); the events accepted before the kill all applied %s after it",
		leader, consLeader, fmtDur(f.backlog))
	return 1, detail, f.waitCurrent(ctx)
}

func fmtDur(d time.Duration) string {
	if d < 0 {
		return "not within a minute"
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}

func (f *faults) leaders(ctx context.Context) (stream, consumer string, err error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		st, err := f.js.Stream(ctx, events.StreamName)
		if err == nil {
			info, err := st.Info(ctx)
			if err == nil && info.Cluster != nil && info.Cluster.Leader != "" {
				consumer := "?"
				if c, err := st.Consumer(ctx, events.ConsumerName); err == nil {
					if ci, err := c.Info(ctx); err == nil && ci.Cluster != nil {
						consumer = ci.Cluster.Leader
					}
				}
				return info.Cluster.Leader, consumer, nil
			}
		}
		select {
		case <-ctx.Done():
			return "", "", errors.New("no stream leader within 30s")
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// waitCurrent waits until the stream has a leader and every replica is
// current, so that the next fault does not take a second node away from a
// stream that has only one up to date.
func (f *faults) waitCurrent(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		st, err := f.js.Stream(ctx, events.StreamName)
		if err == nil {
			info, err := st.Info(ctx)
			if err == nil && info.Cluster != nil && info.Cluster.Leader != "" && len(info.Cluster.Replicas) == 2 {
				ok := true
				for _, r := range info.Cluster.Replicas {
					ok = ok && r.Current && !r.Offline
				}
				if ok {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return errors.New("stream replicas not current within a minute")
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (f *faults) backfill(context.Context) (int, string, error) {
	return 1, "", f.s.startBackfill(&f.reruns)
}

// rollCluster stops each node (SIGTERM) and starts it again, one at a
// time, waiting for the stream to be whole before the next.
func (f *faults) rollCluster(ctx context.Context) (int, string, error) {
	for _, n := range f.s.nats.Nodes {
		n.Proc.Stop(30 * time.Second)
		time.Sleep(time.Second)
		if err := n.Restart(ctx); err != nil {
			return 0, "", err
		}
		if err := f.waitCurrent(ctx); err != nil {
			return 0, "", err
		}
	}
	return len(f.s.nats.Nodes), "", nil
}

func (f *faults) stopPostgres(ctx context.Context) (int, string, error) {
	if err := f.s.pg.Stop(ctx, "fast"); err != nil {
		return 0, "", err
	}
	time.Sleep(f.s.o.PGOutage)
	return 1, "", f.s.pg.Start(ctx)
}

func (f *faults) restartIngest(ctx context.Context) (int, string, error) {
	f.s.ingest.Stop(30 * time.Second)
	p, err := f.s.ingest.Restart()
	if err != nil {
		return 0, "", err
	}
	f.s.ingest = p
	return 1, "", stackWaitReady(ctx, f.s.ingestA)
}

// worstLatency is the longest time from an event's 2xx to its row in
// stripe.events (received_at, the processor's transaction), over the
// events accepted from window before t to window after it: what "the last
// accepted events landed N s later" measures.
func worstLatency(ctx context.Context, pool *pgxpool.Pool, accepted map[string]time.Time, t time.Time, window time.Duration) (worst time.Duration, n int, err error) {
	var ids []string
	for id, at := range accepted {
		if !t.IsZero() && (at.Before(t.Add(-window)) || at.After(t.Add(window))) {
			continue
		}
		ids = append(ids, id)
	}
	got, err := db.EventReceipts(ctx, pool, ids)
	if err != nil {
		return 0, 0, err
	}
	for id, r := range got {
		worst = max(worst, r.ReceivedAt.Sub(accepted[id]))
	}
	return worst, len(got), nil
}
