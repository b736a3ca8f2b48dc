// Package faultwatch follows the proxies of a faulttest load run: by
// polling them, it tells when their behaviors changed (the run's fault
// windows) and how many faults they fired, and it sorts the events of
// their ledgers into the run's timeline.
package faultwatch

import (
	"sort"
	"strings"
	"time"

	"github.com/gofaults/faults"
)

// PollInterval is how often a load run looks at its proxies' behaviors and
// counters: a fault window's ends are known to within about this much.
const PollInterval = 10 * time.Millisecond

// A Window is a span [From, To) of a run, as offsets from the start of the
// recorded run, during which a proxy had the same non-empty set of
// behaviors installed.
type Window struct {
	From, To time.Duration
	Proxy    string // the proxy's name (faults.WithName), or its address if it has none
	Label    string // the behaviors in force, as their String methods render them, joined by ", "
}

// A Mark counts the faults with one label that fired in one bucket of the
// timeline, as the proxies' ledgers recorded them.
type Mark struct {
	At    time.Duration // the start of the bucket
	Count int
	Label string // the behavior that fired, prefixed with the proxy's name or address when the run watched several
}

// A FaultCounter counts the faults fired at an offset of the run; the
// run's recorder is one.
type FaultCounter interface {
	AddFaults(off time.Duration, n int64)
}

// A Watch follows the behaviors and fault counters of a run's proxies by
// polling them. It is used by one goroutine.
type Watch struct {
	proxies  []*faults.Proxy
	prefix   bool            // several proxies: labels name the proxy
	labels   []string        // behaviors in force per proxy
	opened   []time.Duration // since when
	injected []int64         // Stats().Injected at the last poll
	windows  []Window
}

// New starts watching proxies: the behaviors they have now count as
// installed since the start of the run, and the faults they fired so far
// do not count.
func New(proxies []*faults.Proxy) *Watch {
	w := &Watch{
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

// Poll looks at every proxy at offset off of the recorded run: it closes
// and opens fault windows where the behaviors changed, and counts the
// faults fired since the last poll in fc.
func (w *Watch) Poll(off time.Duration, fc FaultCounter) {
	w.PollInjected(off, fc)
	for i, p := range w.proxies {
		label := behaviorsLabel(p)
		if label == w.labels[i] {
			continue
		}
		w.closeWindow(i, off)
		w.labels[i], w.opened[i] = label, off
	}
}

// PollInjected counts in fc, at offset off, the faults fired since the
// last poll. A nil w does nothing.
func (w *Watch) PollInjected(off time.Duration, fc FaultCounter) {
	if w == nil {
		return
	}
	for i, p := range w.proxies {
		if n := p.Stats().Injected; n != w.injected[i] {
			fc.AddFaults(off, n-w.injected[i])
			w.injected[i] = n
		}
	}
}

func (w *Watch) closeWindow(i int, off time.Duration) {
	if w.labels[i] == "" {
		return
	}
	from := max(w.opened[i], 0)
	if off <= from {
		return // entirely in the warm-up
	}
	w.windows = append(w.windows, Window{
		From:  from,
		To:    off,
		Proxy: proxyLabel(w.proxies[i]),
		Label: w.labels[i],
	})
}

// Finish closes the windows still open at offset end and returns them all,
// ordered by start.
func (w *Watch) Finish(end time.Duration) []Window {
	for i := range w.proxies {
		w.closeWindow(i, end)
		w.labels[i] = ""
	}
	sort.SliceStable(w.windows, func(i, j int) bool { return w.windows[i].From < w.windows[j].From })
	return w.windows
}

// Fired returns the events of the proxies' ledgers that fired in
// [start, start+until), in time order, at most max of them, each as it
// prints (faults.Event.String, as logs show it), prefixed with the proxy's
// name or address when the run watched several; and how many there were.
func (w *Watch) Fired(start time.Time, until time.Duration, max int) (lines []string, total int) {
	type fired struct {
		at   time.Time
		line string
	}
	var all []fired
	for _, p := range w.proxies {
		for _, e := range p.Events() {
			if off := e.Time.Sub(start); off < 0 || off >= until {
				continue
			}
			line := e.String()
			if w.prefix {
				line = proxyLabel(p) + " " + line
			}
			all = append(all, fired{e.Time, line})
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].at.Before(all[j].at) })
	for _, f := range all[:min(len(all), max)] {
		lines = append(lines, f.line)
	}
	return lines, len(all)
}

// Marks aggregates the events of the proxies' ledgers that fired in
// [start, start+until) per bucket of the given width and label; those
// after duration, fired by calls still running, count in the last bucket.
// The ledgers are bounded rings ([faults.WithEventLimit]): events that
// were dropped from them before the run ended are missing here, though the
// buckets' fault counts include them.
func (w *Watch) Marks(start time.Time, until, duration, width time.Duration) []Mark {
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
				label = proxyLabel(p) + " " + label
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
	marks := make([]Mark, len(keys))
	for i, k := range keys {
		marks[i] = Mark{At: k.at, Count: counts[k], Label: k.label}
	}
	return marks
}

// proxyLabel names p in windows and marks: its name, or its address if it
// has none.
func proxyLabel(p *faults.Proxy) string {
	if n := p.Name(); n != "" {
		return n
	}
	return p.Addr()
}
