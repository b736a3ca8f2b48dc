package faultwatch

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gofaults/faults"
)

const ms = time.Millisecond

// newProxy starts a proxy to a target nobody dials in these tests.
func newProxy(t *testing.T) *faults.Proxy {
	t.Helper()
	p, err := faults.NewProxy("127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func set(t *testing.T, p *faults.Proxy, bs ...faults.Behavior) {
	t.Helper()
	if err := p.Set(bs...); err != nil {
		t.Fatal(err)
	}
}

// counter is a FaultCounter that lists what it was told.
type counter []string

func (c *counter) AddFaults(off time.Duration, n int64) {
	*c = append(*c, fmt.Sprintf("%v+%d", off, n))
}

func TestWindowsFollowTheBehaviors(t *testing.T) {
	a, b := newProxy(t), newProxy(t)
	set(t, a, faults.Latency(5*ms)) // installed before the run: a window from 0
	w := New([]*faults.Proxy{a, b})
	var c counter

	set(t, b, faults.Blackout())
	w.Poll(-50*ms, &c) // during the warm-up
	set(t, b)
	w.Poll(-10*ms, &c) // b's window ends in the warm-up: dropped
	set(t, b, faults.Blackout(), faults.Latency(ms))
	w.Poll(200*ms, &c)
	set(t, a)
	w.Poll(300*ms, &c)
	w.Poll(400*ms, &c) // no change
	got := w.Finish(500 * ms)
	want := []Window{
		{From: 0, To: 300 * ms, Proxy: a.Addr(), Label: "Latency(5ms)"},
		{From: 200 * ms, To: 500 * ms, Proxy: b.Addr(), Label: "Blackout(), Latency(1ms)"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("windows %+v,\nwant %+v", got, want)
	}
	if len(c) != 0 {
		t.Errorf("faults counted %q, want none", c)
	}
}

func TestFaultsAreCountedAndMarked(t *testing.T) {
	a := newProxy(t)
	set(t, a, faults.Refuse()) // fired before the watch: not counted
	set(t, a)
	w := New([]*faults.Proxy{a})
	start := time.Now()
	var c counter
	set(t, a, faults.Refuse()) // fires once, when installed
	w.PollInjected(120*ms, &c)
	w.PollInjected(130*ms, &c) // nothing new
	if want := (counter{"120ms+1"}); !slices.Equal(c, want) {
		t.Errorf("faults counted %q, want %q", c, want)
	}
	marks := w.Marks(start, time.Hour, time.Hour, time.Hour)
	if want := []Mark{{At: 0, Count: 1, Label: "Refuse()"}}; !slices.Equal(marks, want) {
		t.Errorf("marks %+v, want %+v", marks, want)
	}
	// Events after until are left out; those after duration count in the
	// last bucket.
	if m := w.Marks(start, 0, time.Hour, time.Hour); len(m) != 0 {
		t.Errorf("marks before the events %+v, want none", m)
	}
	if m := w.Marks(start.Add(-time.Hour), 2*time.Hour, time.Minute, 10*time.Second); len(m) != 1 || m[0].At != 50*time.Second {
		t.Errorf("marks of late events %+v, want one at 50s", m)
	}
}

func TestMarksNameTheProxyWhenSeveral(t *testing.T) {
	a, b := newProxy(t), newProxy(t)
	w := New([]*faults.Proxy{a, b})
	start := time.Now()
	set(t, b, faults.Refuse())
	set(t, a, faults.Refuse())
	marks := w.Marks(start, time.Hour, time.Hour, time.Hour)
	want := []Mark{{At: 0, Count: 1, Label: a.Addr() + " Refuse()"}, {At: 0, Count: 1, Label: b.Addr() + " Refuse()"}}
	slices.SortFunc(want, func(x, y Mark) int { return strings.Compare(x.Label, y.Label) })
	if !slices.Equal(marks, want) {
		t.Errorf("marks %+v, want %+v", marks, want)
	}
}

func TestNilWatchPollsNothing(t *testing.T) {
	var w *Watch
	var c counter
	w.PollInjected(time.Second, &c)
	if len(c) != 0 {
		t.Errorf("a nil watch counted %q", c)
	}
}
