package faults

import (
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Stream behaviors on a protocol-aware proxy act where they act on a TCP
// one, on the network between the client and the proxy: on the client's
// bytes before the relay frames them (upstream) and on the bytes the relay
// writes to the client (downstream). A framed relay reads and writes the
// client through a streamConn. While no stream behavior acts on a
// direction, the streamConn is the client's socket itself; from the first
// time one does, a pump, the TCP proxy's own copy (a half) with its
// behaviors, runs between the socket and an in-memory pipe that the relay
// reads or writes instead, for the rest of the connection.

// acts reports whether a stream behavior acts on the direction: whether
// its bytes must go through a pump.
func (s *streamPlan) acts() bool {
	return s.latency > 0 || s.jitter > 0 || s.rate > 0 || s.sliceSize > 0 || s.corrupt > 0 ||
		s.cut != nil || s.stall || s.halfClose || s.slowClose > 0
}

// streamConn is the client's socket as a framed relay sees it.
type streamConn struct {
	net.Conn // the client's socket
	c        *conn

	up   atomic.Pointer[net.Conn] // the relay's end of the upstream pump's pipe; nil until one runs
	down atomic.Pointer[net.Conn] // the relay's end of the downstream pump's pipe
	// downDone is closed when the downstream pump has ended; set before
	// down is stored.
	downDone chan struct{}
	// drained is set by drain before it closes the downstream pipe.
	drained atomic.Bool

	mu           sync.Mutex
	readDeadline time.Time // the relay's, wherever its reads go
}

func newStreamConn(c *conn) *streamConn { return &streamConn{Conn: c.client, c: c} }

// Read reads the client's bytes: from the socket, or, once upstream stream
// behaviors have acted, from the upstream pump. A read of the socket woken
// by a change of plan (see conn.replan), not by a deadline of the relay's,
// starts over, through a pump if the new plan needs one.
func (s *streamConn) Read(b []byte) (int, error) {
	for {
		if up := s.up.Load(); up != nil {
			return (*up).Read(b)
		}
		plan := s.c.plan.Load()
		if plan.up.acts() {
			s.startPump(Upstream, nil)
			continue
		}
		n, err := s.Conn.Read(b)
		if now := s.c.plan.Load(); n > 0 && now != plan && now.up.acts() {
			// The change of plan woke the read, but bytes came before it
			// ran: they go through the pump, first, as if read there.
			s.startPump(Upstream, append([]byte(nil), b[:n]...))
			continue
		}
		if n == 0 && err != nil && errors.Is(err, os.ErrDeadlineExceeded) && s.replanWoke() {
			continue
		}
		return n, err
	}
}

// replanWoke reports whether a read of the socket that ended at a
// deadline was woken by a change of plan rather than by the relay, and if
// so puts the relay's deadline back.
func (s *streamConn) replanWoke() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c.isEnding() || !s.readDeadline.IsZero() && !s.readDeadline.After(time.Now()) {
		return false
	}
	s.Conn.SetReadDeadline(s.readDeadline)
	return true
}

// Write writes to the client: to the socket, or, once downstream stream
// behaviors have acted, through the downstream pump. Only the relay's
// replies side writes, so the switch cannot reorder bytes. A write to the
// pump that drain has closed fails with errEnded: the connection is
// closing, and the failure must not turn its FIN into a reset (see drain).
func (s *streamConn) Write(b []byte) (int, error) {
	down := s.down.Load()
	if down == nil {
		if !s.c.plan.Load().down.acts() {
			return s.Conn.Write(b)
		}
		down = s.startPump(Downstream, nil)
	}
	n, err := (*down).Write(b)
	if err != nil && s.drained.Load() {
		err = errEnded
	}
	return n, err
}

// CloseWrite ends the bytes to the client: a FIN on the socket, or, through
// the pump, which passes it on as the TCP proxy does (after SlowClose, not
// after HalfClose).
func (s *streamConn) CloseWrite() error {
	if down := s.down.Load(); down != nil {
		return (*down).Close()
	}
	closeWrite(s.Conn)
	return nil
}

// drain returns once the bytes written to the client so far have left the
// stream layer: a downstream pump, which may hold them under Latency or
// Bandwidth, is closed (it passes a FIN on after the bytes, as the TCP
// proxy does) and waited for, up to the connection's end. The caller must
// be about to close the connection, and be the side that writes to the
// client or one that knows every byte the client is owed to be written
// (an Abort, once the replies before the aborted request are out). A
// write of the replies side that comes after the drain anyway (an HTTP
// interim response, a Redis push, owed to no earlier request) is lost
// and fails with errEnded, which ends that side quietly, without
// resetting the connection.
func (s *streamConn) drain() {
	down := s.down.Load()
	if down == nil {
		return
	}
	s.drained.Store(true)
	(*down).Close()
	select {
	case <-s.downDone:
	case <-s.c.done:
	}
}

// SetReadDeadline sets the relay's deadline on its reads of the client.
func (s *streamConn) SetReadDeadline(t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readDeadline = t
	if up := s.up.Load(); up != nil {
		return (*up).SetReadDeadline(t)
	}
	return s.Conn.SetReadDeadline(t)
}

// spliceable returns the client's TCP socket for a direction that no pump
// serves and no stream behavior acts on, so that the relay may splice it,
// and the capture that records it (nil: none).
func (s *streamConn) spliceable(d Direction) (*net.TCPConn, *capturedConn, bool) {
	tc, tap := spliceSocket(s.Conn)
	if tc == nil {
		return nil, nil, false
	}
	sp := s.c.plan.Load().stream(d)
	if d == Upstream && (s.up.Load() != nil || sp.acts()) || d == Downstream && (s.down.Load() != nil || sp.acts()) {
		return nil, nil, false
	}
	return tc, tap, true
}

// startPump starts the pump of direction d, between the socket and a new
// pipe whose other end it returns. The pump is a half of the TCP proxy:
// it applies the direction's stream behaviors as they change, and ends
// with the connection, closing its end of the pipe. An upstream pump reads
// read first, bytes already taken from the socket.
func (s *streamConn) startPump(d Direction, read []byte) *net.Conn {
	relayEnd, pumpEnd := net.Pipe()
	var h *half
	if d == Upstream {
		h = s.c.newHalf(d, &prefixedConn{Conn: s.Conn, prefix: read}, pumpEnd, new(atomic.Int64))
		s.mu.Lock()
		relayEnd.SetReadDeadline(s.readDeadline)
		s.up.Store(&relayEnd)
		s.mu.Unlock()
	} else {
		h = s.c.newHalf(d, pumpEnd, s.Conn, new(atomic.Int64))
		s.downDone = make(chan struct{})
		s.down.Store(&relayEnd)
	}
	s.c.p.wg.Add(2)
	go func() {
		defer s.c.p.wg.Done()
		defer pumpEnd.Close()
		h.run()
		if d == Downstream {
			// The relay's writes must not block on a pump gone.
			relayEnd.Close()
			close(s.downDone)
		}
	}()
	go func() {
		// The downstream pump reads the pipe, which the connection's
		// end does not close: close it then.
		defer s.c.p.wg.Done()
		<-s.c.done
		relayEnd.Close()
	}()
	return &relayEnd
}

// prefixedConn reads prefix, then its connection.
type prefixedConn struct {
	net.Conn
	prefix []byte
}

func (p *prefixedConn) Read(b []byte) (int, error) {
	if len(p.prefix) > 0 {
		n := copy(b, p.prefix)
		p.prefix = p.prefix[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}
