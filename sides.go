package faults

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofaults/faults/internal/pooledbuf"
	"github.com/gofaults/faults/internal/tcpcap"
)

// sides are the two sockets of a framed relay (HTTP, MySQL): each read
// through a buffer, for framing, and written through a meter.
type sides struct {
	c          *conn
	client     net.Conn
	server     net.Conn
	fromClient *pooledbuf.Reader
	fromServer *pooledbuf.Reader
	toClient   meter
	toServer   meter

	// The replies side's read of the server, parked between two replies,
	// may be woken for a reply of the proxy's: see park.
	wake struct {
		sync.Mutex
		parked bool // the replies side waits for a reply's first byte
		set    bool // a wake-up deadline is set on the server's socket
	}
}

// init sets s up for the sockets of c, each read through a buffer of at
// most size bytes, the longest message head the relay must see whole, held
// only while bytes are buffered (an idle connection holds a few KiB); with
// size 0, the relay reads the sockets in its own way, and fromClient and
// fromServer are nil.
func (s *sides) init(c *conn, size int) {
	c.mu.Lock()
	server := c.server
	c.mu.Unlock()
	// The client is read and written through the stream layer, where
	// stream behaviors act (see streamconn.go).
	s.c, s.client, s.server = c, newStreamConn(c), server
	s.toClient = meter{s.client, &c.p.stats.bytesDown, c}
	s.toServer = meter{server, &c.p.stats.bytesUp, c}
	if size > 0 {
		s.fromClient = pooledbuf.NewReader(s.client, size)
		s.fromServer = pooledbuf.NewReader(server, size)
	}
}

// fail ends the connection after a read or write error: a reset, unless the
// proxy is ending it already.
func (s *sides) fail(err error) {
	if errors.Is(err, errEnded) || errors.Is(err, errTruncated) || s.c.isEnding() {
		return
	}
	s.c.end(endReset)
}

// rearm clears the read deadline that woke a read of sock, and reports
// whether the connection goes on. The check comes after the clearing: the
// connection's end sets its ending before its deadlines, so a deadline of
// the end that the clearing undid is seen here.
func (s *sides) rearm(sock net.Conn) bool {
	sock.SetReadDeadline(time.Time{})
	return !s.c.isEnding()
}

// woken reports whether err is a wake-up by a deadline the relay set
// (framed protocols are not woken by changes of plan), not the
// connection's end, which wakes reads the same way.
func (s *sides) woken(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded) && !s.c.isEnding()
}

// copyRaw copies from, which reads the socket src, to w until EOF, then
// half-closes dst: the bytes of a direction no longer framed. A wake-up
// that comes late only restarts the copy.
func (s *sides) copyRaw(w meter, from io.Reader, src, dst net.Conn) {
	for {
		if !s.rearm(src) {
			return
		}
		_, err := io.Copy(w, from)
		switch {
		case err == nil:
			closeWrite(dst)
			return
		case s.woken(err):
			continue
		default:
			s.fail(err)
			return
		}
	}
}

// park marks the replies side as waiting between two replies, where
// wakeParked may wake it; unpark ends that, clearing a wake-up not yet
// seen. A read woken in the middle of a reply would have to resume a body
// copy it cannot resume (a splice, a chunked body), so nothing wakes it
// there: a reply of the proxy's queued meanwhile goes out when the reply
// being read has.
func (s *sides) park() {
	s.wake.Lock()
	s.wake.parked = true
	s.wake.Unlock()
}

func (s *sides) unpark() {
	s.wake.Lock()
	s.wake.parked = false
	if s.wake.set {
		s.wake.set = false
		s.server.SetReadDeadline(time.Time{})
	}
	s.wake.Unlock()
}

// wakeParked wakes the replies side if it is parked, after the requests
// side has queued a reply of the proxy's. Either the replies side is
// parked and is woken, or it has yet to park and will see the reply in the
// queue before it does.
func (s *sides) wakeParked() {
	s.wake.Lock()
	if s.wake.parked && !s.wake.set {
		s.wake.set = true
		s.server.SetReadDeadline(time.Unix(1, 0))
	}
	s.wake.Unlock()
}

// meter writes to a socket, counting the bytes and noting activity.
type meter struct {
	conn  net.Conn
	bytes *atomic.Int64
	c     *conn
}

// Write writes b to the socket.
func (m meter) Write(b []byte) (int, error) {
	n, err := m.conn.Write(b)
	m.bytes.Add(int64(n))
	m.c.touch()
	return n, err
}

// writev writes bufs with one system call where it can.
func (m meter) writev(bufs ...[]byte) error {
	if len(bufs) == 1 {
		_, err := m.Write(bufs[0])
		return err
	}
	nb := net.Buffers(bufs)
	dst := m.conn
	var n int64
	var err error
	if cc, ok := captured(dst); ok {
		// One writev(2), recorded as one message.
		n, err = cc.writev(bufs)
	} else {
		if tc, ok := tcp(dst, Downstream); ok {
			// One writev(2), which the stream layer's Write cannot offer.
			dst = tc
		}
		n, err = nb.WriteTo(dst)
	}
	m.bytes.Add(n)
	m.c.touch()
	return err
}

// captured returns the captured client's socket under sock, if sock is
// the client's and no stream behavior acts on what is written to it.
func captured(sock net.Conn) (*capturedConn, bool) {
	sc, ok := sock.(*streamConn)
	if !ok {
		return nil, false
	}
	cc, ok := sc.Conn.(*capturedConn)
	if !ok || sc.down.Load() != nil || sc.c.plan.Load().down.acts() {
		return nil, false
	}
	return cc, true
}

// tcp returns sock as a TCP socket that the relay may splice in direction
// d, or write to with writev(2) (nothing records it): the server's
// socket, or the client's while no stream behavior acts on d and no
// capture records it.
func tcp(sock net.Conn, d Direction) (*net.TCPConn, bool) {
	tc, tap, ok := spliceable(sock, d)
	return tc, ok && tap == nil
}

// spliceable returns the TCP socket under sock that the relay may splice
// in direction d, and the capture that records it (nil: none): the
// server's socket, or the client's while no stream behavior acts on d.
func spliceable(sock net.Conn, d Direction) (*net.TCPConn, *capturedConn, bool) {
	if sc, ok := sock.(*streamConn); ok {
		return sc.spliceable(d)
	}
	tc, tap := spliceSocket(sock)
	return tc, tap, tc != nil
}

// spliceSocket returns the TCP socket under c, if splice(2) can move its
// bytes, and the capture that records it (nil: none).
func spliceSocket(c net.Conn) (*net.TCPConn, *capturedConn) {
	switch c := c.(type) {
	case *net.TCPConn:
		return c, nil
	case *capturedConn:
		if tc, ok := c.Conn.(*net.TCPConn); ok && teeSplices {
			return tc, c
		}
	}
	return nil, nil
}

// spliceN moves up to n bytes from src to dst by splice(2), as
// dst.ReadFrom of an io.LimitedReader of n would, teeing them to tap's
// capture when one of them is the captured client's socket: fewer than n
// with a nil error at src's EOF.
func spliceN(dst, src *net.TCPConn, n int64, tap *capturedConn, tapSrc bool) (int64, error) {
	if tap == nil {
		return dst.ReadFrom(&io.LimitedReader{R: src, N: n})
	}
	side := tcpcap.Server
	if tapSrc {
		side = tcpcap.Client
	}
	return teeSplice(dst, src, n, tap, side)
}

// deliverAnswers writes the proxy's own replies at the front of q to the
// client, and forgets them once written, so that a requests side waiting
// for its turn (Abort) knows them to be out. It reports whether the relay
// goes on: not after a write error, or a reply that closes the connection.
// It is the replies side's, which alone writes to the client.
func (s *sides) deliverAnswers(q *owedQueue) bool {
	closes, err := s.writeReady(q, 0, 0)
	if err != nil {
		s.fail(err)
		return false
	}
	if closes {
		s.closeAfterReplies()
		return false
	}
	return true
}

// writeReady forgets the first n entries of q, whose replies the client
// has been sent, and, unless keep entries after them are still being
// answered, writes the proxy's replies that were waiting behind them, and
// forgets those once written. It reports whether one of them closes the
// connection. The replies side alone writes to the client, and never while
// it holds the queue's lock: the requests side must not wait on a client
// that is not reading.
func (s *sides) writeReady(q *owedQueue, n, keep int) (closes bool, err error) {
	ready, closes := q.pop(n, keep)
	if len(ready) == 0 {
		return false, nil
	}
	if err := s.toClient.writev(ready...); err != nil {
		return false, err
	}
	// Forgotten once written: a requests side waiting for its turn
	// (Abort) knows them to be out.
	q.pop(len(ready), 1)
	return closes, nil
}

// awaitReply waits, parked (see park), for the first byte of the server's
// next reply, after writing the proxy's replies due at the front of q; a
// reply of the proxy's queued meanwhile wakes the wait, and goes out. It
// reports whether a byte came, or raw is set (the relay fell back: the
// caller passes the rest through). false means the replies side ends: at
// the server's EOF, once the replies owed and the FIN are passed on, or
// after an error.
func (s *sides) awaitReply(q *owedQueue, raw *atomic.Bool) bool {
	for {
		s.park()
		if !s.deliverAnswers(q) {
			s.unpark()
			return false
		}
		_, err := s.fromServer.Peek(1)
		s.unpark()
		switch {
		case err == nil || raw.Load():
			return true
		case s.woken(err):
			continue // woken for a reply of the proxy's
		case err == io.EOF:
			if s.deliverAnswers(q) {
				closeWrite(s.client)
			}
		default:
			s.fail(err)
		}
		return false
	}
}

// closeAfterReplies ends the connection with a FIN once what the relay
// wrote to the client is on its way: an answer of the proxy's that closes
// the connection, the part of a reply that TruncateResponse lets through,
// the replies owed before an Abort must not be lost in a downstream stream
// behavior. Its caller is the replies side, or a side that alone writes
// to the client at that point (before the replies side starts, or once
// every reply owed before an Abort is written): see streamConn.drain.
func (s *sides) closeAfterReplies() {
	if sc, ok := s.client.(*streamConn); ok {
		sc.drain()
	}
	s.c.end(endClose)
}

// holdReply carries out what fx does before a reply of the server's passes
// on, and reports whether it passes: not after Abort (the requests side
// closes the connection once the request is passed on), nor if the
// connection ends during DelayResponse, nor after DropResponse, which
// reads and drops what the server sends from, to its end.
func (s *sides) holdReply(fx *effects, from io.Reader) bool {
	switch {
	case fx.abort:
		return false
	case fx.delayResponse > 0 && s.c.sleep(fx.delayResponse, nil) == ended:
		return false
	case fx.drop:
		// The client never gets this reply, nor any after it.
		io.Copy(io.Discard, from)
		return false
	}
	return true
}

// shapedFor returns a writer to the client that cuts and paces a reply as
// fx says (TruncateResponse, SlowResponse); nil if fx does neither.
func (s *sides) shapedFor(fx *effects) *shapedWriter {
	if fx.truncate < 0 && fx.slow <= 0 {
		return nil
	}
	return &shapedWriter{w: s.toClient, c: s.c, left: fx.truncate, rate: fx.slow}
}

// unframeReplies stops framing the server's bytes, for err, in a relay of
// protocol name whose replies pass on as q's entries say, the first
// claimed of them taken: raw is set, and the requests side, woken, passes
// the client's bytes through unframed from its next request. It reports
// whether the server's bytes may pass through too; if a reply of the
// proxy's or a behavior on a reply was still to come, the client's view
// could not be kept true, and the connection is closed instead.
func (s *sides) unframeReplies(name string, err error, raw *atomic.Bool, q *owedQueue, claimed int) bool {
	s.c.p.log.Warn("faults: "+name+" framing stopped; passing bytes through", "conn", s.c.id, "side", "server", "err", err)
	raw.Store(true)
	if q.stop(claimed) {
		s.c.end(endClose)
		return false
	}
	s.client.SetReadDeadline(time.Unix(1, 0)) // wake the requests side
	return true
}
