package faults

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// fuzzBackend is a fake server for the relay fuzzers: the first connection
// it accepts is sent the fuzzed bytes at once, then read to its end; every
// later one is served well-formed, by serve.
type fuzzBackend struct {
	ln       net.Listener
	reply    []byte
	serve    func(net.Conn)
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    []net.Conn
	received []byte        // what the first connection read
	first    chan struct{} // closed when the first connection is done
}

func newFuzzBackend(t *testing.T, reply []byte, serve func(net.Conn)) *fuzzBackend {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &fuzzBackend{ln: ln, reply: reply, serve: serve, first: make(chan struct{})}
	b.wg.Add(1)
	go b.accept()
	return b
}

func (b *fuzzBackend) accept() {
	defer b.wg.Done()
	for n := 0; ; n++ {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.mu.Lock()
		b.conns = append(b.conns, c)
		b.mu.Unlock()
		c.SetDeadline(time.Now().Add(3 * time.Second))
		b.wg.Add(1)
		go func(first bool) {
			defer b.wg.Done()
			defer c.Close()
			if !first {
				b.serve(c)
				return
			}
			c.Write(b.reply)
			got, _ := io.ReadAll(c)
			b.mu.Lock()
			b.received = got
			b.mu.Unlock()
			close(b.first)
		}(n == 0)
	}
}

func (b *fuzzBackend) close() {
	b.ln.Close()
	b.mu.Lock()
	for _, c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// fuzzRelay runs one relay fuzz case: a proxy of proto with behaviors in
// front of a fuzzBackend sending server, and a client sending client, then
// half-closing and reading to the end. The client's connection must end
// within 2 s. If passThrough, each side must receive a prefix of what the
// other sent. It returns the proxy, still open (closed at the end of the
// test), for the caller to check that it serves a well-formed connection.
func fuzzRelay(t *testing.T, proto Protocol, behaviors []Behavior, client, server []byte, serve func(net.Conn), passThrough bool) *Proxy {
	backend := newFuzzBackend(t, server, serve)
	t.Cleanup(backend.close)
	p, err := NewProxy(backend.ln.Addr().String(), WithProtocol(proto), WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := p.Set(behaviors...); err != nil {
		t.Fatal(err)
	}
	c, err := net.DialTimeout("tcp", p.Addr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	writeErr := make(chan error, 1)
	go func() {
		_, err := c.Write(client)
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		writeErr <- err
	}()
	got, err := io.ReadAll(c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the client's connection did not end within 2 s (read %d bytes)", len(got))
	}
	c.Close()
	<-writeErr
	if !passThrough {
		return p
	}
	if !bytes.HasPrefix(server, got) {
		t.Fatalf("the client read %q, not a prefix of the server's %q", got, server)
	}
	// The server's side ends too: the proxy passed on the client's end.
	select {
	case <-backend.first:
	case <-time.After(3 * time.Second):
		t.Fatal("the server's connection did not end")
	}
	backend.mu.Lock()
	received := backend.received
	backend.mu.Unlock()
	if !bytes.HasPrefix(client, received) {
		t.Fatalf("the server read %q, not a prefix of the client's %q", received, client)
	}
	return p
}

// fuzzExchange sends request on a new connection to p and checks that the
// answer is want.
func fuzzExchange(t *testing.T, p *Proxy, request, want []byte) {
	if err := p.Reset(); err != nil {
		t.Fatal(err)
	}
	c, err := net.DialTimeout("tcp", p.Addr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write(request); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("a well-formed connection after the fuzzed one: %q, %v; want %q", got, err, want)
	}
}

// fuzzBehaviors returns the request behavior that a relay fuzzer's mode m
// chooses among those every framed protocol has: 1 Error(reply), 2
// DelayResponse, 3 DropResponse, 4 Abort, 5 TruncateResponse(truncate), 6
// SlowResponse; nil for any other m, which the fuzzer chooses itself.
func fuzzBehaviors(m uint8, reply Reply, truncate int64) []Behavior {
	switch m {
	case 1:
		return []Behavior{Error(reply)}
	case 2:
		return []Behavior{DelayResponse(time.Millisecond)}
	case 3:
		return []Behavior{DropResponse()}
	case 4:
		return []Behavior{Abort()}
	case 5:
		return []Behavior{TruncateResponse(truncate)}
	case 6:
		return []Behavior{SlowResponse(1 << 20)}
	}
	return nil
}
