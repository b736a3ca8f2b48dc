package faults

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gofaults/faults/internal/testenv"
)

// redisFuzzBackend is a fake Redis server: the first connection it accepts
// is sent the fuzzed bytes, at once, then read to its end; every later one
// answers PONG to each PING.
type redisFuzzBackend struct {
	ln       net.Listener
	reply    []byte
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    []net.Conn
	received []byte        // what the first connection read
	first    chan struct{} // closed when the first connection is done
}

func newRedisFuzzBackend(t *testing.T, reply []byte) *redisFuzzBackend {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &redisFuzzBackend{ln: ln, reply: reply, first: make(chan struct{})}
	b.wg.Add(1)
	go b.serve()
	return b
}

func (b *redisFuzzBackend) serve() {
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
			if first {
				c.Write(b.reply)
				got, _ := io.ReadAll(c)
				b.mu.Lock()
				b.received = got
				b.mu.Unlock()
				close(b.first)
				return
			}
			ping := []byte("*1\r\n$4\r\nPING\r\n")
			buf := make([]byte, len(ping))
			for {
				if _, err := io.ReadFull(c, buf); err != nil || !bytes.Equal(buf, ping) {
					return
				}
				if _, err := c.Write([]byte("+PONG\r\n")); err != nil {
					return
				}
			}
		}(n == 0)
	}
}

func (b *redisFuzzBackend) close() {
	b.ln.Close()
	b.mu.Lock()
	for _, c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// FuzzRedisRelay passes arbitrary client bytes and arbitrary server bytes
// through a Redis proxy, with a request behavior chosen by mode (none, or
// one of Error, DelayResponse, DropResponse, Abort, TruncateResponse,
// SlowResponse on every command). It must not panic or hang: the client
// sees the connection end within the deadline. Without a behavior, the
// bytes each side receives are a prefix of what the other sent. The proxy
// must then serve a well-formed second connection: PING, PONG.
func FuzzRedisRelay(f *testing.F) {
	seeds := testenv.RESPFuzzSeeds(f, filepath.Join("internal", "wire", "resp", "testdata"))
	for i, s := range seeds {
		f.Add(uint8(i%8), seeds[(i+3)%len(seeds)], s)
	}
	f.Add(uint8(0), []byte("*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"), []byte("+PONG\r\n$1\r\nv\r\n"))
	f.Add(uint8(1), []byte("*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n"), []byte("$1\r\nv\r\n"))
	f.Add(uint8(3), []byte("*1\r\n$9\r\nSUBSCRIBE\r\n"), []byte(">3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n"))
	f.Fuzz(func(t *testing.T, mode uint8, client, server []byte) {
		var behaviors []Behavior
		switch mode % 8 {
		case 1:
			behaviors = append(behaviors, Error(RedisLoading))
		case 2:
			behaviors = append(behaviors, DelayResponse(time.Millisecond))
		case 3:
			behaviors = append(behaviors, DropResponse())
		case 4:
			behaviors = append(behaviors, Abort())
		case 5:
			behaviors = append(behaviors, TruncateResponse(int64(mode>>3)))
		case 6:
			behaviors = append(behaviors, SlowResponse(1<<20))
		case 7:
			behaviors = append(behaviors, Error(RedisReadOnly).When(Command("GET")).After(1))
		}
		backend := newRedisFuzzBackend(t, server)
		defer backend.close()
		p, err := NewProxy(backend.ln.Addr().String(), WithProtocol(Redis()), WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
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
		if len(behaviors) == 0 {
			if !bytes.HasPrefix(server, got) {
				t.Fatalf("the client read %q, not a prefix of the server's %q", got, server)
			}
			// The server's side ends too: the proxy passed on the
			// client's end.
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
		}

		// The proxy still serves a well-formed connection.
		if err := p.Reset(); err != nil {
			t.Fatal(err)
		}
		c2, err := net.DialTimeout("tcp", p.Addr(), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c2.Close()
		c2.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c2.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
			t.Fatal(err)
		}
		pong := make([]byte, 7)
		if _, err := io.ReadFull(c2, pong); err != nil || string(pong) != "+PONG\r\n" {
			t.Fatalf("second connection: %q, %v", pong, err)
		}
	})
}

// TestRedisRelayPassesCutValuesAtEOF: bytes that end a side's stream in
// the middle of a value (a server killed mid-reply, a client gone
// mid-command) pass through as on a raw connection: "every byte passes
// through as sent". A regression test: at EOF the relay once half-closed
// the other side without writing the unframed bytes it held, so the client
// read a clean end after "+OK\r\n" instead of the cut reply "+PAR", and
// the server never read the cut command.
func TestRedisRelayPassesCutValuesAtEOF(t *testing.T) {
	const cmds, replies = "*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPI", "+OK\r\n+PAR"
	backend := newRedisFuzzBackend(t, []byte(replies))
	defer backend.close()
	p, err := NewProxy(backend.ln.Addr().String(), WithProtocol(Redis()), WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.DialTimeout("tcp", p.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(cmds)); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-backend.first:
	case <-time.After(5 * time.Second):
		t.Fatal("the server's connection did not end")
	}
	backend.mu.Lock()
	received := string(backend.received)
	backend.mu.Unlock()
	if string(got) != replies {
		t.Errorf("the client read %q, want %q", got, replies)
	}
	if received != cmds {
		t.Errorf("the server read %q, want %q", received, cmds)
	}
}
