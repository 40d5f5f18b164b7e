package syncer

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/stripesync/stripesync/pkg/catalog"
	"github.com/stripesync/stripesync/pkg/stripeapi"
	"github.com/stripesync/stripesync/services/syncer/internal/backfill"
)

// display shows a backfill's progress: a line per resource and a total,
// redrawn in place, on a terminal; a structured log line every ten seconds
// otherwise.
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

// rateWindow is how far back rates and ETAs look.
const rateWindow = 10 * time.Second

// start shows progress until the returned function is called with the
// run's outcome; on a terminal it then draws the final screen in place of
// the last one.
func (d *display) start(p *backfill.Progress, lim *stripeapi.Limiter, log *slog.Logger) (stop func(error)) {
	done := make(chan error)
	var wg sync.WaitGroup
	every := 10 * time.Second
	if d.tty {
		every = 500 * time.Millisecond
	}
	m := &meter{start: time.Now()}
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		lines := 0
		for {
			select {
			case err := <-done:
				if d.tty {
					s := m.sample(p, lim, time.Now(), true)
					s.Err = err
					d.draw(renderProgress(s), lines)
				}
				return
			case <-t.C:
				s := m.sample(p, lim, time.Now(), false)
				if d.tty {
					lines = d.draw(renderProgress(s), lines)
				} else {
					log.Info("backfill progress", "objects", progressByRelation(p), "share", s.Share, "eta_seconds", s.ETA.Seconds(),
						"requests", s.Requests, "rate_limited", s.RateLimited)
				}
			}
		}
	})
	return func(err error) { done <- err; wg.Wait() }
}

// draw writes lines over the prev lines drawn last, clearing what is left
// of them below, and returns how many it drew.
func (d *display) draw(lines []string, prev int) int {
	var b strings.Builder
	if prev > 0 {
		fmt.Fprintf(&b, "\033[%dA", prev)
	}
	for _, l := range lines {
		b.WriteString("\r\033[K" + l + "\n")
	}
	b.WriteString("\033[J") // a shorter screen leaves no stale line
	io.WriteString(d.out, b.String())
	return len(lines)
}

// progressByRelation is the counts of p by relation, for the log.
func progressByRelation(p *backfill.Progress) map[string]int64 {
	out := map[string]int64{}
	for res, n := range p.Snapshot() {
		out[res.Relation()] = n
	}
	return out
}

// screen is what one progress screen shows: a snapshot of the run.
type screen struct {
	Resources []resourceLine
	total
	Requests, RateLimited int64
	Elapsed               time.Duration
	// Final marks the last screen, drawn when the run has returned Err.
	Final bool
	Err   error
}

// total is a line's figures.
type total struct {
	Objects int64
	// Share is the part of the planned created ranges covered, in [0, 1];
	// Ranged is false for a resource listed only inside its parents, which
	// has no range of its own.
	Share  float64
	Ranged bool
	Rate   float64       // objects/s over the last rateWindow
	ETA    time.Duration // at the share's pace over rateWindow; 0 when unknown
}

type resourceLine struct {
	Relation string
	total
}

const barWidth = 20

// renderProgress is the screen's lines: one per resource, then the total
// and the status line. It is a pure function of s.
func renderProgress(s screen) []string {
	width := len("total")
	for _, r := range s.Resources {
		width = max(width, len(r.Relation))
	}
	lines := make([]string, 0, len(s.Resources)+2)
	for _, r := range s.Resources {
		lines = append(lines, renderLine(r.Relation, width, r.total, s.Final))
	}
	lines = append(lines, renderLine("total", width, s.total, s.Final))
	status := fmt.Sprintf("%d requests, %d rate-limited, %s", s.Requests, s.RateLimited, s.Elapsed.Round(time.Second))
	switch {
	case s.Final && s.Err == nil:
		status = "backfill complete: " + status
	case s.Final:
		status = fmt.Sprintf("backfill stopped (%v): %s; the same request resumes it", s.Err, status)
	}
	return append(lines, status)
}

func renderLine(name string, width int, t total, final bool) string {
	bar, share := strings.Repeat(" ", barWidth+2), "    "
	if t.Ranged {
		full := int(t.Share * barWidth)
		bar = "[" + strings.Repeat("█", full) + strings.Repeat("·", barWidth-full) + "]"
		share = fmt.Sprintf("%3.0f%%", 100*t.Share)
	}
	var eta string
	switch {
	case final:
		eta = ""
	case t.Ranged && t.Share >= 1:
		eta = "done"
	case t.ETA > 0:
		eta = "ETA " + roundETA(t.ETA)
	case t.Ranged:
		eta = "ETA ?"
	}
	line := fmt.Sprintf("%-*s %s %s %10d objects %8.0f/s  %s", width, name, bar, share, t.Objects, t.Rate, eta)
	return strings.TrimRight(line, " ")
}

// roundETA rounds d to what a person reads: seconds under two minutes,
// then minutes, then hours.
func roundETA(d time.Duration) string {
	switch {
	case d < 2*time.Minute:
		return d.Round(time.Second).String()
	case d < 2*time.Hour:
		return fmt.Sprintf("%dm", int(d.Round(time.Minute).Minutes()))
	}
	return fmt.Sprintf("%dh", int(d.Round(time.Hour).Hours()))
}

// meter turns successive readings of a Progress into screens, with rates
// and ETAs over the last rateWindow.
type meter struct {
	start    time.Time
	readings []reading // within rateWindow of the newest, oldest first
}

type reading struct {
	at       time.Time
	objects  map[*catalog.Resource]int64
	coverage map[*catalog.Resource]backfill.Coverage
}

// sample reads p and lim at now; the final screen's rates are the whole
// run's.
func (m *meter) sample(p *backfill.Progress, lim *stripeapi.Limiter, now time.Time, final bool) screen {
	r := reading{at: now, objects: p.Snapshot(), coverage: p.Coverage()}
	m.readings = append(m.readings, r)
	for len(m.readings) > 2 && now.Sub(m.readings[1].at) >= rateWindow {
		m.readings = m.readings[1:]
	}
	then := m.readings[0]
	if final {
		then = reading{at: m.start}
	}
	s := progressScreen(m.start, then, r, p.Resources())
	s.Requests, s.RateLimited, s.Final = lim.Requests(), lim.RateLimited(), final
	return s
}

// progressScreen is the screen for the reading now, with rates and ETAs
// measured since then (the start of the run when then is now).
func progressScreen(start time.Time, then, now reading, resources []*catalog.Resource) screen {
	s := screen{Elapsed: now.at.Sub(start)}
	since, dt := then, now.at.Sub(then.at)
	if dt <= 0 {
		since, dt = reading{}, now.at.Sub(start)
	}
	var sumThen, sumNow backfill.Coverage
	for _, res := range resources {
		cNow, ranged := now.coverage[res]
		cThen := since.coverage[res]
		line := resourceLine{Relation: res.Relation(), total: figures(now.objects[res]-since.objects[res], now.objects[res], cThen, cNow, ranged, dt)}
		s.Resources = append(s.Resources, line)
		s.Objects += now.objects[res]
		sumNow, sumThen = addCoverage(sumNow, cNow), addCoverage(sumThen, cThen)
	}
	s.total = figures(s.Objects-sumObjects(since.objects), s.Objects, sumThen, sumNow, sumNow.Tasks > 0, dt)
	return s
}

func figures(delta, objects int64, then, now backfill.Coverage, ranged bool, dt time.Duration) total {
	t := total{Objects: objects, Ranged: ranged}
	if dt > 0 {
		t.Rate = float64(delta) / dt.Seconds()
	}
	if !ranged {
		return t
	}
	t.Share = now.Share()
	if pace := (t.Share - then.Share()) / dt.Seconds(); pace > 0 && t.Share < 1 {
		t.ETA = time.Duration((1 - t.Share) / pace * float64(time.Second))
	}
	return t
}

func addCoverage(a, b backfill.Coverage) backfill.Coverage {
	return backfill.Coverage{Planned: a.Planned + b.Planned, Covered: a.Covered + b.Covered, Tasks: a.Tasks + b.Tasks, Done: a.Done + b.Done}
}

func sumObjects(m map[*catalog.Resource]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}
