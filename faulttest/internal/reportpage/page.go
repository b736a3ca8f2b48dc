// Package reportpage renders the HTML report of a faulttest load run: one
// self-contained page (inline CSS and SVG, no scripts) with the throughput,
// error-rate and latency charts over time, the fault windows shaded on
// them, the fired faults marked, a summary table and the sampled errors.
//
// It knows nothing of how a run is recorded: faulttest fills a [Page] and
// calls [Write].
package reportpage

import (
	"bufio"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"time"
)

// A Page is what the HTML report shows; times are offsets from the start
// of the recorded run.
type Page struct {
	Title     string
	Started   time.Time
	Duration  time.Duration
	Bucket    time.Duration // width of every bucket
	Buckets   []Bucket
	Windows   []Window    // fault windows, shaded
	Marks     []Mark      // faults that fired, aggregated per bucket
	Summary   [][2]string // rows of the summary table, in order: name, value
	Samples   []string    // sampled error texts, each prefixed with its class
	Fired     []string    // the first faults that fired, as the events print them (and logs show them)
	MoreFired int         // how many more fired
	Warnings  []string    // shown above the charts, loudly: what makes the numbers less than true
}

// A Bucket is the calls that started in [Start, Start+Bucket): how many,
// how many failed, and the median and 99th percentile of their latency.
type Bucket struct {
	Start    time.Duration
	Requests int64
	Errors   int64
	P50, P99 time.Duration
}

// A Window is a span of the run during which faults were in force.
type Window struct {
	From, To time.Duration
	Label    string // the behaviors in force
}

// A Mark is Count faults that fired in the bucket that starts at At.
type Mark struct {
	At    time.Duration
	Count int
	Label string
}

// Bounds on the lists of the page, so that its size stays bounded whatever
// the run recorded (the charts bound themselves, see svg.go).
const (
	maxPageWindows   = 200  // rows of the fault-window table
	maxPageSamples   = 100  // sampled errors shown
	maxPageTextRunes = 1000 // longest label, error text or summary cell shown
)

// pageView is Page prepared for the template.
type pageView struct {
	Title       string
	Started     string // "" when unknown
	Duration    string
	Bucket      string // what one point of the charts stands for
	Charts      []chartSVG
	Summary     [][2]string
	Windows     []windowRow
	MoreWindows int
	Samples     []string
	MoreSamples int
	Fired       []string
	MoreFired   int
	Warnings    []string
	Shade       string // the fault windows' fill
	Colors      map[string]string
}

type windowRow struct{ From, To, Label string }

// Write writes p to w as one self-contained HTML page: inline CSS and SVG,
// no scripts, no external resources. Every text of p is escaped.
// Any p renders, including one without buckets, windows past the run's
// ends (clipped) and buckets without requests (drawn as gaps); the page's
// size is bounded whatever the number of buckets.
func Write(w io.Writer, p Page) error {
	g := newGeometry(p)
	v := pageView{
		Title:    shorten(p.Title),
		Duration: formatOffset(p.Duration),
		Bucket:   formatOffset(g.Bucket),
		Charts:   buildCharts(g, p),
		Shade:    shadeColor,
		Warnings: p.Warnings,
		Colors: map[string]string{
			"throughput": colorThroughput, "errors": colorErrors,
			"p50": colorP50, "p99": colorP99, "mark": colorMark,
		},
	}
	if g.Bucket != g.Width {
		v.Bucket += fmt.Sprintf(" (%d buckets of %s merged per point)", len(p.Buckets), formatOffset(g.Width))
	}
	if v.Title == "" {
		v.Title = "load report"
	}
	if !p.Started.IsZero() {
		v.Started = p.Started.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	for _, row := range p.Summary {
		v.Summary = append(v.Summary, [2]string{shorten(row[0]), shorten(row[1])})
	}
	for i, win := range p.Windows {
		if i == maxPageWindows {
			v.MoreWindows = len(p.Windows) - i
			break
		}
		v.Windows = append(v.Windows, windowRow{formatOffset(win.From), formatOffset(win.To), shorten(win.Label)})
	}
	for _, f := range p.Fired {
		v.Fired = append(v.Fired, shorten(f))
	}
	v.MoreFired = p.MoreFired
	for i, s := range p.Samples {
		if i == maxPageSamples {
			v.MoreSamples = len(p.Samples) - i
			break
		}
		v.Samples = append(v.Samples, shorten(s))
	}
	bw := bufio.NewWriter(w)
	if err := pageTemplate.Execute(bw, v); err != nil {
		return fmt.Errorf("faulttest: writing the report: %w", err)
	}
	return bw.Flush()
}

// shorten cuts s to maxPageTextRunes runes.
func shorten(s string) string {
	if len(s) <= maxPageTextRunes {
		return s
	}
	r := []rune(s)
	if len(r) <= maxPageTextRunes {
		return s
	}
	return string(r[:maxPageTextRunes]) + "…"
}

// num formats a coordinate for an SVG attribute.
func num(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

var pageTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"num":  num,
	"add":  func(a, b float64) float64 { return a + b },
	"half": func(a float64) float64 { return a / 2 },
}).Parse(pageHTML))
