package recorder

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

const ms = time.Millisecond

// errClass is a classifier for the tests: an error's text names its class.
func errClass(err error) int {
	switch err.Error() {
	case "timeout":
		return 0
	case "refused":
		return 1
	}
	return NumClasses - 1
}

func TestRecordFillsTheTimeline(t *testing.T) {
	r := New(time.Second, 100*ms, errClass)
	r.Record(-50*ms, -1, 5*ms, errors.New("timeout")) // warm-up
	r.Record(0, -1, 2*ms, nil)
	r.Record(150*ms, 3*ms, 4*ms, errors.New("timeout"))
	r.Record(160*ms, 1*ms, 6*ms, errors.New("refused"))
	r.Record(990*ms, -1, 8*ms, nil)
	r.Record(time.Second, -1, 9*ms, nil) // past the last bucket
	live := r.TakeLive()
	if live.Calls != 6 || live.Errors != 3 || live.P99 < 9*ms {
		t.Errorf("live window %+v, want 6 calls, 3 errors, p99 ≥ 9ms", live)
	}
	if again := r.TakeLive(); again.Calls != 0 || again.Errors != 0 {
		t.Errorf("live window after TakeLive %+v, want it empty", again)
	}
	if n := r.Close(); n != 6 {
		t.Errorf("Close = %d calls, want 6 (warm-up and late ones included)", n)
	}
	r.Record(200*ms, -1, ms, errors.New("refused")) // after Close: ignored
	rec := r.Recording()
	if rec.Requests != 4 || rec.Errors != 2 || rec.ByClass != [NumClasses]int64{1, 1, 0, 0} || rec.Latencies() != 4 {
		t.Fatalf("recording: %d requests, %d errors, by class %v, %d latencies; want 4, 2, [1 1 0 0], 4",
			rec.Requests, rec.Errors, rec.ByClass, rec.Latencies())
	}
	tl := rec.Timeline()
	if len(tl) != 10 || tl[0].Requests != 1 || tl[1].Requests != 2 || tl[1].Errors != 2 || tl[9].Requests != 1 || tl[2].Requests != 0 {
		t.Fatalf("timeline %+v", tl)
	}
	if tl[1].ByClass != [NumClasses]int64{1, 1, 0, 0} || tl[1].P99 < 6*ms || tl[1].P99 > 6*ms+6*ms/100 || tl[2].P50 != 0 {
		t.Errorf("bucket 1 %+v, bucket 2 %+v", tl[1], tl[2])
	}
	if lag := rec.ScheduleLag(1); lag < 3*ms || lag > 3*ms+3*ms/100 {
		t.Errorf("ScheduleLag(1) = %v, want 3ms: the closed model's calls (lag -1) do not count", lag)
	}
}

func TestLatenciesAreClampedToTheHistogram(t *testing.T) {
	r := New(time.Second, time.Second, errClass)
	r.Record(0, -1, -time.Second, nil)
	r.Record(0, -1, 2*time.Hour, nil)
	rec := r.Recording()
	if lo, hi := rec.Latency(0), rec.Latency(1); lo != 0 || hi < maxLatency || hi > maxLatency+maxLatency/1000 {
		t.Errorf("latencies %v to %v, want 0 to %v", lo, hi, maxLatency)
	}
}

func TestSamplesAreDistinctFewAndShort(t *testing.T) {
	r := New(time.Second, time.Second, errClass)
	long := strings.Repeat("x", 2*maxSampleLen)
	for _, text := range []string{"a", "a", long, "b", "c", "d"} {
		r.Record(0, -1, ms, errors.New(text))
	}
	got := r.Recording().Samples[NumClasses-1]
	want := []string{"a", strings.Repeat("x", maxSampleLen) + "…", "b"}
	if len(got) != len(want) {
		t.Fatalf("samples %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("sample %d = %q, want %q", i, got[i], want[i])
		}
	}
}

func TestAddFaults(t *testing.T) {
	r := New(time.Second, 100*ms, errClass)
	r.AddFaults(-ms, 100)         // warm-up: ignored
	r.AddFaults(350*ms, 2)        // bucket 3
	r.AddFaults(5*time.Second, 3) // after the run: the last bucket
	r.Close()
	r.AddFaults(999*ms, 4) // calls still running after Close
	rec := r.Recording()
	tl := rec.Timeline()
	if rec.Faults() != 9 || tl[3].Faults != 2 || tl[9].Faults != 7 {
		t.Errorf("%d faults, bucket 3 has %d, bucket 9 has %d; want 9, 2, 7", rec.Faults(), tl[3].Faults, tl[9].Faults)
	}
}

// fixed records 10 buckets of 100ms, one call per 10ms taking its index
// in µs (1µs..100µs), failing in [300ms, 500ms).
func fixed() *Recording {
	r := New(time.Second, 100*ms, errClass)
	for off := time.Duration(0); off < time.Second; off += 10 * ms {
		var err error
		if off >= 300*ms && off < 500*ms {
			err = errors.New("refused")
		}
		r.Record(off, 0, time.Duration(off/(10*ms)+1)*time.Microsecond, err)
	}
	r.Close()
	return r.Recording()
}

func TestSpansCountWholeBucketsOnly(t *testing.T) {
	rec := fixed()
	for _, tc := range []struct {
		from, to   time.Duration
		errs, reqs int64
	}{
		{250 * ms, 550 * ms, 20, 20},
		{300 * ms, 500 * ms, 20, 20},
		{0, time.Second, 20, 100},
		{-time.Second, 150 * ms, 0, 10},
		{150 * ms, 250 * ms, 0, 0},
		{900 * ms, 5 * time.Second, 0, 10},
		{2 * time.Second, 3 * time.Second, 0, 0},
		{500 * ms, 300 * ms, 0, 0},
	} {
		errs, reqs := rec.CountIn(tc.from, tc.to)
		if errs != tc.errs || reqs != tc.reqs {
			t.Errorf("CountIn(%v, %v) = %d, %d; want %d, %d", tc.from, tc.to, errs, reqs, tc.errs, tc.reqs)
		}
		if by := rec.ErrorsIn(tc.from, tc.to); by[1] != tc.errs || by[0]+by[2]+by[3] != 0 {
			t.Errorf("ErrorsIn(%v, %v) = %v, want %d refused", tc.from, tc.to, by, tc.errs)
		}
		if _, n := rec.LatencyIn(tc.from, tc.to, 0.5); n != tc.reqs {
			t.Errorf("LatencyIn(%v, %v) over %d calls, want %d", tc.from, tc.to, n, tc.reqs)
		}
	}
	if d, n := rec.LatencyIn(900*ms, time.Second, 1); n != 10 || d < 100*time.Microsecond || d > 101*time.Microsecond {
		t.Errorf("LatencyIn(900ms, 1s, max) = %v over %d, want 100µs over 10", d, n)
	}
}

func TestRecoveryTime(t *testing.T) {
	rec := fixed()
	for _, tc := range []struct {
		from time.Duration
		d    time.Duration
		ok   bool
	}{
		{100 * ms, 390 * ms, true},
		{-time.Second, 1490 * ms, true},
		{490 * ms, 0, true},
		{500 * ms, 0, true},
		{2 * time.Second, 0, true},
	} {
		if d, ok := rec.RecoveryTime(tc.from); d != tc.d || ok != tc.ok {
			t.Errorf("RecoveryTime(%v) = %v, %v; want %v, %v", tc.from, d, ok, tc.d, tc.ok)
		}
	}
	r := New(time.Second, 100*ms, errClass)
	r.Record(100*ms, -1, ms, nil)
	r.Record(700*ms, -1, ms, errors.New("timeout"))
	if d, ok := r.Recording().RecoveryTime(0); d != 700*ms || ok {
		t.Errorf("RecoveryTime when errors never stop = %v, %v; want 700ms, false", d, ok)
	}
}

func TestRecordIsSafeForConcurrentUse(t *testing.T) {
	r := New(time.Second, 100*ms, errClass)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				var err error
				if i%4 == 0 {
					err = errors.New("timeout")
				}
				r.Record(time.Duration(g*100+i)*ms%time.Second, -1, ms, err)
				r.AddFaults(time.Duration(i)*ms, 1)
				if i%10 == 0 {
					r.TakeLive()
				}
			}
		})
	}
	wg.Wait()
	if n := r.Close(); n != 800 {
		t.Fatalf("Close = %d, want 800", n)
	}
	if rec := r.Recording(); rec.Requests != 800 || rec.Errors != 200 || rec.ByClass[0] != 200 || rec.Faults() != 800 {
		t.Errorf("%d requests, %d errors, %d timeouts, %d faults; want 800, 200, 200, 800", rec.Requests, rec.Errors, rec.ByClass[0], rec.Faults())
	}
}
