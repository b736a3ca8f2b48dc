package faults

import (
	"io"
	"math"
	"math/rand/v2"
	"time"
)

// inspect copies through a buffer, applying the direction's stream
// behaviors to each chunk. It returns nil at EOF, errReplan when the plan
// changes (every byte read so far has been passed on), or the error that
// stopped it.
func (h *half) inspect(plan *connPlan, sp *streamPlan) (err error) {
	if sp.cut != h.cut {
		h.cut, h.cutLeft = sp.cut, sp.cutAt
	}
	var line *delayLine
	if sp.latency > 0 || sp.jitter > 0 {
		line = h.startDelayLine(plan, sp)
		defer func() {
			if lerr := line.stop(); err == nil || err == errReplan {
				if lerr != nil {
					err = lerr
				}
			}
		}()
	}
	var buf *[]byte
	defer func() {
		if buf != nil {
			putBuffer(buf)
		}
	}()
	large := false // the last read filled its buffer
	for {
		if h.cut != nil && h.cutLeft == 0 {
			if line != nil {
				if err := line.stop(); err != nil {
					return err
				}
			}
			return h.cutNow(sp)
		}
		if line != nil && line.failed() {
			return line.stop()
		}
		if latest := h.c.plan.Load(); latest != plan {
			h.c.loaded(h.dir, latest) // no more reads under the old plan
			return errReplan
		}
		if buf == nil || large != (len(*buf) == largeBuffer) {
			if buf != nil {
				putBuffer(buf)
			}
			buf = getBuffer(large)
		}
		size := len(*buf)
		if sp.rate > 0 {
			size = int(min(max(sp.rate/50, 1), int64(size)))
		}
		if h.cut != nil {
			size = int(min(int64(size), h.cutLeft))
		}
		n, rerr := h.read((*buf)[:size])
		large = n == size
		if n > 0 {
			if sp.track {
				h.c.touch()
			}
			chunk := (*buf)[:n]
			if sp.corrupt > 0 {
				h.corrupt(chunk, sp.corrupt)
			}
			if sp.rate > 0 {
				h.waitPace(plan)
				// Keep to the schedule when a wake-up was late by up to
				// one chunk's time; start afresh after a longer gap.
				took := time.Duration(float64(n) / float64(sp.rate) * float64(time.Second))
				if now := time.Now(); now.Sub(h.pace) > max(time.Second/50, took) {
					h.pace = now
				}
				h.pace = h.pace.Add(took)
			}
			if line != nil {
				line.push(buf, n, h.latencyFor(sp))
				buf = nil
			} else if err := h.emit(chunk, sp, plan); err != nil {
				return err
			}
			h.bytes.Add(int64(n))
			if h.cut != nil {
				h.cutLeft -= int64(n)
			}
		}
		if rerr != nil {
			if rerr == io.EOF {
				return nil
			}
			return rerr
		}
	}
}

// cutNow ends the connection for CloseAfterBytes or ResetAfterBytes, once
// the allowed bytes have been passed on.
func (h *half) cutNow(sp *streamPlan) error {
	if sp.cutReset {
		h.c.end(endReset)
	} else {
		h.c.end(endClose)
	}
	return errEnded
}

// emit writes chunk to dst, in slices if Slice is in force. A change of plan
// cuts the pauses short; it never drops bytes.
func (h *half) emit(chunk []byte, sp *streamPlan, plan *connPlan) error {
	if sp.sliceSize <= 0 {
		_, err := h.dst.Write(chunk)
		return err
	}
	for len(chunk) > 0 {
		// The pause separates every two writes, those of one chunk and
		// the last of a chunk from the first of the next.
		if d := time.Until(h.sliced.Add(sp.sliceGap)); sp.sliceGap > 0 && d > 0 {
			if h.c.sleep(d, plan.changed) == woken {
				// The plan changed: the rest goes at once.
				_, err := h.dst.Write(chunk)
				return err
			}
		}
		n := min(h.sliceLen(sp), len(chunk))
		if _, err := h.dst.Write(chunk[:n]); err != nil {
			return err
		}
		h.sliced = time.Now()
		chunk = chunk[n:]
	}
	return nil
}

// sliceLen returns the size of the next slice: Slice's, varied by Vary.
func (h *half) sliceLen(sp *streamPlan) int {
	if sp.sliceVary == 0 {
		return sp.sliceSize
	}
	return sp.sliceSize + h.random().IntN(2*sp.sliceVary+1) - sp.sliceVary
}

// waitPace waits until Bandwidth allows the next chunk out.
func (h *half) waitPace(plan *connPlan) {
	if d := time.Until(h.pace); d > 0 {
		h.c.sleep(d, plan.changed)
	}
}

// corrupt flips one random bit in each byte of chunk with probability p,
// drawing the gaps between corrupted bytes from a geometric distribution.
func (h *half) corrupt(chunk []byte, p float64) {
	rng := h.random()
	for i := 0; i < len(chunk); {
		if h.skip < 0 {
			h.skip = geometric(rng, p)
		}
		if h.skip >= int64(len(chunk)-i) {
			h.skip -= int64(len(chunk) - i)
			return
		}
		i += int(h.skip)
		chunk[i] ^= 1 << rng.IntN(8)
		h.skip = -1
		i++
	}
}

// geometric returns how many clean bytes come before the next corrupted
// one when each byte is corrupted with probability p.
func geometric(rng *rand.Rand, p float64) int64 {
	if p >= 1 {
		return 0
	}
	u := 1 - rng.Float64() // in (0, 1]
	g := math.Floor(math.Log(u) / math.Log1p(-p))
	if g > math.MaxInt64/2 {
		return math.MaxInt64 / 2
	}
	return int64(g)
}

// latencyFor returns the delay of the next chunk: the latency, spread by the
// jitter.
func (h *half) latencyFor(sp *streamPlan) time.Duration {
	d := sp.latency
	if sp.jitter > 0 {
		d += time.Duration(h.random().Int64N(2*int64(sp.jitter)+1)) - sp.jitter
	}
	return max(d, 0)
}

func (h *half) random() *rand.Rand {
	if h.rng == nil {
		h.rng = h.c.rngFor(h.dir)
	}
	return h.rng
}

// wakeReason says why sleep returned.
type wakeReason uint8

const (
	slept wakeReason = iota // the time passed
	woken                   // the plan changed
	ended                   // the connection is ending
)

// sleep waits for d, or until changed is closed or the connection ends.
func (c *conn) sleep(d time.Duration, changed <-chan struct{}) wakeReason {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return slept
	case <-changed:
		return woken
	case <-c.done:
		return ended
	}
}
