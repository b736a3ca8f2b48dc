package faults

import (
	"io"
	"net"
	"time"
)

// lingerTimeout bounds how long a connection the proxy closes cleanly waits
// for its peers to close their side, so that closing never turns into a
// reset for unread bytes.
const lingerTimeout = 2 * time.Second

// finish closes both sockets in the way the connection ended.
func (c *conn) finish() {
	c.end(endDone) // no-op if the proxy ended it already
	c.mu.Lock()
	how, server := c.ending, c.server
	c.mu.Unlock()
	switch how {
	case endReset:
		reset(c.client)
		reset(server)
	case endClose:
		c.closeGracefully(server)
	default:
		c.client.Close()
		if server != nil {
			server.Close()
		}
	}
}

// closeGracefully sends a FIN to both peers and waits, up to lingerTimeout,
// for them to close, discarding what they still send; then it closes.
// Closing a socket with unread bytes would send a reset instead of the FIN.
func (c *conn) closeGracefully(server net.Conn) {
	socks := []net.Conn{c.client}
	if server != nil {
		socks = append(socks, server)
	}
	c.mu.Lock()
	if c.ending != endKill {
		deadline := time.Now().Add(lingerTimeout)
		for _, s := range socks {
			s.SetDeadline(deadline)
		}
	}
	c.mu.Unlock()
	for _, s := range socks {
		closeWrite(s)
	}
	for _, s := range socks {
		io.Copy(io.Discard, s)
		s.Close()
	}
}

// closeWrite sends a FIN: the peer reads EOF, and can still send.
func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		return
	}
	c.Close()
}

// reset closes c with an RST: the peer sees ECONNRESET.
func reset(c net.Conn) {
	if c == nil {
		return
	}
	if l, ok := c.(interface{ SetLinger(int) error }); ok {
		l.SetLinger(0)
	}
	c.Close()
}
