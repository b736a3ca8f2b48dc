package faults

import (
	"cmp"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync/atomic"
	"time"
)

// A spliced copy runs in chunks: each chunk is one call into the kernel's
// splice loop, and only between chunks does the counter move and the copy
// notice a change of plan (the loop honours a read deadline only when it
// waits for bytes, never while they keep coming). So a chunk is sized to
// last about spliceTick at the rate the last one flowed, within
// [minSpliceChunk, maxSpliceChunk]: a Set under a flood is in force within
// a few milliseconds. A fixed small chunk costs a flood dearly: Go splices
// at most 1 MiB per splice(2), and a chunk's last splice is cut short to
// fit, so 256 KiB chunks tripled the splice calls and the wake-ups per MiB.
const (
	minSpliceChunk = 256 << 10
	maxSpliceChunk = 64 << 20
	spliceTick     = 2 * time.Millisecond
)

var (
	errReplan = errors.New("faults: plan changed") // take up the new plan
	errEnded  = errors.New("faults: connection ended")
)

// half is one direction of a connection: bytes read from src, written to dst.
type half struct {
	c        *conn
	dir      Direction
	src, dst net.Conn
	bytes    *atomic.Int64 // the proxy's counter for this direction
	reading  *atomic.Bool  // set while a read of src may be parked

	// The TCP sockets under src and dst, if the kernel can splice
	// between them (both nil if not), and the capture of whichever is
	// the client's (nil: none).
	srcTCP, dstTCP *net.TCPConn
	tap            *capturedConn

	rng        *rand.Rand // made on first use
	cut        *rule      // the byte limit being counted down
	cutLeft    int64
	halfClosed bool      // a FIN went to dst for HalfClose
	pace       time.Time // Bandwidth: when the next byte may leave
	sliced     time.Time // Slice: when the last slice was written
	skip       int64     // Corrupt: clean bytes before the next corrupted one; -1 unknown
}

func (c *conn) newHalf(dir Direction, src, dst net.Conn, bytes *atomic.Int64) *half {
	h := &half{
		c: c, dir: dir, src: src, dst: dst, bytes: bytes,
		reading: &c.reading[dirIndex(dir)],
		skip:    -1,
	}
	srcTCP, srcTap := spliceSocket(src)
	dstTCP, dstTap := spliceSocket(dst)
	if srcTCP != nil && dstTCP != nil {
		h.srcTCP, h.dstTCP, h.tap = srcTCP, dstTCP, cmp.Or(srcTap, dstTap)
	}
	return h
}

// read reads src into b, flagged as reading for [Proxy.Set] (see
// conn.replan).
func (h *half) read(b []byte) (int, error) {
	h.reading.Store(true)
	defer h.reading.Store(false)
	return h.src.Read(b)
}

// copyUpstream forwards the client's bytes to the server.
func (c *conn) copyUpstream() {
	c.newHalf(Upstream, c.client, c.server, &c.p.stats.bytesUp).run()
}

// copyDownstream forwards the server's bytes to the client, then closes
// done.
func (c *conn) copyDownstream(done chan<- struct{}) {
	defer c.p.wg.Done()
	defer close(done)
	c.newHalf(Downstream, c.server, c.client, &c.p.stats.bytesDown).run()
}

func (p *connPlan) stream(d Direction) *streamPlan {
	if d == Upstream {
		return &p.up
	}
	return &p.down
}

// run copies until src ends, the connection ends, or copying fails. A
// change of plan switches between the copy paths without losing a byte.
func (h *half) run() {
	// A copy that ends reads no more: no Set need wait for it.
	defer h.c.stopped(h.dir)
	for {
		// Clear any interrupting deadline before loading the plan: a
		// replan after this point sets it again and wakes the read.
		h.src.SetReadDeadline(time.Time{})
		if h.c.isEnding() {
			return
		}
		plan := h.c.plan.Load()
		h.c.loaded(h.dir, plan)
		sp := plan.stream(h.dir)
		var err error
		switch {
		case h.halfClosed || sp.halfClose:
			err = h.discard()
		case sp.stall:
			err = h.stall(plan)
		case sp.inspects() || h.srcTCP == nil:
			err = h.inspect(plan, sp)
		default:
			err = h.splice()
		}
		switch {
		case err == nil: // EOF from src
			h.passClose()
			return
		case errors.Is(err, errReplan), errors.Is(err, os.ErrDeadlineExceeded):
			continue // isEnding decides at the top
		case errors.Is(err, errEnded):
			return
		default:
			h.c.end(endReset)
			return
		}
	}
}

// splice joins the sockets so that the kernel moves the bytes (zero copy).
// It returns nil at EOF.
func (h *half) splice() error {
	lr := io.LimitedReader{R: h.srcTCP} // one for the whole copy: it escapes
	chunk := int64(minSpliceChunk)
	for {
		lr.N = chunk
		start := time.Now()
		h.reading.Store(true)
		var n int64
		var err error
		if h.tap == nil {
			n, err = h.dstTCP.ReadFrom(&lr)
		} else {
			n, err = spliceN(h.dstTCP, h.srcTCP, chunk, h.tap, h.src == h.c.client)
		}
		h.reading.Store(false)
		h.bytes.Add(n)
		if err != nil {
			return err
		}
		if n < chunk {
			return nil
		}
		chunk = nextSpliceChunk(chunk, time.Since(start))
	}
}

// nextSpliceChunk sizes the next chunk of a spliced copy from how long the
// last full one took: what flows in spliceTick at that rate, rounded down to
// a multiple of minSpliceChunk, within [minSpliceChunk, maxSpliceChunk]. It
// grows by at most twice the last chunk: a chunk that a burst of buffered
// bytes filled at once says little of the rate that follows, and a chunk
// sized on it could run for a hundred ticks.
func nextSpliceChunk(chunk int64, took time.Duration) int64 {
	limit := min(2*chunk, maxSpliceChunk)
	if took <= 0 {
		return limit
	}
	next := float64(chunk) * float64(spliceTick) / float64(took)
	if next >= float64(limit) {
		return limit
	}
	return max(int64(next)/minSpliceChunk*minSpliceChunk, minSpliceChunk)
}

// stall forwards nothing until the plan changes.
func (h *half) stall(plan *connPlan) error {
	select {
	case <-plan.changed:
		return errReplan
	case <-h.c.done:
		return errEnded
	}
}

// discard half-closes dst once, then reads and drops what src sends.
func (h *half) discard() error {
	if !h.halfClosed {
		h.halfClosed = true
		closeWrite(h.dst)
	}
	buf := getBuffer(false)
	defer putBuffer(buf)
	for {
		if _, err := h.read(*buf); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

// passClose passes src's EOF on to dst, after the delay of the SlowClose
// in force by then.
func (h *half) passClose() {
	if h.halfClosed {
		return
	}
	if d := h.c.plan.Load().stream(h.dir).slowClose; d > 0 && h.c.sleep(d, nil) == ended {
		return
	}
	closeWrite(h.dst)
}

// isEnding reports whether the connection is being ended.
func (c *conn) isEnding() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}
