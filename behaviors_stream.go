package faults

import (
	"fmt"
	"math"
	"time"
)

type (
	latency struct {
		d, jitter time.Duration
	}
	bandwidth struct{ rate int64 }
	slice     struct {
		size, vary int
		delay      time.Duration
	}
	corrupt         struct{ p float64 }
	closeAfterBytes struct{ n int64 }
	resetAfterBytes struct{ n int64 }
	stall           struct{}
	halfClose       struct{}
	slowClose       struct{ d time.Duration }
)

func (latency) family() family         { return familyStream }
func (bandwidth) family() family       { return familyStream }
func (slice) family() family           { return familyStream }
func (corrupt) family() family         { return familyStream }
func (closeAfterBytes) family() family { return familyStream }
func (resetAfterBytes) family() family { return familyStream }
func (stall) family() family           { return familyStream }
func (halfClose) family() family       { return familyStream }
func (slowClose) family() family       { return familyStream }

func (a latency) describe() string {
	if a.jitter != 0 {
		return fmt.Sprintf("Latency(%v).Jitter(%v)", a.d, a.jitter)
	}
	return fmt.Sprintf("Latency(%v)", a.d)
}
func (a bandwidth) describe() string { return fmt.Sprintf("Bandwidth(%d)", a.rate) }
func (a slice) describe() string {
	if a.vary != 0 {
		return fmt.Sprintf("Slice(%d, %v).Vary(%d)", a.size, a.delay, a.vary)
	}
	return fmt.Sprintf("Slice(%d, %v)", a.size, a.delay)
}
func (a corrupt) describe() string         { return fmt.Sprintf("Corrupt(%g)", a.p) }
func (a closeAfterBytes) describe() string { return fmt.Sprintf("CloseAfterBytes(%d)", a.n) }
func (a resetAfterBytes) describe() string { return fmt.Sprintf("ResetAfterBytes(%d)", a.n) }
func (stall) describe() string             { return "Stall()" }
func (halfClose) describe() string         { return "HalfClose()" }
func (a slowClose) describe() string       { return fmt.Sprintf("SlowClose(%v)", a.d) }

func (halfClose) defaultDirection() Direction { return Downstream }

// Latency delays every chunk of bytes by d before forwarding it, in each
// direction it acts on (both by default). It is a one-way delay, as on a
// long network path: a request and its reply each wait d, so a round trip
// through Latency(d) takes 2d longer, and through Latency(d).Downstream() d
// longer. Bytes stay in order, and a stream keeps its throughput: up to
// 4 MiB per direction wait in flight before the proxy stops reading. d must
// not be negative.
func Latency(d time.Duration) Behavior {
	b := newBehavior(latency{d: d})
	if d < 0 {
		return b.invalid("latency must not be negative", d)
	}
	return b
}

// Jitter spreads a [Latency] behavior's delay uniformly over d±j per chunk,
// never below zero and never reordering bytes. It applies to Latency only.
func (b Behavior) Jitter(j time.Duration) Behavior {
	l, ok := b.act.(latency)
	if !ok {
		return b.invalidModifier("Jitter", j, "applies to Latency only")
	}
	if j < 0 {
		return b.invalidModifier("Jitter", j, "must not be negative")
	}
	l.jitter = j
	b.act = l
	return b
}

// Bandwidth limits each direction it acts on (both by default) to
// bytesPerSecond, per connection, by pacing writes; the sender is slowed by
// TCP's own flow control. bytesPerSecond must be positive.
func Bandwidth(bytesPerSecond int64) Behavior {
	b := newBehavior(bandwidth{bytesPerSecond})
	if bytesPerSecond <= 0 {
		return b.invalid("rate must be positive", bytesPerSecond)
	}
	return b
}

// Slice forwards bytes in writes of at most size bytes, pausing delay
// between writes: the receiver sees data dribble in, as from a congested
// link, and a parser that assumes whole messages per read breaks. size must
// be positive and delay not negative.
func Slice(size int, delay time.Duration) Behavior {
	b := newBehavior(slice{size: size, delay: delay})
	switch {
	case size <= 0:
		return b.invalid("size must be positive", size)
	case delay < 0:
		return b.invalid("delay must not be negative", delay)
	}
	return b
}

// Vary makes the writes of a [Slice] vary in size: each is size+k bytes,
// k drawn at random from [-n, n] for each write (from the connection's
// seeded source, see [WithSeed]), so that the receiver cannot count on
// any one size. It applies to Slice only; n must not be negative and must
// be less than the slice's size.
func (b Behavior) Vary(n int) Behavior {
	s, ok := b.act.(slice)
	switch {
	case !ok:
		return b.invalidModifier("Vary", n, "applies to Slice only")
	case n < 0:
		return b.invalidModifier("Vary", n, "must not be negative")
	case n >= s.size:
		return b.invalidModifier("Vary", n, "must be less than the slice's size")
	}
	s.vary = n
	b.act = s
	return b
}

// Corrupt flips one random bit in each forwarded byte with probability p,
// each byte decided on its own (so p = 0.001 corrupts about one byte per
// KiB). The length of the stream is unchanged. p must be in [0, 1].
func Corrupt(p float64) Behavior {
	b := newBehavior(corrupt{p})
	if math.IsNaN(p) || p < 0 || p > 1 {
		return b.invalid("probability must be in [0, 1]", p)
	}
	return b
}

// CloseAfterBytes forwards exactly n more bytes in a direction it acts on
// (both by default, each counted on its own), then closes the connection
// cleanly: the receiver reads those n bytes and then EOF, and the other peer
// is sent a FIN too. n must not be negative.
func CloseAfterBytes(n int64) Behavior {
	b := newBehavior(closeAfterBytes{n})
	if n < 0 {
		return b.invalid("byte count must not be negative", n)
	}
	return b
}

// ResetAfterBytes forwards at most n more bytes in a direction it acts on
// (both by default, each counted on its own), then resets (RST) both sides
// of the connection: the peers see ECONNRESET, and bytes still unread in
// their buffers may be lost, as with a real reset. n must not be negative.
func ResetAfterBytes(n int64) Behavior {
	b := newBehavior(resetAfterBytes{n})
	if n < 0 {
		return b.invalid("byte count must not be negative", n)
	}
	return b
}

// Stall stops forwarding in the directions it acts on (both by default)
// while keeping the connection open: an unplugged cable. Bytes sent meanwhile
// wait in socket buffers (the sender blocks once they fill) and flow again,
// none lost, when Stall is removed.
func Stall() Behavior { return newBehavior(stall{}) }

// HalfClose sends a FIN to the receiver of the direction it acts on, as if
// the sender had shut down its writing side, while the other direction keeps
// flowing. By default it acts Downstream: the client reads EOF while what it
// sends still reaches the server. Bytes that the sender goes on sending in a
// half-closed direction are read and dropped.
func HalfClose() Behavior { return newBehavior(halfClose{}) }

// SlowClose delays passing on a close: when a peer closes its side, the
// proxy waits d before sending the FIN on to the other peer, in each
// direction it acts on (both by default). Bytes are not delayed. d must not
// be negative.
func SlowClose(d time.Duration) Behavior {
	b := newBehavior(slowClose{d})
	if d < 0 {
		return b.invalid("delay must not be negative", d)
	}
	return b
}
