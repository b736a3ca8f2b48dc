package faults

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// pgFuzzBackend is a fake PostgreSQL server: the first connection it
// accepts is sent the fuzzed bytes at once, then read to its end; every
// later one is served as a trust login, then CommandComplete and
// ReadyForQuery for each Query.
type pgFuzzBackend struct {
	ln       net.Listener
	reply    []byte
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    []net.Conn
	received []byte
	first    chan struct{}
}

func newPgFuzzBackend(t *testing.T, reply []byte) *pgFuzzBackend {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &pgFuzzBackend{ln: ln, reply: reply, first: make(chan struct{})}
	b.wg.Add(1)
	go b.serve()
	return b
}

// pgFuzzLogin is what the well-formed server answers a StartupMessage
// with: AuthenticationOk and ReadyForQuery (idle).
var pgFuzzLogin = []byte("R\x00\x00\x00\x08\x00\x00\x00\x00Z\x00\x00\x00\x05I")

// pgFuzzAnswer is its answer to each Query: CommandComplete and
// ReadyForQuery.
var pgFuzzAnswer = []byte("C\x00\x00\x00\x0dSELECT 1\x00Z\x00\x00\x00\x05I")

func (b *pgFuzzBackend) serve() {
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
			var n [4]byte
			if _, err := io.ReadFull(c, n[:]); err != nil {
				return
			}
			if _, err := io.CopyN(io.Discard, c, int64(binary.BigEndian.Uint32(n[:]))-4); err != nil {
				return
			}
			c.Write(pgFuzzLogin)
			for {
				var h [5]byte
				if _, err := io.ReadFull(c, h[:]); err != nil || h[0] != 'Q' {
					return
				}
				if _, err := io.CopyN(io.Discard, c, int64(binary.BigEndian.Uint32(h[1:]))-4); err != nil {
					return
				}
				if _, err := c.Write(pgFuzzAnswer); err != nil {
					return
				}
			}
		}(n == 0)
	}
}

func (b *pgFuzzBackend) close() {
	b.ln.Close()
	b.mu.Lock()
	for _, c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// pgFuzzStartup is a StartupMessage of protocol 3.0 for user postgres.
var pgFuzzStartup = []byte("\x00\x00\x00\x17\x00\x03\x00\x00user\x00postgres\x00\x00")

// FuzzPostgresRelay passes arbitrary client bytes and arbitrary server
// bytes through a PostgreSQL proxy, with a request behavior chosen by mode.
// It must not panic or hang: the client sees the connection end within
// the deadline. Without a behavior, and unless the client asked for
// encryption (which the proxy refuses itself), the bytes each side
// receives are a prefix of what the other sent. The proxy must then serve
// a well-formed second connection.
func FuzzPostgresRelay(f *testing.F) {
	for i, name := range []string{"simple", "extended", "errors", "transaction", "notify"} {
		client, err1 := os.ReadFile(filepath.Join("internal", "wire", "pgwire", "testdata", name+".client"))
		server, err2 := os.ReadFile(filepath.Join("internal", "wire", "pgwire", "testdata", name+".server"))
		if err1 != nil || err2 != nil {
			f.Fatal(errors.Join(err1, err2))
		}
		f.Add(uint8(i), client, server)
	}
	f.Add(uint8(0), append(append([]byte{}, pgFuzzStartup...), "Q\x00\x00\x00\x0dSELECT 1\x00"...), append(append([]byte{}, pgFuzzLogin...), pgFuzzAnswer...))
	f.Add(uint8(1), []byte("\x00\x00\x00\x08\x04\xd2\x16\x2f"), []byte("garbage"))
	f.Fuzz(func(t *testing.T, mode uint8, client, server []byte) {
		var behaviors []Behavior
		switch mode % 6 {
		case 1:
			behaviors = append(behaviors, Error(PostgresDeadlock))
		case 2:
			behaviors = append(behaviors, Error(PostgresAdminShutdown))
		case 3:
			behaviors = append(behaviors, DropResponse())
		case 4:
			behaviors = append(behaviors, TruncateRows(int64(mode>>3)))
		case 5:
			behaviors = append(behaviors, Error(PostgresTooManyConnections))
		}
		backend := newPgFuzzBackend(t, server)
		defer backend.close()
		p, err := NewProxy(backend.ln.Addr().String(), WithProtocol(Postgres()), WithLogger(slog.New(slog.DiscardHandler)))
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
		encryption := len(client) >= 8 && (bytes.Equal(client[4:8], []byte{0x04, 0xd2, 0x16, 0x2f}) || bytes.Equal(client[4:8], []byte{0x04, 0xd2, 0x16, 0x30}))
		if len(behaviors) == 0 && !encryption {
			if !bytes.HasPrefix(server, got) {
				t.Fatalf("the client read %q, not a prefix of the server's %q", got, server)
			}
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
		if _, err := c2.Write(append(append([]byte{}, pgFuzzStartup...), "Q\x00\x00\x00\x0dSELECT 1\x00"...)); err != nil {
			t.Fatal(err)
		}
		want := append(append([]byte{}, pgFuzzLogin...), pgFuzzAnswer...)
		answer := make([]byte, len(want))
		if _, err := io.ReadFull(c2, answer); err != nil || !bytes.Equal(answer, want) {
			t.Fatalf("second connection: %q, %v", answer, err)
		}
	})
}
