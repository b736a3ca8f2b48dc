package faults

import (
	"bufio"
	"io"
	"net"
	"path/filepath"
	"testing"

	"github.com/gofaults/faults/internal/testenv"
)

// memcachedFuzzServe serves a well-formed connection: VERSION to each
// version.
func memcachedFuzzServe(c net.Conn) {
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil || line != "version\r\n" {
			return
		}
		if _, err := io.WriteString(c, "VERSION 1.6.18\r\n"); err != nil {
			return
		}
	}
}

// FuzzMemcachedRelay passes arbitrary client bytes and arbitrary server
// bytes through a memcached proxy, with a request behavior chosen by mode
// (none, or one of Error, DelayResponse, DropResponse, Abort,
// TruncateResponse, SlowResponse, Miss on every command, or Miss and Error
// on chosen ones). It must not panic or hang: the client sees the
// connection end within the deadline. Without a behavior, the bytes each
// side receives are a prefix of what the other sent. The proxy must then
// serve a well-formed second connection: version, VERSION.
func FuzzMemcachedRelay(f *testing.F) {
	steps := testenv.ReadMemcachedSession(f, filepath.Join("internal", "wire", "memcache", "testdata"))
	for i, st := range steps {
		if len(st.Client) < 4<<10 && len(st.Server) < 4<<10 {
			f.Add(uint8(i%10), st.Client, st.Server)
		}
	}
	f.Add(uint8(0), []byte("get a b\r\nmg a v q\r\nmn\r\n"), []byte("VALUE a 0 1\r\nx\r\nEND\r\nMN\r\n"))
	f.Add(uint8(8), []byte("mg a v q\r\nget b a\r\nversion\r\n"), []byte("VA 1\r\nx\r\nMN\r\nVERSION 1\r\n"))
	f.Add(uint8(9), []byte("set a 0 0 1 noreply\r\nx\r\nset a 0 0 1\r\nx\r\nms a 1 b\r\nx\r\n"), []byte("DELETED\r\nHD\r\n"))
	f.Add(uint8(1), []byte{0x80, 0x0b, 0, 0}, []byte{0x81, 0x0b})
	f.Fuzz(func(t *testing.T, mode uint8, client, server []byte) {
		behaviors := fuzzBehaviors(mode%10, MemcachedServerError("faulted"), int64(mode>>3))
		switch mode % 10 {
		case 7:
			behaviors = append(behaviors, Miss())
		case 8:
			behaviors = append(behaviors, Miss().When(Key("a")), Error(MemcachedError).When(Command("version")).After(1))
		case 9:
			behaviors = append(behaviors, Error(MemcachedOutOfMemory).When(Command("set", "ms")))
		}
		p := fuzzRelay(t, Memcached(), behaviors, client, server, memcachedFuzzServe, len(behaviors) == 0)
		// The proxy still serves a well-formed connection.
		fuzzExchange(t, p, []byte("version\r\n"), []byte("VERSION 1.6.18\r\n"))
	})
}
