package bench

import (
	"io"
	"net"
	"sync"
	"time"
)

// plainProxy is the floor any proxy pays: accept, dial the target, and two
// goroutines each doing io.Copy between the two *net.TCPConn, which Linux
// turns into splice(2) (zero copy). A direction that ends with EOF is
// propagated with CloseWrite; one that ends with an error aborts both
// sockets. It runs in a child process (see child_test.go) so that its CPU
// can be measured apart from the client and the backend.
type plainProxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

func startPlainProxy(target string) (*plainProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &plainProxy{ln: ln, target: target, conns: make(map[net.Conn]struct{})}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

func (p *plainProxy) Addr() string { return p.ln.Addr().String() }

// Close stops accepting, closes every connection and waits for every
// goroutine it started.
func (p *plainProxy) Close() error {
	err := p.ln.Close()
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

// track registers c for Close; it reports false (and closes c) once the
// proxy is closed.
func (p *plainProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *plainProxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
		c.Close()
	}
}

func (p *plainProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			return
		}
		p.wg.Add(1)
		go p.handle(c.(*net.TCPConn))
	}
}

func (p *plainProxy) handle(client *net.TCPConn) {
	defer p.wg.Done()
	u, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		p.untrack(client)
		return
	}
	if !p.track(u) {
		p.untrack(client)
		return
	}
	upstream := u.(*net.TCPConn)
	var both sync.WaitGroup
	both.Add(2)
	pipe := func(dst, src *net.TCPConn) {
		defer both.Done()
		if _, err := io.Copy(dst, src); err != nil {
			dst.Close()
			src.Close()
			return
		}
		dst.CloseWrite()
	}
	go pipe(upstream, client)
	go pipe(client, upstream)
	both.Wait()
	p.untrack(client, upstream)
}
