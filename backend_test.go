package faults_test

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gofaults/faults"
)

// backend is an in-process TCP server for tests: it hands each accepted
// connection to handle on its own goroutine, and stops (closing every
// connection, waiting for every handler) at test cleanup.
type backend struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]bool
	hits  int
}

func newBackend(t testing.TB, handle func(c net.Conn)) *backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{ln: ln, conns: make(map[net.Conn]bool)}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.conns[c] = true
			b.hits++
			b.mu.Unlock()
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				handle(c)
				b.mu.Lock()
				delete(b.conns, c)
				b.mu.Unlock()
			}()
		}
	}()
	t.Cleanup(b.close)
	return b
}

func (b *backend) addr() string { return b.ln.Addr().String() }

// accepted returns how many connections the backend has accepted.
func (b *backend) accepted() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.hits
}

func (b *backend) close() {
	b.ln.Close()
	b.mu.Lock()
	for c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// echo copies what it reads back, then half-closes and closes.
func echo(c net.Conn) {
	defer c.Close()
	io.Copy(c, c)
	c.(*net.TCPConn).CloseWrite()
}

// newEchoProxy starts an echo backend and a proxy in front of it, both
// closed at cleanup.
func newEchoProxy(t testing.TB, opts ...faults.Option) (*faults.Proxy, *backend) {
	t.Helper()
	b := newBackend(t, echo)
	p, err := faults.NewProxy(b.addr(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, b
}

// dial connects to addr, failing the test on error; the connection is closed
// at cleanup.
func dial(t testing.TB, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// mustSet installs bs on p, failing the test on error.
func mustSet(t testing.TB, p *faults.Proxy, bs ...faults.Behavior) {
	t.Helper()
	if err := p.Set(bs...); err != nil {
		t.Fatal(err)
	}
}
