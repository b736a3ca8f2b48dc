package faults_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofaults/faults"
)

// routeDialer is a test Dialer: each call asks route where to go, by the
// call's number (from 1). A route of "" blocks until the dial's context is
// done, as for an upstream that drops SYNs.
type routeDialer struct {
	calls   atomic.Int64
	route   func(call int64) string
	blocked chan int64 // each blocked call's number, once blocked
}

func newRouteDialer(route func(call int64) string) *routeDialer {
	return &routeDialer{route: route, blocked: make(chan int64, 100)}
}

func (d *routeDialer) DialContext(ctx context.Context, network, _ string) (net.Conn, error) {
	n := d.calls.Add(1)
	to := d.route(n)
	if to == "" {
		d.blocked <- n
		<-ctx.Done()
		return nil, ctx.Err()
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, to)
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// dialAndRead connects to addr and reads until the connection ends,
// returning the error that ended it. The proxy may reset the connection
// before the client's connect has returned: then the dial's error is the
// one returned.
func dialAndRead(t testing.TB, addr string) error {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = readUntilEnd(t, c, 5*time.Second)
	return err
}

// proxyGoroutines returns the stacks of the goroutines running code of the
// faults package itself (not its tests): none may remain once Close has
// returned.
func proxyGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var found []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "github.com/gofaults/faults.") {
			found = append(found, g)
		}
	}
	return found
}

// checkNoProxyGoroutines fails the test if a goroutine of the proxy
// outlived Close. A goroutine that has signalled its end to Close may still
// be returning, so it gets a moment (far shorter than any parked behavior
// in these tests) to go.
func checkNoProxyGoroutines(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(200 * time.Millisecond)
	for {
		gs := proxyGoroutines()
		if len(gs) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%d goroutines of the proxy still running after Close returned; first:\n%s", len(gs), gs[0])
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// TestDialOffAcceptLoop: while one client's upstream dial hangs, another
// client of the same proxy is dialed and served at once; the hung dial is
// cut at the dial timeout and its client reset.
func TestDialOffAcceptLoop(t *testing.T) {
	echoB := newBackend(t, echo)
	d := newRouteDialer(func(call int64) string {
		if call == 1 {
			return "" // the first dial never completes
		}
		return echoB.addr()
	})
	const dialTimeout = time.Second
	p, err := faults.NewProxy("127.0.0.1:1", faults.WithDialer(d), faults.WithDialTimeout(dialTimeout))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })

	start := time.Now()
	stuck := dial(t, p.Addr())
	io.WriteString(stuck, "lost")
	select {
	case <-d.blocked:
	case <-time.After(5 * time.Second):
		t.Fatal("the first dial never started")
	}

	t0 := time.Now()
	other := dial(t, p.Addr())
	echoes(t, other, "served while another dial hangs", 5*time.Second)
	if el := time.Since(t0); el > dialTimeout/2 {
		t.Errorf("second client waited %v for its echo; a hung dial must not hold up others", el)
	}
	// The stuck client is still waiting: not answered, not closed.
	stuck.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if n, err := stuck.Read(make([]byte, 8)); !isTimeout(err) {
		t.Fatalf("stuck client read %d, %v while its dial hangs; want nothing yet", n, err)
	}

	_, err = readUntilEnd(t, stuck, 10*time.Second)
	el := time.Since(start)
	if !isReset(err) {
		t.Errorf("stuck client: %v; want ECONNRESET when the dial times out", err)
	}
	if el < dialTimeout*9/10 || el > dialTimeout+2*time.Second {
		t.Errorf("stuck client ended after %v; want about the dial timeout, %v", el, dialTimeout)
	}
	// The other client is unaffected.
	echoes(t, other, "still fine", 5*time.Second)
}

// TestDialRefusedUpstream: an upstream that refuses makes the proxy reset
// its client at once; the proxy goes on serving.
func TestDialRefusedUpstream(t *testing.T) {
	t.Run("target", func(t *testing.T) {
		p, err := faults.NewProxy(closedAddr(t), faults.WithDialTimeout(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		for i := range 3 {
			start := time.Now()
			err := dialAndRead(t, p.Addr())
			if !isReset(err) {
				t.Errorf("client %d: %v; want ECONNRESET from a refused upstream", i, err)
			}
			if el := time.Since(start); el > 5*time.Second { // far below the minute a timeout would take
				t.Errorf("client %d waited %v to learn the upstream refused", i, el)
			}
		}
		// Each failed dial is counted, and logged.
		if got := p.Stats().DialFailures; got != 3 {
			t.Errorf("DialFailures = %d, want 3", got)
		}
	})
	t.Run("others unaffected", func(t *testing.T) {
		echoB := newBackend(t, echo)
		refused := closedAddr(t)
		var refuse atomic.Bool
		d := newRouteDialer(func(int64) string {
			if refuse.Load() {
				return refused
			}
			return echoB.addr()
		})
		p, err := faults.NewProxy(echoB.addr(), faults.WithDialer(d), faults.WithDialTimeout(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		live := dial(t, p.Addr())
		echoes(t, live, "before", 5*time.Second)
		refuse.Store(true)
		for i := range 5 {
			start := time.Now()
			if err := dialAndRead(t, p.Addr()); !isReset(err) {
				t.Errorf("refused client %d: %v; want ECONNRESET", i, err)
			}
			if el := time.Since(start); el > 5*time.Second { // far below the minute a timeout would take
				t.Errorf("refused client %d waited %v", i, el)
			}
			echoes(t, live, fmt.Sprint("during ", i), 5*time.Second)
		}
		refuse.Store(false)
		echoes(t, dial(t, p.Addr()), "after", 5*time.Second)
		echoes(t, live, "after", 5*time.Second)
		if got := p.Stats().DialFailures; got != 5 {
			t.Errorf("DialFailures = %d, want 5", got)
		}
	})
}

// TestCloseIdempotent: Close can be called again, and concurrently, and
// every call returns nil.
func TestCloseIdempotent(t *testing.T) {
	p, _ := newEchoProxy(t)
	echoes(t, dial(t, p.Addr()), "x", 5*time.Second)
	if err := p.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if err := p.Close(); err != nil {
				t.Errorf("concurrent Close: %v", err)
			}
		})
	}
	wg.Wait()
}

// TestCloseUnblocksParked: Close ends connections parked in every kind of
// wait promptly, and the clients see their connection end.
func TestCloseUnblocksParked(t *testing.T) {
	blocking := newRouteDialer(func(int64) string { return "" })
	type parked struct {
		name  string
		set   []faults.Behavior
		opts  []faults.Option
		ready func(p *faults.Proxy, b *backend, c net.Conn) bool // the connection is parked
	}
	cases := []parked{
		{name: "Hang", set: []faults.Behavior{faults.Hang()},
			ready: func(p *faults.Proxy, b *backend, c net.Conn) bool { return p.Stats().ConnsOpen == 1 }},
		{name: "ConnectDelay(1h)", set: []faults.Behavior{faults.ConnectDelay(time.Hour)},
			ready: func(p *faults.Proxy, b *backend, c net.Conn) bool { return p.Stats().ConnsOpen == 1 }},
		{name: "Stall", set: []faults.Behavior{faults.Stall()},
			ready: func(p *faults.Proxy, b *backend, c net.Conn) bool { return b.accepted() == 1 }},
		{name: "Latency(1h)", set: []faults.Behavior{faults.Latency(time.Hour)},
			// the client's bytes have been read and sit in the delay line
			ready: func(p *faults.Proxy, b *backend, c net.Conn) bool { return p.Stats().BytesUpstream == 3 }},
		{name: "Slice(1, 1h)", set: []faults.Behavior{faults.Slice(1, time.Hour)},
			// the first byte made the round trip; the next waits an hour
			ready: func(p *faults.Proxy, b *backend, c net.Conn) bool {
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				defer c.SetReadDeadline(time.Time{})
				_, err := io.ReadFull(c, make([]byte, 1))
				return err == nil
			}},
		{name: "dialing", opts: []faults.Option{faults.WithDialer(blocking), faults.WithDialTimeout(time.Hour)},
			ready: func(p *faults.Proxy, b *backend, c net.Conn) bool { return len(blocking.blocked) == 1 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t, echo)
			p, err := faults.NewProxy(b.addr(), tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.Close() })
			mustSet(t, p, tc.set...)
			c := dial(t, p.Addr())
			io.WriteString(c, "xyz")
			waitUntil(t, 5*time.Second, "the connection to be parked", func() bool { return tc.ready(p, b, c) })

			start := time.Now()
			if err := p.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			checkNoProxyGoroutines(t)
			if el := time.Since(start); el > time.Second {
				t.Errorf("Close took %v with one parked connection", el)
			}
			got, err := readUntilEnd(t, c, 2*time.Second)
			if err != io.EOF && !isReset(err) {
				t.Errorf("client read %q, %v after Close; want EOF or ECONNRESET", got, err)
			}
			if st := p.Stats(); st.ConnsOpen != 0 {
				t.Errorf("ConnsOpen = %d after Close", st.ConnsOpen)
			}
		})
	}
}

// TestCloseManyConnections: Close ends every open connection, on both
// sides, within a bounded time, frees the port, and refuses later changes.
func TestCloseManyConnections(t *testing.T) {
	const n = 100
	p, b := newEchoProxy(t)
	addr := p.Addr()
	clients := make([]*net.TCPConn, n)
	for i := range clients {
		clients[i] = dial(t, addr)
		echoes(t, clients[i], fmt.Sprint("conn ", i), 5*time.Second)
	}
	// Some on the inspecting path, some stalled with bytes waiting.
	mustSet(t, p, faults.Bandwidth(1<<50))
	for i := 0; i < n; i += 3 {
		echoes(t, clients[i], "inspected", 5*time.Second)
	}
	mustSet(t, p, faults.Stall())
	for i := 1; i < n; i += 3 {
		io.WriteString(clients[i], "stalled")
	}
	if st := p.Stats(); st.ConnsOpen != n {
		t.Fatalf("ConnsOpen = %d, want %d", st.ConnsOpen, n)
	}

	start := time.Now()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	checkNoProxyGoroutines(t)
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("Close took %v with %d connections", el, n)
	}
	t.Logf("Close with %d connections took %v", n, time.Since(start))

	// The port is free at once.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listening on %s right after Close: %v", addr, err)
	}
	ln.Close()

	for i, c := range clients {
		if _, err := readUntilEnd(t, c, 2*time.Second); err != io.EOF && !isReset(err) {
			t.Errorf("client %d: %v after Close; want EOF or ECONNRESET", i, err)
		}
	}
	// The backend sees every upstream connection end.
	waitUntil(t, 5*time.Second, "the backend's connections to end", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.conns) == 0
	})
	if st := p.Stats(); st.ConnsOpen != 0 || st.ConnsTotal != n {
		t.Errorf("Stats after Close = %+v, want no connection open, %d in total", st, n)
	}
	if err := p.Set(faults.Latency(time.Millisecond)); !errors.Is(err, faults.ErrClosed) {
		t.Errorf("Set after Close = %v, want ErrClosed", err)
	}
	if err := p.Reset(); !errors.Is(err, faults.ErrClosed) {
		t.Errorf("Reset after Close = %v, want ErrClosed", err)
	}
	// The listener stays closed: a dial is refused.
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("dial after Close succeeded")
	}
}

// TestShardsIndependent: proxies in one process share nothing; a fault on
// one shard leaves the others and their counters alone.
func TestShardsIndependent(t *testing.T) {
	const shards, perShard = 3, 4
	ps := make([]*faults.Proxy, shards)
	for i := range ps {
		ps[i], _ = newEchoProxy(t)
	}
	live := make([][]*net.TCPConn, shards)
	for i, p := range ps {
		for j := range perShard {
			c := dial(t, p.Addr())
			echoes(t, c, fmt.Sprint("shard ", i, " conn ", j), 5*time.Second)
			live[i] = append(live[i], c)
		}
	}
	mustSet(t, ps[1], faults.Blackout())
	for i, p := range ps {
		for j := range perShard {
			c := dial(t, p.Addr())
			if i == 1 {
				got, err := readUntilEnd(t, c, 5*time.Second)
				if err != io.EOF || len(got) != 0 {
					t.Errorf("shard 2 client %d: %q, %v; want EOF (blackout)", j, got, err)
				}
				continue
			}
			echoes(t, c, fmt.Sprint("new ", i, j), 5*time.Second)
		}
		// Connections opened before the blackout keep working everywhere:
		// connection behaviors act at accept.
		for j, c := range live[i] {
			echoes(t, c, fmt.Sprint("old ", i, j), 5*time.Second)
		}
	}
	for i, p := range ps {
		st := p.Stats()
		wantInjected := int64(0)
		if i == 1 {
			wantInjected = perShard
		}
		if st.ConnsTotal != 2*perShard || st.Injected != wantInjected {
			t.Errorf("shard %d Stats = %+v, want %d connections, %d injected", i+1, st, 2*perShard, wantInjected)
		}
		if n := len(p.Events()); n != int(wantInjected) {
			t.Errorf("shard %d has %d events, want %d", i+1, n, wantInjected)
		}
	}
	// Closing one shard leaves the others serving.
	ps[1].Close()
	for _, i := range []int{0, 2} {
		echoes(t, live[i][0], "after shard 2 closed", 5*time.Second)
	}
}

// TestCloseUnderLoad: Close while clients connect and echo in a loop and
// other goroutines keep changing the behaviors (the listener going down and
// up with Refuse included). Close returns promptly, every later Set fails
// with ErrClosed, every client ends, and the port is free.
func TestCloseUnderLoad(t *testing.T) {
	p, _ := newEchoProxy(t)
	addr := p.Addr()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var echoed atomic.Int64
	for i := range 8 {
		wg.Go(func() {
			for j := 0; j < 10000; j++ {
				select {
				case <-stop:
					return
				default:
				}
				c, err := net.DialTimeout("tcp", addr, time.Second)
				if err != nil {
					time.Sleep(time.Millisecond) // refused: the listener is down
					continue
				}
				if tryEcho(c, fmt.Sprint(i, "/", j), 5*time.Second) == nil {
					echoed.Add(1)
				}
				c.Close()
			}
		})
	}
	states := [][]faults.Behavior{nil, {faults.Bandwidth(1 << 50)}, {faults.Latency(time.Millisecond)}, {faults.Refuse()}, {faults.Stall()}, {faults.Slice(2, 0)}}
	var setErrs [2]error
	var sets atomic.Int64
	for f := range 2 {
		wg.Go(func() {
			for j := 0; j < 100000; j++ {
				var err error
				if st := states[(j+f)%len(states)]; st == nil {
					err = p.Reset()
				} else {
					err = p.Set(st...)
				}
				var oe *net.OpError
				if errors.As(err, &oe) {
					// Listening again after Refuse failed: a client's
					// ephemeral port took the free port meanwhile. Rare,
					// and reported as documented.
					t.Logf("Set: %v", err)
					continue
				}
				if err != nil {
					setErrs[f] = err
					return // ErrClosed ends the loop
				}
				sets.Add(1)
				time.Sleep(500 * time.Microsecond)
			}
		})
	}
	waitUntil(t, 10*time.Second, "echoes and changes under load", func() bool { return echoed.Load() >= 50 && sets.Load() >= 100 })
	start := time.Now()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("Close under load took %v", el)
	}
	close(stop)
	wg.Wait()
	checkNoProxyGoroutines(t) // the flippers, calling Set, have stopped too
	for f, err := range setErrs {
		if !errors.Is(err, faults.ErrClosed) {
			t.Errorf("flipper %d stopped on %v; want ErrClosed", f, err)
		}
	}
	if st := p.Stats(); st.ConnsOpen != 0 {
		t.Errorf("ConnsOpen = %d after Close", st.ConnsOpen)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the port is not free after Close: %v", err)
	}
	ln.Close()
}

// TestZeroProxy: the zero Proxy acts as a closed one instead of panicking.
func TestZeroProxy(t *testing.T) {
	var p faults.Proxy
	if err := p.Set(faults.Latency(time.Second)); err != faults.ErrClosed {
		t.Errorf("Set on the zero Proxy: %v, want ErrClosed", err)
	}
	if err := p.Reset(); err != faults.ErrClosed {
		t.Errorf("Reset on the zero Proxy: %v, want ErrClosed", err)
	}
	if bs := p.Behaviors(); bs != nil {
		t.Errorf("Behaviors() = %v, want nil", bs)
	}
	if st := p.Stats(); st != (faults.Stats{}) {
		t.Errorf("Stats() = %+v, want zero", st)
	}
	if err := p.Close(); err != nil {
		t.Errorf("Close on the zero Proxy: %v", err)
	}
}

// TestBehaviorsNone: a proxy with no behaviors installed lists none as nil,
// before any Set and after a Reset.
func TestBehaviorsNone(t *testing.T) {
	p, _ := newEchoProxy(t)
	if bs := p.Behaviors(); bs != nil {
		t.Errorf("new proxy: Behaviors() = %#v, want nil", bs)
	}
	mustSet(t, p, faults.Latency(time.Millisecond))
	if bs := p.Behaviors(); len(bs) != 1 {
		t.Errorf("Behaviors() = %v, want the one installed", bs)
	}
	mustSet(t, p)
	if bs := p.Behaviors(); bs != nil {
		t.Errorf("after Reset: Behaviors() = %#v, want nil", bs)
	}
}

// TestProxyName: WithName names the proxy in String, which otherwise gives
// its route.
func TestProxyName(t *testing.T) {
	b := newBackend(t, echo)
	p := newProxy(t, b.addr(), faults.WithName("cache"))
	if p.Name() != "cache" {
		t.Errorf("Name() = %q", p.Name())
	}
	if want := "cache (" + p.Addr() + " → " + b.addr() + ")"; p.String() != want {
		t.Errorf("String() = %q, want %q", p.String(), want)
	}
	anon := newProxy(t, b.addr())
	if want := anon.Addr() + " → " + b.addr(); anon.String() != want {
		t.Errorf("String() = %q, want %q", anon.String(), want)
	}
}
