package status

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Page serves the report as a web page that refreshes itself every
// SampleInterval, with charts of the last Window: GET / (HTML, CSS and SVG
// inline, no script, no external asset) and GET /status.json (the report
// and the history). Both show the redacted report: counts and times, never
// an account or object id.
type Page struct {
	// GatherFunc reads a report; its context ends after SampleInterval.
	GatherFunc func(ctx context.Context) Report
	// Thresholds are set on every report gathered.
	Thresholds Thresholds
	// SampleInterval is the time between two reports, and the page's
	// refresh. Default 2s.
	SampleInterval time.Duration
	// Window is the history the charts show. Default 10 minutes.
	Window time.Duration

	mu      sync.Mutex
	latest  Report
	samples ring
}

// sample is what the charts need of one report.
type sample struct {
	At           time.Time
	EventsStored int64  // Report.EventsStoredTotal
	StreamSeq    uint64 // Stream.LastSeq
	Pending      uint64
	Unacked      int
}

// Point is one step of the history: the rates over the RateSpan before At,
// and the consumer's lag at At.
type Point struct {
	At time.Time `json:"at"`
	// EventsPerSecond are the events stored in stripe.events per second.
	EventsPerSecond float64 `json:"events_per_second"`
	// MessagesPerSecond are the messages stored on the stream per second,
	// events and backfilled objects.
	MessagesPerSecond float64 `json:"messages_per_second"`
	Pending           uint64  `json:"pending"`
	Unacked           int     `json:"unacked"`
}

func (p *Page) interval() time.Duration {
	if p.SampleInterval > 0 {
		return p.SampleInterval
	}
	return 2 * time.Second
}

func (p *Page) window() time.Duration {
	if p.Window > 0 {
		return p.Window
	}
	return 10 * time.Minute
}

// Serve gathers a first report, then serves the page on ln until ctx is
// done, gathering a report every SampleInterval. It closes ln.
func (p *Page) Serve(ctx context.Context, ln net.Listener) error {
	p.samples = newRing(int(p.window()/p.interval()) + 1)
	p.sample(ctx)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", p.serveHTML)
	mux.HandleFunc("GET /status.json", p.serveJSON)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       time.Minute,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	tick := time.NewTicker(p.interval())
	defer tick.Stop()
	for ctx.Err() == nil {
		select {
		case <-tick.C:
			p.sample(ctx)
		case err := <-served:
			return fmt.Errorf("serve http %s: %w", ln.Addr(), err)
		case <-ctx.Done():
		}
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	if err != nil {
		return fmt.Errorf("shutdown http %s: %w", ln.Addr(), err)
	}
	return nil
}

// gatherTimeout is the least time a sample's report may take. A busy
// database can take longer than a short sample interval; cutting the read
// at the interval would show what it could not read as zeros (no dead
// letters) instead of the counts. Samples are taken one after another, so
// a slow one only delays the next.
const gatherTimeout = 5 * time.Second

// sample gathers a report and records it.
func (p *Page) sample(ctx context.Context) {
	gctx, cancel := context.WithTimeout(ctx, max(p.interval(), gatherTimeout))
	r := p.GatherFunc(gctx)
	cancel()
	r.Thresholds = p.Thresholds
	s := sample{At: r.At, EventsStored: r.EventsStoredTotal}
	if r.Stream != nil {
		s.StreamSeq = r.Stream.LastSeq
	}
	if r.Consumer != nil {
		s.Pending, s.Unacked = r.Consumer.Pending, r.Consumer.AckPending
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.latest = r.Redact()
	p.samples.push(s)
}

// snapshot is the latest report and the history, read under the lock.
func (p *Page) snapshot() (Report, []Point) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.latest, history(p.samples.all())
}

// RateSpan is the span each rate of the history averages over: the
// statistics behind events/s reach PostgreSQL's views in steps of about a
// second, too coarse for a rate between two samples 2 s apart.
const RateSpan = 10 * time.Second

// history turns samples into points: at each sample, the rates since the
// oldest sample at most RateSpan before it. A counter that went down
// (statistics reset, stream recreated) gives a rate of 0.
func history(samples []sample) []Point {
	var out []Point
	j := 0
	for i := 1; i < len(samples); i++ {
		cur := samples[i]
		for j < i-1 && cur.At.Sub(samples[j].At) > RateSpan {
			j++
		}
		prev := samples[j]
		dt := cur.At.Sub(prev.At).Seconds()
		if dt <= 0 {
			continue
		}
		pt := Point{At: cur.At, Pending: cur.Pending, Unacked: cur.Unacked}
		if cur.EventsStored >= prev.EventsStored {
			pt.EventsPerSecond = float64(cur.EventsStored-prev.EventsStored) / dt
		}
		if cur.StreamSeq >= prev.StreamSeq {
			pt.MessagesPerSecond = float64(cur.StreamSeq-prev.StreamSeq) / dt
		}
		out = append(out, pt)
	}
	return out
}

func (p *Page) serveJSON(w http.ResponseWriter, _ *http.Request) {
	r, hist := p.snapshot()
	if hist == nil {
		hist = []Point{}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(struct {
		reportJSON
		History []Point `json:"history"`
	}{r.withAttention(), hist}) // a write error means the client left
}

//go:embed page.html
var pageHTML string

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"count":   countAny,
	"size":    size,
	"stamp":   stamp,
	"age":     func(s float64) string { return round(seconds(s)).String() },
	"rate":    perSecond,
	"percent": func(f float64) string { return strconv.FormatFloat(100*f, 'f', 0, 64) + "%" },
}).Parse(pageHTML))

// pageData is what page.html renders.
type pageData struct {
	Report
	Attention []string
	Refresh   int  // seconds
	Unknown   bool // NATS could not be read: no stream and consumer to show
	Charts    []template.HTML
	Empty     int          // relations without rows
	Columns   [][]Relation // the others, in columns
}

func (p *Page) serveHTML(w http.ResponseWriter, _ *http.Request) {
	r, hist := p.snapshot()
	d := pageData{Report: r, Attention: r.Attention(), Refresh: max(int(p.interval().Round(time.Second)/time.Second), 1), Unknown: r.busUnknown}
	var nonEmpty []Relation
	for _, rel := range r.Relations {
		if rel.RowsEstimated == 0 {
			d.Empty++
		} else {
			nonEmpty = append(nonEmpty, rel)
		}
	}
	const columns = 3
	per := (len(nonEmpty) + columns - 1) / columns
	for len(nonEmpty) > 0 {
		n := min(per, len(nonEmpty))
		d.Columns, nonEmpty = append(d.Columns, nonEmpty[:n]), nonEmpty[n:]
	}
	d.Charts = charts(hist, r.At, p.window())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = pageTemplate.Execute(w, d) // a write error means the client left
}

// ring holds the last samples, at most its capacity, oldest first.
type ring struct {
	buf   []sample
	start int // index of the oldest
	n     int
}

func newRing(capacity int) ring { return ring{buf: make([]sample, max(capacity, 2))} }

func (r *ring) push(s sample) {
	if r.n < len(r.buf) {
		r.buf[(r.start+r.n)%len(r.buf)] = s
		r.n++
		return
	}
	r.buf[r.start] = s
	r.start = (r.start + 1) % len(r.buf)
}

func (r *ring) all() []sample {
	out := make([]sample, 0, r.n)
	for i := range r.n {
		out = append(out, r.buf[(r.start+i)%len(r.buf)])
	}
	return out
}

// countAny is count for the integer types of the report's fields.
func countAny(v any) string {
	switch n := v.(type) {
	case int:
		return count(int64(n))
	case int64:
		return count(n)
	case uint64:
		return count(int64(min(n, math.MaxInt64)))
	}
	return fmt.Sprint(v)
}
