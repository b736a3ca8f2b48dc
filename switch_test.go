package faults_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gofaults/faults"
)

// TestSwitchUnderTraffic: several clients stream through an echo server
// while goroutines keep replacing the installed behaviors, switching every
// connection between the spliced and the inspecting copy paths, through
// delay lines, slicing and stalls, hundreds of times. Every byte must come
// back once, intact and in order.
func TestSwitchUnderTraffic(t *testing.T) {
	const (
		clients     = 4
		flippers    = 3
		flips       = 200 // per flipper
		maxPerConn  = 48 << 20
		maxDuration = 20 * time.Second
	)
	p, _ := newEchoProxy(t)
	states := [][]faults.Behavior{
		nil, // Reset: spliced
		{faults.Bandwidth(1 << 50)},
		{faults.Latency(0)},
		{faults.Corrupt(0)},
		{faults.Slice(512, 20*time.Microsecond)},
		{faults.Latency(200 * time.Microsecond)},
		{faults.Latency(100 * time.Microsecond).Jitter(100 * time.Microsecond)},
		{faults.IdleTimeout(time.Hour)},
		{faults.Stall()},
		{faults.Stall().Upstream(), faults.Bandwidth(1 << 50).Downstream()},
		{faults.Bandwidth(1 << 50).Upstream()},
		{faults.Latency(100 * time.Microsecond).Downstream(), faults.Slice(4096, 0).Upstream()},
		{faults.CloseAfterBytes(1 << 60), faults.Timeout(time.Hour)},
	}

	stop := make(chan struct{})
	type tally struct {
		i       int
		written int64
		read    int64
		err     error
	}
	results := make(chan tally, clients)
	var traffic sync.WaitGroup
	for i := range clients {
		c := dial(t, p.Addr())
		c.SetDeadline(time.Now().Add(maxDuration + 20*time.Second))
		seed := uint64(100 + i)
		var written int64
		wdone := make(chan error, 1)
		traffic.Add(1)
		go func() { // writer
			defer traffic.Done()
			src := streamFor(seed)
			pace := rand.New(rand.NewPCG(seed, 0))
			buf := make([]byte, 32<<10)
			var err error
		loop:
			for written < maxPerConn {
				select {
				case <-stop:
					break loop
				default:
				}
				n := 1 + pace.IntN(len(buf))
				src.Read(buf[:n])
				var m int
				m, err = c.Write(buf[:n])
				written += int64(m)
				if err != nil {
					break
				}
				time.Sleep(time.Duration(pace.IntN(200)) * time.Microsecond)
			}
			if err == nil {
				err = c.CloseWrite()
			}
			wdone <- err
		}()
		traffic.Add(1)
		go func() { // reader: checks each byte against the same stream
			defer traffic.Done()
			want := streamFor(seed)
			buf := make([]byte, 64<<10)
			exp := make([]byte, 64<<10)
			var read int64
			var err error
			for {
				var n int
				n, err = c.Read(buf)
				if n > 0 {
					want.Read(exp[:n])
					if !bytes.Equal(buf[:n], exp[:n]) {
						err = fmt.Errorf("client %d: byte %d differs from what was sent", i, read+int64(firstDiff(buf[:n], exp[:n])))
						c.Close() // unblock the writer
						break
					}
					read += int64(n)
				}
				if err != nil {
					if err == io.EOF {
						err = nil
					}
					break
				}
			}
			werr := <-wdone
			results <- tally{i: i, written: written, read: read, err: errors.Join(err, werr)}
		}()
	}

	var wg sync.WaitGroup
	start := time.Now()
	var setCalls, stalls int64
	var mu sync.Mutex
	for f := range flippers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(f), 1))
			for range flips {
				if time.Since(start) > maxDuration {
					return
				}
				st := states[rng.IntN(len(states))]
				var err error
				if st == nil {
					err = p.Reset()
				} else {
					err = p.Set(st...)
				}
				if err != nil {
					t.Errorf("Set(%v): %v", st, err)
					return
				}
				mu.Lock()
				setCalls++
				if len(st) > 0 && st[0].String() == faults.Stall().String() {
					stalls++
				}
				mu.Unlock()
				time.Sleep(time.Duration(rng.IntN(1500)) * time.Microsecond)
			}
		})
	}
	wg.Wait()
	if err := p.Reset(); err != nil {
		t.Fatal(err)
	}
	close(stop)
	t.Logf("%d Set/Reset calls (%d full stalls) in %v", setCalls, stalls, time.Since(start))

	var totalUp int64
	for range clients {
		select {
		case r := <-results:
			if r.err != nil {
				t.Errorf("client %d: %v", r.i, r.err)
			}
			if r.read != r.written {
				t.Errorf("client %d: wrote %d bytes, got %d back", r.i, r.written, r.read)
			}
			if r.written == 0 {
				t.Errorf("client %d sent nothing", r.i)
			}
			totalUp += r.written
		case <-time.After(maxDuration + 30*time.Second):
			t.Fatal("clients never finished")
		}
	}
	traffic.Wait()
	t.Logf("%d MiB echoed in total", totalUp>>20)
	st := p.Stats()
	if st.BytesUpstream != totalUp || st.BytesDownstream != totalUp {
		t.Errorf("Stats bytes up/down = %d/%d, want %d each (no byte counted twice or missed)", st.BytesUpstream, st.BytesDownstream, totalUp)
	}
}

// TestStallHoldsBytes: bytes sent while Stall is installed wait, on
// connections opened before and during the stall, and all arrive, in order,
// once it is removed.
func TestStallHoldsBytes(t *testing.T) {
	p, b := newEchoProxy(t)
	before := dial(t, p.Addr())
	echoes(t, before, "before", 5*time.Second)
	mustSet(t, p, faults.Stall())
	during := dial(t, p.Addr())
	waitUntil(t, 5*time.Second, "the stalled connection's dial", func() bool { return b.accepted() == 2 })

	const size = 64 << 10
	conns := []*net.TCPConn{before, during}
	written := make(chan error, len(conns))
	for i, c := range conns {
		data := randomBytes(uint64(10+i), size)
		go func() {
			c.SetWriteDeadline(time.Now().Add(20 * time.Second))
			_, err := c.Write(data)
			if err == nil && c == during {
				err = c.CloseWrite() // the FIN waits behind the bytes
			}
			written <- err
		}()
	}
	up0 := p.Stats().BytesUpstream
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
		if n, err := c.Read(make([]byte, 1)); !isTimeout(err) {
			t.Fatalf("conn %d read %d bytes, %v during Stall; want nothing", i, n, err)
		}
	}
	if up := p.Stats().BytesUpstream; up != up0 {
		t.Errorf("BytesUpstream moved from %d to %d during Stall", up0, up)
	}

	if err := p.Reset(); err != nil {
		t.Fatal(err)
	}
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		got := make([]byte, size)
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatalf("conn %d after Reset: %v", i, err)
		}
		if want := randomBytes(uint64(10+i), size); !bytes.Equal(got, want) {
			t.Fatalf("conn %d: bytes held by Stall came back altered (first difference at %d)", i, firstDiff(got, want))
		}
		if c == during {
			// The echo server saw the client's FIN after the bytes, and
			// answered with its own.
			if rest, err := readUntilEnd(t, c, 5*time.Second); err != io.EOF || len(rest) != 0 {
				t.Fatalf("conn %d after its echo: %q, %v; want EOF", i, rest, err)
			}
			continue
		}
		echoes(t, c, "after", 5*time.Second)
	}
	for range conns {
		if err := <-written; err != nil {
			t.Fatal(err)
		}
	}
}

// roundTripTime measures one echo round trip on c.
func roundTripTime(t *testing.T, c net.Conn, msg string) time.Duration {
	t.Helper()
	start := time.Now()
	echoes(t, c, msg, 10*time.Second)
	return time.Since(start)
}

// TestSetAppliesToOpenConnections: a stream behavior installed with Set
// takes hold of a connection already open (and idle in the spliced copy),
// and Reset lifts it (the connection idle in the inspecting copy).
func TestSetAppliesToOpenConnections(t *testing.T) {
	const lat = 300 * time.Millisecond
	p, _ := newEchoProxy(t)
	c := dial(t, p.Addr())
	if rtt := roundTripTime(t, c, "before"); rtt > lat/2 {
		t.Fatalf("round trip before any behavior took %v", rtt)
	}
	mustSet(t, p, faults.Latency(lat).Downstream())
	if rtt := roundTripTime(t, c, "delayed"); rtt < lat {
		t.Errorf("round trip on an open connection after Set(Latency(%v)) took %v; want at least the latency", lat, rtt)
	}
	if err := p.Reset(); err != nil {
		t.Fatal(err)
	}
	if rtt := roundTripTime(t, c, "after"); rtt > lat/2 {
		t.Errorf("round trip after Reset took %v; want no latency", rtt)
	}
}

// TestResetReleasesDelayedBytes: bytes that a Latency holds when it is
// removed flow at once; a change that keeps the latency keeps them waiting.
func TestResetReleasesDelayedBytes(t *testing.T) {
	p, _ := newEchoProxy(t)
	c := dial(t, p.Addr())
	mustSet(t, p, faults.Latency(time.Hour).Upstream())
	io.WriteString(c, "held")
	waitUntil(t, 5*time.Second, "the bytes to enter the delay line", func() bool { return p.Stats().BytesUpstream == 4 })

	// Another change that keeps Latency(1h): the bytes keep waiting.
	mustSet(t, p, faults.Latency(time.Hour).Upstream(), faults.Bandwidth(1<<50).Downstream())
	c.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
	if n, err := c.Read(make([]byte, 4)); !isTimeout(err) {
		t.Fatalf("read %d bytes, %v while Latency(1h) still holds them", n, err)
	}

	start := time.Now()
	if err := p.Reset(); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, 4)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "held" {
		t.Fatalf("after Reset: %q, %v; want the held bytes", got, err)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("the held bytes arrived %v after Reset", el)
	}
	echoes(t, c, "transparent again", 5*time.Second)
}
