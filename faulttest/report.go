package faulttest

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/gofaults/faults/faulttest/internal/recorder"
	"github.com/gofaults/faults/faulttest/internal/reportpage"
)

// A Window is a span of a load run, [From, To), as offsets from the start
// of the recorded run (after the warm-up).
type Window struct {
	From, To time.Duration
}

// A Bucket is one fixed-width slice of a load run's timeline: the calls
// that started (open model: were scheduled) in [Start, Start+width).
type Bucket struct {
	Start    time.Duration     // offset from the start of the recorded run
	Requests int64             // calls that returned, failed or not
	Errors   int64             // calls that failed
	ByClass  [NumClasses]int64 // Errors per class, indexed by ErrorClass
	Faults   int64             // faults the watched proxies fired (counted when seen, to within 10 ms)
	P50, P99 time.Duration     // latency quantiles; zero without requests
}

// A FaultWindow is a span of a load run during which a proxy had the same
// non-empty set of behaviors installed.
type FaultWindow struct {
	Window
	Proxy string // the proxy's name ([faults.WithName]), or its address if it has none
	Label string // the behaviors in force, as their String methods render them, joined by ", "
}

// A FaultMark counts the faults with one label that fired in one bucket of
// the timeline, as the proxies' ledgers recorded them.
type FaultMark struct {
	At    time.Duration // the start of the bucket
	Count int
	Label string // the behavior that fired, prefixed with the proxy's name or address when the run watched several
}

// The recorder counts errors per class in arrays of the same length.
var _ [NumClasses]int64 = [recorder.NumClasses]int64{}

// A Report is what a load run saw. It does not change once [Load] has
// returned it, and its methods are safe for concurrent use. Its size does
// not depend on the number of calls: latencies are kept in HDR histograms
// (3 significant figures for the run, 2 for each bucket) and only a few
// error texts are kept per class.
type Report struct {
	name        string
	open        bool
	rate        float64
	concurrency int
	start       time.Time // start of the recorded run
	duration    time.Duration
	width       time.Duration
	warmup      time.Duration
	timeout     time.Duration
	maxInFlight int

	rec              *recorder.Recording // the recorded calls: latencies and timeline
	requests, errors int64               // rec's, abandoned calls included
	byClass          [NumClasses]int64   // rec's, abandoned calls counted as timeouts
	samples          []string
	abandoned        int64
	dropped          int64
	limitHits        int64
	windows          []FaultWindow
	marks            []FaultMark
	fired            []string // the first faults fired, as their events print
	firedTotal       int
	steps            []StepResult

	// A replay's: what it played, and the requests whose outcome differs
	// from the recorded one.
	replay     string
	mismatches []Mismatch
}

// report turns the run's recordings into a Report. The recorder is closed.
func (r *run) report(abandoned int64, windows []FaultWindow) *Report {
	rec := r.rec.Recording()
	rep := &Report{
		name:        r.plan.Name,
		open:        r.plan.Rate > 0,
		rate:        r.plan.Rate,
		concurrency: r.plan.Concurrency,
		start:       r.t0.Add(r.plan.Warmup),
		duration:    r.plan.Duration,
		width:       r.plan.Bucket,
		warmup:      r.plan.Warmup,
		timeout:     r.plan.Timeout,
		maxInFlight: r.plan.MaxInFlight,
		rec:         rec,
		requests:    rec.Requests + abandoned,
		errors:      rec.Errors + abandoned,
		byClass:     rec.ByClass,
		abandoned:   abandoned,
		dropped:     r.dropped.Load(),
		limitHits:   r.limitHits.Load(),
		windows:     windows,
	}
	rep.byClass[ClassTimeout] += abandoned
	for c, texts := range rec.Samples {
		for _, s := range texts {
			rep.samples = append(rep.samples, ErrorClass(c).String()+": "+s)
		}
	}
	return rep
}

// Name returns the report's title: LoadOptions.Name or the test's name.
func (r *Report) Name() string { return r.name }

// Start returns when the recorded run started, after the warm-up. Offsets
// in the report count from there.
func (r *Report) Start() time.Time { return r.start }

// Offset returns how far t is into the recorded run (negative before it).
func (r *Report) Offset(t time.Time) time.Duration { return t.Sub(r.start) }

// Duration returns the length of the recorded run: LoadOptions.Duration.
func (r *Report) Duration() time.Duration { return r.duration }

// BucketWidth returns the width of the timeline's buckets.
func (r *Report) BucketWidth() time.Duration { return r.width }

// Requests returns the number of calls of the recorded run, failed or not.
// It includes the abandoned calls, and not the dropped ones.
func (r *Report) Requests() int64 { return r.requests }

// Errors returns the number of calls of the recorded run that failed,
// abandoned calls included.
func (r *Report) Errors() int64 { return r.errors }

// ErrorsOf returns the number of failed calls of class c.
func (r *Report) ErrorsOf(c ErrorClass) int64 {
	if c < 0 || int(c) >= NumClasses {
		return 0
	}
	return r.byClass[c]
}

// ErrorRate returns Errors/Requests, 0 without requests.
func (r *Report) ErrorRate() float64 {
	if r.requests == 0 {
		return 0
	}
	return float64(r.errors) / float64(r.requests)
}

// ErrorSamples returns a few of the distinct error texts of each class
// (the first ones seen), each prefixed with its class and ": ".
func (r *Report) ErrorSamples() []string { return append([]string(nil), r.samples...) }

// Abandoned returns the number of calls still running AbandonGrace after
// their timeout, which Load stopped waiting for.
func (r *Report) Abandoned() int64 { return r.abandoned }

// Dropped returns the number of calls of the open model that were due but
// never started because MaxInFlight calls were running until the end.
func (r *Report) Dropped() int64 { return r.dropped }

// MaxInFlightReached returns how many times a due call of the open model
// found MaxInFlight calls running and had to wait.
func (r *Report) MaxInFlightReached() int64 { return r.limitHits }

// Latency returns the q quantile (0 ≤ q ≤ 1; 0.99 is p99) of the
// latencies of the recorded run, to 3 significant figures; 0 without
// requests. Abandoned calls are not in it.
func (r *Report) Latency(q float64) time.Duration {
	return r.rec.Latency(q)
}

// ScheduleLag returns the q quantile of how late the calls of the open
// model started after their scheduled time, to 2 significant figures: the
// load generator's own delay (timer granularity, goroutine start, waits for
// MaxInFlight), which is part of every latency. Zero for the closed model.
func (r *Report) ScheduleLag(q float64) time.Duration {
	return r.rec.ScheduleLag(q)
}

// Thresholds beyond which the generator is said to have fallen behind.
const (
	backlogLag      = 10 * time.Millisecond // p99 schedule lag
	backlogLagShare = 0.1                   // of the p99 latency
)

// backlogWarning says, for the open model, whether the generator could not
// keep up with the rate, so that the latencies count its own backlog; ""
// if it kept up.
func (r *Report) backlogWarning() string {
	if !r.open {
		return ""
	}
	lag := r.ScheduleLag(0.99)
	if r.limitHits == 0 && (lag < backlogLag || float64(lag) < backlogLagShare*float64(r.Latency(0.99))) {
		return ""
	}
	w := fmt.Sprintf("The load generator fell behind the rate of %v calls/s: calls started up to %v (p99) after their scheduled time, and every latency here includes that backlog, not only the time the code under test took.",
		r.rate, sig3(lag))
	if r.limitHits > 0 {
		w += fmt.Sprintf(" MaxInFlight (%d) was reached %d times.", r.maxInFlight, r.limitHits)
	}
	return w + " Lower the rate or raise MaxInFlight to measure the code under test alone."
}

// sig3 rounds d to 3 significant digits, the precision of the latencies,
// for messages.
func sig3(d time.Duration) time.Duration {
	unit := time.Duration(1)
	for x := d / 1000; x > 0; x /= 10 {
		unit *= 10
	}
	return d.Round(unit)
}

// LatencyIn returns the q quantile of the latencies of the calls in the
// buckets that lie entirely within w, to 2 significant figures, and the
// number of those calls.
func (r *Report) LatencyIn(w Window, q float64) (time.Duration, int64) {
	return r.rec.LatencyIn(w.From, w.To, q)
}

// ErrorRateIn returns the error rate of the calls in the buckets that lie
// entirely within w, and the number of those calls.
func (r *Report) ErrorRateIn(w Window) (rate float64, requests int64) {
	errs, requests := r.rec.CountIn(w.From, w.To)
	if requests == 0 {
		return 0, 0
	}
	return float64(errs) / float64(requests), requests
}

// Timeline returns the run's buckets, in order; the last one may be cut
// short by the end of the run.
func (r *Report) Timeline() []Bucket {
	tl := r.rec.Timeline()
	out := make([]Bucket, len(tl))
	for i, b := range tl {
		out[i] = Bucket{
			Start:    time.Duration(i) * r.width,
			Requests: b.Requests,
			Errors:   b.Errors,
			ByClass:  b.ByClass,
			Faults:   b.Faults,
			P50:      b.P50,
			P99:      b.P99,
		}
	}
	return out
}

// FaultWindows returns the spans of the recorded run during which a
// watched proxy had behaviors installed, ordered by start. Their ends are
// known to within about 10 ms, the polling interval. A behavior limited
// with For still counts as installed after its window closes: the proxy
// lists it.
func (r *Report) FaultWindows() []FaultWindow { return append([]FaultWindow(nil), r.windows...) }

// maxReportFired bounds the faults the report lists one by one.
const maxReportFired = 100

// maxReportMismatches bounds the mismatches the report lists one by one.
const maxReportMismatches = 20

// FaultMarks returns the faults the watched proxies' ledgers recorded
// during the recorded run, aggregated per bucket and label. A ledger keeps
// only the most recent events ([faults.WithEventLimit]); the buckets'
// Faults counts include the ones it dropped.
func (r *Report) FaultMarks() []FaultMark { return append([]FaultMark(nil), r.marks...) }

// Steps returns what became of the steps of the run's Schedule, in order
// of offset: when each took effect.
func (r *Report) Steps() []StepResult { return slices.Clone(r.steps) }

// FaultsFired returns the number of faults the watched proxies fired during
// the recorded run.
func (r *Report) FaultsFired() int64 {
	return r.rec.Faults()
}

// RecoveryTime tells how long after since the errors stopped for good: the
// start (open model: scheduled start) of the last failed call that started
// at or after since, minus since; zero if none failed. ok is false if the
// run never recovered: no call succeeded after that last failure. Only
// calls of the recorded run count, and abandoned calls are not known to
// it.
func (r *Report) RecoveryTime(since time.Time) (d time.Duration, ok bool) {
	return r.rec.RecoveryTime(r.Offset(since))
}

// String summarizes the report on one line.
func (r *Report) String() string {
	return fmt.Sprintf("%s: %d requests, %d errors (%.2f%%), p50 %v, p99 %v, max %v",
		r.name, r.requests, r.errors, 100*r.ErrorRate(), sig3(r.Latency(0.5)), sig3(r.Latency(0.99)), sig3(r.Latency(1)))
}

// WriteText writes the report as plain text, for a terminal or a log: its
// title, then the summary the HTML page shows (the model or what a replay
// played, requests, errors by class, latency quantiles, faults fired, a
// replay's mismatches), one line each, then the sampled errors and the
// first faults fired.
func (r *Report) WriteText(w io.Writer) error {
	p := r.page()
	var b strings.Builder
	b.WriteString(p.Title + "\n")
	width := 0
	for _, row := range p.Summary {
		width = max(width, len(row[0]))
	}
	for _, row := range p.Summary {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, row[0], row[1])
	}
	for _, w := range p.Warnings {
		b.WriteString("warning: " + w + "\n")
	}
	if len(p.Samples) > 0 {
		b.WriteString("errors:\n")
		for _, s := range p.Samples {
			b.WriteString("  " + s + "\n")
		}
	}
	if len(p.Fired) > 0 {
		b.WriteString("faults fired:\n")
		for _, f := range p.Fired {
			b.WriteString("  " + f + "\n")
		}
		if p.MoreFired > 0 {
			fmt.Fprintf(&b, "  … and %d more\n", p.MoreFired)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteHTML writes the report as one self-contained HTML page: the
// timeline with its fault windows and fired faults, a summary and the
// sampled errors.
func (r *Report) WriteHTML(w io.Writer) error {
	return reportpage.Write(w, r.page())
}

func (r *Report) page() reportpage.Page {
	p := reportpage.Page{
		Title:     r.name,
		Started:   r.start,
		Duration:  r.duration,
		Bucket:    r.width,
		Samples:   r.ErrorSamples(),
		Fired:     r.fired,
		MoreFired: r.firedTotal - len(r.fired),
	}
	for _, b := range r.Timeline() {
		p.Buckets = append(p.Buckets, reportpage.Bucket{Start: b.Start, Requests: b.Requests, Errors: b.Errors, P50: b.P50, P99: b.P99})
	}
	proxies := map[string]bool{}
	for _, fw := range r.windows {
		proxies[fw.Proxy] = true
	}
	for _, fw := range r.windows {
		label := fw.Label
		if len(proxies) > 1 {
			label = fw.Proxy + " " + label
		}
		p.Windows = append(p.Windows, reportpage.Window{From: fw.From, To: fw.To, Label: label})
	}
	for _, m := range r.marks {
		p.Marks = append(p.Marks, reportpage.Mark{At: m.At, Count: m.Count, Label: m.Label})
	}
	model := fmt.Sprintf("open, %v calls/s", r.rate)
	switch {
	case r.replay != "":
		model = r.replay
	case !r.open:
		model = fmt.Sprintf("closed, %d callers", r.concurrency)
	}
	row := func(name, format string, args ...any) {
		p.Summary = append(p.Summary, [2]string{name, fmt.Sprintf(format, args...)})
	}
	row("model", "%s", model)
	row("duration", "%v (warm-up %v, buckets of %v)", r.duration, r.warmup, r.width)
	row("timeout", "%v per call", r.timeout)
	row("requests", "%d (%.1f/s)", r.requests, float64(r.requests)/r.duration.Seconds())
	row("errors", "%d (%.2f%%)", r.errors, 100*r.ErrorRate())
	for c := range NumClasses {
		row("  "+ErrorClass(c).String(), "%d", r.byClass[c])
	}
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		name := fmt.Sprintf("p%g", 100*q)
		if q == 1 {
			name = "max"
		}
		row(name, "%v", sig3(r.Latency(q)))
	}
	row("faults fired", "%d", r.FaultsFired())
	for i, st := range r.steps {
		row(fmt.Sprintf("step %d", i+1), "%v", st)
	}
	if r.replay != "" {
		row("mismatches", "%d", len(r.mismatches))
		for i, m := range r.mismatches {
			if i == maxReportMismatches {
				row("", "… and %d more", len(r.mismatches)-i)
				break
			}
			row(fmt.Sprintf("mismatch %d", i+1), "%v", m)
		}
	}
	if r.open {
		lag := fmt.Sprintf("p50 %v, p99 %v (part of every latency)", sig3(r.ScheduleLag(0.5)), sig3(r.ScheduleLag(0.99)))
		if w := r.backlogWarning(); w != "" {
			lag += " — ⚠ " + w
			p.Warnings = append(p.Warnings, w)
		}
		row("schedule lag", "%s", lag)
		row("max in flight", "%d (reached %d times, %d calls dropped)", r.maxInFlight, r.limitHits, r.dropped)
	}
	if r.abandoned > 0 {
		row("abandoned", "%d calls still running %v after their timeout", r.abandoned, AbandonGrace)
	}
	return p
}
