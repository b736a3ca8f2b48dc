package faults_test

import (
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gofaults/faults"
)

// fates dials n connections one after the other and reports which were
// blacked out.
func fates(t testing.TB, p *faults.Proxy, n int) []bool {
	t.Helper()
	out := make([]bool, n)
	for i := range out {
		out[i] = blackedOut(t, p.Addr())
	}
	return out
}

// TestModCounting: Times, After and Probability decide which connections
// a connection behavior fires on, and each firing is counted and recorded.
func TestModCounting(t *testing.T) {
	F, P := true, false // fired, passed
	for _, tc := range []struct {
		b    faults.Behavior
		want []bool
	}{
		{faults.Blackout().Times(2), []bool{F, F, P, P, P}},
		{faults.Blackout().After(2), []bool{P, P, F, F, F}},
		{faults.Blackout().After(2).Times(1), []bool{P, P, F, P, P}},
		{faults.Blackout().Times(0), []bool{P, P, P}},
		{faults.Blackout().Probability(0), slices.Repeat([]bool{P}, 10)},
		{faults.Blackout().Probability(1), slices.Repeat([]bool{F}, 10)},
		{faults.Blackout().Probability(1).After(1).Times(2), []bool{P, F, F, P, P}},
	} {
		t.Run(tc.b.String(), func(t *testing.T) {
			p, b := newEchoProxy(t)
			mustSet(t, p, tc.b)
			got := fates(t, p, len(tc.want))
			if !slices.Equal(got, tc.want) {
				t.Fatalf("blacked out: %v; want %v", got, tc.want)
			}
			var fired []uint64
			for i, f := range tc.want {
				if f {
					fired = append(fired, uint64(i+1))
				}
			}
			checkInjected(t, p, int64(len(fired)))
			if got := eventConns(p); !slices.Equal(got, fired) {
				t.Errorf("event conns = %v, want %v", got, fired)
			}
			for _, e := range p.Events() {
				if e.Behavior != tc.b.String() {
					t.Errorf("event behavior %q, want %q", e.Behavior, tc.b.String())
				}
			}
			if got := b.accepted(); got != len(tc.want)-len(fired) {
				t.Errorf("backend accepted %d; want %d", got, len(tc.want)-len(fired))
			}
		})
	}
}

// TestModForConnection: a connection behavior with For(d) fires during d
// and stops by itself.
func TestModForConnection(t *testing.T) {
	const window = 300 * time.Millisecond
	p, _ := newEchoProxy(t)
	start := time.Now()
	mustSet(t, p, faults.Blackout().For(window))
	blackouts := 0
	deadline := start.Add(3 * time.Second)
	for blackedOut(t, p.Addr()) {
		blackouts++
		if time.Now().After(deadline) {
			t.Fatal("still blacking out after 3s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	passedAt := time.Since(start)
	if blackouts == 0 || passedAt < window || passedAt > window+time.Second {
		t.Errorf("%d blackouts, first pass %v after Set; want blackouts until %v", blackouts, passedAt, window)
	}
	if fates(t, p, 3)[2] {
		t.Error("blacked out after the window")
	}
	checkInjected(t, p, int64(blackouts))
}

// TestModForStream: when a stream behavior's window closes, what it was
// doing to open connections stops: stalled bytes flow with no Reset.
func TestModForStream(t *testing.T) {
	const window = 300 * time.Millisecond
	p, _ := newEchoProxy(t)
	c := dial(t, p.Addr())
	echoes(t, c, "before", ioWait)
	start := time.Now()
	mustSet(t, p, faults.Stall().For(window))
	msg := []byte("held for a while")
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(ioWait))
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	at := time.Since(start)
	if string(got) != string(msg) {
		t.Fatalf("got %q", got)
	}
	if at < window || at > window+time.Second {
		t.Errorf("bytes arrived %v after Set; want %v (+1s)", at, window)
	}
	if rt := median(roundTrips(t, c, 3, 64)); rt > 50*time.Millisecond {
		t.Errorf("round trips take %v after the window", rt)
	}
	checkInjected(t, p, 1)
}

// TestModSetOnLiveConnection: Set replaces the stream behaviors of an open
// connection, from its next bytes on, and Reset clears them.
func TestModSetOnLiveConnection(t *testing.T) {
	p, _ := newEchoProxy(t)
	c := dial(t, p.Addr())
	fast := median(roundTrips(t, c, 5, 64))

	mustSet(t, p, faults.Latency(100*time.Millisecond))
	slow := roundTrips(t, c, 3, 64)
	mustSet(t, p, faults.Latency(20*time.Millisecond))
	less := roundTrips(t, c, 3, 64)
	if err := p.Reset(); err != nil {
		t.Fatal(err)
	}
	again := median(roundTrips(t, c, 5, 64))
	t.Logf("round trips: %v; Latency(100ms) %v; Latency(20ms) %v; after Reset %v", fast, slow, less, again)

	if fast > 20*time.Millisecond {
		t.Errorf("round trip %v before any behavior", fast)
	}
	if slow[0] < 200*time.Millisecond {
		t.Errorf("Latency(100ms) on the open connection: round trips %v; want ≥ 200ms from the first", slow)
	}
	if less[0] < 40*time.Millisecond || median(less) >= 200*time.Millisecond {
		t.Errorf("Latency(20ms) replacing Latency(100ms): round trips %v; want in [40ms, 200ms)", less)
	}
	if again > 20*time.Millisecond {
		t.Errorf("after Reset the round trip takes %v; want fast again", again)
	}
	checkInjected(t, p, 2)
}

// TestModCountersAfresh: installing a counted behavior again starts its
// count again.
func TestModCountersAfresh(t *testing.T) {
	p, _ := newEchoProxy(t)
	b := faults.Blackout().After(1).Times(1)
	F, P := true, false
	for round := range 2 {
		mustSet(t, p, b)
		if got, want := fates(t, p, 3), []bool{P, F, P}; !slices.Equal(got, want) {
			t.Fatalf("round %d: blacked out %v; want %v", round, got, want)
		}
	}
	checkInjected(t, p, 2)
	if got := eventConns(p); !slices.Equal(got, []uint64{2, 5}) {
		t.Errorf("event conns = %v, want [2 5]", got)
	}
}

// TestModDecisionKept: a probabilistic behavior's decision for a
// connection stands for the connection's life: it is not re-rolled when
// other connections come, nor when another behavior's window closes and
// every connection's plan is recomputed (Toxiproxy re-rolls on both).
func TestModDecisionKept(t *testing.T) {
	const d = 60 * time.Millisecond
	p, _ := newEchoProxy(t, faults.WithSeed(5))
	conns := make([]*net.TCPConn, 8)
	for i := range conns {
		conns[i] = dial(t, p.Addr())
		echoes(t, conns[i], "hi", ioWait)
	}
	slowOnes := func() []bool {
		out := make([]bool, len(conns))
		for i, c := range conns {
			out[i] = roundTrip(t, c, []byte("ping")) >= 2*d
		}
		return out
	}
	lat := faults.Latency(d).Probability(0.5)
	mustSet(t, p, lat, faults.Bandwidth(1<<40).For(100*time.Millisecond))
	first := slowOnes()
	// firings on the first connections, as "behavior@conn"
	firings := func() []string {
		var out []string
		for _, e := range p.Events() {
			if e.Conn <= uint64(len(conns)) {
				out = append(out, fmt.Sprintf("%s@%d", e.Behavior, e.Conn))
			}
		}
		return out
	}
	before := firings()
	var want []string
	for i, s := range first {
		if s {
			want = append(want, fmt.Sprintf("%s@%d", lat, i+1))
		}
	}
	if len(want) == 0 || len(want) == len(conns) {
		t.Fatalf("slow connections %v: this seed should give a mix", first)
	}
	var latFirings []string
	for _, f := range before {
		if strings.HasPrefix(f, lat.String()+"@") {
			latFirings = append(latFirings, f)
		}
	}
	if !slices.Equal(latFirings, want) {
		t.Errorf("Latency firings %v; the slow connections are %v", latFirings, want)
	}

	extra := dial(t, p.Addr()) // a new connection rolls for itself only
	echoes(t, extra, "new", ioWait)
	time.Sleep(200 * time.Millisecond) // the Bandwidth window closes meanwhile
	if again := slowOnes(); !slices.Equal(again, first) {
		t.Errorf("slow connections changed from %v to %v", first, again)
	}
	if after := firings(); !slices.Equal(after, before) {
		t.Errorf("firings on the first connections changed from %v to %v", before, after)
	}
}

// TestModSkipsEndingConnections: a counted behavior installed while a
// connection is being closed spends its firings on live connections only.
func TestModSkipsEndingConnections(t *testing.T) {
	p, _ := newEchoProxy(t)
	mustSet(t, p, faults.Blackout().Times(1))
	// The blacked-out client reads EOF but does not close: the proxy waits
	// for it to (up to a linger time), the connection ending but not gone.
	dead := dial(t, p.Addr())
	dead.SetReadDeadline(time.Now().Add(ioWait))
	if _, err := dead.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read %v; want EOF", err)
	}
	live := dial(t, p.Addr())
	echoes(t, live, "alive", ioWait)

	lat := faults.Latency(100 * time.Millisecond).Times(1)
	mustSet(t, p, lat)
	if rt := roundTrip(t, live, []byte("slow?")); rt < 200*time.Millisecond {
		t.Errorf("round trip %v on the live connection; Latency(100ms).Times(1) should have taken it", rt)
	}
	ev := p.Events()
	if e := ev[len(ev)-1]; e.Behavior != lat.String() || e.Conn != 2 {
		t.Errorf("last event %+v; want %s on conn 2", e, lat)
	}
	if !strings.HasPrefix(ev[0].Behavior, "Blackout") {
		t.Errorf("first event %+v; want the Blackout", ev[0])
	}
}
