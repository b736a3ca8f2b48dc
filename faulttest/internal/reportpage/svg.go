package reportpage

import "time"

// Layout of every chart of the HTML report, in SVG user units (pixels at
// the page's natural width). The three charts share it, and so share the
// time axis.
const (
	chartWidth   = 1140.0
	chartHeight  = 230.0
	plotLeft     = 70.0 // room for the y tick labels and the axis title
	plotRight    = 20.0
	plotTop      = 34.0 // room for the chart's title and legend
	plotBottom   = 30.0 // room for the x tick labels
	plotWidth    = chartWidth - plotLeft - plotRight
	plotHeight   = chartHeight - plotTop - plotBottom
	maxPoints    = 528  // points per series at most: one per two pixels
	markBinPx    = 4.0  // fired-fault marks closer than this are drawn as one
	maxRects     = 200  // fault windows beyond this are merged at pixel scale
	dotsUpTo     = 60   // series with at most this many points also get dots
	windowLabelW = 64.0 // shaded windows at least this wide carry their label
)

// The series' colors; shadeColor is the fault windows' fill (opaque, drawn
// under the grid and lines so that it reads the same on every chart).
const (
	colorThroughput = "#2563eb"
	colorErrors     = "#dc2626"
	colorP50        = "#059669"
	colorP99        = "#7c3aed"
	colorMark       = "#c2410c"
	shadeColor      = "#fde4c4"
)

// pt is a point in SVG user units.
type pt struct{ X, Y float64 }

// svgTick is a tick of an axis: its position along the axis and its label.
type svgTick struct {
	Pos   float64
	Label string
}

// svgSeries is one line of a chart. A bucket with no value (an error rate
// or latency of a bucket without requests) breaks the line into Segments.
type svgSeries struct {
	Name     string
	Color    string
	Segments []string // polyline points attributes, one per unbroken run
	Area     string   // polygon points of the area under the line, or ""
	Dots     []pt     // drawn when the series has few points
	points   []pt     // every point, in order, for tests and geometry
}

// svgWindow is a fault window's shaded rectangle.
type svgWindow struct {
	X, W  float64
	Label string   // the label, drawn inside the rectangle as Lines
	Lines []string // Label wrapped to the rectangle's width; none if too narrow
	Title string   // the whole label and times, shown on hover
}

// svgMark is a group of fired faults.
type svgMark struct {
	X     float64
	Title string
}

// chartSVG is the geometry of one chart, ready for the template.
type chartSVG struct {
	ID       string
	Title    string
	YLabel   string
	Width    float64
	Height   float64
	PlotX    float64
	PlotY    float64
	PlotW    float64
	PlotH    float64
	PlotBot  float64 // PlotY + PlotH
	XTicks   []svgTick
	YTicks   []svgTick
	Windows  []svgWindow
	Series   []svgSeries
	Marks    []svgMark
	ShowWins bool // window labels drawn on this chart
	Empty    bool // no series has a point: the chart says so
	Keys     []svgKey
}

// svgKey is the key of a series, for charts with several: a short line of
// its color at X, then its name.
type svgKey struct {
	X           float64
	Name, Color string
}

// pageGeometry is what the three charts share: the time domain, the
// (possibly downsampled) buckets, and the clipped windows.
type pageGeometry struct {
	End     time.Duration   // the time axis runs from 0 to End
	Width   time.Duration   // width of the page's buckets
	Bucket  time.Duration   // width of the buckets in Buckets (merged ones, after downsampling)
	Buckets []Bucket        // p.Buckets, merged so that there are at most maxPoints
	Spans   []time.Duration // the time each of Buckets covers: Bucket, or less for the last merged one
	Windows []Window        // p.Windows clipped to [0, End], empty ones dropped
	x       linScale
}

// bucketWidth is p.Bucket, or when it is not positive a width inferred
// from the buckets or the duration.
func bucketWidth(p Page) time.Duration {
	if p.Bucket > 0 {
		return p.Bucket
	}
	if n := len(p.Buckets); n >= 2 && p.Buckets[1].Start > p.Buckets[0].Start {
		return p.Buckets[1].Start - p.Buckets[0].Start
	}
	if n := len(p.Buckets); n > 0 && p.Duration > 0 {
		return p.Duration / time.Duration(n)
	}
	return time.Second
}

// newGeometry computes the shared geometry of p.
func newGeometry(p Page) pageGeometry {
	g := pageGeometry{Bucket: bucketWidth(p), End: p.Duration}
	g.Width = g.Bucket
	for _, b := range p.Buckets {
		g.End = max(g.End, b.Start+g.Bucket)
	}
	if g.End <= 0 {
		g.End = time.Second
	}
	g.x = linScale{0, float64(g.End), plotLeft, plotLeft + plotWidth}
	g.Buckets, g.Spans, g.Bucket = downsample(p.Buckets, g.Bucket, maxPoints)
	g.Windows = clipWindows(p.Windows, g.End)
	return g
}

// downsample merges runs of consecutive buckets so that at most limit
// remain: requests and errors add up, P50 is the request-weighted mean of
// the merged P50s and P99 the largest merged P99 (an upper bound, so that a
// spike never disappears). It returns the buckets, the time each covers
// (the last merged one may cover fewer buckets than the others), and their
// width.
func downsample(bs []Bucket, width time.Duration, limit int) ([]Bucket, []time.Duration, time.Duration) {
	k := max((len(bs)+limit-1)/limit, 1)
	spans := make([]time.Duration, 0, min(len(bs), limit))
	if k == 1 {
		for range bs {
			spans = append(spans, width)
		}
		return bs, spans, width
	}
	out := make([]Bucket, 0, limit)
	for i := 0; i < len(bs); i += k {
		grp := bs[i:min(i+k, len(bs))]
		spans = append(spans, width*time.Duration(len(grp)))
		m := Bucket{Start: grp[0].Start}
		var weighted float64
		for _, b := range grp {
			m.Requests += b.Requests
			m.Errors += b.Errors
			m.P99 = max(m.P99, b.P99)
			weighted += float64(b.P50) * float64(b.Requests)
		}
		if m.Requests > 0 {
			m.P50 = time.Duration(weighted / float64(m.Requests))
		}
		out = append(out, m)
	}
	return out, spans, width * time.Duration(k)
}

// clipWindows clips ws to [0, end] and drops the windows left empty.
func clipWindows(ws []Window, end time.Duration) []Window {
	var out []Window
	for _, w := range ws {
		w.From, w.To = max(w.From, 0), min(w.To, end)
		if w.To > w.From {
			out = append(out, w)
		}
	}
	return out
}

// throughput is b's requests per second over the time it covers.
func throughput(b Bucket, width time.Duration) float64 {
	if width <= 0 {
		return 0
	}
	return float64(b.Requests) / width.Seconds()
}

// errorPercent is b's share of failed calls in percent; ok is false when b
// has no requests (the rate is undefined, not zero).
func errorPercent(b Bucket) (pct float64, ok bool) {
	if b.Requests <= 0 {
		return 0, false
	}
	return 100 * float64(min(b.Errors, b.Requests)) / float64(b.Requests), true
}

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// bucketX is the x of the point of g.Buckets[i]: the middle of its span.
func (g pageGeometry) bucketX(i int) float64 {
	return g.x.at(float64(g.Buckets[i].Start + g.Spans[i]/2))
}
