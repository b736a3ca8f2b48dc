// Package recorder accumulates the outcomes of the calls of a faulttest
// load run in memory that does not grow with the number of calls: HDR
// histograms of the latencies, counts of errors per class, a few error
// texts, and a timeline of fixed-width buckets. When the run is over, the
// [Recording] answers the report's questions: quantiles, error rates and
// recovery over spans of the timeline.
//
// Error classes are small integers below [NumClasses]; faulttest decides
// what they mean, through the classify function given to [New].
package recorder

import (
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// NumClasses is the number of error classes: classify functions return a
// class in [0, NumClasses).
const NumClasses = 4

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

// bucket is what a timeline bucket accumulates.
type bucket struct {
	requests, errors int64
	byClass          [NumClasses]int64
	faults           int64         // faults fired, from the proxies' Injected counters
	lastErr, lastOK  time.Duration // latest start offset of a failed/successful call; -1 if none
	hist             *hdr.Histogram
}

// A Recorder accumulates the outcome of the calls of one run. It is safe
// for concurrent use; its memory does not grow with the number of calls.
type Recorder struct {
	width    time.Duration // bucket width
	classify func(error) int

	mu       sync.Mutex
	closed   bool  // set once the run is over: late (abandoned) calls are ignored
	finished int64 // calls recorded, warm-up and late ones included
	total    *hdr.Histogram
	lag      *hdr.Histogram // open model: how late calls started
	buckets  []bucket
	requests int64
	errors   int64
	byClass  [NumClasses]int64
	samples  [NumClasses][]string

	// The live window, reset every second for the verbose progress line;
	// it includes warm-up calls.
	live                  *hdr.Histogram
	liveCalls, liveErrors int64
}

// New returns a Recorder for a run of the given duration, in buckets of
// the given width (the last one may be cut short). classify tells the
// class of a non-nil error, in [0, NumClasses).
func New(duration, width time.Duration, classify func(error) int) *Recorder {
	n := int((duration + width - 1) / width)
	r := &Recorder{
		width:    width,
		classify: classify,
		total:    newHistogram(runSigFigs),
		lag:      newHistogram(bucketSigFigs),
		live:     newHistogram(bucketSigFigs),
		buckets:  make([]bucket, n),
	}
	for i := range r.buckets {
		r.buckets[i] = bucket{lastErr: -1, lastOK: -1, hist: newHistogram(bucketSigFigs)}
	}
	return r
}

// Record adds the outcome of one call that started (or was scheduled) at
// offset off from the start of the recorded run, started lag late (open
// model; -1 for the closed model) and took lat. A negative offset is a
// warm-up call: it only counts in the live window, as do calls past the
// last bucket. Calls recorded after Close are ignored.
func (r *Recorder) Record(off, lag, lat time.Duration, err error) {
	var class int
	if err != nil {
		class = r.classify(err)
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
func (r *Recorder) sample(class int, err error) {
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

// AddFaults counts n faults fired at offset off: those fired during the
// warm-up are ignored, those fired after the run, by calls still running,
// count in the last bucket. It still counts after Close.
func (r *Recorder) AddFaults(off time.Duration, n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if off < 0 {
		return
	}
	r.buckets[min(int(off/r.width), len(r.buckets)-1)].faults += n
}

// Live is one second of progress.
type Live struct {
	Calls, Errors int64
	P50, P99      time.Duration
}

// TakeLive returns the live window and starts a new one.
func (r *Recorder) TakeLive() Live {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Live{
		Calls:  r.liveCalls,
		Errors: r.liveErrors,
		P50:    time.Duration(r.live.ValueAtQuantile(50)),
		P99:    time.Duration(r.live.ValueAtQuantile(99)),
	}
	r.live.Reset()
	r.liveCalls, r.liveErrors = 0, 0
	return s
}

// Close stops recording, so that calls that return later are ignored, and
// returns the number of calls recorded.
func (r *Recorder) Close() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	return r.finished
}
