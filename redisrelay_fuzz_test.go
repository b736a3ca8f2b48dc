package faults

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/gofaults/faults/internal/testenv"
)

// redisFuzzServe serves a well-formed connection: PONG to each PING.
func redisFuzzServe(c net.Conn) {
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
}

// FuzzRedisRelay passes arbitrary client bytes and arbitrary server bytes
// through a Redis proxy, with a request behavior chosen by mode (none, or
// one of Error, DelayResponse, DropResponse, Abort, TruncateResponse,
// SlowResponse, Miss on every command, or Miss of one key). It must not
// panic or hang: the client sees the connection end within the deadline. Without a behavior, the
// bytes each side receives are a prefix of what the other sent. The proxy
// must then serve a well-formed second connection: PING, PONG.
func FuzzRedisRelay(f *testing.F) {
	seeds := testenv.RESPFuzzSeeds(f, filepath.Join("internal", "wire", "resp", "testdata"))
	for i, s := range seeds {
		f.Add(uint8(i%10), seeds[(i+3)%len(seeds)], s)
	}
	f.Add(uint8(0), []byte("*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"), []byte("+PONG\r\n$1\r\nv\r\n"))
	f.Add(uint8(1), []byte("*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n"), []byte("$1\r\nv\r\n"))
	f.Add(uint8(3), []byte("*1\r\n$9\r\nSUBSCRIBE\r\n"), []byte(">3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n"))
	f.Add(uint8(9), []byte("*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n*4\r\n$4\r\nMGET\r\n$1\r\na\r\n$1\r\nk\r\n$1\r\nb\r\n"), []byte("%0\r\n*2\r\n$1\r\na\r\n_\r\n"))
	f.Add(uint8(8), []byte("*3\r\n$5\r\nHMGET\r\n$1\r\nk\r\n$1\r\nf\r\nMGET k k\r\n"), []byte("-ERR x\r\n"))
	f.Fuzz(func(t *testing.T, mode uint8, client, server []byte) {
		behaviors := fuzzBehaviors(mode%10, RedisLoading, int64(mode>>3))
		switch mode % 10 {
		case 7:
			behaviors = append(behaviors, Error(RedisReadOnly).When(Command("GET")).After(1))
		case 8:
			behaviors = append(behaviors, Miss())
		case 9:
			behaviors = append(behaviors, Miss().When(Key("k")), DelayResponse(time.Millisecond).When(Command("MGET")))
		}
		p := fuzzRelay(t, Redis(), behaviors, client, server, redisFuzzServe, len(behaviors) == 0)
		// The proxy still serves a well-formed connection.
		fuzzExchange(t, p, []byte("*1\r\n$4\r\nPING\r\n"), []byte("+PONG\r\n"))
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
	backend := newFuzzBackend(t, []byte(replies), redisFuzzServe)
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
