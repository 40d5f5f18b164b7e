package syncer

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/stripesync/stripesync/pkg/stripeapi"
	"github.com/stripesync/stripesync/services/syncer/internal/backfill"
)

// display shows a backfill's progress: a bar per resource, redrawn in place,
// on a terminal; a structured log line every ten seconds otherwise.
type display struct {
	out io.Writer
	tty bool
}

func newDisplay(out io.Writer) *display {
	f, ok := out.(*os.File)
	if !ok {
		return &display{out: out}
	}
	info, err := f.Stat()
	return &display{out: out, tty: err == nil && info.Mode()&os.ModeCharDevice != 0}
}

// logWriter is where logs go: stderr while the bars hold the terminal.
func (d *display) logWriter() io.Writer {
	if d.tty {
		return os.Stderr
	}
	return d.out
}

// start shows progress until the returned function is called.
func (d *display) start(p *backfill.Progress, lim *stripeapi.Limiter, log *slog.Logger) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	every := 10 * time.Second
	if d.tty {
		every = 500 * time.Millisecond
	}
	start := time.Now()
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		lines := 0
		for {
			select {
			case <-done:
				if d.tty {
					d.draw(p, lim, start, &lines)
				}
				return
			case <-t.C:
				if d.tty {
					d.draw(p, lim, start, &lines)
				} else {
					log.Info("backfill progress", "objects", progressByRelation(p), "requests", lim.Requests(), "rate_limited", lim.RateLimited())
				}
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// draw rewrites the bars in place: each resource's count, as a share of the
// largest, and its rate so far. Stripe's lists have no totals, so the bars
// compare resources rather than count down.
func (d *display) draw(p *backfill.Progress, lim *stripeapi.Limiter, start time.Time, lines *int) {
	counts := p.Snapshot()
	var largest int64 = 1
	for _, n := range counts {
		largest = max(largest, n)
	}
	var b strings.Builder
	if *lines > 0 {
		fmt.Fprintf(&b, "\033[%dA", *lines)
	}
	secs := max(time.Since(start).Seconds(), 0.001)
	resources := p.Resources()
	for _, res := range resources {
		n := counts[res]
		width := int(30 * n / largest)
		fmt.Fprintf(&b, "\033[K%-28s %-30s %9d  %7.0f/s\n", res.Relation(), strings.Repeat("█", width), n, float64(n)/secs)
	}
	fmt.Fprintf(&b, "\033[K%d requests, %d rate-limited, %.0fs\n", lim.Requests(), lim.RateLimited(), secs)
	*lines = len(resources) + 1
	io.WriteString(d.out, b.String())
}

// progressByRelation is the counts of p by relation, for the log.
func progressByRelation(p *backfill.Progress) map[string]int64 {
	out := map[string]int64{}
	for res, n := range p.Snapshot() {
		out[res.Relation()] = n
	}
	return out
}
