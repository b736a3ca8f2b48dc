package faults

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"

	"github.com/gofaults/faults/internal/tcpcap"
)

// capturedConn is the client's socket of a captured connection: every
// path of the proxy reads and writes the client through it, so it sees
// what the client sent and received, and how each side closed. It is not
// a *net.TCPConn, so nothing splices it: bytes are copied, and recorded
// on the way.
type capturedConn struct {
	net.Conn // the client's socket
	cap      *capture
	side     *captureSide

	readEnded atomic.Bool // the client's FIN or reset is recorded
	finSent   atomic.Bool // the proxy's FIN to the client is recorded
	linger0   atomic.Bool // Close resets
	closed    atomic.Bool
}

// tap returns the client's socket nc of connection id, captured: the
// handshake is recorded now.
func (c *capture) tap(id uint64, nc net.Conn) net.Conn {
	var client netip.AddrPort
	if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		client = a.AddrPort()
	}
	return &capturedConn{Conn: nc, cap: c, side: c.open(id, client)}
}

func (cc *capturedConn) Read(b []byte) (int, error) {
	n, err := cc.Conn.Read(b)
	if n > 0 {
		cc.cap.data(cc.side, tcpcap.Client, b[:n])
	}
	cc.noteReadEnd(err)
	return n, err
}

// noteReadEnd records the end of the client's bytes that a read's err
// says: a FIN at io.EOF, a reset at ECONNRESET, once; other errors, and
// nil, end nothing.
func (cc *capturedConn) noteReadEnd(err error) {
	kind := capFin
	switch {
	case err == io.EOF:
	case errors.Is(err, syscall.ECONNRESET):
		kind = capReset
	default:
		return
	}
	if cc.readEnded.CompareAndSwap(false, true) {
		cc.cap.end(cc.side, kind, tcpcap.Client)
	}
}

// Write writes b to the client. What goes to the client is recorded
// before it is written, so that what the client sends in answer cannot be
// recorded first; if the write fails part way, the capture holds what the
// proxy was writing, not only what the client got.
func (cc *capturedConn) Write(b []byte) (int, error) {
	if len(b) > 0 {
		cc.cap.data(cc.side, tcpcap.Server, b)
	}
	return cc.Conn.Write(b)
}

// writev writes bufs with one writev(2), recorded as one write.
func (cc *capturedConn) writev(bufs [][]byte) (int64, error) {
	cc.cap.data(cc.side, tcpcap.Server, bufs...)
	nb := append(net.Buffers(nil), bufs...) // WriteTo consumes its slices
	return nb.WriteTo(cc.Conn)
}

// CloseWrite sends the client a FIN.
func (cc *capturedConn) CloseWrite() error {
	if cc.finSent.CompareAndSwap(false, true) {
		cc.cap.end(cc.side, capFin, tcpcap.Server)
	}
	if cw, ok := cc.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return cc.Conn.Close()
}

// SetLinger sets the socket's linger; with 0, Close resets the client.
func (cc *capturedConn) SetLinger(sec int) error {
	cc.linger0.Store(sec == 0)
	if l, ok := cc.Conn.(interface{ SetLinger(int) error }); ok {
		return l.SetLinger(sec)
	}
	return nil
}

// Close closes the socket: the client sees a reset after SetLinger(0), a
// FIN otherwise.
func (cc *capturedConn) Close() error {
	if cc.closed.CompareAndSwap(false, true) {
		if cc.linger0.Load() {
			cc.cap.end(cc.side, capReset, tcpcap.Server)
		}
		cc.cap.end(cc.side, capClose, tcpcap.Server)
	}
	return cc.Conn.Close()
}
