package reportpage

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The report's three charts, built from the shared geometry.

// buildCharts returns the throughput, error-rate and latency charts of p,
// whose geometry is g.
func buildCharts(g pageGeometry, p Page) []chartSVG {
	marks := markGroups(g, p.Marks)
	cs := []chartSVG{throughputChart(g, marks), errorChart(g, marks), latencyChart(g, marks)}
	for i := range cs {
		cs[i].Empty = true
		for _, s := range cs[i].Series {
			cs[i].Empty = cs[i].Empty && len(s.points) == 0
		}
	}
	return cs
}

// newChart returns a chart with its frame, time axis, windows and marks.
func newChart(g pageGeometry, marks []svgMark, id, title string) chartSVG {
	c := chartSVG{
		ID: id, Title: title,
		Width: chartWidth, Height: chartHeight,
		PlotX: plotLeft, PlotY: plotTop, PlotW: plotWidth, PlotH: plotHeight,
		PlotBot: plotTop + plotHeight,
		Marks:   marks,
	}
	for _, t := range timeTicks(g.End) {
		c.XTicks = append(c.XTicks, svgTick{Pos: g.x.at(float64(t)), Label: formatOffset(t)})
	}
	c.Windows = windowRects(g)
	return c
}

// windowRects returns the shaded rectangles of g's windows. When there are
// more than maxRects, windows less than a pixel apart are drawn as one.
func windowRects(g pageGeometry) []svgWindow {
	var out []svgWindow
	merge := len(g.Windows) > maxRects
	for _, w := range g.Windows {
		x0, x1 := g.x.at(float64(w.From)), g.x.at(float64(w.To))
		title := fmt.Sprintf("fault %s to %s: %s", formatOffset(w.From), formatOffset(w.To), w.Label)
		if n := len(out); merge && n > 0 && x0 <= out[n-1].X+out[n-1].W+1 {
			last := &out[n-1]
			last.W = max(last.W, x1-last.X)
			if len(last.Title) < 400 {
				last.Title += "\n" + title
			}
			continue
		}
		out = append(out, svgWindow{X: x0, W: x1 - x0, Label: w.Label, Title: title})
	}
	for i := range out {
		out[i].W = max(out[i].W, 1.5) // an instant still shows
		out[i].Lines = wrapLabel(out[i].Label, out[i].W, maxLabelLines)
	}
	return out
}

// maxLabelLines is how many lines a window's label may take in a chart.
const maxLabelLines = 6

// wrapLabel wraps label into lines that fit a shaded window width px wide
// (at about 6.5 px a character), breaking after ", " or "." where it can,
// at most maxLines lines (the last one then ends with "…": the whole label
// is in the window table and the hover title). It returns nil when the
// window is too narrow for any.
func wrapLabel(label string, width float64, maxLines int) []string {
	if width < windowLabelW {
		return nil
	}
	n := max(int((width-8)/6.5), 2)
	r := []rune(label)
	var lines []string
	for len(r) > 0 {
		if len(lines) == maxLines-1 && len(r) > n {
			lines = append(lines, string(r[:n-1])+"…")
			break
		}
		if len(r) <= n {
			lines = append(lines, string(r))
			break
		}
		cut := n
		for i := n; i > n/2; i-- {
			if r[i-1] == '.' || r[i-1] == ' ' || r[i-1] == ',' || r[i-1] == '(' {
				cut = i
				break
			}
		}
		lines = append(lines, strings.TrimRight(string(r[:cut]), " "))
		r = r[cut:]
		for len(r) > 0 && r[0] == ' ' {
			r = r[1:]
		}
	}
	return lines
}

// markGroups merges the fired-fault marks into bins markBinPx wide. A
// mark is drawn at the middle of its bucket, as the series' points are.
func markGroups(g pageGeometry, ms []Mark) []svgMark {
	type bin struct {
		x      float64
		from   time.Duration
		to     time.Duration
		count  int
		labels []string
	}
	var bins []bin
	for _, m := range ms {
		if m.At < 0 || m.At >= g.End || m.Count <= 0 {
			continue
		}
		x := g.x.at(float64(m.At + g.Width/2))
		if n := len(bins); n > 0 && x-bins[n-1].x < markBinPx {
			b := &bins[n-1]
			b.count += m.Count
			b.from, b.to = min(b.from, m.At), max(b.to, m.At)
			if len(b.labels) < 4 && !contains(b.labels, m.Label) {
				b.labels = append(b.labels, m.Label)
			}
			continue
		}
		bins = append(bins, bin{x: x, from: m.At, to: m.At, count: m.Count, labels: []string{m.Label}})
	}
	out := make([]svgMark, 0, len(bins))
	for _, b := range bins {
		noun := "faults"
		if b.count == 1 {
			noun = "fault"
		}
		out = append(out, svgMark{X: b.x, Title: fmt.Sprintf("%d %s fired in %s–%s: %s",
			b.count, noun, formatOffset(b.from), formatOffset(b.to+g.Width), strings.Join(b.labels, "; "))})
	}
	return out
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// lineSeries builds a series from the values of g.Buckets; value reports false
// for a bucket without a value, which breaks the line. With area, the
// series also gets the polygon under each segment down to baseY.
func lineSeries(g pageGeometry, name, color string, area bool, baseY float64, value func(i int) (y float64, ok bool)) svgSeries {
	s := svgSeries{Name: name, Color: color}
	var seg []pt
	flush := func() {
		if len(seg) == 0 {
			return
		}
		s.Segments = append(s.Segments, formatPoints(seg))
		if area && len(seg) > 1 {
			poly := append([]pt{{seg[0].X, baseY}}, seg...)
			poly = append(poly, pt{seg[len(seg)-1].X, baseY})
			s.Area += formatPoints(poly) + " "
		}
		seg = nil
	}
	for i := range g.Buckets {
		y, ok := value(i)
		if !ok {
			flush()
			continue
		}
		p := pt{g.bucketX(i), y}
		seg = append(seg, p)
		s.points = append(s.points, p)
	}
	flush()
	s.Area = strings.TrimSpace(s.Area)
	if len(s.points) <= dotsUpTo {
		s.Dots = s.points
	}
	return s
}

// formatPoints formats ps as an SVG points attribute.
func formatPoints(ps []pt) string {
	var sb strings.Builder
	for i, p := range ps {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(strconv.FormatFloat(p.X, 'f', 1, 64))
		sb.WriteByte(',')
		sb.WriteString(strconv.FormatFloat(p.Y, 'f', 1, 64))
	}
	return sb.String()
}

// yTicks returns the ticks of a y axis at the scale at.
func yTicks(vs []float64, at func(float64) float64) []svgTick {
	ts := make([]svgTick, 0, len(vs))
	for _, v := range vs {
		ts = append(ts, svgTick{Pos: at(v), Label: formatNumber(v)})
	}
	return ts
}

// throughputChart is requests per second per bucket on a nice linear axis.
func throughputChart(g pageGeometry, marks []svgMark) chartSVG {
	c := newChart(g, marks, "throughput", "Throughput")
	c.YLabel = "requests/s"
	c.ShowWins = true
	peak := 0.0
	for i, b := range g.Buckets {
		peak = max(peak, throughput(b, g.Spans[i]))
	}
	top, step := niceLinear(peak*1.08, 5) // headroom: a steady rate is not drawn on the frame
	y := linScale{0, top, c.PlotBot, plotTop}
	c.YTicks = yTicks(linearTicks(top, step), y.at)
	c.Series = []svgSeries{lineSeries(g, "requests/s", colorThroughput, false, c.PlotBot, func(i int) (float64, bool) {
		return y.at(throughput(g.Buckets[i], g.Spans[i])), true
	})}
	return c
}

// errorChart is the share of failed calls per bucket, in percent, on a
// nice linear axis from 0 (at least to 1 %, at most to 100 %).
func errorChart(g pageGeometry, marks []svgMark) chartSVG {
	c := newChart(g, marks, "errors", "Error rate")
	c.YLabel = "% of calls"
	peak := 0.0
	for _, b := range g.Buckets {
		if pct, ok := errorPercent(b); ok {
			peak = max(peak, pct)
		}
	}
	top, step := niceLinear(max(peak, 1), 5)
	if top > 100 {
		top, step = 100, 20
	}
	y := linScale{0, top, c.PlotBot, plotTop}
	c.YTicks = yTicks(linearTicks(top, step), y.at)
	c.Series = []svgSeries{lineSeries(g, "errors %", colorErrors, true, c.PlotBot, func(i int) (float64, bool) {
		pct, ok := errorPercent(g.Buckets[i])
		return y.at(pct), ok
	})}
	return c
}

// latencyChart is p50 and p99 in milliseconds: on a log axis when they span
// more than a factor of 10 (so that normal latency stays readable next to
// timeouts), else on a nice linear axis from 0. The axis says which.
func latencyChart(g pageGeometry, marks []svgMark) chartSVG {
	c := newChart(g, marks, "latency", "Latency")
	minPos, peak := math.Inf(1), 0.0
	for _, b := range g.Buckets {
		if b.Requests <= 0 {
			continue
		}
		for _, d := range []time.Duration{b.P50, b.P99} {
			if v := ms(d); v > 0 {
				minPos, peak = min(minPos, v), max(peak, v)
			}
		}
	}
	var at func(float64) float64
	if peak > 0 && peak/minPos > 10 {
		lo, hi := logRange(minPos, peak)
		s := logScale{lo, hi, c.PlotBot, plotTop}
		at = s.at
		c.YTicks = yTicks(logTicks(lo, hi), at)
		c.YLabel = "ms, log scale"
	} else {
		top, step := niceLinear(peak, 5)
		s := linScale{0, top, c.PlotBot, plotTop}
		at = s.at
		c.YTicks = yTicks(linearTicks(top, step), at)
		c.YLabel = "ms"
	}
	lat := func(pick func(Bucket) time.Duration) func(int) (float64, bool) {
		return func(i int) (float64, bool) {
			b := g.Buckets[i]
			return at(ms(pick(b))), b.Requests > 0
		}
	}
	c.Series = []svgSeries{
		lineSeries(g, "p50", colorP50, false, 0, lat(func(b Bucket) time.Duration { return b.P50 })),
		lineSeries(g, "p99", colorP99, false, 0, lat(func(b Bucket) time.Duration { return b.P99 })),
	}
	for i, s := range c.Series { // keys at the top right, 70 units apart
		c.Keys = append(c.Keys, svgKey{X: plotLeft + plotWidth - 70*float64(len(c.Series)-i), Name: s.Name, Color: s.Color})
	}
	return c
}
