package faults_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofaults/faults"
)

// hookLog collects what an OnFault hook receives.
type hookLog struct {
	mu     sync.Mutex
	events []faults.Event
}

func (h *hookLog) record(e faults.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, e)
}

func (h *hookLog) get() []faults.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.events)
}

// TestEventsLedger: each firing is recorded with its time, connection
// (numbered from 1 in accept order, 0 for the listener) and behavior, and
// the OnFault hook sees the same events in the same order.
func TestEventsLedger(t *testing.T) {
	var hook hookLog
	p, _ := newEchoProxy(t, faults.OnFault(hook.record))
	before := time.Now()
	mustSet(t, p, faults.Blackout().After(1).Times(2))
	fates(t, p, 4) // conns 1-4: 2 and 3 are blacked out
	// Open connections would take up the Latency below: let them close.
	waitUntil(t, ioWait, "conns 1-4 to close", func() bool { return p.Stats().ConnsOpen == 0 })
	mustSet(t, p, faults.Refuse())
	expectRefused(t, p.Addr())
	mustSet(t, p, faults.Latency(time.Millisecond).Downstream())
	c := dial(t, p.Addr()) // conn 5
	echoes(t, c, "x", ioWait)
	after := time.Now()

	type fired struct {
		conn     uint64
		behavior string
	}
	want := []fired{
		{2, "Blackout().After(1).Times(2)"},
		{3, "Blackout().After(1).Times(2)"},
		{0, "Refuse()"},
		{5, "Latency(1ms).Downstream()"},
	}
	ev := p.Events()
	var got []fired
	for i, e := range ev {
		got = append(got, fired{e.Conn, e.Behavior})
		if e.Time.Before(before) || e.Time.After(after) {
			t.Errorf("event %d at %v; want between %v and %v", i, e.Time, before, after)
		}
		if i > 0 && e.Time.Before(ev[i-1].Time) {
			t.Errorf("event %d is older than the one before it", i)
		}
		if e.Request != "" {
			t.Errorf("event %d has request %q on a raw TCP proxy", i, e.Request)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("events %v; want %v", got, want)
	}
	if h := hook.get(); !slices.EqualFunc(h, ev, func(a, b faults.Event) bool {
		return a.Conn == b.Conn && a.Behavior == b.Behavior && a.Time.Equal(b.Time) && a.Request == b.Request
	}) {
		t.Errorf("hook saw %v; Events() has %v", h, ev)
	}
	checkInjected(t, p, int64(len(want)))

	// Events returns a copy.
	ev[0].Conn = 99
	if p.Events()[0].Conn != 2 {
		t.Error("changing the slice Events returned changed the ledger")
	}
}

// TestEventsLimit: WithEventLimit(n) keeps the last n events, while
// Injected and the hook see every firing.
func TestEventsLimit(t *testing.T) {
	var hook hookLog
	p, _ := newEchoProxy(t, faults.WithEventLimit(2), faults.OnFault(hook.record))
	mustSet(t, p, faults.Blackout())
	fates(t, p, 5)
	if got := eventConns(p); !slices.Equal(got, []uint64{4, 5}) {
		t.Errorf("kept events for conns %v; want the last two, [4 5]", got)
	}
	checkInjected(t, p, 5)
	if got := len(hook.get()); got != 5 {
		t.Errorf("hook saw %d events; want 5", got)
	}

	q, _ := newEchoProxy(t, faults.WithEventLimit(0))
	mustSet(t, q, faults.Blackout())
	fates(t, q, 3)
	if ev := q.Events(); len(ev) != 0 {
		t.Errorf("WithEventLimit(0) kept %v", ev)
	}
	checkInjected(t, q, 3)
}

// TestEventsStats: once connections have closed, the counters are exact:
// connections open and total, and the bytes forwarded each way on both copy
// paths, a spliced stream longer than one splice round included.
func TestEventsStats(t *testing.T) {
	p, _ := newEchoProxy(t)
	var sent int64
	exchange := func(size int) {
		t.Helper()
		c, err := net.DialTimeout("tcp", p.Addr(), ioWait)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		data := randomBytes(uint64(size), size)
		errc := writeAsync(c, data)
		c.SetReadDeadline(time.Now().Add(ioWait))
		got := make([]byte, size)
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatal(err)
		}
		if err := waitWrite(t, errc); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatal("echo altered")
		}
		c.(*net.TCPConn).CloseWrite()
		if _, err := readUntilEnd(t, c, ioWait); err != io.EOF {
			t.Fatalf("read ended with %v, want EOF", err)
		}
		sent += int64(size)
	}
	closed := func(total int64) {
		t.Helper()
		waitUntil(t, ioWait, "every connection to close", func() bool { return p.Stats().ConnsOpen == 0 })
		s := p.Stats()
		if s.ConnsTotal != total || s.BytesUpstream != sent || s.BytesDownstream != sent || s.Requests != 0 {
			t.Errorf("stats %+v; want %d connections in all, %d bytes each way, no requests", s, total, sent)
		}
	}

	exchange(1000)      // spliced
	exchange(600 << 10) // spliced, more than one round
	closed(2)
	mustSet(t, p, faults.Latency(time.Millisecond))
	exchange(100 << 10) // inspected and delayed
	closed(3)
	mustSet(t, p, faults.Blackout())
	fates(t, p, 1) // a connection, no bytes
	closed(4)
	checkInjected(t, p, 2)

	open := dial(t, p.Addr())
	waitUntil(t, ioWait, "the connection to be counted", func() bool { return p.Stats().ConnsOpen == 1 })
	open.Close()
	closed(5)
}

// TestEventString: an event prints as people read it, without the
// monotonic clock reading, and fmt prints a slice of events the same way.
func TestEventString(t *testing.T) {
	var hook hookLog
	srv := newHTTPServer(t, pathHandler)
	p := newHTTPProxy(t, srv.addr(), faults.OnFault(hook.record))
	b := faults.Error(faults.HTTPStatus(503)).When(faults.Path("/orders/*")).Times(1)
	mustSet(t, p, b)
	c, _ := newHTTPClient(t, 5*time.Second)
	mustFetch(t, c, "GET", "http://"+p.Addr()+"/orders/7")
	mustSet(t, p, faults.Refuse().For(time.Hour))
	mustSet(t, p)

	evs := p.Events()
	if len(evs) != 2 {
		t.Fatalf("events: %v", evs)
	}
	for _, e := range append(evs, hook.get()...) {
		if s := fmt.Sprintf("%v", e.Time); strings.Contains(s, "m=") {
			t.Errorf("Event.Time %s carries a monotonic clock reading", s)
		}
	}
	want0 := evs[0].Time.Format("15:04:05.000000") + ` conn 1 "GET /orders/7" ` + b.String()
	want1 := evs[1].Time.Format("15:04:05.000000") + " listener Refuse().For(1h0m0s)"
	if got := evs[0].String(); got != want0 {
		t.Errorf("String() = %q\nwant       %q", got, want0)
	}
	if got := evs[1].String(); got != want1 {
		t.Errorf("String() = %q\nwant       %q", got, want1)
	}
	if got, want := fmt.Sprint(evs), "["+want0+" "+want1+"]"; got != want {
		t.Errorf("fmt.Sprint(p.Events()) = %q\nwant                     %q", got, want)
	}
	if !regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{6} `).MatchString(want0) {
		t.Errorf("the time is not printed as hh:mm:ss.µs: %q", want0)
	}
}
