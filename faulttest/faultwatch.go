package faulttest

import (
	"sort"
	"strings"
	"time"

	"github.com/gofaults/faults"
	"github.com/gofaults/faults/faulttest/internal/recorder"
)

// pollInterval is how often a load run looks at its proxies' behaviors and
// counters: a fault window's ends are known to within about this much.
const pollInterval = 10 * time.Millisecond

// A FaultWindow is a span of a load run during which a proxy had the same
// non-empty set of behaviors installed.
type FaultWindow struct {
	Window
	Proxy string // the proxy's address
	Label string // the behaviors in force, as their String methods render them, joined by ", "
}

// A FaultMark counts the faults with one label that fired in one bucket of
// the timeline, as the proxies' ledgers recorded them.
type FaultMark struct {
	At    time.Duration // the start of the bucket
	Count int
	Label string // the behavior that fired, prefixed with the proxy's address when the run watched several
}

// faultWatch follows the behaviors and fault counters of a run's proxies by
// polling them. It is used by one goroutine.
type faultWatch struct {
	proxies  []*faults.Proxy
	prefix   bool            // several proxies: labels name the proxy
	labels   []string        // behaviors in force per proxy
	opened   []time.Duration // since when
	injected []int64         // Stats().Injected at the last poll
	windows  []FaultWindow
}

func newFaultWatch(proxies []*faults.Proxy) *faultWatch {
	w := &faultWatch{
		proxies:  proxies,
		prefix:   len(proxies) > 1,
		labels:   make([]string, len(proxies)),
		opened:   make([]time.Duration, len(proxies)),
		injected: make([]int64, len(proxies)),
	}
	for i, p := range proxies {
		w.labels[i] = behaviorsLabel(p)
		w.injected[i] = p.Stats().Injected
	}
	return w
}

func behaviorsLabel(p *faults.Proxy) string {
	bs := p.Behaviors()
	s := make([]string, len(bs))
	for i, b := range bs {
		s[i] = b.String()
	}
	return strings.Join(s, ", ")
}

// poll looks at every proxy at offset off of the recorded run: it closes
// and opens fault windows where the behaviors changed, and counts the
// faults fired since the last poll in rec.
func (w *faultWatch) poll(off time.Duration, rec *recorder.Recorder) {
	w.pollInjected(off, rec)
	for i, p := range w.proxies {
		label := behaviorsLabel(p)
		if label == w.labels[i] {
			continue
		}
		w.closeWindow(i, off)
		w.labels[i], w.opened[i] = label, off
	}
}

// pollInjected counts in rec, at offset off, the faults fired since the
// last poll. A nil w does nothing.
func (w *faultWatch) pollInjected(off time.Duration, rec *recorder.Recorder) {
	if w == nil {
		return
	}
	for i, p := range w.proxies {
		if n := p.Stats().Injected; n != w.injected[i] {
			rec.AddFaults(off, n-w.injected[i])
			w.injected[i] = n
		}
	}
}

func (w *faultWatch) closeWindow(i int, off time.Duration) {
	if w.labels[i] == "" {
		return
	}
	from := max(w.opened[i], 0)
	if off <= from {
		return // entirely in the warm-up
	}
	w.windows = append(w.windows, FaultWindow{
		Window: Window{From: from, To: off},
		Proxy:  w.proxies[i].Addr(),
		Label:  w.labels[i],
	})
}

// finish closes the windows still open at offset end and returns them all,
// ordered by start.
func (w *faultWatch) finish(end time.Duration) []FaultWindow {
	for i := range w.proxies {
		w.closeWindow(i, end)
		w.labels[i] = ""
	}
	sort.SliceStable(w.windows, func(i, j int) bool { return w.windows[i].From < w.windows[j].From })
	return w.windows
}

// marks aggregates the events of the proxies' ledgers that fired in
// [start, start+until) per bucket of the given width and label; those
// after duration, fired by calls still running, count in the last bucket.
// The ledgers are bounded rings ([faults.WithEventLimit]): events that
// were dropped from them before the run ended are missing here, though the
// buckets' fault counts include them.
func (w *faultWatch) marks(start time.Time, until, duration, width time.Duration) []FaultMark {
	type key struct {
		at    time.Duration
		label string
	}
	counts := map[key]int{}
	var keys []key
	for _, p := range w.proxies {
		for _, e := range p.Events() {
			off := e.Time.Sub(start)
			if off < 0 || off >= until {
				continue
			}
			off = min(off, duration-1)
			label := e.Behavior
			if w.prefix {
				label = p.Addr() + " " + label
			}
			k := key{off / width * width, label}
			if counts[k] == 0 {
				keys = append(keys, k)
			}
			counts[k]++
		}
	}
	sort.SliceStable(keys, func(i, j int) bool {
		if keys[i].at != keys[j].at {
			return keys[i].at < keys[j].at
		}
		return keys[i].label < keys[j].label
	})
	marks := make([]FaultMark, len(keys))
	for i, k := range keys {
		marks[i] = FaultMark{At: k.at, Count: counts[k], Label: k.label}
	}
	return marks
}
