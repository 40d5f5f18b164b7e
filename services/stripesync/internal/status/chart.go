package status

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"
)

// series is one line of a chart.
type series struct {
	Name   string
	Color  string
	Values []float64 // one per time of the chart
}

// chart is a line chart of the window before now, drawn as inline SVG.
type chart struct {
	Title  string
	Times  []time.Time
	Series []series
}

// charts are the page's charts: events stored/s, messages onto the
// stream/s (events and backfilled objects: a backfill dwarfs the events,
// hence a chart of their own), and the consumer's lag.
func charts(hist []Point, now time.Time, window time.Duration) []template.HTML {
	times := make([]time.Time, len(hist))
	stored, published, pending, unacked := make([]float64, len(hist)), make([]float64, len(hist)), make([]float64, len(hist)), make([]float64, len(hist))
	for i, p := range hist {
		times[i] = p.At
		stored[i], published[i] = p.EventsPerSecond, p.MessagesPerSecond
		pending[i], unacked[i] = float64(p.Pending), float64(p.Unacked)
	}
	avg := fmt.Sprintf(" (%.0f s average)", RateSpan.Seconds())
	return []template.HTML{
		chart{Title: "events/s" + avg, Times: times, Series: []series{
			{Name: "stored in stripe.events", Color: "#2563eb", Values: stored},
		}}.svg(now, window),
		chart{Title: "stream messages/s" + avg, Times: times, Series: []series{
			{Name: "events and backfilled objects", Color: "#0d9488", Values: published},
		}}.svg(now, window),
		chart{Title: "consumer lag", Times: times, Series: []series{
			{Name: "pending", Color: "#d97706", Values: pending},
			{Name: "unacknowledged", Color: "#7c3aed", Values: unacked},
		}}.svg(now, window),
	}
}

// Chart geometry, in SVG user units.
const (
	chartW, chartH            = 400, 190
	padLeft, padRight         = 40, 10
	padTop, padBottom         = 44, 24
	plotW, plotH      float64 = chartW - padLeft - padRight, chartH - padTop - padBottom
)

// svg draws c over [now-window, now]. Everything in it is a number or a
// fixed label, escaped, so it is safe to inline.
func (c chart) svg(now time.Time, window time.Duration) template.HTML {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="%s">`, chartW, chartH, html.EscapeString(c.Title))
	fmt.Fprintf(&b, `<text x="%d" y="16" class="ct">%s</text>`, padLeft, html.EscapeString(c.Title))

	top := 0.0
	for _, s := range c.Series {
		for _, v := range s.Values {
			top = max(top, v)
		}
	}
	top = niceCeil(top)

	// Legend: each series with its latest value.
	x := float64(padLeft)
	for _, s := range c.Series {
		last := "–"
		if n := len(s.Values); n > 0 {
			last = short(s.Values[n-1])
		}
		label := s.Name + " " + last
		fmt.Fprintf(&b, `<rect x="%.0f" y="25" width="10" height="10" rx="2" fill="%s"/><text x="%.0f" y="34" class="cl">%s</text>`,
			x, s.Color, x+14, html.EscapeString(label))
		x += 14 + 6.6*float64(len([]rune(label))) + 18
	}

	// Grid and axes.
	for i, f := range []float64{0, 0.5, 1} {
		y := padTop + plotH - f*plotH
		cls := "grid"
		if i == 0 {
			cls = "axis"
		}
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" class="%s"/>`, padLeft, y, padLeft+plotW, y, cls)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" class="yl">%s</text>`, padLeft-6, y+4, short(f*top))
	}
	mins := int(window.Round(time.Minute) / time.Minute)
	for _, m := range []int{mins, mins / 2, 0} {
		label := "now"
		if m > 0 {
			label = "−" + strconv.Itoa(m) + " min"
		}
		fx := padLeft + plotW*(1-float64(m)/float64(max(mins, 1)))
		anchor := "middle"
		switch m {
		case mins:
			anchor = "start"
		case 0:
			anchor = "end"
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="xl" text-anchor="%s">%s</text>`, fx, chartH-6, anchor, label)
	}

	if len(c.Times) < 2 {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="wait" text-anchor="middle">collecting samples…</text>`, padLeft+plotW/2, padTop+plotH/2)
	}
	start := now.Add(-window)
	for i := len(c.Series) - 1; i >= 0; i-- { // the first series on top
		s := c.Series[i]
		var pts []string
		for j, t := range c.Times {
			if t.Before(start) || j >= len(s.Values) {
				continue
			}
			px := padLeft + plotW*t.Sub(start).Seconds()/window.Seconds()
			py := padTop + plotH - s.Values[j]/top*plotH
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px, py))
		}
		if len(pts) < 2 {
			continue
		}
		if i == 0 { // a light area under the first series
			first, last := pts[0], pts[len(pts)-1]
			fx, _, _ := strings.Cut(first, ",")
			lx, _, _ := strings.Cut(last, ",")
			fmt.Fprintf(&b, `<polygon points="%s,%.1f %s %s,%.1f" fill="%s" fill-opacity="0.12"/>`,
				fx, padTop+plotH, strings.Join(pts, " "), lx, padTop+plotH, s.Color)
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2" stroke-linejoin="round"/>`, strings.Join(pts, " "), s.Color)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // numbers and escaped fixed labels only
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten; at least 1.
func niceCeil(v float64) float64 {
	if v <= 1 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// short writes v for an axis or a legend: 0.5, 12, 1.2k, 3.4M.
func short(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', 1, 64) + "M"
	case v >= 1e4:
		return strconv.FormatFloat(v/1e3, 'f', 0, 64) + "k"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', 1, 64) + "k"
	case v == math.Trunc(v):
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 0, 64)
	default:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
}
