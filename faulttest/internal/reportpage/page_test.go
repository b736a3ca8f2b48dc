package reportpage

import (
	"bytes"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

const hostile = `<script>alert(1)</script>`

// restartPage is a 6 s run at 100 calls/s in 100 ms buckets, with the
// database restarting from 2 s to 3.5 s: every call fails meanwhile, and
// the p99 latency jumps from 3 ms to 250 ms.
func restartPage() Page {
	p := Page{
		Title:    "TestCheckout/restart " + hostile,
		Started:  time.Date(2026, 11, 27, 15, 0, 0, 0, time.UTC),
		Duration: 6 * time.Second,
		Bucket:   100 * time.Millisecond,
		Windows: []Window{
			{From: 2 * time.Second, To: 3500 * time.Millisecond, Label: "Restart(1.5s)"},
			{From: 4500 * time.Millisecond, To: 5 * time.Second, Label: "Latency(20ms) " + hostile},
		},
		Marks: []Mark{
			{At: 2 * time.Second, Count: 7, Label: "Restart(1.5s)"},
			{At: 4500 * time.Millisecond, Count: 1, Label: hostile},
		},
		Summary: [][2]string{
			{"requests", "600"}, {"errors", "150 (25.0%)"}, {"p99 latency", "251ms"},
			{"recovery", "80ms after the fault ended"}, {"label", hostile},
		},
		Samples: []string{
			"refused: dial tcp 127.0.0.1:40000: connect: connection refused",
			"timeout: context deadline exceeded " + hostile,
		},
	}
	for i := range 60 {
		start := time.Duration(i) * p.Bucket
		b := Bucket{Start: start, Requests: 10, P50: 800 * time.Microsecond, P99: 3 * time.Millisecond}
		if start >= 2*time.Second && start < 3500*time.Millisecond {
			b.Errors, b.P50, b.P99 = 10, 2*time.Millisecond, 250*time.Millisecond
		}
		if start >= 4500*time.Millisecond && start < 5*time.Second {
			b.P50, b.P99 = 21*time.Millisecond, 24*time.Millisecond
		}
		p.Buckets = append(p.Buckets, b)
	}
	return p
}

// render writes p and parses the result; it fails the test if either fails.
func render(t *testing.T, p Page) (string, *html.Node) {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, p); err != nil {
		t.Fatalf("Write: %v", err)
	}
	doc, err := html.Parse(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("parsing the page: %v", err)
	}
	out := buf.String()
	for _, bad := range []string{"NaN", "Inf", "%!", "ZgotmplZ"} {
		if strings.Contains(out, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	return out, doc
}

// findAll returns the elements under n named tag (with class cls, if not "").
func findAll(n *html.Node, tag, cls string) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == tag && (cls == "" || hasClass(n, cls)) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasClass(n *html.Node, cls string) bool {
	return contains(strings.Fields(attr(n, "class")), cls)
}

func fattr(t *testing.T, n *html.Node, key string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(attr(n, key), 64)
	if err != nil {
		t.Fatalf("<%s %s=%q>: %v", n.Data, key, attr(n, key), err)
	}
	return v
}

func text(n *html.Node) string {
	var sb strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			sb.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return sb.String()
}

// charts returns the page's chart <svg>s by id; it fails the test unless
// there are exactly the three.
func charts(t *testing.T, doc *html.Node) map[string]*html.Node {
	t.Helper()
	svgs := findAll(doc, "svg", "")
	if len(svgs) != 3 {
		t.Fatalf("%d <svg> elements, want 3", len(svgs))
	}
	m := map[string]*html.Node{}
	for _, s := range svgs {
		m[attr(s, "id")] = s
	}
	for _, id := range []string{"chart-throughput", "chart-errors", "chart-latency"} {
		if m[id] == nil {
			t.Fatalf("no <svg id=%q>", id)
		}
	}
	return m
}

// seriesPoints returns the points of series i of chart, across its
// polylines.
func seriesPoints(t *testing.T, chart *html.Node, id string) []pt {
	t.Helper()
	var ps []pt
	for _, g := range findAll(chart, "g", "series") {
		if attr(g, "id") != id {
			continue
		}
		for _, pl := range findAll(g, "polyline", "") {
			for _, f := range strings.Fields(attr(pl, "points")) {
				var p pt
				if _, err := fmt.Sscanf(f, "%g,%g", &p.X, &p.Y); err != nil {
					t.Fatalf("point %q: %v", f, err)
				}
				ps = append(ps, p)
			}
		}
	}
	return ps
}

func near(a, b float64) bool { return math.Abs(a-b) <= 0.11 }

func TestReportPageChartsShadeEachWindowAtItsTime(t *testing.T) {
	p := restartPage()
	_, doc := render(t, p)
	for id, svg := range charts(t, doc) {
		rects := findAll(svg, "rect", "fault")
		if len(rects) != len(p.Windows) {
			t.Fatalf("%s: %d shaded rects, want %d", id, len(rects), len(p.Windows))
		}
		for i, w := range p.Windows {
			// The x scale maps [0, Duration] onto the plot's width.
			x0 := plotLeft + plotWidth*w.From.Seconds()/p.Duration.Seconds()
			x1 := plotLeft + plotWidth*w.To.Seconds()/p.Duration.Seconds()
			r := rects[i]
			if x, width := fattr(t, r, "x"), fattr(t, r, "width"); !near(x, x0) || !near(width, x1-x0) {
				t.Errorf("%s: window %d shaded at x=%g width=%g, want x=%.1f width=%.1f", id, i, x, width, x0, x1-x0)
			}
			if y, h := fattr(t, r, "y"), fattr(t, r, "height"); !near(y, plotTop) || !near(h, plotHeight) {
				t.Errorf("%s: window %d spans y=%g height=%g, want the plot's %g, %g", id, i, y, h, plotTop, plotHeight)
			}
			if title := findAll(r, "title", ""); len(title) != 1 || !strings.Contains(text(title[0]), w.Label) {
				t.Errorf("%s: window %d has no <title> with its label %q", id, i, w.Label)
			}
		}
	}
}

func TestReportPageSeriesFollowTheBuckets(t *testing.T) {
	p := restartPage()
	_, doc := render(t, p)
	cs := charts(t, doc)
	for _, s := range []struct{ chart, id string }{
		{"chart-throughput", "series-throughput-0"},
		{"chart-errors", "series-errors-0"},
		{"chart-latency", "series-latency-0"},
		{"chart-latency", "series-latency-1"},
	} {
		if got := len(seriesPoints(t, cs[s.chart], s.id)); got != len(p.Buckets) {
			t.Errorf("%s: %d points, want one per bucket (%d)", s.id, got, len(p.Buckets))
		}
	}
	errs := seriesPoints(t, cs["chart-errors"], "series-errors-0")
	healthy, failing := errs[10], errs[25] // at 1.05 s and 2.55 s
	if !(failing.Y < healthy.Y) {
		t.Errorf("error rate: 100%% bucket drawn at y=%g, 0%% bucket at y=%g; want the higher rate higher on screen", failing.Y, healthy.Y)
	}
	if !near(healthy.Y, plotTop+plotHeight) {
		t.Errorf("error rate 0%% drawn at y=%g, want the plot's bottom %g", healthy.Y, plotTop+plotHeight)
	}
	if want := plotLeft + plotWidth*(2.55/6); !near(failing.X, want) {
		t.Errorf("bucket at 2.5 s drawn at x=%g, want its middle %.1f", failing.X, want)
	}
	p99 := seriesPoints(t, cs["chart-latency"], "series-latency-1")
	if !(p99[25].Y < p99[10].Y) {
		t.Errorf("p99: 250ms drawn at y=%g, 3ms at y=%g; want the slower higher", p99[25].Y, p99[10].Y)
	}
	if lbl := text(cs["chart-latency"]); !strings.Contains(lbl, "log scale") {
		t.Errorf("latency from 0.8ms to 250ms: the axis does not say it is a log scale")
	}
	marks := findAll(cs["chart-latency"], "polygon", "mark")
	if len(marks) != len(p.Marks) {
		t.Fatalf("%d fired-fault marks, want %d", len(marks), len(p.Marks))
	}
	// The restart's 7 faults fired in the bucket at 2 s: the mark's tip is
	// at its middle, and its title counts them.
	var tip pt
	pts := strings.Fields(attr(marks[0], "points"))
	if _, err := fmt.Sscanf(pts[len(pts)-1], "%g,%g", &tip.X, &tip.Y); err != nil {
		t.Fatal(err)
	}
	if want := plotLeft + plotWidth*(2.05/6); !near(tip.X, want) {
		t.Errorf("mark of the bucket at 2 s drawn at x=%g, want %.1f", tip.X, want)
	}
	if title := text(marks[0]); !strings.Contains(title, "7 faults") || !strings.Contains(title, "Restart(1.5s)") {
		t.Errorf("mark titled %q, want the count and the label", title)
	}
}

func TestReportPageSummaryInOrder(t *testing.T) {
	p := restartPage()
	_, doc := render(t, p)
	tables := findAll(doc, "table", "summary")
	if len(tables) != 1 {
		t.Fatalf("%d summary tables, want 1", len(tables))
	}
	rows := findAll(tables[0], "tr", "")
	if len(rows) != len(p.Summary) {
		t.Fatalf("%d summary rows, want %d", len(rows), len(p.Summary))
	}
	for i, r := range rows {
		cells := findAll(r, "td", "")
		if len(cells) != 2 || text(cells[0]) != p.Summary[i][0] || text(cells[1]) != p.Summary[i][1] {
			t.Errorf("summary row %d is %q, want %q", i, text(r), p.Summary[i])
		}
	}
	samples := findAll(doc, "ol", "samples")
	if len(samples) != 1 || len(findAll(samples[0], "li", "")) != len(p.Samples) {
		t.Fatalf("want the %d sampled errors in one list", len(p.Samples))
	}
	if got := text(samples[0]); !strings.Contains(got, p.Samples[0]) {
		t.Errorf("sampled errors %q lack %q", got, p.Samples[0])
	}
}

func TestReportPageEscapesUserText(t *testing.T) {
	out, doc := render(t, restartPage())
	if s := findAll(doc, "script", ""); len(s) != 0 {
		t.Fatalf("the page has %d <script> elements; user text must be escaped", len(s))
	}
	// The hostile text is shown, as text, in the title, a window's label,
	// the summary and the samples.
	if n := strings.Count(text(doc), hostile); n < 4 {
		t.Errorf("hostile label shown as text %d times, want at least 4", n)
	}
	if strings.Contains(out, "<script") {
		t.Errorf("raw output contains <script")
	}
}

func TestReportPageIsSelfContained(t *testing.T) {
	out, doc := render(t, restartPage())
	for _, ref := range []string{"http://", "https://", "//fonts.", "@import", "url("} {
		if strings.Contains(out, ref) {
			t.Errorf("page references %q", ref)
		}
	}
	for _, tag := range []string{"link", "img", "iframe", "object", "embed", "image", "use"} {
		if n := findAll(doc, tag, ""); len(n) != 0 {
			t.Errorf("page has a <%s> element", tag)
		}
	}
}

func TestReportPageEmptyAndTinyRuns(t *testing.T) {
	for _, tc := range []struct {
		name   string
		p      Page
		points int
	}{
		{"zero value", Page{}, 0},
		{"no buckets", Page{Title: "x", Duration: 5 * time.Second, Bucket: time.Second}, 0},
		{"one bucket", Page{Duration: time.Second, Bucket: time.Second,
			Buckets: []Bucket{{Requests: 3, Errors: 1, P50: time.Millisecond, P99: 2 * time.Millisecond}}}, 1},
		{"bucket width unknown", Page{Buckets: []Bucket{{Requests: 3}, {Start: time.Second, Requests: 5}}}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, doc := render(t, tc.p)
			cs := charts(t, doc)
			got := seriesPoints(t, cs["chart-throughput"], "series-throughput-0")
			if len(got) != tc.points {
				t.Errorf("%d throughput points, want %d", len(got), tc.points)
			}
			if tc.points == 1 && len(findAll(cs["chart-throughput"], "circle", "")) != 1 {
				t.Errorf("a single bucket must be drawn as a dot")
			}
			if len(findAll(cs["chart-errors"], "text", "")) < 3 {
				t.Errorf("the error chart has no axis labels")
			}
			if empty := strings.Contains(text(cs["chart-throughput"]), "no calls recorded"); empty != (tc.points == 0) {
				t.Errorf("chart says \"no calls recorded\": %v, with %d points", empty, tc.points)
			}
		})
	}
}

func TestReportPageBucketsWithoutRequestsBreakTheLines(t *testing.T) {
	p := Page{Duration: 4 * time.Second, Bucket: time.Second, Buckets: []Bucket{
		{Start: 0, Requests: 10, Errors: 1, P50: time.Millisecond, P99: 2 * time.Millisecond},
		{Start: time.Second}, // nothing started: no error rate, no latency
		{Start: 2 * time.Second, Requests: 10, Errors: 5, P50: time.Millisecond, P99: 2 * time.Millisecond},
		{Start: 3 * time.Second, Requests: 10, P50: time.Millisecond, P99: 2 * time.Millisecond},
	}}
	_, doc := render(t, p)
	cs := charts(t, doc)
	if n := len(seriesPoints(t, cs["chart-throughput"], "series-throughput-0")); n != 4 {
		t.Errorf("throughput: %d points, want 4 (an empty bucket is 0 requests/s)", n)
	}
	if n := len(seriesPoints(t, cs["chart-errors"], "series-errors-0")); n != 3 {
		t.Errorf("error rate: %d points, want 3 (an empty bucket has none)", n)
	}
	if n := len(findAll(cs["chart-errors"], "polyline", "")); n != 2 {
		t.Errorf("error rate: %d polylines, want 2 (broken at the empty bucket)", n)
	}
}

func TestReportPageClipsWindows(t *testing.T) {
	p := Page{Duration: 6 * time.Second, Bucket: time.Second, Windows: []Window{
		{From: -time.Second, To: 100 * time.Second, Label: "whole run"},
		{From: 7 * time.Second, To: 8 * time.Second, Label: "after the run"},
		{From: 3 * time.Second, To: 2 * time.Second, Label: "backwards"},
	}}
	_, doc := render(t, p)
	for id, svg := range charts(t, doc) {
		rects := findAll(svg, "rect", "fault")
		if len(rects) != 1 {
			t.Fatalf("%s: %d shaded rects, want only the window that overlaps the run", id, len(rects))
		}
		if x, w := fattr(t, rects[0], "x"), fattr(t, rects[0], "width"); !near(x, plotLeft) || !near(w, plotWidth) {
			t.Errorf("%s: window shaded at x=%g width=%g, want the whole plot %g, %g", id, x, w, plotLeft, plotWidth)
		}
	}
}

func TestReportPageTenThousandBucketsStaysSmall(t *testing.T) {
	p := Page{Title: "long run", Duration: 10000 * 100 * time.Millisecond, Bucket: 100 * time.Millisecond}
	for i := range 10000 {
		b := Bucket{Start: time.Duration(i) * p.Bucket, Requests: int64(50 + i%7), P50: time.Millisecond, P99: time.Duration(1+i%13) * time.Millisecond}
		if i%500 < 20 {
			b.Errors = b.Requests / 2
		}
		p.Buckets = append(p.Buckets, b)
		p.Marks = append(p.Marks, Mark{At: b.Start, Count: 1, Label: "Latency(1ms)"})
		if i%10 == 0 {
			p.Windows = append(p.Windows, Window{From: b.Start, To: b.Start + 50*time.Millisecond, Label: "Latency(1ms)"})
		}
		p.Samples = append(p.Samples, strings.Repeat("e", 5000))
	}
	out, doc := render(t, p)
	if len(out) > 2<<20 {
		t.Errorf("page of 10,000 buckets is %d bytes, want under 2 MiB", len(out))
	}
	t.Logf("10,000 buckets, 1,000 windows, 10,000 marks and samples: %d bytes", len(out))
	cs := charts(t, doc)
	tp := seriesPoints(t, cs["chart-throughput"], "series-throughput-0")
	if n := len(tp); n == 0 || n > maxPoints {
		t.Fatalf("%d throughput points, want 1 to %d", n, maxPoints)
	}
	// 10,000 = 526×19 + 6: the last point merges fewer buckets, and its
	// rate must not dip for it.
	if first, last := tp[1], tp[len(tp)-1]; math.Abs(first.Y-last.Y) > 0.05*plotHeight || last.X > plotLeft+plotWidth {
		t.Errorf("steady throughput drawn at y=%g, but the last, partial point at (%g, %g)", first.Y, last.X, last.Y)
	}
	if n := len(findAll(cs["chart-errors"], "rect", "fault")); n == 0 || n > maxRects {
		t.Errorf("%d shaded rects, want 1 to %d", n, maxRects)
	}
	// The error bursts (every 500 buckets) survive downsampling.
	errs := seriesPoints(t, cs["chart-errors"], "series-errors-0")
	bottom := 0.0
	for _, p := range errs {
		bottom = max(bottom, p.Y)
	}
	raised := 0
	for _, p := range errs {
		if p.Y < bottom-1 {
			raised++
		}
	}
	if raised < 20 {
		t.Errorf("only %d downsampled points show the 20 error bursts", raised)
	}
}

func TestDownsampleKeepsTotalsAndPeaks(t *testing.T) {
	var bs []Bucket
	var reqs, errs int64
	for i := range 1005 {
		b := Bucket{Start: time.Duration(i) * time.Second, Requests: int64(i % 5), Errors: int64(i % 2), P50: time.Millisecond, P99: time.Millisecond}
		if i == 777 {
			b.P99 = time.Minute
		}
		reqs, errs = reqs+b.Requests, errs+b.Errors
		bs = append(bs, b)
	}
	out, spans, width := downsample(bs, time.Second, 100)
	if len(out) > 100 || len(out) < 50 {
		t.Fatalf("%d buckets after downsampling to 100", len(out))
	}
	if width != 11*time.Second {
		t.Errorf("merged width %v, want 11s (1005 buckets in groups of 11)", width)
	}
	if len(spans) != len(out) || spans[0] != width || spans[len(spans)-1] != 4*time.Second {
		t.Errorf("spans %v…%v of %d merged buckets, want 11s… and 4s for the last (1005 = 91×11 + 4)", spans[0], spans[len(spans)-1], len(spans))
	}
	var r, e int64
	var peak time.Duration
	for i, b := range out {
		r, e, peak = r+b.Requests, e+b.Errors, max(peak, b.P99)
		if b.Start != time.Duration(i)*width {
			t.Errorf("merged bucket %d starts at %v, want %v", i, b.Start, time.Duration(i)*width)
		}
	}
	if r != reqs || e != errs || peak != time.Minute {
		t.Errorf("after downsampling: %d requests, %d errors, peak p99 %v; want %d, %d, 1m0s", r, e, peak, reqs, errs)
	}
}

func TestAxisScales(t *testing.T) {
	for _, tc := range []struct{ v, top, step float64 }{
		{0, 1, 0.2}, {math.NaN(), 1, 0.2}, {1, 1, 0.2}, {97, 100, 20}, {100, 100, 20}, {101, 125, 25}, {0.003, 0.003, 0.001}, {1234, 1250, 250},
	} {
		top, step := niceLinear(tc.v, 5)
		if math.Abs(top-tc.top) > 1e-9*tc.top || math.Abs(step-tc.step) > 1e-9*tc.step {
			t.Errorf("niceLinear(%g) = %g, %g; want %g, %g", tc.v, top, step, tc.top, tc.step)
		}
		if tc.v > top {
			t.Errorf("niceLinear(%g): top %g below the value", tc.v, top)
		}
	}
	lo, hi := logRange(0.8, 250)
	if lo != 0.1 || hi != 1000 {
		t.Errorf("logRange(0.8, 250) = %g, %g; want 0.1, 1000", lo, hi)
	}
	if got := fmt.Sprint(logTicks(1, 100)); got != "[1 2 5 10 20 50 100]" {
		t.Errorf("logTicks(1, 100) = %s", got)
	}
	s := logScale{0.1, 1000, 200, 0}
	if !near(s.at(1), 150) || !near(s.at(0), 200) || !near(s.at(1000), 0) {
		t.Errorf("log scale: 1 → %g, 0 → %g, 1000 → %g; want 150, 200, 0", s.at(1), s.at(0), s.at(1000))
	}
	for _, end := range []time.Duration{time.Nanosecond, time.Millisecond, 6 * time.Second, 17 * time.Minute, 1000 * time.Hour} {
		ts := timeTicks(end)
		if len(ts) < 1 || len(ts) > 13 || ts[0] != 0 || ts[len(ts)-1] > end {
			t.Errorf("timeTicks(%v) = %v; want 1 to 13 ticks from 0 within the run", end, ts)
		}
	}
	for d, want := range map[time.Duration]string{
		0: "0s", 500 * time.Millisecond: "500ms", 1500 * time.Millisecond: "1.5s",
		2 * time.Minute: "2m", 150 * time.Second: "2m30s", time.Hour: "1h", 90 * time.Minute: "1h30m",
	} {
		if got := formatOffset(d); got != want {
			t.Errorf("formatOffset(%v) = %q, want %q", d, got, want)
		}
	}
	for v, want := range map[float64]string{0: "0", 0.1: "0.1", 0.30000000000000004: "0.3", 2.5: "2.5", 1500: "1500"} {
		if got := formatNumber(v); got != want {
			t.Errorf("formatNumber(%g) = %q, want %q", v, got, want)
		}
	}
}

// TestReportPageWindowBoundaries: back-to-back windows each get an edge at
// their start, so two of them do not read as one block; a long label is
// wrapped over lines inside its window rather than cut; table headers do
// not break inside a word; warnings show above the charts.
func TestReportPageWindowBoundaries(t *testing.T) {
	long := "Error(HTTPStatus(503)).When(Method(\"POST\"), Path(\"/orders/*\")).Probability(0.5)"
	p := Page{Duration: 6 * time.Second, Bucket: time.Second,
		Windows: []Window{
			{From: 0, To: 3 * time.Second, Label: long},
			{From: 3 * time.Second, To: 6 * time.Second, Label: "Latency(80ms)"},
		},
		Warnings: []string{"The load generator fell behind"},
	}
	out, doc := render(t, p)
	for id, svg := range charts(t, doc) {
		edges := findAll(svg, "line", "wedge")
		if len(edges) != 2 {
			t.Fatalf("%s: %d window edges, want 2", id, len(edges))
		}
		if x0, x1 := fattr(t, edges[0], "x1"), fattr(t, edges[1], "x1"); !near(x0, plotLeft) || !near(x1, plotLeft+plotWidth/2) {
			t.Errorf("%s: edges at %g and %g, want %g and %g", id, x0, x1, plotLeft, plotLeft+plotWidth/2)
		}
	}
	// The label, wrapped over lines: all of it, in order.
	var shown strings.Builder
	for _, ts := range regexp.MustCompile(`<tspan[^>]*>([^<]*)</tspan>`).FindAllStringSubmatch(out, -1) {
		shown.WriteString(html.UnescapeString(ts[1]))
	}
	if got := strings.ReplaceAll(shown.String(), " ", ""); !strings.Contains(got, strings.ReplaceAll(long, " ", "")) {
		t.Errorf("chart labels %q do not hold the whole label %q", shown.String(), long)
	}
	if !strings.Contains(out, "white-space: nowrap; word-break: normal") {
		t.Error("table headers may break inside a word")
	}
	if !strings.Contains(out, `class="warning">⚠ The load generator fell behind`) {
		t.Error("the warning is not shown")
	}
}
