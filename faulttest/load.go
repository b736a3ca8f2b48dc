package faulttest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofaults/faults"
	"github.com/gofaults/faults/faulttest/internal/faultwatch"
	"github.com/gofaults/faults/faulttest/internal/recorder"
)

// Bounds of a load run's options.
const (
	MaxLoadDuration = 10 * time.Minute // the longest Duration, and the longest Warmup
	MaxLoadTimeout  = 10 * time.Minute // the longest Timeout
	MaxRate         = 1_000_000        // the highest Rate, in calls per second
	MaxConcurrency  = 10_000           // the most callers of the closed model
	MaxInFlightCap  = 100_000          // the highest MaxInFlight
	maxBuckets      = 600              // the most buckets of a timeline
)

// AbandonGrace is how long, after a call's Timeout, [Load] still waits for
// it to return before abandoning it.
const AbandonGrace = time.Second

// ReportDirEnv names the environment variable that, when set to a
// directory, makes every [Load] write its HTML report there.
const ReportDirEnv = "FAULTS_REPORT_DIR"

// LoadTB is what [Load] needs of a test: [TB] and the test's name, which
// titles the report and names its file. A [testing.TB] is one; a fake that
// implements TB needs only a Name method more.
type LoadTB interface {
	TB
	Name() string
}

var _ LoadTB = testing.TB(nil)

// LoadOptions describe a load run. Set exactly one of Rate and Concurrency.
// Zero values mean the documented defaults.
type LoadOptions struct {
	// Rate selects the open model: calls start at this many per second, on
	// a fixed schedule, whether or not earlier calls have returned. A call's
	// latency is measured from its scheduled start, so a backend that
	// stalls shows up in the tail instead of slowing the generator down.
	// The generator's own delay is part of it too: typically a fraction of
	// a millisecond, more on a loaded machine ([Report.ScheduleLag]).
	Rate float64

	// Concurrency selects the closed model: this many callers each call in
	// a loop, the next call starting when the previous one returns. A
	// call's latency is measured from its actual start. Use it to compare:
	// a stalled backend also stalls the callers, and hides from the tail.
	Concurrency int

	// Duration is how long calls are started for, once the warm-up is
	// over. It is required, and at most MaxLoadDuration.
	Duration time.Duration

	// Warmup is a period before Duration whose calls are made but not
	// recorded. Zero means none.
	Warmup time.Duration

	// Timeout is each call's deadline, through its context, from its actual
	// start. Zero means the smaller of 5 s and Duration.
	Timeout time.Duration

	// MaxInFlight bounds the calls running at once in the open model. When
	// it is reached, due calls wait for a slot (their latency still counts
	// from their scheduled start); those still waiting when Duration ends
	// are dropped, and the report says so. Zero means twice Rate×Timeout
	// (Rate×Timeout are in flight when every call times out), at least 100
	// and at most 10,000 (2,000 under the race detector, which allows 8,128
	// goroutines). The closed model has Concurrency calls in flight.
	MaxInFlight int

	// MaxRequests, if positive, bounds the number of calls started,
	// warm-up included.
	MaxRequests int64

	// Bucket is the width of the timeline's buckets. Zero picks one of
	// 100ms, 200ms, 250ms, 500ms, 1s, 2s, 5s, 10s, 15s, 30s or 1m giving at
	// most 120 buckets. Duration/Bucket must be at most 600.
	Bucket time.Duration

	// Proxies are watched during the run: changes to their behaviors
	// become fault windows of the timeline, and the faults they fire are
	// counted per bucket.
	Proxies []*faults.Proxy

	// Schedule changes the proxies' behaviors on the run's own clock: each
	// Step is carried out at its offset, in order of offset, and the
	// report records when it took effect ([Report.Steps]). The proxies of
	// the steps are watched as those of Proxies are. Behaviors a step
	// installs stay installed after the run: end the schedule with a step
	// that resets the proxy if the test goes on.
	Schedule []Step

	// Name titles the report and names its file; empty means the test's
	// name.
	Name string
}

// A Step is one change of a load run's [LoadOptions.Schedule]: at offset
// At, Proxy's behaviors become Behaviors, as by [faults.Proxy.Set]; no
// Behaviors resets the proxy.
type Step struct {
	At        time.Duration // offset from the start of the recorded run, in [-Warmup, Duration); negative during the warm-up
	Proxy     *faults.Proxy
	Behaviors []faults.Behavior
}

// String describes the step, such as "at 2s: mysql (… → …): Set(Restart(1s))".
func (s Step) String() string {
	bs := make([]string, len(s.Behaviors))
	for i, b := range s.Behaviors {
		bs[i] = b.String()
	}
	what := "Reset()"
	if len(bs) > 0 {
		what = "Set(" + strings.Join(bs, ", ") + ")"
	}
	return fmt.Sprintf("at %v: %v: %s", s.At, s.Proxy, what)
}

// A StepResult is what became of a scheduled [Step].
type StepResult struct {
	Step
	// Took is the offset at which the step took effect: when Set
	// returned, the behaviors in force. Negative during the warm-up.
	Took time.Duration
	// Err is what Set returned (Load then fails the test), or
	// [ErrStepSkipped].
	Err error
}

// ErrStepSkipped is the error of a [StepResult] whose step was not carried
// out because the run ended first (MaxRequests reached).
var ErrStepSkipped = errors.New("faulttest: the run ended before the step was due")

// loadPlan is a validated LoadOptions with its defaults filled in.
type loadPlan struct {
	LoadOptions
	total time.Duration // Warmup + Duration
	limit int64         // calls to start at most; 0 means no limit
}

// Load runs fn under load, as described by opts, and returns what it saw.
// fn is called from many goroutines at once, with a context whose deadline
// is the call's Timeout; a non-nil error counts as a failed call and is
// classified by [Classify]. fn must not call t.FailNow or t.Fatal (they
// only work on the test's goroutine): let it return an error, or call
// t.Error. A panic in fn crashes the test binary, as in any goroutine.
//
// Load blocks until the run is over: for Warmup+Duration, then until every
// call it started has returned. A call still running AbandonGrace after
// its Timeout is abandoned: it is counted as a timeout (in the totals, not
// in the timeline or the latencies), Load logs it and returns, and the
// call's goroutine lives on until fn returns — fn must honor its context.
//
// Invalid options fail the test at once with t.Fatalf. With go test -v,
// Load logs a progress line every second. When the environment variable
// FAULTS_REPORT_DIR is set, Load writes the HTML report there, in a file
// named after the run's Name (the test's name by default; a second run of
// the same name gets name-2.html), and logs its path; it fails the test if
// it cannot. A step of the Schedule whose Set fails fails the test once
// the run is over.
// Load calls t's methods from its own goroutine only.
func Load(t LoadTB, opts LoadOptions, fn func(ctx context.Context) error) *Report {
	t.Helper()
	plan, err := planLoad(opts, fn)
	if err != nil {
		t.Fatalf("faulttest: Load: %v", err)
		return nil
	}
	if plan.Name == "" {
		plan.Name = t.Name()
	}
	Use(t, plan.Proxies...)
	r := newRun(plan, fn)
	rep := r.run(t)
	if !writeReportIfAsked(t, "Load", plan.Name, rep) {
		return rep
	}
	for i, st := range rep.steps {
		switch {
		case errors.Is(st.Err, ErrStepSkipped):
			t.Logf("faulttest: Load: Schedule[%d] (%v) skipped: the run ended first", i, st.Step)
		case st.Err != nil:
			t.Fatalf("faulttest: Load: Schedule[%d] (%v): %v", i, st.Step, st.Err)
			return rep
		}
	}
	return rep
}

func planLoad(opts LoadOptions, fn func(context.Context) error) (loadPlan, error) {
	p := loadPlan{LoadOptions: opts}
	switch {
	case fn == nil:
		return p, fmt.Errorf("the function to call is nil")
	case math.IsNaN(opts.Rate) || opts.Rate < 0 || opts.Rate > MaxRate:
		return p, fmt.Errorf("Rate must be between 0 and %d calls per second; got %v", MaxRate, opts.Rate)
	case opts.Concurrency < 0 || opts.Concurrency > MaxConcurrency:
		return p, fmt.Errorf("Concurrency must be between 0 and %d; got %d", MaxConcurrency, opts.Concurrency)
	case (opts.Rate > 0) == (opts.Concurrency > 0):
		return p, fmt.Errorf("set exactly one of Rate (open model) and Concurrency (closed model); got Rate=%v, Concurrency=%d",
			opts.Rate, opts.Concurrency)
	case opts.Duration <= 0 || opts.Duration > MaxLoadDuration:
		return p, fmt.Errorf("Duration is required, positive and at most %v; got %v", MaxLoadDuration, opts.Duration)
	case opts.Warmup < 0 || opts.Warmup > MaxLoadDuration:
		return p, fmt.Errorf("Warmup must be between 0 and %v; got %v", MaxLoadDuration, opts.Warmup)
	case opts.Timeout < 0 || opts.Timeout > MaxLoadTimeout:
		return p, fmt.Errorf("Timeout must be between 0 and %v; got %v", MaxLoadTimeout, opts.Timeout)
	case opts.MaxInFlight < 0 || opts.MaxInFlight > MaxInFlightCap:
		return p, fmt.Errorf("MaxInFlight must be between 0 and %d; got %d", MaxInFlightCap, opts.MaxInFlight)
	case opts.MaxRequests < 0:
		return p, fmt.Errorf("MaxRequests must not be negative; got %d", opts.MaxRequests)
	case opts.Bucket < 0:
		return p, fmt.Errorf("Bucket must not be negative; got %v", opts.Bucket)
	case opts.Bucket > opts.Duration:
		return p, fmt.Errorf("Bucket must be at most Duration (%v); got %v", opts.Duration, opts.Bucket)
	case opts.Bucket > 0 && (opts.Duration-1)/opts.Bucket+1 > maxBuckets: // ceil without overflow
		return p, fmt.Errorf("Bucket %v makes more than %d buckets of Duration %v", opts.Bucket, maxBuckets, opts.Duration)
	}
	for i, px := range opts.Proxies {
		if px == nil {
			return p, fmt.Errorf("Proxies[%d] is nil", i)
		}
	}
	for i, st := range opts.Schedule {
		switch {
		case st.Proxy == nil:
			return p, fmt.Errorf("Schedule[%d]: Proxy is nil", i)
		case st.At < -opts.Warmup || st.At >= opts.Duration:
			return p, fmt.Errorf("Schedule[%d]: At must be in [-Warmup, Duration) = [%v, %v); got %v", i, -opts.Warmup, opts.Duration, st.At)
		}
	}
	p.Schedule = slices.Clone(opts.Schedule)
	slices.SortStableFunc(p.Schedule, func(a, b Step) int { return cmp.Compare(a.At, b.At) })
	p.Proxies = slices.Clone(opts.Proxies)
	for _, st := range p.Schedule {
		if !slices.Contains(p.Proxies, st.Proxy) {
			p.Proxies = append(p.Proxies, st.Proxy)
		}
	}
	if p.Timeout == 0 {
		p.Timeout = min(5*time.Second, p.Duration)
	}
	if p.Bucket == 0 {
		p.Bucket = autoBucket(p.Duration)
	}
	if p.Concurrency > 0 {
		p.MaxInFlight = p.Concurrency
	} else if p.MaxInFlight == 0 {
		n := math.Ceil(2 * p.Rate * p.Timeout.Seconds())
		p.MaxInFlight = int(min(max(n, 100), defaultMaxInFlight))
	}
	p.total = p.Warmup + p.Duration
	p.limit = p.MaxRequests
	return p, nil
}

// autoBucket picks the narrowest round width that gives at most 120
// buckets.
func autoBucket(d time.Duration) time.Duration {
	widths := []time.Duration{
		100 * time.Millisecond, 200 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
		time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	}
	for _, w := range widths {
		if d <= 120*w {
			return w
		}
	}
	return time.Minute
}

// run is one load run in progress.
type run struct {
	plan loadPlan
	fn   func(context.Context) error
	rec  *recorder.Recorder

	t0    time.Time     // when the run (warm-up included) started
	sem   chan struct{} // a slot per call in flight
	ended chan struct{} // closed when no more calls may start

	started    atomic.Int64  // calls started, warm-up included
	claimed    atomic.Int64  // closed model: calls claimed against the limit
	limitHits  atomic.Int64  // times a due call found MaxInFlight calls running
	dropped    atomic.Int64  // open model: due calls never started
	stopped    atomic.Bool   // set when no more calls may start
	schedDone  chan struct{} // open model: closed when the scheduler returns
	workerDone chan struct{} // closed model: one send per caller that exits
}

func newRun(plan loadPlan, fn func(context.Context) error) *run {
	return &run{
		plan:       plan,
		fn:         fn,
		rec:        newRecorder(plan.Duration, plan.Bucket),
		sem:        make(chan struct{}, plan.MaxInFlight),
		ended:      make(chan struct{}),
		schedDone:  make(chan struct{}),
		workerDone: make(chan struct{}, plan.MaxInFlight),
	}
}

// newRecorder returns the recorder of a run of the given duration, in
// buckets of the given width, that classifies errors with [Classify].
func newRecorder(duration, width time.Duration) *recorder.Recorder {
	return recorder.New(duration, width, func(err error) int { return int(Classify(err)) })
}

// offset returns how far d is into the recorded run (negative during the
// warm-up).
func (r *run) offset(d time.Duration) time.Duration { return d - r.plan.Warmup }

func (r *run) run(t LoadTB) *Report {
	t.Helper()
	var watch *faultwatch.Watch
	if len(r.plan.Proxies) > 0 {
		watch = faultwatch.New(r.plan.Proxies)
	}
	verbose := testing.Testing() && testing.Verbose()

	r.t0 = time.Now()
	end := time.NewTimer(r.plan.total)
	defer end.Stop()
	stepsDone := make(chan []StepResult, 1)
	go func() { stepsDone <- r.runSchedule() }()
	if r.plan.Rate > 0 {
		go r.schedule()
	} else {
		for range r.plan.Concurrency {
			r.sem <- struct{}{}
			go r.caller()
		}
	}

	// Watch the proxies and log progress until the run's time is up.
	var pollC, liveC <-chan time.Time
	if watch != nil {
		tk := time.NewTicker(faultwatch.PollInterval)
		defer tk.Stop()
		pollC = tk.C
	}
	if verbose {
		tk := time.NewTicker(time.Second)
		defer tk.Stop()
		liveC = tk.C
	}
	lastStarted := int64(0)
	workersLeft := r.plan.Concurrency
	done := r.schedDone
	if r.plan.Rate == 0 {
		done = nil
	}
wait:
	for {
		select {
		case <-end.C:
			r.stopped.Store(true)
			close(r.ended)
			if r.plan.Rate == 0 {
				break wait // the callers finish their calls below
			}
			end.Reset(time.Hour) // nothing more to wait for from it
		case <-done:
			break wait
		case <-r.workerDone:
			if workersLeft--; workersLeft == 0 {
				break wait
			}
		case <-pollC:
			watch.Poll(min(r.offset(time.Since(r.t0)), r.plan.Duration), r.rec)
		case <-liveC:
			s := r.rec.TakeLive()
			n := r.started.Load()
			t.Logf("faulttest: load %v: %d calls started, %d returned, %d errors, p50 %v, p99 %v",
				time.Since(r.t0).Round(time.Second), n-lastStarted, s.Calls, s.Errors, sig3(s.P50), sig3(s.P99))
			lastStarted = n
		}
	}
	if !r.stopped.Load() {
		// The limit of requests ended the run before its time.
		r.stopped.Store(true)
		close(r.ended)
	}
	stopOff := min(r.offset(time.Since(r.t0)), r.plan.Duration)
	var windows []FaultWindow
	if watch != nil {
		watch.Poll(stopOff, r.rec)
		windows = faultWindows(watch.Finish(stopOff))
	}

	// Wait for the calls in flight: take every slot. The faults they fire
	// count in the last bucket.
	abandonAt := time.NewTimer(r.plan.Timeout + AbandonGrace)
	defer abandonAt.Stop()
drain:
	for range cap(r.sem) {
		for {
			select {
			case r.sem <- struct{}{}:
				continue drain
			case <-pollC:
				watch.PollInjected(r.plan.Duration, r.rec)
			case <-abandonAt.C:
				break drain
			}
		}
	}
	abandoned := r.started.Load() - r.rec.Close()
	drained := time.Since(r.t0) - r.plan.Warmup
	if watch != nil {
		watch.PollInjected(r.plan.Duration, r.rec)
	}
	if abandoned > 0 {
		t.Logf("faulttest: Load: abandoned %d calls still running %v after their timeout of %v; their goroutines outlive Load",
			abandoned, AbandonGrace, r.plan.Timeout)
	}
	if h := r.limitHits.Load(); h > 0 {
		t.Logf("faulttest: Load: MaxInFlight (%d) reached %d times; %d calls dropped", r.plan.MaxInFlight, h, r.dropped.Load())
	}
	rep := r.report(abandoned, windows)
	rep.steps = <-stepsDone
	if watch != nil {
		rep.marks = faultMarks(watch.Marks(rep.start, drained, rep.duration, rep.width))
		rep.fired, rep.firedTotal = watch.Fired(rep.start, drained, maxReportFired)
	}
	return rep
}

// faultWindows converts the windows a watch saw.
func faultWindows(ws []faultwatch.Window) []FaultWindow {
	out := make([]FaultWindow, len(ws))
	for i, w := range ws {
		out[i] = FaultWindow{Window: Window{From: w.From, To: w.To}, Proxy: w.Proxy, Label: w.Label}
	}
	return out
}

// faultMarks converts the marks a watch saw.
func faultMarks(ms []faultwatch.Mark) []FaultMark {
	out := make([]FaultMark, len(ms))
	for i, m := range ms {
		out[i] = FaultMark{At: m.At, Count: m.Count, Label: m.Label}
	}
	return out
}

// runSchedule carries out the steps of the schedule on time, until the
// run ends, and returns what became of each.
func (r *run) runSchedule() []StepResult {
	out := make([]StepResult, len(r.plan.Schedule))
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for i, st := range r.plan.Schedule {
		out[i] = StepResult{Step: st, Err: ErrStepSkipped}
		if wait := r.plan.Warmup + st.At - time.Since(r.t0); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-r.ended:
				continue
			}
		}
		select {
		case <-r.ended:
			continue
		default:
		}
		err := st.Proxy.Set(st.Behaviors...)
		out[i].Took, out[i].Err = r.offset(time.Since(r.t0)), err
	}
	return out
}

// schedule starts the calls of the open model on time, in one goroutine.
// It returns when the run's time is up or the limit of requests reached.
func (r *run) schedule() {
	defer close(r.schedDone)
	interval := float64(time.Second) / r.plan.Rate
	n := int64(math.Ceil(float64(r.plan.total) / interval))
	if r.plan.limit > 0 {
		n = min(n, r.plan.limit)
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	defer func() {
		// Unless the limit of requests cut it short, the run lasts its
		// time, whether or not calls remain to start.
		if r.plan.limit == 0 || r.started.Load() < r.plan.limit {
			<-r.ended
		}
	}()
	for i := int64(0); i < n; {
		due := time.Duration(float64(i) * interval)
		if wait := due - time.Since(r.t0); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-r.ended:
				// Late: the calls due before the end still start.
				timer.Stop()
			}
		}
		// Start every call that is due by now, each with its own schedule.
		now := time.Since(r.t0)
		for ; i < n; i++ {
			due := time.Duration(float64(i) * interval)
			if due > now {
				break
			}
			if !r.acquire() {
				r.dropped.Add(n - i)
				return
			}
			r.started.Add(1)
			go r.call(due)
		}
	}
}

// acquire takes a slot for a call, waiting while MaxInFlight calls run. It
// reports false if the run ended first.
func (r *run) acquire() bool {
	select {
	case r.sem <- struct{}{}:
		return true
	default:
	}
	r.limitHits.Add(1)
	select {
	case r.sem <- struct{}{}:
		return true
	case <-r.ended:
		return false
	}
}

// call makes one call of the open model, scheduled at due from t0.
func (r *run) call(due time.Duration) {
	defer func() { <-r.sem }()
	lag := time.Since(r.t0) - due
	ctx, cancel := context.WithTimeout(context.Background(), r.plan.Timeout)
	err := r.fn(ctx)
	cancel()
	r.rec.Record(r.offset(due), lag, time.Since(r.t0)-due, err)
}

// caller is one caller of the closed model, holding a slot for its life.
func (r *run) caller() {
	defer func() {
		r.workerDone <- struct{}{} // buffered for every caller
		<-r.sem                    // last: Load may return once it is done
	}()
	for !r.stopped.Load() {
		if r.plan.limit > 0 && r.claimed.Add(1) > r.plan.limit {
			return
		}
		start := time.Since(r.t0)
		r.started.Add(1)
		ctx, cancel := context.WithTimeout(context.Background(), r.plan.Timeout)
		err := r.fn(ctx)
		cancel()
		r.rec.Record(r.offset(start), -1, time.Since(r.t0)-start, err)
	}
}

// writeReportIfAsked writes rep's HTML report to FAULTS_REPORT_DIR if it
// is set, and logs where; it fails the test and reports false if it
// cannot. fn names the helper, for messages.
func writeReportIfAsked(t TB, fn, name string, rep *Report) bool {
	t.Helper()
	dir := os.Getenv(ReportDirEnv)
	if dir == "" {
		return true
	}
	path, err := writeReportFile(dir, name, rep)
	if err != nil {
		t.Fatalf("faulttest: %s: writing the report: %v", fn, err)
		return false
	}
	t.Logf("faulttest: %s report: %s", strings.ToLower(fn), path)
	return true
}

// written holds the report files this process wrote, so that two runs of
// the same name do not overwrite each other's.
var written struct {
	sync.Mutex
	paths map[string]bool
}

// writeReportFile writes rep's HTML report to dir, in a file named after
// the run (see reportFileName), and returns its path. A run whose file
// this process wrote already gets a numbered one: name-2.html, name-3.html…
func writeReportFile(dir, name string, rep *Report) (path string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	base := strings.TrimSuffix(reportFileName(name), ".html")
	written.Lock()
	if written.paths == nil {
		written.paths = make(map[string]bool)
	}
	path = filepath.Join(dir, base+".html")
	for n := 2; written.paths[path]; n++ {
		path = filepath.Join(dir, fmt.Sprintf("%s-%d.html", base, n))
	}
	written.paths[path] = true
	written.Unlock()
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	return path, rep.WriteHTML(f)
}

// reportFileName turns a test's name into a file name: every byte other
// than an ASCII letter, digit, '-' or '.' becomes '_'.
func reportFileName(testName string) string {
	name := strings.Map(func(c rune) rune {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.':
			return c
		}
		return '_'
	}, testName)
	name = strings.Trim(name, ".")
	if name == "" {
		name = "load"
	}
	return name + ".html"
}

// String describes the result, such as "at 2s, took effect at 2.001s:
// mysql (… → …): Reset()", with the error if there is one.
func (s StepResult) String() string {
	out := strings.Replace(s.Step.String(), ":", fmt.Sprintf(", took effect at %v:", s.Took.Round(time.Microsecond)), 1)
	if errors.Is(s.Err, ErrStepSkipped) {
		out = s.Step.String() + " (skipped)"
	} else if s.Err != nil {
		out += " (" + s.Err.Error() + ")"
	}
	return out
}
