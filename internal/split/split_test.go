package split

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gofaults/faults/internal/wire/httpwire"
	"github.com/gofaults/faults/internal/wire/pgwire"
)

// splitAll splits the client's stream, then the server's, each in pieces
// of at most size bytes, and returns the ends of their messages as offsets
// in their streams, and the first error.
func splitAll(s Splitter, client, server []byte, size int) (ends [2][]int, err error) {
	for side, b := range [2][]byte{client, server} {
		for off := 0; off < len(b); off += size {
			piece := b[off:min(off+size, len(b))]
			got, err := s.Split(nil, Side(side), piece)
			for _, e := range got {
				if e <= 0 || e > len(piece) {
					return ends, errors.New("an end outside the piece")
				}
				ends[side] = append(ends[side], off+e)
			}
			if err != nil {
				return ends, err
			}
		}
	}
	return ends, nil
}

var sizes = []int{1, 2, 3, 7, 64, 1000, 1 << 30}

// checkSplit splits a conversation in pieces of every size: the ends must
// not depend on the size, and must be want.
func checkSplit(t *testing.T, newSplitter func() Splitter, client, server []byte, want [2][]int) {
	t.Helper()
	for _, size := range sizes {
		got, err := splitAll(newSplitter(), client, server, size)
		if err != nil {
			t.Fatalf("pieces of %d: %v", size, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("pieces of %d: ends %v, want %v", size, got, want)
		}
	}
}

func readFixture(t *testing.T, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"..", "wire"}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// httpEnds frames a stream of HTTP messages with the codec, as the relay
// does, and returns where each message ends.
func httpEnds(t *testing.T, b []byte, request bool, notes []string) []int {
	t.Helper()
	br := bufio.NewReaderSize(bytes.NewReader(b), httpwire.MaxHead)
	var ends []int
	pos := 0
	for br.Buffered() > 0 || pos < len(b) {
		var body httpwire.Body
		var n int
		if request {
			h, err := httpwire.ReadRequestHead(br)
			if err != nil {
				t.Fatal(err)
			}
			body, n = h.Body, len(h.Raw)
			if h.ExpectContinue && body.Kind != httpwire.BodyNone {
				ends = append(ends, pos+n)
			}
		} else {
			h, err := httpwire.ReadResponseHead(br, notes[0])
			if err != nil {
				t.Fatal(err)
			}
			body, n = h.Body, len(h.Raw)
			if h.Status >= 200 {
				notes = notes[1:]
			}
		}
		m, err := httpwire.CopyBody(io.Discard, br, body)
		if err != nil {
			t.Fatal(err)
		}
		pos += n + int(m)
		ends = append(ends, pos)
	}
	return ends
}

func TestHTTPFixtures(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join("..", "wire", "httpwire", "testdata", "*.request"))
	if len(paths) == 0 {
		t.Fatal("no fixtures")
	}
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".request")
		t.Run(name, func(t *testing.T) {
			client := readFixture(t, "httpwire", "testdata", name+".request")
			server := readFixture(t, "httpwire", "testdata", name+".response")
			note := ""
			if name == "head" {
				note = "HEAD"
			}
			want := [2][]int{httpEnds(t, client, true, nil), httpEnds(t, server, false, []string{note})}
			checkSplit(t, HTTP, client, server, want)
		})
	}
}

// TestHTTPPipeline: requests pipelined in one piece, a HEAD among them,
// an interim response, a request waiting for 100 Continue.
func TestHTTPPipeline(t *testing.T) {
	reqs := []string{
		"GET /a HTTP/1.1\r\nHost: x\r\n\r\n",
		"HEAD /b HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n", "hello",
		"POST /d HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
	}
	resps := []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", // HEAD: no body
		"HTTP/1.1 100 Continue\r\n\r\n",
		"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
		"HTTP/1.1 204 No Content\r\n\r\n",
	}
	checkSplit(t, HTTP, []byte(strings.Join(reqs, "")), []byte(strings.Join(resps, "")), [2][]int{cumulative(reqs), cumulative(resps)})
}

func cumulative(msgs []string) []int {
	var ends []int
	n := 0
	for _, m := range msgs {
		n += len(m)
		ends = append(ends, n)
	}
	return ends
}

// TestHTTPUnframed: an upgrade and a body until close end the framing
// where they start, and garbage is malformed.
func TestHTTPUnframed(t *testing.T) {
	s := HTTP()
	up := "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
	ends, err := s.Split(nil, Client, []byte(up+"\x81\x05hello"))
	if !errors.Is(err, ErrUnframed) || !reflect.DeepEqual(ends, []int{len(up)}) {
		t.Errorf("upgrade: ends %v, %v", ends, err)
	}
	s = HTTP()
	s.Split(nil, Client, []byte("GET / HTTP/1.0\r\n\r\n"))
	head := "HTTP/1.0 200 OK\r\n\r\n"
	ends, err = s.Split(nil, Server, []byte(head+"body until close"))
	if !errors.Is(err, ErrUnframed) || !reflect.DeepEqual(ends, []int{len(head)}) {
		t.Errorf("until close: ends %v, %v", ends, err)
	}
	if _, err := HTTP().Split(nil, Client, []byte("\x16\x03\x01\x02\x00")); !errors.Is(err, httpwire.ErrMalformed) {
		t.Errorf("TLS: %v, want ErrMalformed", err)
	}
}

// mysqlEnds returns where each packet of a MySQL stream ends.
func mysqlEnds(b []byte) []int {
	var ends []int
	for pos := 0; pos+4 <= len(b); {
		pos += 4 + int(b[pos]) | int(b[pos+1])<<8 | int(b[pos+2])<<16
		ends = append(ends, pos)
	}
	return ends
}

func TestMySQLFixtures(t *testing.T) {
	for _, name := range []string{"session-Classic", "session-Negotiated", "session-NoCacheMetadata", "session-NoDeprecateEOF"} {
		t.Run(name, func(t *testing.T) {
			client := readFixture(t, "mysqlwire", "testdata", name+".client")
			server := readFixture(t, "mysqlwire", "testdata", name+".server")
			checkSplit(t, MySQL, client, server, [2][]int{mysqlEnds(client), mysqlEnds(server)})
		})
	}
}

// pgEnds returns where each message of a PostgreSQL stream ends, after
// the client's startup packet if client.
func pgEnds(t *testing.T, b []byte, client bool) []int {
	t.Helper()
	var ends []int
	pos := 0
	if client {
		pos = int(binary.BigEndian.Uint32(b))
		ends = append(ends, pos)
	}
	for pos < len(b) {
		h, _, _, err := pgwire.SplitMessage(b[pos:])
		if err != nil {
			t.Fatal(err)
		}
		pos += h.Size()
		ends = append(ends, pos)
	}
	return ends
}

func TestPostgresFixtures(t *testing.T) {
	for _, name := range []string{"simple", "extended", "errors", "notify", "transaction", "cancel"} {
		t.Run(name, func(t *testing.T) {
			client := readFixture(t, "pgwire", "testdata", name+".client")
			server := readFixture(t, "pgwire", "testdata", name+".server")
			checkSplit(t, Postgres, client, server, [2][]int{pgEnds(t, client, true), pgEnds(t, server, false)})
		})
	}
}

// TestPostgresEncryptionRefused: an SSLRequest refused with 'N', then the
// StartupMessage; then a request accepted, which ends the framing.
func TestPostgresEncryption(t *testing.T) {
	ssl := []byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}
	startup := append(binary.BigEndian.AppendUint32(nil, 8+5), 0, 3, 0, 0, 'u', 0, 'x', 0, 0)
	startup = startup[:13]
	query := []byte{'Q', 0, 0, 0, 5, 0}
	client := append(append(append([]byte(nil), ssl...), startup...), query...)
	server := []byte{'N', 'Z', 0, 0, 0, 5, 'I'}
	checkSplit(t, Postgres, client, server, [2][]int{{8, 21, 27}, {1, 7}})
	s := Postgres()
	s.Split(nil, Client, ssl)
	if _, err := s.Split(nil, Server, []byte{'S', 0x16, 3, 1}); !errors.Is(err, ErrUnframed) {
		t.Errorf("encryption accepted: %v, want ErrUnframed", err)
	}
}

func TestRedis(t *testing.T) {
	cmds := []string{
		"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
		"PING\r\n",
		"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\n0123456789\r\n",
		"*0\r\n",
		"*1\r\n$5\r\nHELLO\r\n",
	}
	paths, _ := filepath.Glob(filepath.Join("..", "wire", "resp", "testdata", "resp3_*.resp"))
	var replies []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(p, "push") {
			continue // two values: counted below
		}
		replies = append(replies, string(b))
	}
	if len(replies) < 10 {
		t.Fatalf("%d fixtures", len(replies))
	}
	checkSplit(t, Redis, []byte(strings.Join(cmds, "")), []byte(strings.Join(replies, "")), [2][]int{cumulative(cmds), cumulative(replies)})
	if _, err := Redis().Split(nil, Server, []byte("?what\r\n")); err == nil {
		t.Error("no error for a value of an unknown type")
	}
}

// FuzzSplit: whatever the bytes and however they are cut, no splitter
// panics, and each finds the same ends cut as whole, up to where it stops.
func FuzzSplit(f *testing.F) {
	f.Add(uint8(0), []byte("GET / HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"), []byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n"), 3)
	f.Add(uint8(1), []byte{5, 0, 0, 0, 3, 'S', 'E', 'L', 1}, []byte{7, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0}, 2)
	f.Add(uint8(2), []byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f, 0, 0, 0, 9, 0, 3, 0, 0, 0, 'Q', 0, 0, 0, 5, 0}, []byte("NZ\x00\x00\x00\x05I"), 5)
	f.Add(uint8(3), []byte("*1\r\n$4\r\nPING\r\nPING\r\n"), []byte("+PONG\r\n*2\r\n:1\r\n$-1\r\n"), 4)
	f.Add(uint8(4), []byte("get a b\r\nset a 0 0 1\r\nx\r\nmg a v q\r\nmn\r\nstats\r\n"), []byte("VALUE a 0 1\r\nx\r\nEND\r\nSTORED\r\nVA 1\r\nx\r\nMN\r\nSTAT pid 1\r\nEND\r\n"), 3)
	f.Fuzz(func(t *testing.T, proto uint8, client, server []byte, size int) {
		newSplitter := []func() Splitter{HTTP, MySQL, Postgres, Redis, Memcached}[proto%5]
		if size <= 0 {
			size = 1
		}
		whole, werr := splitAll(newSplitter(), client, server, 1<<30)
		cut, cerr := splitAll(newSplitter(), client, server, size)
		if werr == nil && cerr == nil && !reflect.DeepEqual(whole, cut) {
			t.Fatalf("whole: %v; in pieces of %d: %v", whole, size, cut)
		}
	})
}
