package faults_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gofaults/faults"
)

// The helpers below are shared by the behavior tests (connection, stream,
// timer, modifiers, events); they build on those of backend_test.go and
// transparency_test.go.

// ioWait bounds any single blocking step of the behavior tests.
const ioWait = 5 * time.Second

// recording is what a recording backend received on one connection.
type recording struct {
	mu    sync.Mutex
	data  []byte
	first time.Time // when the first byte arrived
	last  time.Time // when the last byte arrived
	reads []int     // the length of each read
	err   error     // what ended reading: io.EOF for a clean close
	done  chan struct{}
}

func (r *recording) add(b []byte) {
	if len(b) == 0 {
		return
	}
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.first.IsZero() {
		r.first = now
	}
	r.last = now
	r.data = append(r.data, b...)
	r.reads = append(r.reads, len(b))
}

// size returns how many bytes have arrived so far.
func (r *recording) size() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.data)
}

// bytes returns a copy of what has arrived so far.
func (r *recording) bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.data)
}

// ended reports whether reading has ended, and how.
func (r *recording) ended() (bool, error) {
	select {
	case <-r.done:
		return true, r.err
	default:
		return false, nil
	}
}

// wait waits for reading to end and returns what ended it.
func (r *recording) wait(t testing.TB) error {
	t.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(ioWait):
		t.Fatalf("backend still reading after %v (%d bytes so far)", ioWait, r.size())
		return nil
	}
}

// newRecorder starts a backend that records what each connection sends it
// until EOF; with tick > 0 it also writes a '.' to the connection every
// tick for as long as it can (past the EOF it reads). Each connection's
// recording is sent on the returned channel when the backend accepts it.
func newRecorder(t testing.TB, tick time.Duration) (*backend, <-chan *recording) {
	ch := make(chan *recording, 64)
	b := newBackend(t, func(c net.Conn) {
		defer c.Close()
		r := &recording{done: make(chan struct{})}
		select {
		case ch <- r:
		default:
		}
		var ticker sync.WaitGroup
		if tick > 0 {
			ticker.Add(1)
			go func() {
				defer ticker.Done()
				for stop := time.Now().Add(2 * ioWait); time.Now().Before(stop); time.Sleep(tick) {
					if _, err := c.Write([]byte{'.'}); err != nil {
						return
					}
				}
			}()
		}
		buf := make([]byte, 64<<10)
		for {
			n, err := c.Read(buf)
			r.add(buf[:n])
			if err != nil {
				r.err = err
				close(r.done)
				break
			}
		}
		ticker.Wait()
	})
	return b, ch
}

// nextRecording returns the recording of the next connection the backend
// accepts.
func nextRecording(t testing.TB, ch <-chan *recording) *recording {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(ioWait):
		t.Fatalf("backend accepted no connection within %v", ioWait)
		return nil
	}
}

// newSource starts a backend that writes data to each connection, then
// closes it; the time of each close is sent on the returned channel.
func newSource(t testing.TB, data []byte) (*backend, <-chan time.Time) {
	ch := make(chan time.Time, 64)
	b := newBackend(t, func(c net.Conn) {
		c.Write(data)
		now := time.Now()
		c.Close()
		select {
		case ch <- now:
		default:
		}
	})
	return b, ch
}

// newProxy starts a proxy in front of target, closed at cleanup.
func newProxy(t testing.TB, target string, opts ...faults.Option) *faults.Proxy {
	t.Helper()
	p, err := faults.NewProxy(target, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// roundTrip writes msg to c, reads the echo back, checks it and returns how
// long it took.
func roundTrip(t testing.TB, c net.Conn, msg []byte) time.Duration {
	t.Helper()
	c.SetDeadline(time.Now().Add(ioWait))
	defer c.SetDeadline(time.Time{})
	start := time.Now()
	if _, err := c.Write(msg); err != nil {
		t.Fatalf("write: %v", err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read echo: %v", err)
	}
	d := time.Since(start)
	if !bytes.Equal(got, msg) {
		t.Fatalf("echo differs: got %q, want %q", got, msg)
	}
	return d
}

// roundTrips measures n round trips of size bytes on c and returns their
// durations, sorted.
func roundTrips(t testing.TB, c net.Conn, n, size int) []time.Duration {
	t.Helper()
	ds := make([]time.Duration, n)
	for i := range ds {
		ds[i] = roundTrip(t, c, bytes.Repeat([]byte{byte('a' + i%26)}, size))
	}
	slices.Sort(ds)
	return ds
}

func median(ds []time.Duration) time.Duration { return ds[len(ds)/2] }

// expectRefused checks that a dial to addr is refused.
func expectRefused(t testing.TB, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, ioWait)
	if err == nil {
		c.Close()
		t.Fatalf("dial %s succeeded; want connection refused", addr)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial %s: %v; want ECONNREFUSED", addr, err)
	}
}

// dialWhenAccepted dials addr until a dial succeeds, for at most d, and
// returns the connection and when it succeeded. Every failure on the way
// must be a refusal.
func dialWhenAccepted(t testing.TB, addr string, d time.Duration) (*net.TCPConn, time.Time) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		c, err := net.DialTimeout("tcp", addr, ioWait)
		if err == nil {
			t.Cleanup(func() { c.Close() })
			return c.(*net.TCPConn), time.Now()
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("dial %s: %v; want success or ECONNREFUSED", addr, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("dial %s still refused after %v", addr, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// blackedOut dials addr and reports whether the connection was blacked out
// (EOF at once) rather than passed (the echo came back).
func blackedOut(t testing.TB, addr string) bool {
	t.Helper()
	c := dial(t, addr)
	defer c.Close()
	c.SetDeadline(time.Now().Add(ioWait))
	c.Write([]byte("x")) // a blacked-out connection may already be closed
	got := make([]byte, 1)
	n, err := io.ReadFull(c, got)
	switch {
	case err == nil && n == 1 && got[0] == 'x':
		return false
	case errors.Is(err, io.EOF):
		return true
	}
	t.Fatalf("connection neither passed nor blacked out: read %q, %v", got[:n], err)
	return false
}

// checkInjected checks Stats().Injected.
func checkInjected(t testing.TB, p *faults.Proxy, want int64) {
	t.Helper()
	if got := p.Stats().Injected; got != want {
		t.Errorf("Stats().Injected = %d, want %d", got, want)
	}
}

// eventConns returns the connection numbers of p's events, in order.
func eventConns(p *faults.Proxy) []uint64 {
	var ids []uint64
	for _, e := range p.Events() {
		ids = append(ids, e.Conn)
	}
	return ids
}

// TestConnRefuse: a dial during Refuse gets ECONNREFUSED while an open
// connection keeps working; after Reset the same address accepts again.
func TestConnRefuse(t *testing.T) {
	p, _ := newEchoProxy(t)
	open := dial(t, p.Addr())
	echoes(t, open, "before", ioWait)

	mustSet(t, p, faults.Refuse())
	expectRefused(t, p.Addr())
	expectRefused(t, p.Addr())
	echoes(t, open, "during", ioWait)
	checkInjected(t, p, 1)

	if err := p.Reset(); err != nil {
		t.Fatal(err)
	}
	c := dial(t, p.Addr())
	echoes(t, c, "after", ioWait)
	echoes(t, open, "still", ioWait)
	checkInjected(t, p, 1)
	ev := p.Events()
	if len(ev) != 1 || ev[0].Conn != 0 || ev[0].Behavior != "Refuse()" {
		t.Errorf("events = %+v; want one listener event Refuse()", ev)
	}
	if got := p.Stats().ConnsTotal; got != 2 {
		t.Errorf("ConnsTotal = %d, want 2 (refused dials are not connections)", got)
	}
}

// TestConnRefuseFor: Refuse().For(d) refuses during d and accepts after,
// with no Reset.
func TestConnRefuseFor(t *testing.T) {
	const window = 300 * time.Millisecond
	p, _ := newEchoProxy(t)
	start := time.Now()
	mustSet(t, p, faults.Refuse().For(window))
	expectRefused(t, p.Addr())
	c, at := dialWhenAccepted(t, p.Addr(), 3*time.Second)
	checkDue(t, "accepted again after Set", at.Sub(start), window)
	echoes(t, c, "back", ioWait)
	checkInjected(t, p, 1)
}

// TestConnHang: the client connects but nothing answers and the backend
// is never dialed; after Reset the held connection goes on, with what it
// sent meanwhile.
func TestConnHang(t *testing.T) {
	p, b := newEchoProxy(t)
	mustSet(t, p, faults.Hang())
	c := dial(t, p.Addr())
	if _, err := c.Write([]byte("sent while hung")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, err := c.Read(make([]byte, 64)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read on a hung connection: %d bytes, %v; want a deadline error", n, err)
	}
	if n := b.accepted(); n != 0 {
		t.Fatalf("backend accepted %d connections during Hang; want 0", n)
	}
	if s := p.Stats(); s.ConnsOpen != 1 || s.Injected != 1 {
		t.Errorf("stats during Hang = %+v; want 1 open, 1 injected", s)
	}

	if err := p.Reset(); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(ioWait))
	got := make([]byte, len("sent while hung"))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("after Reset: %v", err)
	}
	if string(got) != "sent while hung" {
		t.Fatalf("after Reset got %q", got)
	}
	echoes(t, c, "and more", ioWait)
	if n := b.accepted(); n != 1 {
		t.Errorf("backend accepted %d connections; want 1", n)
	}
	checkInjected(t, p, 1)
}

// TestConnBlackout: the client reads EOF at once and the backend is never
// dialed.
func TestConnBlackout(t *testing.T) {
	p, b := newEchoProxy(t)
	mustSet(t, p, faults.Blackout())
	for range 2 {
		c := dial(t, p.Addr())
		c.SetReadDeadline(time.Now().Add(ioWait))
		start := time.Now()
		n, err := c.Read(make([]byte, 8))
		if n != 0 || err != io.EOF {
			t.Fatalf("read = %d, %v; want EOF", n, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("EOF after %v; want at once", d)
		}
	}
	if n := b.accepted(); n != 0 {
		t.Errorf("backend accepted %d; want 0", n)
	}
	checkInjected(t, p, 2)
	if got := eventConns(p); !slices.Equal(got, []uint64{1, 2}) {
		t.Errorf("event conns = %v, want [1 2]", got)
	}
}

// TestConnBlackoutProbability: with Probability(0.5) about half the
// connections are blacked out, and each one is counted once.
func TestConnBlackoutProbability(t *testing.T) {
	const n = 40
	p, b := newEchoProxy(t, faults.WithSeed(7))
	mustSet(t, p, faults.Blackout().Probability(0.5))
	var fired []uint64
	for i := range n {
		if blackedOut(t, p.Addr()) {
			fired = append(fired, uint64(i+1))
		}
	}
	t.Logf("%d of %d connections blacked out", len(fired), n)
	if len(fired) < n/5 || len(fired) > n-n/5 {
		t.Errorf("%d of %d blacked out; want about half", len(fired), n)
	}
	checkInjected(t, p, int64(len(fired)))
	if got := eventConns(p); !slices.Equal(got, fired) {
		t.Errorf("event conns = %v; want the blacked-out ones %v", got, fired)
	}
	if got := b.accepted(); got != n-len(fired) {
		t.Errorf("backend accepted %d; want the %d that passed", got, n-len(fired))
	}
}

// TestConnConnectDelay: the first reply comes no earlier than the delay;
// later ones at full speed.
func TestConnConnectDelay(t *testing.T) {
	const d = 200 * time.Millisecond
	p, _ := newEchoProxy(t)
	mustSet(t, p, faults.ConnectDelay(d))
	start := time.Now()
	c := dial(t, p.Addr())
	if dd := time.Since(start); dd > d/2 {
		t.Errorf("dial took %v; the connect itself should succeed at once", dd)
	}
	roundTrip(t, c, []byte("first"))
	checkDue(t, "first reply", time.Since(start), d)
	if rt := median(roundTrips(t, c, 5, 64)); rt > d/2 {
		t.Errorf("later round trips take %v; want no delay", rt)
	}
	checkInjected(t, p, 1)
}

// TestConnRestart: live connections are reset, dials are refused for the
// down time, then accepted with no Reset; one listener event and one per
// reset connection.
func TestConnRestart(t *testing.T) {
	const down = 500 * time.Millisecond
	p, _ := newEchoProxy(t)
	live := make([]*net.TCPConn, 3)
	for i := range live {
		live[i] = dial(t, p.Addr())
		echoes(t, live[i], "hi", ioWait)
	}
	start := time.Now()
	mustSet(t, p, faults.Restart(down))
	expectRefused(t, p.Addr())
	for i, c := range live {
		c.SetReadDeadline(time.Now().Add(ioWait))
		n, err := c.Read(make([]byte, 8))
		if !isReset(err) {
			t.Errorf("live connection %d: read %d, %v; want ECONNRESET", i+1, n, err)
		}
		if _, err := c.Write([]byte("x")); !isReset(err) && !errors.Is(err, syscall.EPIPE) {
			t.Errorf("live connection %d: write after reset: %v", i+1, err)
		}
	}
	c, at := dialWhenAccepted(t, p.Addr(), 3*time.Second)
	checkDue(t, "accepted again after Set", at.Sub(start), down)
	echoes(t, c, "back", ioWait)
	ev := p.Events()
	var conns []uint64
	for _, e := range ev {
		conns = append(conns, e.Conn)
		if e.Behavior != "Restart(500ms)" {
			t.Errorf("event behavior %q, want Restart(500ms)", e.Behavior)
		}
	}
	if !slices.Equal(conns, []uint64{0, 1, 2, 3}) {
		t.Errorf("event conns = %v, want [0 1 2 3]", conns)
	}
	checkInjected(t, p, 4)
}

// TestRefusalKeepsPort: while Restart has the listener down, other
// listeners on the machine opening on port 0 (as parallel tests do) never
// get the proxy's port: dials to Addr are refused, never answered by a
// stranger, and the proxy listens again when the refusal ends. Over 20
// rounds of Restart(150ms) (long enough for the dial that checks the
// refusal to come inside it on a loaded machine); without the port held,
// strangers took it in about one round in four.
func TestRefusalKeepsPort(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the port is held while refusing on Linux only")
	}
	p, _ := newEchoProxy(t)
	_, port, _ := net.SplitHostPort(p.Addr())
	stop := make(chan struct{})
	var stolen atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					continue
				}
				if _, got, _ := net.SplitHostPort(ln.Addr().String()); got == port {
					stolen.Add(1)
				}
				ln.Close()
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()
	for round := range 20 {
		mustSet(t, p, faults.Restart(150*time.Millisecond))
		expectRefused(t, p.Addr())
		c, _ := dialWhenAccepted(t, p.Addr(), 5*time.Second)
		echoes(t, c, fmt.Sprint("round ", round), ioWait)
		c.Close()
		if n := stolen.Load(); n > 0 {
			t.Fatalf("round %d: another listener took the proxy's port %s (%d times)", round, port, n)
		}
	}
}
