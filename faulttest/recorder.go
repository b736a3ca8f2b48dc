package faulttest

import (
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram geometry. Latencies are recorded in nanoseconds from 1 ns up to
// maxLatency; longer ones are recorded as maxLatency. The whole run keeps 3
// significant figures (0.1%), each bucket 2 (1%): about 270 KiB for the run
// and 37 KiB per bucket, whatever the number of calls.
const (
	maxLatency    = time.Hour
	runSigFigs    = 3
	bucketSigFigs = 2
	// maxSamples is how many distinct error texts are kept per class.
	maxSamples = 3
	// maxSampleLen bounds the length of a kept error text, in bytes.
	maxSampleLen = 300
)

func newHistogram(sigFigs int) *hdr.Histogram {
	return hdr.New(1, int64(maxLatency), sigFigs)
}

func recordLatency(h *hdr.Histogram, d time.Duration) {
	if d < 0 {
		d = 0
	}
	if d > maxLatency {
		d = maxLatency
	}
	_ = h.RecordValue(int64(d)) // in range by construction
}

// bucketStats is what a timeline bucket accumulates.
type bucketStats struct {
	requests, errors int64
	byClass          [NumClasses]int64
	faults           int64         // faults fired, from the proxies' Injected counters
	lastErr, lastOK  time.Duration // latest start offset of a failed/successful call; -1 if none
	hist             *hdr.Histogram
}

// recorder accumulates the outcome of the calls of one run. It is safe for
// concurrent use; its memory does not grow with the number of calls.
type recorder struct {
	width time.Duration // bucket width

	mu       sync.Mutex
	closed   bool  // set once the run is over: late (abandoned) calls are ignored
	finished int64 // calls recorded, warm-up and late ones included
	total    *hdr.Histogram
	lag      *hdr.Histogram // open model: how late calls started
	buckets  []bucketStats
	requests int64
	errors   int64
	byClass  [NumClasses]int64
	samples  [NumClasses][]string

	// The live window, reset every second for the verbose progress line;
	// it includes warm-up calls.
	live                  *hdr.Histogram
	liveCalls, liveErrors int64
}

func newRecorder(duration, width time.Duration) *recorder {
	n := int((duration + width - 1) / width)
	r := &recorder{
		width:   width,
		total:   newHistogram(runSigFigs),
		lag:     newHistogram(bucketSigFigs),
		live:    newHistogram(bucketSigFigs),
		buckets: make([]bucketStats, n),
	}
	for i := range r.buckets {
		r.buckets[i] = bucketStats{lastErr: -1, lastOK: -1, hist: newHistogram(bucketSigFigs)}
	}
	return r
}

// record adds the outcome of one call that started (or was scheduled) at
// offset off from the start of the recorded run, started lag late (open
// model; -1 for the closed model) and took lat. A negative
// offset is a warm-up call: it only counts in the live window, as do calls
// past the last bucket.
func (r *recorder) record(off, lag, lat time.Duration, err error) {
	class := ClassOther
	if err != nil {
		class = Classify(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.finished++
	r.liveCalls++
	recordLatency(r.live, lat)
	if err != nil {
		r.liveErrors++
	}
	if off < 0 || off >= time.Duration(len(r.buckets))*r.width {
		return
	}
	b := &r.buckets[off/r.width]
	r.requests++
	b.requests++
	recordLatency(r.total, lat)
	recordLatency(b.hist, lat)
	if lag >= 0 {
		recordLatency(r.lag, lag)
	}
	if err == nil {
		b.lastOK = max(b.lastOK, off)
		return
	}
	r.errors++
	b.errors++
	r.byClass[class]++
	b.byClass[class]++
	b.lastErr = max(b.lastErr, off)
	r.sample(class, err)
}

// sample keeps err's text if it is one of the first distinct texts of its
// class. The caller holds r.mu.
func (r *recorder) sample(class ErrorClass, err error) {
	s := r.samples[class]
	if len(s) >= maxSamples {
		return
	}
	text := err.Error()
	if len(text) > maxSampleLen {
		text = text[:maxSampleLen] + "…"
	}
	for _, t := range s {
		if t == text {
			return
		}
	}
	r.samples[class] = append(s, text)
}

// addFaults counts n faults fired at offset off: those fired during the
// warm-up are ignored, those fired after the run, by calls still running,
// count in the last bucket.
func (r *recorder) addFaults(off time.Duration, n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if off < 0 {
		return
	}
	r.buckets[min(int(off/r.width), len(r.buckets)-1)].faults += n
}

// liveStats is one second of progress.
type liveStats struct {
	calls, errors int64
	p50, p99      time.Duration
}

// takeLive returns the live window and starts a new one.
func (r *recorder) takeLive() liveStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := liveStats{
		calls:  r.liveCalls,
		errors: r.liveErrors,
		p50:    time.Duration(r.live.ValueAtQuantile(50)),
		p99:    time.Duration(r.live.ValueAtQuantile(99)),
	}
	r.live.Reset()
	r.liveCalls, r.liveErrors = 0, 0
	return s
}

// close stops recording, so that calls that return later are ignored, and
// returns the number of calls recorded.
func (r *recorder) close() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	return r.finished
}
