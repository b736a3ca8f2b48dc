package faulttest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofaults/faults"
	"github.com/gofaults/faults/faulttest"
)

// loadFakeT is a fakeT with a name, for Load.
type loadFakeT struct{ fakeT }

func (f *loadFakeT) Name() string { return "TestFake/sub test" }

// sleepCtx waits for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestLoadStartsCallsAtTheRate(t *testing.T) {
	var calls, firstHalf atomic.Int64
	begin := time.Now()
	rep := faulttest.Load(t, faulttest.LoadOptions{Rate: 500, Duration: 4 * time.Second}, func(context.Context) error {
		calls.Add(1)
		if time.Since(begin) < 2*time.Second {
			firstHalf.Add(1)
		}
		return nil
	})
	elapsed := time.Since(begin)
	t.Logf("%v in %v; schedule lag p50 %v, p99 %v", rep, elapsed, rep.ScheduleLag(0.5), rep.ScheduleLag(0.99))
	if n := calls.Load(); n < 1960 || n > 2040 {
		t.Errorf("fn called %d times, want 2000 ± 2%%", n)
	}
	if n := rep.Requests(); n < 1960 || n > 2040 {
		t.Errorf("Requests() = %d, want 2000 ± 2%%", n)
	}
	if elapsed < 3990*time.Millisecond || elapsed > 5*time.Second {
		t.Errorf("Load took %v, want about 4s", elapsed)
	}
	// Calls start on schedule: never early (1000 are due in the first 2s),
	// and not much later, even on a busy machine.
	if n := firstHalf.Load(); n < 700 || n > 1001 {
		t.Errorf("%d calls started in the first 2s, want 1000 (at least 700 on a busy machine)", n)
	}
	tl := rep.Timeline()
	if len(tl) != 40 || rep.BucketWidth() != 100*time.Millisecond {
		t.Fatalf("%d buckets of %v, want 40 of 100ms", len(tl), rep.BucketWidth())
	}
	for _, b := range tl {
		if b.Requests != 50 {
			t.Errorf("bucket at %v has %d requests, want 50", b.Start, b.Requests)
		}
	}
}

func TestLoadWarmupIsNotRecorded(t *testing.T) {
	var calls atomic.Int64
	rep := faulttest.Load(t, faulttest.LoadOptions{Rate: 100, Warmup: 500 * time.Millisecond, Duration: time.Second},
		func(context.Context) error { calls.Add(1); return nil })
	if calls.Load() != 150 || rep.Requests() != 100 {
		t.Fatalf("fn called %d times, %d recorded; want 150 and 100", calls.Load(), rep.Requests())
	}
	if d := time.Since(rep.Start()); d < time.Second {
		t.Errorf("the recorded run started %v before Load returned, want at least Duration", d)
	}
}

func TestLoadMaxRequests(t *testing.T) {
	for _, opts := range []faulttest.LoadOptions{
		{Rate: 1000, Duration: 10 * time.Second, MaxRequests: 50},
		{Concurrency: 3, Duration: 10 * time.Second, MaxRequests: 50},
	} {
		var calls atomic.Int64
		begin := time.Now()
		rep := faulttest.Load(t, opts, func(context.Context) error { calls.Add(1); return nil })
		if calls.Load() != 50 || rep.Requests() != 50 {
			t.Errorf("%+v: %d calls, %d recorded, want 50", opts, calls.Load(), rep.Requests())
		}
		if d := time.Since(begin); d > 5*time.Second {
			t.Errorf("%+v: took %v, want the run to end with its last call", opts, d)
		}
	}
}

// stallingBackend returns a call that takes 2 ms, except for the calls that
// arrive in [at, at+100ms) after begin: those take 500 ms.
func stallingBackend(begin time.Time, at time.Duration) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		since := time.Since(begin)
		if since >= at && since < at+100*time.Millisecond {
			return sleepCtx(ctx, 500*time.Millisecond)
		}
		return sleepCtx(ctx, 2*time.Millisecond)
	}
}

func TestLoadOpenModelShowsStallInTheTail(t *testing.T) {
	begin := time.Now()
	open := faulttest.Load(t, faulttest.LoadOptions{Rate: 200, Duration: 2 * time.Second},
		stallingBackend(begin, time.Second))
	if p99 := open.Latency(0.99); p99 < 400*time.Millisecond {
		t.Errorf("open model: p99 = %v, want above 400ms (the stall)", p99)
	}

	// The closed model, for comparison: its two callers each wait out the
	// stall once, and the tail hides it.
	begin = time.Now()
	closed := faulttest.Load(t, faulttest.LoadOptions{Concurrency: 2, Duration: 2 * time.Second},
		stallingBackend(begin, time.Second))
	t.Logf("open:   %v\nclosed: %v", open, closed)
	if closed.Latency(0.99) >= open.Latency(0.99) {
		t.Errorf("closed model: p99 = %v, want it below the open model's %v: the stall hidden",
			closed.Latency(0.99), open.Latency(0.99))
	}
	if closed.Requests() <= open.Requests() {
		t.Errorf("closed model: %d calls, want more than the open model's %d", closed.Requests(), open.Requests())
	}
}

// httpBackend serves 200 "ok" until the end of the test.
func httpBackend(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv
}

// httpCaller returns a call that GETs url and fails unless the answer is
// 200, with a client whose idle connections close at the end of the test.
func httpCaller(t *testing.T, url string) func(ctx context.Context) error {
	// A bounded pool of connections: under the race detector, a storm of
	// new connections through the proxy can slow everything down for good.
	tr := &http.Transport{MaxConnsPerHost: 16, MaxIdleConnsPerHost: 16}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return nil
	}
}

func TestLoadMeasuresInjectedErrorRate(t *testing.T) {
	srv := httpBackend(t)
	p := faulttest.NewProxy(t, srv.Listener.Addr().String(), faults.WithProtocol(faults.HTTP()), faults.WithSeed(1))
	faulttest.Set(t, p, faults.Error(faults.HTTPStatus(503)).Probability(0.05))
	rate := 300.0
	if faulttest.RaceEnabled {
		rate = 150 // the proxy, the client and the server can't keep up with 300/s
	}
	rep := faulttest.Load(t, faulttest.LoadOptions{
		Rate: rate, Duration: 4 * time.Second, Timeout: 10 * time.Second, Proxies: []*faults.Proxy{p},
	}, httpCaller(t, "http://"+p.Addr()+"/"))
	t.Log(rep)
	faulttest.RequireErrorRate(t, rep, faulttest.Window{From: 0, To: rep.Duration()}, 0.05, 0.02)
	if rep.ErrorsOf(faulttest.ClassOther) != rep.Errors() {
		t.Errorf("errors by class: other %d of %d, want all", rep.ErrorsOf(faulttest.ClassOther), rep.Errors())
	}
	if s := rep.ErrorSamples(); len(s) != 1 || !strings.Contains(s[0], "503") || !strings.HasPrefix(s[0], "other: ") {
		t.Errorf("samples %q, want one, of class other, naming 503", s)
	}
	if rep.FaultsFired() != rep.Errors() {
		t.Errorf("FaultsFired() = %d, want %d, one per error", rep.FaultsFired(), rep.Errors())
	}
	w := rep.FaultWindows()
	if len(w) != 1 || w[0].From != 0 || w[0].To != rep.Duration() || w[0].Label != "Error(HTTPStatus(503)).Probability(0.05)" {
		t.Errorf("fault windows %+v, want the whole run", w)
	}
}

// dialEcho dials addr, writes a line and reads it back.
func dialEcho(ctx context.Context, addr string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	_, err = io.ReadFull(c, make([]byte, 5))
	return err
}

func TestLoadFaultWindowsOnTheTimeline(t *testing.T) {
	p := faulttest.NewProxy(t, echoServer(t))
	var setAt, setDone, resetAt, resetDone time.Time
	done := make(chan struct{})
	go func() { // the scenario, while the load runs
		defer close(done)
		time.Sleep(800 * time.Millisecond)
		setAt = time.Now()
		p.Set(faults.Blackout())
		setDone = time.Now()
		time.Sleep(1400 * time.Millisecond)
		resetAt = time.Now()
		p.Reset()
		resetDone = time.Now()
	}()
	rep := faulttest.Load(t, faulttest.LoadOptions{
		Rate: 100, Duration: 3 * time.Second, Timeout: time.Second, Proxies: []*faults.Proxy{p},
	}, func(ctx context.Context) error { return dialEcho(ctx, p.Addr()) })
	<-done

	w := rep.FaultWindows()
	t.Logf("%v; set at %v, reset at %v; windows %+v; marks %+v", rep, rep.Offset(setAt), rep.Offset(resetAt), w, rep.FaultMarks())
	if len(w) != 1 || w[0].Label != "Blackout()" || w[0].Proxy != p.Addr() {
		t.Fatalf("fault windows %+v, want one of Blackout()", w)
	}
	// The window's ends are seen by polling every 10ms: generous bounds for
	// a busy machine.
	if from := w[0].From; from < rep.Offset(setAt) || from > rep.Offset(setDone)+300*time.Millisecond {
		t.Errorf("window opens at %v, Set was at %v", from, rep.Offset(setAt))
	}
	if to := w[0].To; to < rep.Offset(resetAt) || to > rep.Offset(resetDone)+300*time.Millisecond {
		t.Errorf("window closes at %v, Reset was at %v", to, rep.Offset(resetAt))
	}
	fired := rep.FaultsFired()
	if fired < 100 || fired > 180 || fired != p.Stats().Injected {
		t.Errorf("FaultsFired() = %d, want about 140, the proxy's %d", fired, p.Stats().Injected)
	}
	var marked int64
	for _, m := range rep.FaultMarks() {
		if m.Label != "Blackout()" {
			t.Errorf("mark %+v, want Blackout()", m)
		}
		marked += int64(m.Count)
	}
	if marked != fired {
		t.Errorf("marks count %d faults, want %d", marked, fired)
	}
	// The timeline counts calls by their scheduled start, faults act when
	// calls actually start: allow for the generator falling behind.
	inside := faulttest.Window{From: w[0].From + 200*time.Millisecond, To: w[0].To - 500*time.Millisecond}
	faulttest.RequireErrorRate(t, rep, inside, 1, 0.1)
	faulttest.RequireErrorRate(t, rep, faulttest.Window{From: 0, To: rep.Offset(setAt) - 500*time.Millisecond}, 0, 0)
	// Calls that start once Reset has returned succeed.
	faulttest.RequireRecovery(t, rep, resetAt, resetDone.Sub(resetAt)+10*time.Millisecond)
}

func TestLoadValidatesOptions(t *testing.T) {
	nop := func(context.Context) error { return nil }
	for _, tc := range []struct {
		opts faulttest.LoadOptions
		fn   func(context.Context) error
		want string
	}{
		{faulttest.LoadOptions{Duration: time.Second}, nop, "exactly one of Rate (open model) and Concurrency"},
		{faulttest.LoadOptions{Rate: 10, Concurrency: 2, Duration: time.Second}, nop, "exactly one of Rate"},
		{faulttest.LoadOptions{Rate: -1, Duration: time.Second}, nop, "Rate must be"},
		{faulttest.LoadOptions{Concurrency: -1, Duration: time.Second}, nop, "Concurrency must be"},
		{faulttest.LoadOptions{Rate: 10}, nop, "Duration is required"},
		{faulttest.LoadOptions{Rate: 10, Duration: time.Hour}, nop, "at most 10m0s; got 1h0m0s"},
		{faulttest.LoadOptions{Rate: 10, Duration: time.Second, Warmup: -1}, nop, "Warmup"},
		{faulttest.LoadOptions{Rate: 10, Duration: time.Second, Timeout: -time.Second}, nop, "Timeout must be"},
		{faulttest.LoadOptions{Rate: 10, Duration: time.Second, MaxInFlight: -1}, nop, "MaxInFlight"},
		{faulttest.LoadOptions{Rate: 10, Duration: time.Second, MaxRequests: -1}, nop, "MaxRequests"},
		{faulttest.LoadOptions{Rate: 10, Duration: time.Minute, Bucket: time.Millisecond}, nop, "more than 600 buckets"},
		{faulttest.LoadOptions{Rate: 10, Duration: time.Second, Bucket: math.MaxInt64}, nop, "Bucket must be at most Duration"},
		{faulttest.LoadOptions{Rate: 10, Duration: time.Second, Bucket: 2 * time.Second}, nop, "Bucket must be at most Duration"},
		{faulttest.LoadOptions{Rate: 10, Duration: time.Second, Schedule: []faulttest.Step{{At: time.Second}}}, nop, "Schedule[0]: Proxy is nil"},
		{faulttest.LoadOptions{Rate: 10, Duration: time.Second, Proxies: []*faults.Proxy{nil}}, nop, "Proxies[0] is nil"},
		{faulttest.LoadOptions{Rate: 10, Duration: time.Second}, nil, "function to call is nil"},
	} {
		ft := &loadFakeT{}
		rep := faulttest.Load(ft, tc.opts, tc.fn)
		if rep != nil || len(ft.fatals) != 1 || !strings.Contains(ft.fatals[0], tc.want) ||
			!strings.HasPrefix(ft.fatals[0], "faulttest: Load: ") {
			t.Errorf("Load(%+v) = %v, fatals %q; want nil and one fatal containing %q", tc.opts, rep, ft.fatals, tc.want)
		}
	}
}

func TestLoadAbandonsCallsThatIgnoreTheirContext(t *testing.T) {
	release := make(chan struct{})
	returned := make(chan struct{})
	var n atomic.Int64
	ft := &loadFakeT{}
	begin := time.Now()
	rep := faulttest.Load(ft, faulttest.LoadOptions{Rate: 10, Duration: 300 * time.Millisecond, Timeout: 100 * time.Millisecond},
		func(ctx context.Context) error {
			if n.Add(1) == 1 {
				<-release // ignores ctx
				close(returned)
			}
			return nil
		})
	took := time.Since(begin)
	close(release)
	<-returned // no goroutine outlives the test
	if rep.Abandoned() != 1 || rep.Errors() != 1 || rep.ErrorsOf(faulttest.ClassTimeout) != 1 || rep.Requests() != 3 {
		t.Errorf("abandoned %d, errors %d, timeouts %d, requests %d; want 1, 1, 1, 3",
			rep.Abandoned(), rep.Errors(), rep.ErrorsOf(faulttest.ClassTimeout), rep.Requests())
	}
	if took < 1100*time.Millisecond || took > 5*time.Second {
		t.Errorf("Load took %v, want Duration + Timeout + AbandonGrace, about 1.4s", took)
	}
	if len(ft.logs) != 1 || !strings.Contains(ft.logs[0], "abandoned 1 calls") {
		t.Errorf("logs %q, want the abandoned call reported", ft.logs)
	}
}

func TestLoadMaxInFlight(t *testing.T) {
	ft := &loadFakeT{}
	var inFlight, most atomic.Int64
	rep := faulttest.Load(ft, faulttest.LoadOptions{Rate: 200, Duration: 500 * time.Millisecond, MaxInFlight: 5},
		func(ctx context.Context) error {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			return sleepCtx(ctx, 50*time.Millisecond)
		})
	if most.Load() > 5 {
		t.Errorf("%d calls in flight, want at most 5", most.Load())
	}
	if rep.MaxInFlightReached() == 0 || rep.Dropped() == 0 || rep.Requests()+rep.Dropped() != 100 {
		t.Errorf("reached %d, dropped %d, requests %d; want the limit reached and requests+dropped = 100",
			rep.MaxInFlightReached(), rep.Dropped(), rep.Requests())
	}
	// Waiting for a slot counts in the latency.
	if p99 := rep.Latency(0.99); p99 < 200*time.Millisecond {
		t.Errorf("p99 = %v, want the wait for a slot in it", p99)
	}
	if len(ft.logs) != 1 || !strings.Contains(ft.logs[0], "MaxInFlight (5) reached") {
		t.Errorf("logs %q, want the limit reported", ft.logs)
	}
}

func TestLoadMemoryDoesNotGrowWithCalls(t *testing.T) {
	if testing.Short() {
		t.Skip("measures the heap over 2.6s of load")
	}
	nop := func(context.Context) error { return nil }
	retained := func(d time.Duration) (int64, int64) {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		// The same number of buckets whatever the duration, and as many
		// goroutines at most (the runtime keeps their descriptors).
		rep := faulttest.Load(t, faulttest.LoadOptions{Rate: 10000, Duration: d, Bucket: d / 10, MaxInFlight: 64}, nop)
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(rep)
		return int64(after.HeapAlloc) - int64(before.HeapAlloc), rep.Requests()
	}
	retained(100 * time.Millisecond) // warm up the runtime
	short, n1 := retained(500 * time.Millisecond)
	long, n3 := retained(2 * time.Second)
	perCall := float64(long-short) / float64(n3-n1)
	t.Logf("retained %d bytes after %d calls, %d after %d: %.2f bytes per extra call", short, n1, long, n3, perCall)
	if n3-n1 < 10000 {
		t.Skipf("only %d more calls in the long run: too few to tell", n3-n1)
	}
	// Keeping a time.Duration per call would be 8 bytes per call.
	if perCall > 4 {
		t.Errorf("%.2f bytes retained per extra call, want none", perCall)
	}
}

func BenchmarkLoadOpen(b *testing.B) {
	nop := func(context.Context) error { return nil }
	b.ReportAllocs()
	b.ResetTimer()
	begin := time.Now()
	rep := faulttest.Load(b, faulttest.LoadOptions{
		Rate: faulttest.MaxRate, Duration: faulttest.MaxLoadDuration, MaxRequests: int64(b.N),
	}, nop)
	b.StopTimer()
	b.ReportMetric(float64(rep.Requests())/time.Since(begin).Seconds(), "calls/s")
}

func BenchmarkLoadClosed(b *testing.B) {
	nop := func(context.Context) error { return nil }
	b.ReportAllocs()
	b.ResetTimer()
	begin := time.Now()
	rep := faulttest.Load(b, faulttest.LoadOptions{
		Concurrency: runtime.GOMAXPROCS(0), Duration: faulttest.MaxLoadDuration, MaxRequests: int64(b.N),
	}, nop)
	b.StopTimer()
	b.ReportMetric(float64(rep.Requests())/time.Since(begin).Seconds(), "calls/s")
}

// BenchmarkLoadOpenAtRate runs the open model at a fixed rate, b.N calls
// (use -benchtime=Nx), and reports the rate achieved and how late calls
// started: a generator that keeps up has a small p99 lag.
func BenchmarkLoadOpenAtRate(b *testing.B) {
	nop := func(context.Context) error { return nil }
	for _, rate := range []float64{50_000, 100_000} {
		b.Run(fmt.Sprint(rate), func(b *testing.B) {
			d := time.Duration(float64(b.N) / rate * float64(time.Second))
			begin := time.Now()
			rep := faulttest.Load(b, faulttest.LoadOptions{
				Rate: rate, Duration: min(max(d, time.Millisecond), faulttest.MaxLoadDuration), MaxRequests: int64(b.N),
			}, nop)
			b.ReportMetric(float64(rep.Requests())/time.Since(begin).Seconds(), "calls/s")
			b.ReportMetric(float64(rep.ScheduleLag(0.99).Microseconds()), "p99-lag-µs")
			b.ReportMetric(float64(rep.Dropped()), "dropped")
		})
	}
}

// TestLoadSchedule: faults on the run's own clock. Each step is carried
// out at its offset and the report says when it took effect; the fault
// windows follow, and RequireRecovery takes a step's offset.
func TestLoadSchedule(t *testing.T) {
	p := faulttest.NewProxy(t, echoServer(t), faults.WithName("echo"))
	other := faulttest.NewProxy(t, echoServer(t))
	rep := faulttest.Load(t, faulttest.LoadOptions{
		Rate: 100, Duration: 3 * time.Second, Warmup: 200 * time.Millisecond, Timeout: time.Second,
		Schedule: []faulttest.Step{
			{At: 2 * time.Second, Proxy: p}, // out of order: sorted by At
			{At: 800 * time.Millisecond, Proxy: p, Behaviors: []faults.Behavior{faults.Blackout()}},
			{At: -100 * time.Millisecond, Proxy: other, Behaviors: []faults.Behavior{faults.Latency(time.Millisecond)}},
		},
	}, func(ctx context.Context) error { return dialEcho(ctx, p.Addr()) })

	steps := rep.Steps()
	t.Logf("%v; steps %+v; windows %+v", rep, steps, rep.FaultWindows())
	if len(steps) != 3 {
		t.Fatalf("%d steps reported, want 3", len(steps))
	}
	for i, want := range []time.Duration{-100 * time.Millisecond, 800 * time.Millisecond, 2 * time.Second} {
		st := steps[i]
		if st.At != want || st.Err != nil {
			t.Errorf("step %d: %+v, want At %v and no error", i, st, want)
		}
		// Took effect on time: generous bounds for a busy machine.
		if st.Took < st.At || st.Took > st.At+300*time.Millisecond {
			t.Errorf("step %d (%v) took effect at %v", i, st.Step, st.Took)
		}
	}
	if got := steps[1].Step.String(); !strings.HasPrefix(got, "at 800ms: echo (") || !strings.HasSuffix(got, ": Set(Blackout())") {
		t.Errorf("step String() = %q", got)
	}
	if got := steps[2].String(); !strings.HasPrefix(got, "at 2s, took effect at ") || !strings.HasSuffix(got, ": Reset()") {
		t.Errorf("step String() = %q", got)
	}
	// The proxies of the steps are watched: Blackout's window on "echo".
	var blackout []faulttest.FaultWindow
	for _, w := range rep.FaultWindows() {
		if w.Proxy == "echo" {
			blackout = append(blackout, w)
		}
	}
	if len(blackout) != 1 || blackout[0].Label != "Blackout()" ||
		blackout[0].From < steps[1].At || blackout[0].To > steps[2].Took+300*time.Millisecond {
		t.Fatalf("windows of echo %+v, want Blackout() from 800ms to 2s", blackout)
	}
	inside := faulttest.Window{From: steps[1].Took + 200*time.Millisecond, To: steps[2].At - 200*time.Millisecond}
	faulttest.RequireErrorRate(t, rep, inside, 1, 0.1)
	faulttest.RequireRecovery(t, rep, steps[2].Took, 100*time.Millisecond)
	if bs := p.Behaviors(); bs != nil {
		t.Errorf("after the schedule's reset: %v", bs)
	}

	// A recovery that does not happen fails, given as an offset too.
	ft := &fakeT{}
	faulttest.RequireRecovery(ft, rep, steps[1].Took, 100*time.Millisecond)
	if len(ft.fatals) != 1 {
		t.Errorf("RequireRecovery from inside the blackout: fatals %q, want one", ft.fatals)
	}
}

// TestLoadScheduleStepFails: a step whose Set fails fails the test once
// the run is over, naming the step.
func TestLoadScheduleStepFails(t *testing.T) {
	p := faulttest.NewProxy(t, echoServer(t))
	ft := &loadFakeT{}
	rep := faulttest.Load(ft, faulttest.LoadOptions{
		Rate: 100, Duration: 300 * time.Millisecond,
		Schedule: []faulttest.Step{{At: 100 * time.Millisecond, Proxy: p, Behaviors: []faults.Behavior{faults.DropResponse()}}},
	}, func(context.Context) error { return nil })
	if rep == nil || len(ft.fatals) != 1 || !strings.Contains(ft.fatals[0], "Schedule[0]") || !errors.Is(rep.Steps()[0].Err, faults.ErrUnsupported) {
		t.Errorf("fatals %q, steps %+v; want the step's error", ft.fatals, rep.Steps())
	}
}

// The report lists the faults that fired as their events print them, the
// text a test's log shows.
func TestLoadReportListsFiredFaults(t *testing.T) {
	srv := httpBackend(t)
	p := faulttest.NewProxy(t, srv.Listener.Addr().String(), faults.WithProtocol(faults.HTTP()))
	faulttest.Set(t, p, faults.Error(faults.HTTPStatus(503)).Times(3))
	rep := faulttest.Load(t, faulttest.LoadOptions{
		Rate: 50, Duration: 300 * time.Millisecond, Proxies: []*faults.Proxy{p},
	}, httpCaller(t, "http://"+p.Addr()+"/"))
	var page bytes.Buffer
	if err := rep.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	text := html.UnescapeString(page.String())
	events := p.Events()
	if len(events) != 3 {
		t.Fatalf("%d events, want 3", len(events))
	}
	for _, e := range events {
		if !strings.Contains(text, e.String()) {
			t.Errorf("the report does not list %q", e.String())
		}
	}
}
