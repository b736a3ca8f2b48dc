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
	switch {
	case err == nil:
	case err == io.EOF:
		if cc.readEnded.CompareAndSwap(false, true) {
			cc.cap.end(cc.side, capFin, tcpcap.Client)
		}
	case errors.Is(err, syscall.ECONNRESET):
		if cc.readEnded.CompareAndSwap(false, true) {
			cc.cap.end(cc.side, capReset, tcpcap.Client)
		}
	}
	return n, err
}

func (cc *capturedConn) Write(b []byte) (int, error) {
	n, err := cc.Conn.Write(b)
	if n > 0 {
		cc.cap.data(cc.side, tcpcap.Server, b[:n])
	}
	return n, err
}

// writev writes bufs with one writev(2), recorded as one write.
func (cc *capturedConn) writev(bufs [][]byte) (int64, error) {
	nb := append(net.Buffers(nil), bufs...) // WriteTo consumes its slices
	n, err := nb.WriteTo(cc.Conn)
	rest := n
	parts := make([][]byte, 0, len(bufs))
	for _, b := range bufs {
		if rest == 0 {
			break
		}
		k := min(int64(len(b)), rest)
		parts = append(parts, b[:k])
		rest -= k
	}
	if n > 0 {
		cc.cap.data(cc.side, tcpcap.Server, parts...)
	}
	return n, err
}

// CloseWrite sends the client a FIN.
func (cc *capturedConn) CloseWrite() error {
	var err error
	if cw, ok := cc.Conn.(interface{ CloseWrite() error }); ok {
		err = cw.CloseWrite()
	} else {
		err = cc.Conn.Close()
	}
	if cc.finSent.CompareAndSwap(false, true) {
		cc.cap.end(cc.side, capFin, tcpcap.Server)
	}
	return err
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
	err := cc.Conn.Close()
	if cc.closed.CompareAndSwap(false, true) {
		if cc.linger0.Load() {
			cc.cap.end(cc.side, capReset, tcpcap.Server)
		}
		cc.cap.end(cc.side, capClose, tcpcap.Server)
	}
	return err
}
