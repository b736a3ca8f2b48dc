package recorder

import (
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// A Recording is what a Recorder recorded over a whole run. It does not
// change, and its methods are safe for concurrent use. Offsets count from
// the start of the recorded run; a span [from, to) of it covers only the
// buckets that lie entirely within it.
type Recording struct {
	Requests, Errors int64                // calls of the recorded run, and the failed ones
	ByClass          [NumClasses]int64    // Errors per class
	Samples          [NumClasses][]string // the first distinct error texts of each class

	width   time.Duration
	total   *hdr.Histogram
	lag     *hdr.Histogram
	buckets []bucket
}

// Recording returns what r recorded. Call it once the run is over, after
// Close and the last AddFaults: the Recording shares r's histograms and
// buckets, which must not change afterwards.
func (r *Recorder) Recording() *Recording {
	r.mu.Lock()
	defer r.mu.Unlock()
	return &Recording{
		Requests: r.requests,
		Errors:   r.errors,
		ByClass:  r.byClass,
		Samples:  r.samples,
		width:    r.width,
		total:    r.total,
		lag:      r.lag,
		buckets:  r.buckets,
	}
}

// A Bucket is the totals of one bucket of the timeline.
type Bucket struct {
	Requests, Errors int64
	ByClass          [NumClasses]int64
	Faults           int64
	P50, P99         time.Duration // zero without requests
}

func quantile(h *hdr.Histogram, q float64) time.Duration {
	return time.Duration(h.ValueAtQuantile(min(max(q, 0), 1) * 100))
}

// Latency returns the q quantile (0 ≤ q ≤ 1) of the latencies of the run,
// to 3 significant figures; 0 without requests.
func (rec *Recording) Latency(q float64) time.Duration { return quantile(rec.total, q) }

// Latencies returns the number of latencies recorded for the run.
func (rec *Recording) Latencies() int64 { return rec.total.TotalCount() }

// ScheduleLag returns the q quantile of how late the calls started, to 2
// significant figures; 0 if none recorded its lag.
func (rec *Recording) ScheduleLag(q float64) time.Duration { return quantile(rec.lag, q) }

// Timeline returns the run's buckets, in order.
func (rec *Recording) Timeline() []Bucket {
	out := make([]Bucket, len(rec.buckets))
	for i, b := range rec.buckets {
		out[i] = Bucket{
			Requests: b.requests,
			Errors:   b.errors,
			ByClass:  b.byClass,
			Faults:   b.faults,
			P50:      quantile(b.hist, 0.5),
			P99:      quantile(b.hist, 0.99),
		}
	}
	return out
}

// Faults returns the number of faults counted over the whole timeline.
func (rec *Recording) Faults() int64 {
	var n int64
	for _, b := range rec.buckets {
		n += b.faults
	}
	return n
}

// bucketsIn returns the range of buckets [lo, hi) that lie entirely in
// [from, to).
func (rec *Recording) bucketsIn(from, to time.Duration) (lo, hi int) {
	n := len(rec.buckets)
	lo = int(min(max((from+rec.width-1)/rec.width, 0), time.Duration(n)))
	hi = int(min(max(to/rec.width, 0), time.Duration(n)))
	if from < 0 {
		lo = 0
	}
	return lo, max(lo, hi)
}

// LatencyIn returns the q quantile of the latencies of the calls in
// [from, to), to 2 significant figures, and the number of those calls.
func (rec *Recording) LatencyIn(from, to time.Duration, q float64) (time.Duration, int64) {
	lo, hi := rec.bucketsIn(from, to)
	h := newHistogram(bucketSigFigs)
	for _, b := range rec.buckets[lo:hi] {
		h.Merge(b.hist)
	}
	return quantile(h, q), h.TotalCount()
}

// CountIn returns the failed calls and all the calls in [from, to).
func (rec *Recording) CountIn(from, to time.Duration) (errs, reqs int64) {
	lo, hi := rec.bucketsIn(from, to)
	for _, b := range rec.buckets[lo:hi] {
		errs += b.errors
		reqs += b.requests
	}
	return errs, reqs
}

// ErrorsIn returns the failed calls in [from, to) per class.
func (rec *Recording) ErrorsIn(from, to time.Duration) [NumClasses]int64 {
	lo, hi := rec.bucketsIn(from, to)
	var by [NumClasses]int64
	for _, b := range rec.buckets[lo:hi] {
		for c, n := range b.byClass {
			by[c] += n
		}
	}
	return by
}

// RecoveryTime tells how long after offset from the errors stopped for
// good: the start of the last failed call that started at or after from,
// minus from; zero if none failed. ok is false if no call succeeded after
// that last failure.
func (rec *Recording) RecoveryTime(from time.Duration) (d time.Duration, ok bool) {
	lastErr, lastOK := time.Duration(-1), time.Duration(-1)
	first := 0
	if from > 0 {
		first = int(min(from/rec.width, time.Duration(len(rec.buckets))))
	}
	for _, b := range rec.buckets[first:] {
		if b.lastErr >= from {
			lastErr = max(lastErr, b.lastErr)
		}
		lastOK = max(lastOK, b.lastOK)
	}
	if lastErr < 0 {
		return 0, true
	}
	return lastErr - from, lastOK > lastErr
}
