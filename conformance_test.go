package faults_test

import (
	"net"
	"testing"
	"time"

	"golang.org/x/net/nettest"

	"github.com/gofaults/faults"
)

// proxiedPipe returns a nettest.MakePipe whose c1 is a client connected to
// a fresh proxy and c2 the connection the proxy opened to the server: every
// byte each writes crosses the proxy.
func proxiedPipe(bs ...faults.Behavior) nettest.MakePipe {
	return func() (c1, c2 net.Conn, stop func(), err error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, nil, err
		}
		p, err := faults.NewProxy(ln.Addr().String())
		if err != nil {
			ln.Close()
			return nil, nil, nil, err
		}
		if err := p.Set(bs...); err != nil {
			p.Close()
			ln.Close()
			return nil, nil, nil, err
		}
		c1, err = net.DialTimeout("tcp", p.Addr(), 5*time.Second)
		if err != nil {
			p.Close()
			ln.Close()
			return nil, nil, nil, err
		}
		ln.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
		c2, err = ln.Accept()
		if err != nil {
			c1.Close()
			p.Close()
			ln.Close()
			return nil, nil, nil, err
		}
		stop = func() {
			c1.Close()
			c2.Close()
			p.Close()
			ln.Close()
		}
		return c1, c2, stop, nil
	}
}

// TestConformance runs the x/net/nettest net.Conn conformance suite over a
// proxied connection, on both copy paths: what the peers see must behave as
// one TCP connection.
func TestConformance(t *testing.T) {
	for _, path := range copyPaths {
		t.Run(path.name, func(t *testing.T) {
			nettest.TestConn(t, proxiedPipe(path.set...))
		})
	}
}
