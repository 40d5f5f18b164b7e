package main

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// quantiles summarises freshness figures in milliseconds.
type quantiles struct {
	n                   int
	p50, p90, p99, most float64
}

func quantilesOf(ms []float64) quantiles {
	if len(ms) == 0 {
		return quantiles{}
	}
	s := slices.Sorted(slices.Values(ms))
	at := func(p float64) float64 { return s[min(len(s)-1, int(p*float64(len(s))))] }
	return quantiles{n: len(s), p50: at(0.5), p90: at(0.9), p99: at(0.99), most: s[len(s)-1]}
}

// freshness is the time in milliseconds from ingest's 2xx to the commit
// being visible, of every event that keep selects and that became visible.
// It can be slightly negative: the processor may commit before the 2xx has
// reached the sender.
func (r *steadyRun) freshness(keep func(i int) bool) []float64 {
	var ms []float64
	for i := range r.total {
		if r.answered[i] > 0 && r.visible[i] > 0 && keep(i) {
			ms = append(ms, float64((r.visible[i]-r.answered[i]).Microseconds())/1000)
		}
	}
	return ms
}

func all(int) bool { return true }

// counts are the run's totals.
func (r *steadyRun) counts() (accepted, visible int) {
	for i := range r.total {
		if r.answered[i] > 0 {
			accepted++
			if r.visible[i] > 0 {
				visible++
			}
		}
	}
	return accepted, visible
}

// summary prints the run's totals and its freshness, of all events and of
// each kind.
func (r *steadyRun) summary(out io.Writer) {
	accepted, visible := r.counts()
	fmt.Fprintf(out, "sent %d at %d/s over %.1fs (%d sends late >10ms); refused %d; accepted %d; visible %d; never visible within %s of the last send %d\n",
		r.total, r.opts.rate, r.sendTime.Seconds(), r.late, r.refused, accepted, visible, r.opts.drainTimeout, accepted-visible)
	if r.firstRefusal != nil {
		fmt.Fprintf(out, "first refusal: %v\n", r.firstRefusal)
	}
	for _, k := range []struct {
		name string
		keep func(int) bool
	}{
		{"all events", all},
		{"snapshot", func(i int) bool { return !r.thin[i] }},
		{"thin", func(i int) bool { return r.thin[i] }},
	} {
		q := quantilesOf(r.freshness(k.keep))
		fmt.Fprintf(out, "  2xx -> committed, %-10s (%6d): p50 %6.1f  p90 %6.1f  p99 %6.1f  max %7.1f ms\n", k.name, q.n, q.p50, q.p90, q.p99, q.most)
	}
}

// table prints the run window by window: what was sent, the freshness of
// what was answered in the window, and the highest memory, lag and load
// sampled in it, up to the last sample (the drain after the last send).
func (r *steadyRun) table(out io.Writer, window time.Duration) {
	fmt.Fprintf(out, "%-11s %7s %8s %8s %8s %8s", "window (s)", "sent/s", "p50 ms", "p99 ms", "max ms", "lag max")
	for _, m := range measured {
		fmt.Fprintf(out, " %11s", m+" MiB")
	}
	fmt.Fprintf(out, " %6s\n", "load")
	end := r.sendTime
	if n := len(r.samples); n > 0 {
		end = max(end, r.samples[n-1].at+1) // the window of the last sample too
	}
	for from := time.Duration(0); from < end; from += window {
		to := from + window
		sent := 0
		for i := range r.total {
			if r.due[i] >= from && r.due[i] < to {
				sent++
			}
		}
		q := quantilesOf(r.freshness(func(i int) bool { return r.answered[i] >= from && r.answered[i] < to }))
		var top sample
		for _, s := range r.samples {
			if s.at >= from && s.at < to {
				top.lag, top.load = max(top.lag, s.lag), max(top.load, s.load)
				for k := range top.rss {
					top.rss[k] = max(top.rss[k], s.rss[k])
				}
			}
		}
		fmt.Fprintf(out, "%4.0f-%-6.0f %7.0f %8.1f %8.1f %8.1f %8d", from.Seconds(), to.Seconds(), float64(sent)/window.Seconds(), q.p50, q.p99, q.most, top.lag)
		for _, b := range top.rss {
			fmt.Fprintf(out, " %11.1f", mib(b))
		}
		fmt.Fprintf(out, " %6.2f\n", top.load)
	}
	var peak sample
	for _, s := range r.samples {
		for k := range peak.rss {
			peak.rss[k] = max(peak.rss[k], s.rss[k])
		}
	}
	fmt.Fprintf(out, "peak RSS:")
	for k, m := range measured {
		fmt.Fprintf(out, " %s %.1f MiB;", m, mib(peak.rss[k]))
	}
	fmt.Fprintln(out, " (postgres: private memory of the run's backends, summed)")
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// plot draws the run over time into a PNG at path: freshness p50 and p99 of
// each second (by the time of the 2xx), every measured process's memory,
// and the consumer's lag.
func (r *steadyRun) plot(path, title string) error {
	const bucket = time.Second
	n := int(r.sendTime/bucket) + 1
	perBucket := make([][]float64, n)
	for i := range r.total {
		if r.answered[i] > 0 && r.visible[i] > 0 {
			b := min(n-1, int(r.answered[i]/bucket))
			perBucket[b] = append(perBucket[b], float64((r.visible[i]-r.answered[i]).Microseconds())/1000)
		}
	}
	var p50, p99 plotter.XYs
	for b, ms := range perBucket {
		if len(ms) == 0 {
			continue
		}
		q := quantilesOf(ms)
		// The axis is logarithmic: a commit seen before its 2xx arrived
		// is drawn at the axis' floor.
		x := float64(b) + 0.5
		p50 = append(p50, plotter.XY{X: x, Y: math.Max(q.p50, 0.1)})
		p99 = append(p99, plotter.XY{X: x, Y: math.Max(q.p99, 0.1)})
	}

	fresh := plot.New()
	fresh.Title.Text = title
	fresh.Y.Label.Text = "2xx -> committed (ms)"
	fresh.Y.Scale = plot.LogScale{}
	fresh.Y.Tick.Marker = oneTwoFive{}
	if err := addLines(fresh, series{"p50", p50}, series{"p99", p99}); err != nil {
		return err
	}

	memory := plot.New()
	memory.Y.Label.Text = "RSS (MiB)"
	var memLines []series
	for k, m := range measured {
		l := series{name: m}
		for _, s := range r.samples {
			l.xy = append(l.xy, plotter.XY{X: s.at.Seconds(), Y: mib(s.rss[k])})
		}
		memLines = append(memLines, l)
	}
	if err := addLines(memory, memLines...); err != nil {
		return err
	}

	lag := plot.New()
	lag.Y.Label.Text = "consumer lag (messages)"
	lag.X.Label.Text = "seconds since the first send"
	lagLine := series{name: "pending + unacknowledged"}
	for _, s := range r.samples {
		lagLine.xy = append(lagLine.xy, plotter.XY{X: s.at.Seconds(), Y: float64(s.lag)})
	}
	if err := addLines(lag, lagLine); err != nil {
		return err
	}

	plots := [][]*plot.Plot{{fresh}, {memory}, {lag}}
	var xmax float64
	for _, row := range plots {
		xmax = max(xmax, row[0].X.Max)
	}
	for _, row := range plots {
		row[0].X.Min, row[0].X.Max = 0, xmax
		row[0].Add(plotter.NewGrid())
		row[0].Legend.Top = true
	}
	img := vgimg.New(10*vg.Inch, 10*vg.Inch)
	dc := draw.New(img)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	canvases := plot.Align(plots, draw.Tiles{Rows: 3, Cols: 1, PadTop: vg.Points(6), PadBottom: vg.Points(6), PadLeft: vg.Points(6), PadRight: vg.Points(12), PadY: vg.Points(10)}, dc)
	for i, row := range plots {
		row[0].Draw(canvases[i][0])
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// series is one line of a plot and its name in the legend.
type series struct {
	name string
	xy   plotter.XYs
}

// addLines adds each series with a colour of its own; an empty one is left out.
func addLines(p *plot.Plot, lines ...series) error {
	for k, s := range lines {
		if len(s.xy) == 0 {
			continue
		}
		l, err := plotter.NewLine(s.xy)
		if err != nil {
			return err
		}
		l.Color = plotutil.Color(k)
		l.Width = vg.Points(1.2)
		p.Add(l)
		p.Legend.Add(s.name, l)
	}
	return nil
}

// oneTwoFive labels a logarithmic axis at 1, 2 and 5 times each power of
// ten, so that an axis spanning less than a decade still has labels.
type oneTwoFive struct{}

func (oneTwoFive) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for p := math.Floor(math.Log10(lo)); p <= math.Ceil(math.Log10(hi)); p++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, p)
			if v >= lo && v <= hi {
				ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64)})
			}
		}
	}
	return ticks
}
