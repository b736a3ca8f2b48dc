package faults

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/gofaults/faults/internal/split"
	"github.com/gofaults/faults/internal/tcpcap"
)

// captureWriter is the goroutine that writes a proxy's capture: it takes
// the records in batches, cuts each connection's bytes into messages with
// the protocol's splitter, and writes them as the packets of a TCP stream.
type captureWriter struct {
	c      *capture
	proto  Protocol
	redact func(side tcpcap.Side, msg []byte) []byte // nil: nothing to redact
	target string
	tw     *tcpcap.Writer
	conns  map[uint64]*captureStream
	ends   []int // scratch for the splitters

	servers  []netip.Addr // the target's addresses, resolved on first use
	port     uint16
	resolved bool

	start  time.Time
	failed bool // a write failed: nothing more is written
}

// captureStream is one connection being written.
type captureStream struct {
	s        *tcpcap.Stream
	split    split.Splitter // nil: bytes are written as they came
	pending  [2][]byte      // the start of a message still to end
	pendAt   [2]time.Time   // when its first byte came
	begun    [2]bool        // pending's message started in an earlier segment
	offs     [2]int64       // the offset each side's bytes have reached
	comments [2][]string    // for each side's next packet: a fault's go to the client, from the server's side
}

func newCaptureWriter(c *capture, proto Protocol, target string) *captureWriter {
	w := &captureWriter{c: c, proto: proto, target: target, conns: make(map[uint64]*captureStream), start: time.Now()}
	if c.cfg.redact {
		w.redact = redactorOf(proto)
	}
	return w
}

// splitterOf returns the splitter of a protocol that frames its
// messages, or nil.
func splitterOf(p Protocol) split.Splitter {
	if f, ok := p.(interface{ captureSplitter() split.Splitter }); ok {
		return f.captureSplitter()
	}
	return nil
}

// redactorOf returns what redacts a protocol's messages, or nil.
func redactorOf(p Protocol) func(side tcpcap.Side, msg []byte) []byte {
	if f, ok := p.(interface {
		redact(side tcpcap.Side, msg []byte) []byte
	}); ok {
		return f.redact
	}
	return nil
}

func (w *captureWriter) run() {
	c := w.c
	defer close(c.done)
	w.tw = tcpcap.NewWriter(c.cfg.w, "faults")
	for {
		b := c.take()
		if b == nil {
			break
		}
		for i := range b.items {
			w.item(b, &b.items[i])
		}
		c.taken(b)
		if !c.pending() {
			w.check(w.tw.Flush())
		}
	}
	// Every connection has ended (the proxy's Close waits for them);
	// what is left of any is written as it is.
	for id, cs := range w.conns {
		w.flushSide(cs, tcpcap.Client)
		w.flushSide(cs, tcpcap.Server)
		delete(w.conns, id)
	}
	c.mu.Lock()
	dropped, comments := c.stats.captureDropped.Load(), c.droppedComments
	c.mu.Unlock()
	note := "faults: nothing was left out of this capture"
	if dropped > 0 || comments > 0 {
		note = fmt.Sprintf("faults: %d bytes of traffic and %d fault comments were left out of this capture: its writer fell behind", dropped, comments)
	}
	w.check(w.tw.WriteStats(w.start, time.Now(), uint64(dropped), note))
	w.check(w.tw.Flush())
}

// check notes a write error: the first is kept for Close and logged, and
// nothing more is written.
func (w *captureWriter) check(err error) {
	if err == nil || w.failed {
		return
	}
	w.failed = true
	w.c.err = err
	w.c.log.Error("faults: writing the capture failed; capturing stops", "err", err)
}

// item writes what one record says.
func (w *captureWriter) item(b *captureBatch, it *captureItem) {
	if w.failed {
		return
	}
	at := time.Unix(0, it.at)
	if it.kind == capOpen {
		s, err := w.tw.Open(at, it.client, w.server(it.client), nil)
		w.check(err)
		w.conns[it.conn] = &captureStream{s: s, split: splitterOf(w.proto)}
		return
	}
	cs := w.conns[it.conn]
	if cs == nil {
		return // the listener's, or a connection that is gone
	}
	switch it.kind {
	case capComment:
		cs.comments[tcpcap.Server] = append(cs.comments[tcpcap.Server], it.text)
		return
	case capClose:
		w.gap(cs, tcpcap.Server, it.off) // bytes to the client left out last
		w.flushSide(cs, tcpcap.Client)
		w.flushSide(cs, tcpcap.Server)
		w.check(cs.s.Fin(at, tcpcap.Server, cs.takeAll()))
		delete(w.conns, it.conn)
		return
	}
	w.gap(cs, it.side, it.off)
	switch it.kind {
	case capData:
		w.data(cs, it.side, at, it.data)
	case capFin:
		w.flushSide(cs, it.side)
		w.check(cs.s.Fin(at, it.side, cs.take(it.side)))
	case capReset:
		w.flushSide(cs, tcpcap.Client)
		w.flushSide(cs, tcpcap.Server)
		w.check(cs.s.Reset(at, it.side, cs.takeAll()))
	}
}

// take returns the comments for side's next packet, and forgets them.
func (cs *captureStream) take(side tcpcap.Side) []string {
	out := cs.comments[side]
	cs.comments[side] = nil
	return out
}

// takeAll returns the comments left for either side, for a packet after
// which there is none: a reset, the close.
func (cs *captureStream) takeAll() []string {
	return append(cs.take(tcpcap.Client), cs.take(tcpcap.Server)...)
}

// gap leaves a gap in side's stream where bytes were left out, before
// the record at offset off, and stops splitting the connection: its
// messages can no longer be found.
func (w *captureWriter) gap(cs *captureStream, side tcpcap.Side, off int64) {
	n := off - cs.offs[side]
	if n <= 0 {
		return
	}
	w.flushSide(cs, side)
	cs.s.Skip(side, n)
	cs.offs[side] = off
	cs.split = nil
	cs.comments[side] = append(cs.comments[side], "faults: "+strconv.FormatInt(n, 10)+" bytes from the "+side.String()+" were left out of the capture here: its writer fell behind")
}

// data writes bytes that side sent at t: the messages they end, and what
// is left, held until its message ends or fills a segment.
func (w *captureWriter) data(cs *captureStream, side tcpcap.Side, at time.Time, b []byte) {
	cs.offs[side] += int64(len(b))
	if cs.split == nil {
		w.flushSide(cs, side)
		w.emit(cs, side, at, b, false)
		return
	}
	ends, err := cs.split.Split(w.ends[:0], split.Side(side), b)
	w.ends = ends
	prev := 0
	for _, e := range ends {
		w.message(cs, side, at, b[prev:e])
		prev = e
	}
	rest := b[prev:]
	if err != nil {
		// Not framed from here on: bytes go as they come.
		cs.split = nil
		w.flushSide(cs, side)
		w.emit(cs, side, at, rest, false)
		return
	}
	// A message too long for one segment goes in segments as it comes,
	// from where its bytes are: what is pending, then rest. Only a
	// message that may still fit one is held, until it ends or fills it.
	if len(cs.pending[side])+len(rest) >= tcpcap.MaxSegment {
		w.flushSide(cs, side)
		w.emit(cs, side, at, rest, cs.begun[side])
		cs.begun[side] = true
		return
	}
	if len(rest) == 0 {
		return
	}
	if len(cs.pending[side]) == 0 {
		cs.pendAt[side] = at
	}
	cs.pending[side] = append(cs.pending[side], rest...)
}

// message writes the end of a message: what is pending, then b.
func (w *captureWriter) message(cs *captureStream, side tcpcap.Side, at time.Time, b []byte) {
	begun := cs.begun[side]
	cs.begun[side] = false
	if p := cs.pending[side]; len(p) > 0 {
		msg := append(p, b...)
		w.emit(cs, side, cs.pendAt[side], msg, begun)
		cs.pending[side] = msg[:0]
		return
	}
	w.emit(cs, side, at, b, begun)
}

// flushSide writes what is pending of side's message as it is.
func (w *captureWriter) flushSide(cs *captureStream, side tcpcap.Side) {
	if p := cs.pending[side]; len(p) > 0 {
		w.emit(cs, side, cs.pendAt[side], p, cs.begun[side])
		cs.begun[side] = true
		cs.pending[side] = p[:0]
	}
}

// emit writes bytes from side, redacted if they start a message (not
// begun) and the capture redacts.
func (w *captureWriter) emit(cs *captureStream, side tcpcap.Side, at time.Time, b []byte, begun bool) {
	if len(b) == 0 {
		return
	}
	if w.redact != nil && !begun && cs.split != nil {
		b = w.redact(side, b)
	}
	w.check(cs.s.Data(at, side, b, cs.take(side)))
}

// server returns the target's address to write for a client at client:
// one of the same family if the target has one.
func (w *captureWriter) server(client netip.AddrPort) netip.AddrPort {
	if !w.resolved {
		w.resolved = true
		w.resolve()
	}
	addr := netip.IPv4Unspecified()
	for i, a := range w.servers {
		if i == 0 || a.Is4() == client.Addr().Is4() {
			addr = a
			if a.Is4() == client.Addr().Is4() {
				break
			}
		}
	}
	return netip.AddrPortFrom(addr, w.port)
}

// resolve looks the target up, once.
func (w *captureWriter) resolve() {
	host, port, err := net.SplitHostPort(w.target)
	if err == nil {
		var p int
		if p, err = net.LookupPort("tcp", port); err == nil {
			w.port = uint16(p)
		}
	}
	if err == nil {
		if a, perr := netip.ParseAddr(host); perr == nil {
			w.servers = []netip.Addr{a.Unmap()}
			return
		}
		if host == "" {
			w.servers = []netip.Addr{netip.IPv4Unspecified()}
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var addrs []netip.Addr
		if addrs, err = net.DefaultResolver.LookupNetIP(ctx, "ip", host); err == nil {
			for _, a := range addrs {
				w.servers = append(w.servers, a.Unmap())
			}
			return
		}
	}
	w.c.log.Warn("faults: the capture cannot resolve the target; it shows 0.0.0.0 for it", "target", w.target, "err", err)
}
