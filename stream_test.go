package faults_test

import (
	"bytes"
	"errors"
	"io"
	"math/bits"
	"net"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/gofaults/faults"
)

// writeAsync writes data to c on its own goroutine and returns where its
// error will be delivered.
func writeAsync(c net.Conn, data []byte) <-chan error {
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		errc <- err
	}()
	return errc
}

// waitWrite waits for writeAsync's result.
func waitWrite(t testing.TB, errc <-chan error) error {
	t.Helper()
	select {
	case err := <-errc:
		return err
	case <-time.After(ioWait):
		t.Fatalf("write still blocked after %v", ioWait)
		return nil
	}
}

// TestStreamLatency: a 64-byte round trip through Latency(d) takes 2d
// more (a one-way delay in each direction), through .Downstream() d more,
// and Reset restores the speed.
func TestStreamLatency(t *testing.T) {
	const d = 50 * time.Millisecond
	p, _ := newEchoProxy(t)
	c := dial(t, p.Addr())
	roundTrip(t, c, []byte("warm up"))

	mustSet(t, p, faults.Latency(d))
	both := roundTrips(t, c, 5, 64)
	mustSet(t, p, faults.Latency(d).Downstream())
	down := roundTrips(t, c, 5, 64)
	if err := p.Reset(); err != nil {
		t.Fatal(err)
	}
	none := roundTrips(t, c, 5, 64)
	t.Logf("64 B round trip: both ways min %v median %v; downstream min %v median %v; none median %v",
		both[0], median(both), down[0], median(down), median(none))

	if both[0] < 2*d || median(both) > 2*d+150*time.Millisecond {
		t.Errorf("Latency(%v): round trips %v; want ≥ %v", d, both, 2*d)
	}
	if down[0] < d || median(down) >= 2*d {
		t.Errorf("Latency(%v).Downstream(): round trips %v; want in [%v, %v)", d, down, d, 2*d)
	}
	if median(none) >= d/2 {
		t.Errorf("after Reset: round trips %v; want fast again", none)
	}
	checkInjected(t, p, 2)
}

// TestStreamLatencyThroughput: a bulk stream through Latency(d) is
// pipelined, not sent one buffer per d, and arrives intact.
func TestStreamLatencyThroughput(t *testing.T) {
	const (
		d    = 20 * time.Millisecond
		size = 8 << 20
	)
	p, _ := newEchoProxy(t)
	mustSet(t, p, faults.Latency(d))
	c := dial(t, p.Addr())
	data := randomBytes(1, size)
	start := time.Now()
	errc := writeAsync(c, data)
	c.SetReadDeadline(time.Now().Add(ioWait))
	got := make([]byte, size)
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read: %v", err)
	}
	elapsed := time.Since(start)
	if err := waitWrite(t, errc); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("stream altered: first difference at byte %d", firstDiff(got, data))
	}
	rate := float64(size) / elapsed.Seconds() / (1 << 20)
	// One 32 KiB buffer per delay would be 1.6 MiB/s.
	floor := float64(32<<10) / d.Seconds() / (1 << 20)
	t.Logf("8 MiB echoed through Latency(%v) both ways in %v: %.0f MiB/s (one buffer per delay: %.1f MiB/s)", d, elapsed, rate, floor)
	if rate < 8*floor {
		t.Errorf("throughput %.1f MiB/s; want ≫ %.1f MiB/s: the delay line does not pipeline", rate, floor)
	}
}

// TestStreamLatencyJitter: round trips through Latency(d).Jitter(j) spread
// over [2(d-j), 2(d+j)], and a stream keeps its bytes and their order.
func TestStreamLatencyJitter(t *testing.T) {
	const d, j = 40 * time.Millisecond, 20 * time.Millisecond
	p, _ := newEchoProxy(t, faults.WithSeed(3))
	mustSet(t, p, faults.Latency(d).Jitter(j))
	c := dial(t, p.Addr())
	rts := roundTrips(t, c, 20, 64)
	lo, hi := rts[0], rts[len(rts)-1]
	t.Logf("round trips through Latency(%v).Jitter(%v): min %v median %v max %v", d, j, lo, median(rts), hi)
	if lo < 2*(d-j) || median(rts) > 2*(d+j)+50*time.Millisecond || hi > 2*(d+j)+150*time.Millisecond {
		t.Errorf("round trips %v; want within [%v, %v]", rts, 2*(d-j), 2*(d+j))
	}
	if hi-lo < j/2 {
		t.Errorf("round trips spread over only %v; want jitter to spread them", hi-lo)
	}

	// Many small writes make many chunks, each with its own delay.
	data := randomBytes(2, 256<<10)
	errc := make(chan error, 1)
	go func() {
		for rest := data; len(rest) > 0; {
			n := min(len(rest), 1+int(rest[0])*8)
			if _, err := c.Write(rest[:n]); err != nil {
				errc <- err
				return
			}
			rest = rest[n:]
			if len(rest)%16 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
		errc <- nil
	}()
	c.SetReadDeadline(time.Now().Add(ioWait))
	got := make([]byte, len(data))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read: %v", err)
	}
	if err := waitWrite(t, errc); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("jittered stream altered or reordered: first difference at byte %d", firstDiff(got, data))
	}
}

// TestStreamBandwidth: one direction limited to rate never runs more than
// 15% above it, nor below 60% of it, the bytes intact. The lower bound is
// generous: on a loaded machine a scheduler's delays add up over the
// quarter second the transfer takes.
func TestStreamBandwidth(t *testing.T) {
	const (
		rate = 1 << 20
		size = 256 << 10
	)
	data := randomBytes(4, size)
	check := func(t *testing.T, got []byte, elapsed time.Duration) {
		t.Helper()
		if !bytes.Equal(got, data) {
			t.Fatalf("got %d bytes, altered (first difference at %d)", len(got), firstDiff(got, data))
		}
		measured := float64(size) / elapsed.Seconds()
		t.Logf("%d KiB at Bandwidth(%d): %v, %.3f MiB/s (%.1f%% of the rate)", size>>10, rate, elapsed, measured/(1<<20), 100*measured/rate)
		if measured < 0.6*rate || measured > 1.15*rate {
			t.Errorf("measured %.0f B/s; want %d, from 60%% to 115%% of it", measured, rate)
		}
	}

	t.Run("upstream", func(t *testing.T) {
		b, recs := newRecorder(t, 0)
		p := newProxy(t, b.addr())
		mustSet(t, p, faults.Bandwidth(rate).Upstream())
		c := dial(t, p.Addr())
		start := time.Now()
		errc := writeAsync(c, data)
		if err := waitWrite(t, errc); err != nil {
			t.Fatal(err)
		}
		c.CloseWrite()
		r := nextRecording(t, recs)
		if err := r.wait(t); err != io.EOF {
			t.Fatalf("backend read ended with %v, want EOF", err)
		}
		check(t, r.bytes(), r.last.Sub(start))
		checkInjected(t, p, 1)
	})

	t.Run("downstream", func(t *testing.T) {
		b, _ := newSource(t, data)
		p := newProxy(t, b.addr())
		mustSet(t, p, faults.Bandwidth(rate).Downstream())
		start := time.Now()
		c := dial(t, p.Addr())
		got, err := readUntilEnd(t, c, ioWait)
		if err != io.EOF {
			t.Fatalf("read ended with %v, want EOF", err)
		}
		check(t, got, time.Since(start))
		checkInjected(t, p, 1)
	})
}

// readReads reads total bytes from c, and returns them and the size of
// each read.
func readReads(t *testing.T, c net.Conn, total int) (got []byte, reads []int) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(ioWait))
	buf := make([]byte, 64<<10)
	for len(got) < total {
		n, err := c.Read(buf)
		if n > 0 {
			got = append(got, buf[:n]...)
			reads = append(reads, n)
		}
		if err != nil {
			t.Fatalf("read after %d bytes: %v", len(got), err)
		}
	}
	return got, reads
}

// TestStreamSlice: the receiver's reads never exceed size, writes are
// delay apart, and the bytes arrive intact, whether the sender wrote in one
// piece or in several.
func TestStreamSlice(t *testing.T) {
	const (
		size  = 100
		delay = 25 * time.Millisecond
		total = 1000
	)
	data := randomBytes(5, total)
	check := func(t *testing.T, c net.Conn, start time.Time) {
		t.Helper()
		got, reads := readReads(t, c, total)
		elapsed := time.Since(start)
		if !bytes.Equal(got, data) {
			t.Fatalf("sliced stream altered: first difference at byte %d", firstDiff(got, data))
		}
		for _, n := range reads {
			if n > size {
				t.Errorf("a read returned %d bytes; want at most %d (reads: %v)", n, size, reads)
				break
			}
		}
		want := (total/size - 1) * delay
		t.Logf("%d bytes in %d reads over %v (want ≈ %v)", total, len(reads), elapsed, want)
		if elapsed < want || elapsed > want+time.Second {
			t.Errorf("took %v; want %v ((chunks-1)·delay)", elapsed, want)
		}
	}

	t.Run("one write", func(t *testing.T) {
		p, _ := newEchoProxy(t)
		mustSet(t, p, faults.Slice(size, delay).Downstream())
		c := dial(t, p.Addr())
		start := time.Now()
		if _, err := c.Write(data); err != nil {
			t.Fatal(err)
		}
		check(t, c, start)
	})

	t.Run("many writes", func(t *testing.T) {
		// The server writes in pieces no bigger than size, faster than
		// delay: each is one chunk for the proxy, and the pauses must
		// still separate them.
		b := newBackend(t, func(c net.Conn) {
			defer c.Close()
			for rest := data; len(rest) > 0; rest = rest[size/2:] {
				if _, err := c.Write(rest[:size/2]); err != nil {
					return
				}
				time.Sleep(delay / 5)
			}
		})
		p := newProxy(t, b.addr())
		mustSet(t, p, faults.Slice(size, delay))
		start := time.Now()
		c := dial(t, p.Addr())
		check(t, c, start)
	})
}

// TestStreamSliceVary: with Vary, the writes of a Slice take sizes within
// size ± n, not all one, the bytes arrive intact, and the same seed gives
// the same sizes.
func TestStreamSliceVary(t *testing.T) {
	const (
		size, vary = 100, 40
		total      = 2000
	)
	data := randomBytes(9, total)
	sizes := func(t *testing.T) []int {
		t.Helper()
		p, _ := newEchoProxy(t, faults.WithSeed(42))
		mustSet(t, p, faults.Slice(size, 40*time.Millisecond).Vary(vary).Downstream())
		c := dial(t, p.Addr())
		if _, err := c.Write(data); err != nil {
			t.Fatal(err)
		}
		got, reads := readReads(t, c, total)
		if !bytes.Equal(got, data) {
			t.Fatalf("sliced stream altered: first difference at byte %d", firstDiff(got, data))
		}
		return reads
	}
	first := sizes(t)
	distinct := map[int]bool{}
	for i, n := range first {
		last := i == len(first)-1
		if n > size+vary || n < size-vary && !last {
			t.Errorf("read %d returned %d bytes; want %d ± %d (reads: %v)", i, n, size, vary, first)
			break
		}
		distinct[n] = true
	}
	if len(distinct) < 3 {
		t.Errorf("slice sizes %v: want them to vary", first)
	}
	if again := sizes(t); !slices.Equal(again, first) {
		t.Errorf("the same seed gave sizes %v, then %v", first, again)
	}
}

// TestStreamCorrupt: corruption keeps the length and flips exactly one
// bit in each corrupted byte, about p of them.
func TestStreamCorrupt(t *testing.T) {
	t.Run("p=1", func(t *testing.T) {
		p, _ := newEchoProxy(t, faults.WithSeed(11))
		mustSet(t, p, faults.Corrupt(1).Downstream())
		c := dial(t, p.Addr())
		data := randomBytes(6, 4096)
		if _, err := c.Write(data); err != nil {
			t.Fatal(err)
		}
		c.CloseWrite()
		got, err := readUntilEnd(t, c, ioWait)
		if err != io.EOF {
			t.Fatalf("read ended with %v, want EOF", err)
		}
		if len(got) != len(data) {
			t.Fatalf("got %d bytes, want %d: the length changed", len(got), len(data))
		}
		for i := range got {
			if bits.OnesCount8(got[i]^data[i]) != 1 {
				t.Fatalf("byte %d: %08b became %08b; want exactly one bit flipped", i, data[i], got[i])
			}
		}
		checkInjected(t, p, 1)
	})

	t.Run("p=0.01", func(t *testing.T) {
		const size = 1 << 20
		b, recs := newRecorder(t, 0)
		p := newProxy(t, b.addr(), faults.WithSeed(12))
		mustSet(t, p, faults.Corrupt(0.01).Upstream())
		c := dial(t, p.Addr())
		data := randomBytes(7, size)
		if err := waitWrite(t, writeAsync(c, data)); err != nil {
			t.Fatal(err)
		}
		c.CloseWrite()
		r := nextRecording(t, recs)
		if err := r.wait(t); err != io.EOF {
			t.Fatalf("backend read ended with %v, want EOF", err)
		}
		got := r.bytes()
		if len(got) != size {
			t.Fatalf("backend got %d bytes, want %d", len(got), size)
		}
		corrupted := 0
		for i := range got {
			switch bits.OnesCount8(got[i] ^ data[i]) {
			case 0:
			case 1:
				corrupted++
			default:
				t.Fatalf("byte %d: %08b became %08b; want one bit flipped at most", i, data[i], got[i])
			}
		}
		// Expect 10486 ± 102 (one standard deviation).
		t.Logf("Corrupt(0.01) over 1 MiB: %d bytes corrupted (%.3f%%)", corrupted, 100*float64(corrupted)/size)
		if corrupted < 9400 || corrupted > 11600 {
			t.Errorf("%d bytes corrupted; want about 1%% (10486)", corrupted)
		}
	})
}

// TestStreamCloseAfterBytes: the receiver gets exactly n bytes, then a
// clean EOF.
func TestStreamCloseAfterBytes(t *testing.T) {
	const n = 1000
	data := randomBytes(8, 1<<20)

	t.Run("downstream", func(t *testing.T) {
		b, _ := newSource(t, data)
		p := newProxy(t, b.addr())
		mustSet(t, p, faults.CloseAfterBytes(n))
		c := dial(t, p.Addr())
		got, err := readUntilEnd(t, c, ioWait)
		if err != io.EOF {
			t.Fatalf("read ended with %v after %d bytes; want EOF", err, len(got))
		}
		if !bytes.Equal(got, data[:n]) {
			t.Fatalf("got %d bytes; want exactly the first %d", len(got), n)
		}
		checkInjected(t, p, 1)
	})

	t.Run("upstream", func(t *testing.T) {
		b, recs := newRecorder(t, 0)
		p := newProxy(t, b.addr())
		mustSet(t, p, faults.CloseAfterBytes(n).Upstream())
		c := dial(t, p.Addr())
		errc := writeAsync(c, data[:64<<10])
		r := nextRecording(t, recs)
		if err := r.wait(t); err != io.EOF {
			t.Fatalf("backend read ended with %v, want EOF", err)
		}
		if got := r.bytes(); !bytes.Equal(got, data[:n]) {
			t.Fatalf("backend got %d bytes; want exactly the first %d", len(got), n)
		}
		// The client is sent a FIN too.
		if _, err := readUntilEnd(t, c, ioWait); err != io.EOF {
			t.Errorf("client read ended with %v, want EOF", err)
		}
		waitWrite(t, errc)
		checkInjected(t, p, 1)
	})
}

// TestStreamResetAfterBytes: the client sees ECONNRESET, having received
// at most n bytes.
func TestStreamResetAfterBytes(t *testing.T) {
	const n = 1000
	data := randomBytes(9, 1<<20)
	// The server answers a request byte, so that the reset cannot reach
	// the client before its dial has returned.
	b := newBackend(t, func(c net.Conn) {
		defer c.Close()
		if _, err := c.Read(make([]byte, 1)); err == nil {
			c.Write(data)
		}
	})
	p := newProxy(t, b.addr())
	mustSet(t, p, faults.ResetAfterBytes(n).Downstream())
	c := dial(t, p.Addr())
	if _, err := c.Write([]byte("?")); err != nil {
		t.Fatal(err)
	}
	got, err := readUntilEnd(t, c, ioWait)
	if !isReset(err) {
		t.Fatalf("read ended with %v after %d bytes; want ECONNRESET", err, len(got))
	}
	if len(got) > n || !bytes.Equal(got, data[:len(got)]) {
		t.Fatalf("got %d bytes before the reset; want at most the first %d", len(got), n)
	}
	checkInjected(t, p, 1)
}

// TestStreamStall: nothing flows while stalled but the connection stays
// open; after Reset what was sent meanwhile arrives, all of it, in order.
func TestStreamStall(t *testing.T) {
	p, _ := newEchoProxy(t)
	c := dial(t, p.Addr())
	echoes(t, c, "before", ioWait)
	mustSet(t, p, faults.Stall())
	data := randomBytes(10, 100<<10)
	for i := 0; i < len(data); i += 10 << 10 {
		if _, err := c.Write(data[i : i+10<<10]); err != nil {
			t.Fatal(err)
		}
	}
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, err := c.Read(make([]byte, 64)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read while stalled: %d bytes, %v; want a deadline error", n, err)
	}
	if s := p.Stats(); s.ConnsOpen != 1 || s.BytesUpstream != 6 || s.BytesDownstream != 6 {
		t.Errorf("stats while stalled = %+v; want the connection open, only the first 6 bytes each way", s)
	}
	if err := p.Reset(); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(ioWait))
	got := make([]byte, len(data))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("after Reset: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("stalled bytes altered or reordered: first difference at %d", firstDiff(got, data))
	}
	echoes(t, c, "after", ioWait)
	checkInjected(t, p, 1)
}

// TestStreamStallUpstream: Stall().Upstream() stops the client's bytes
// only; the server's still arrive.
func TestStreamStallUpstream(t *testing.T) {
	b, recs := newRecorder(t, 10*time.Millisecond)
	p := newProxy(t, b.addr())
	c := dial(t, p.Addr())
	r := nextRecording(t, recs)
	mustSet(t, p, faults.Stall().Upstream())
	if _, err := c.Write([]byte("held back")); err != nil {
		t.Fatal(err)
	}
	// Drain what was sent before the stall, then expect more ticks.
	time.Sleep(50 * time.Millisecond)
	c.SetReadDeadline(time.Now().Add(ioWait))
	c.Read(make([]byte, 4096))
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	n, err := c.Read(make([]byte, 4096))
	if err != nil || n == 0 {
		t.Fatalf("downstream while upstream stalled: %d bytes, %v; want the server's ticks", n, err)
	}
	if d := time.Since(start); d > 200*time.Millisecond {
		t.Errorf("a tick took %v to arrive", d)
	}
	time.Sleep(100 * time.Millisecond)
	if got := r.bytes(); len(got) != 0 {
		t.Fatalf("server received %q while upstream was stalled", got)
	}
	if err := p.Reset(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, ioWait, "the held bytes to reach the server", func() bool { return r.size() >= len("held back") })
	if got := string(r.bytes()); got != "held back" {
		t.Errorf("server received %q after Reset", got)
	}
	checkInjected(t, p, 1)
}

// TestStreamHalfClose: by default the client reads EOF while what it
// sends still reaches the server.
func TestStreamHalfClose(t *testing.T) {
	b, recs := newRecorder(t, 10*time.Millisecond)
	p := newProxy(t, b.addr())
	mustSet(t, p, faults.HalfClose())
	c := dial(t, p.Addr())
	r := nextRecording(t, recs)
	if got, err := readUntilEnd(t, c, ioWait); err != io.EOF || len(got) != 0 {
		t.Fatalf("client read %q, %v; want EOF at once", got, err)
	}
	data := randomBytes(13, 64<<10)
	for i := 0; i < len(data); i += 8 << 10 {
		if _, err := c.Write(data[i : i+8<<10]); err != nil {
			t.Fatalf("write after the half-close: %v", err)
		}
	}
	waitUntil(t, ioWait, "the server to receive the client's bytes", func() bool { return r.size() >= len(data) })
	if !bytes.Equal(r.bytes(), data) {
		t.Fatal("server received altered bytes")
	}
	if ended, err := r.ended(); ended {
		t.Errorf("server's reading ended (%v); the upstream direction should be open", err)
	}
	checkInjected(t, p, 1)
}

// TestStreamHalfCloseUpstream: with .Upstream() the server reads EOF while
// the client still gets its replies.
func TestStreamHalfCloseUpstream(t *testing.T) {
	b, recs := newRecorder(t, 10*time.Millisecond)
	p := newProxy(t, b.addr())
	mustSet(t, p, faults.HalfClose().Upstream())
	c := dial(t, p.Addr())
	r := nextRecording(t, recs)
	if err := r.wait(t); err != io.EOF {
		t.Fatalf("server read ended with %v, want EOF", err)
	}
	c.Write([]byte("dropped")) // read and dropped by the proxy
	// The server goes on ticking after its EOF; the client sees the ticks.
	c.SetReadDeadline(time.Now().Add(ioWait))
	buf := make([]byte, 4096)
	got := 0
	for stop := time.Now().Add(100 * time.Millisecond); time.Now().Before(stop) || got == 0; {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("client read after the server's EOF: %v", err)
		}
		got += n
	}
	if len(r.bytes()) != 0 {
		t.Errorf("server received %q after the half-close", r.bytes())
	}
	checkInjected(t, p, 1)
}

// TestStreamSlowClose: the client's EOF comes at least d after the server
// closed, with every byte before it.
func TestStreamSlowClose(t *testing.T) {
	const d = 300 * time.Millisecond
	data := randomBytes(14, 10<<10)
	b, closed := newSource(t, data)
	p := newProxy(t, b.addr())
	mustSet(t, p, faults.SlowClose(d))
	c := dial(t, p.Addr())
	got, err := readUntilEnd(t, c, ioWait)
	eof := time.Now()
	if err != io.EOF {
		t.Fatalf("read ended with %v, want EOF", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("got %d bytes, altered", len(got))
	}
	var at time.Time
	select {
	case at = <-closed:
	case <-time.After(ioWait):
		t.Fatal("server never closed")
	}
	if lag := eof.Sub(at); lag < d || lag > d+time.Second {
		t.Errorf("EOF %v after the server closed; want %v (+1s)", lag, d)
	}
	checkInjected(t, p, 1)
}
