package faulttest

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// The Require helpers check a [Report] and, when the check fails, fail the
// test at once with t.Fatalf and a message giving the numbers.

// RequireErrorRate fails the test unless the error rate of the calls in w
// is within want ± tolerance (fractions: 0.05 is 5%), or if no call falls
// in w. Only the buckets of the timeline that lie entirely within w count
// (see [Report.ErrorRateIn]); the message gives the errors per class and
// the sampled texts.
func RequireErrorRate(t TB, rep *Report, w Window, want, tolerance float64) {
	t.Helper()
	errs, reqs := rep.countIn(w)
	if reqs == 0 {
		t.Fatalf("faulttest: %s: no calls in %s to measure the error rate of (buckets of %v)", rep.name, w, rep.width)
		return
	}
	rate := float64(errs) / float64(reqs)
	if math.Abs(rate-want) > tolerance+1e-12 {
		t.Fatalf("faulttest: %s: error rate in %s is %.2f%% (%d errors in %d calls), want %.2f%% ± %.2f%%%s",
			rep.name, w, 100*rate, errs, reqs, 100*want, 100*tolerance, rep.classSummary(w))
	}
}

// RequireRecovery fails the test unless the errors stopped within d of
// since and stayed at zero until the end of the run: every call that
// started (open model: was scheduled) after since+d succeeded, and at least
// one call succeeded after the last failure. See [Report.RecoveryTime].
//
// since is a time, or an offset into the recorded run such as a
// scheduled step's [StepResult.Took]:
//
//	faulttest.RequireRecovery(t, rep, rep.Steps()[1].Took, time.Second)
func RequireRecovery[T time.Time | time.Duration](t TB, rep *Report, since T, d time.Duration) {
	t.Helper()
	var from time.Duration
	switch s := any(since).(type) {
	case time.Time:
		from = rep.Offset(s)
	case time.Duration:
		from = s
	}
	rec, ok := rep.rec.RecoveryTime(from)
	if !ok {
		errs, reqs := rep.countIn(Window{From: from, To: rep.duration})
		t.Fatalf("faulttest: %s: errors never stopped after %v into the run: the last failed call started %v after it, and none succeeded later (%d errors in %d calls from %v to the end)%s",
			rep.name, from.Round(time.Millisecond), rec.Round(time.Millisecond), errs, reqs, from.Round(time.Millisecond),
			rep.classSummary(Window{From: from, To: rep.duration}))
		return
	}
	if rec > d {
		errs, reqs := rep.countIn(Window{From: from + d, To: rep.duration})
		t.Fatalf("faulttest: %s: errors stopped %v after %v into the run, want within %v (the buckets from %v on have %d errors in %d calls)%s",
			rep.name, rec.Round(time.Millisecond), from.Round(time.Millisecond), d, (from + d).Round(time.Millisecond), errs, reqs,
			rep.classSummary(Window{From: from, To: rep.duration}))
	}
}

// RequireLatency fails the test if the q quantile (0.99 is p99) of the
// run's latencies is above limit.
func RequireLatency(t TB, rep *Report, q float64, limit time.Duration) {
	t.Helper()
	if got := rep.Latency(q); got > limit {
		t.Fatalf("faulttest: %s: p%g latency is %v over %d calls, want at most %v (p50 %v, max %v)",
			rep.name, 100*q, sig3(got), rep.rec.Latencies(), limit, sig3(rep.Latency(0.5)), sig3(rep.Latency(1)))
	}
}

// RequireLatencyIn fails the test if the q quantile of the latencies of
// the calls in w is above limit, or if no call falls in w. Only the buckets
// of the timeline that lie entirely within w count.
func RequireLatencyIn(t TB, rep *Report, w Window, q float64, limit time.Duration) {
	t.Helper()
	got, n := rep.LatencyIn(w, q)
	if n == 0 {
		t.Fatalf("faulttest: %s: no calls in %s to measure the latency of (buckets of %v)", rep.name, w, rep.width)
		return
	}
	if got > limit {
		t.Fatalf("faulttest: %s: p%g latency in %s is %v over %d calls, want at most %v", rep.name, 100*q, w, sig3(got), n, limit)
	}
}

// String renders w as "[From, To)".
func (w Window) String() string { return fmt.Sprintf("[%v, %v)", w.From, w.To) }

// countIn returns the errors and the calls in the buckets entirely in w.
func (r *Report) countIn(w Window) (errs, reqs int64) {
	return r.rec.CountIn(w.From, w.To)
}

// classSummary describes the errors in w per class, with the samples, for
// a failure message; empty without errors.
func (r *Report) classSummary(w Window) string {
	by := r.rec.ErrorsIn(w.From, w.To)
	var parts []string
	for c, n := range by {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", ErrorClass(c), n))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	s := "; errors: " + strings.Join(parts, ", ")
	if len(r.samples) > 0 {
		s += "; e.g. " + strings.Join(r.samples, " | ")
	}
	return s
}
