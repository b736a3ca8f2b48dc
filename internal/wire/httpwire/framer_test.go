package httpwire

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/gofaults/faults/internal/testenv"
)

// readers are the ways a test feeds bytes to the framer: all at once, one
// byte per read, half of what is asked, and with io.EOF on the last data.
var readers = []struct {
	name string
	wrap func(io.Reader) io.Reader
}{
	{"whole", func(r io.Reader) io.Reader { return r }},
	{"onebyte", iotest.OneByteReader},
	{"half", iotest.HalfReader},
	{"dataerr", iotest.DataErrReader},
}

func testReader(wrap func(io.Reader) io.Reader, in string) *bufio.Reader {
	return bufio.NewReaderSize(wrap(strings.NewReader(in)), MaxHead)
}

// restOf returns what is left to read in br.
func restOf(t testing.TB, br *bufio.Reader) string {
	t.Helper()
	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatalf("reading the rest: %v", err)
	}
	return string(rest)
}

type requestCase struct {
	name   string
	head   string // the head ReadRequestHead must return as raw
	rest   string // what follows it, left unread
	method string
	target string
	path   string
	proto  string
	header []Field // nil: not checked
	body   Body
	expect bool // expectContinue
	upg    bool
	close  bool
}

var requestCases = []requestCase{
	{
		name:   "get",
		head:   "GET /api/x?y=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n\r\n",
		method: "GET", target: "/api/x?y=1", path: "/api/x", proto: "HTTP/1.1",
		header: []Field{{"Host", "example.com"}, {"User-Agent", "t"}},
	},
	{
		name:   "no headers",
		head:   "GET / HTTP/1.1\r\n\r\n",
		method: "GET", target: "/", path: "/", proto: "HTTP/1.1",
		header: []Field{},
	},
	{
		name:   "content-length",
		head:   "POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n",
		rest:   "hello",
		method: "POST", target: "/upload", path: "/upload", proto: "HTTP/1.1",
		body: Body{Kind: BodyLength, Length: 5},
	},
	{
		name:   "content-length zero",
		head:   "POST /x HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
		rest:   "GET / HTTP/1.1\r\n\r\n",
		method: "POST", target: "/x", path: "/x", proto: "HTTP/1.1",
		body: Body{Kind: BodyLength, Length: 0},
	},
	{
		name:   "repeated identical content-length",
		head:   "PUT /x HTTP/1.1\r\nContent-Length: 3, 3\r\ncontent-length:3\r\n\r\n",
		rest:   "abc",
		method: "PUT", target: "/x", path: "/x", proto: "HTTP/1.1",
		body: Body{Kind: BodyLength, Length: 3},
	},
	{
		name:   "chunked",
		head:   "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
		rest:   "5;ext=1\r\nhello\r\n0\r\nX-T: v\r\n\r\n",
		method: "POST", target: "/c", path: "/c", proto: "HTTP/1.1",
		body: Body{Kind: BodyChunked},
	},
	{
		name:   "chunked after gzip, case-insensitive",
		head:   "POST /c HTTP/1.1\r\nTransfer-Encoding: gzip\r\ntransfer-encoding: CHUNKED\r\n\r\n",
		method: "POST", target: "/c", path: "/c", proto: "HTTP/1.1",
		body: Body{Kind: BodyChunked},
	},
	{
		name:   "leading empty lines",
		head:   "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
		method: "GET", target: "/", path: "/", proto: "HTTP/1.1",
		header: []Field{{"Host", "h"}},
	},
	{
		name:   "leading bare LF",
		head:   "\nGET / HTTP/1.1\r\n\r\n",
		method: "GET", target: "/", path: "/", proto: "HTTP/1.1",
	},
	{
		name:   "LF line endings",
		head:   "POST /a HTTP/1.1\nHost: h\nContent-Length: 2\n\n",
		rest:   "ok",
		method: "POST", target: "/a", path: "/a", proto: "HTTP/1.1",
		header: []Field{{"Host", "h"}, {"Content-Length", "2"}},
		body:   Body{Kind: BodyLength, Length: 2},
	},
	{
		name:   "mixed line endings",
		head:   "GET / HTTP/1.1\r\nA: 1\nB: 2\r\n\n",
		method: "GET", target: "/", path: "/", proto: "HTTP/1.1",
		header: []Field{{"A", "1"}, {"B", "2"}},
	},
	{
		name:   "OWS trimmed, empty value, obs-text kept",
		head:   "GET / HTTP/1.1\r\nA:  x y \t\r\nB:\r\nC: caf\xc3\xa9\r\nD:\t\r\n\r\n",
		method: "GET", target: "/", path: "/", proto: "HTTP/1.1",
		header: []Field{{"A", "x y"}, {"B", ""}, {"C", "caf\xc3\xa9"}, {"D", ""}},
	},
	{
		name:   "http/1.0 closes",
		head:   "GET / HTTP/1.0\r\n\r\n",
		method: "GET", target: "/", path: "/", proto: "HTTP/1.0",
		close: true,
	},
	{
		name:   "http/1.0 keep-alive",
		head:   "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
		method: "GET", target: "/", path: "/", proto: "HTTP/1.0",
	},
	{
		name:   "http/1.1 close",
		head:   "GET / HTTP/1.1\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n",
		method: "GET", target: "/", path: "/", proto: "HTTP/1.1",
		close: true,
	},
	{
		name:   "expect 100-continue",
		head:   "PUT /f HTTP/1.1\r\nContent-Length: 10\r\nExpect: 100-Continue\r\n\r\n",
		method: "PUT", target: "/f", path: "/f", proto: "HTTP/1.1",
		body:   Body{Kind: BodyLength, Length: 10},
		expect: true,
	},
	{
		name:   "expect ignored in http/1.0",
		head:   "PUT /f HTTP/1.0\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n",
		method: "PUT", target: "/f", path: "/f", proto: "HTTP/1.0",
		body:  Body{Kind: BodyLength, Length: 1},
		close: true,
	},
	{
		name:   "websocket upgrade",
		head:   "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
		rest:   "\x81\x85binary frames",
		method: "GET", target: "/ws", path: "/ws", proto: "HTTP/1.1",
		upg: true,
	},
	{
		name:   "connection upgrade without an upgrade field",
		head:   "GET / HTTP/1.1\r\nConnection: upgrade\r\n\r\n",
		method: "GET", target: "/", path: "/", proto: "HTTP/1.1",
	},
	{
		name:   "upgrade ignored in http/1.0",
		head:   "GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
		method: "GET", target: "/", path: "/", proto: "HTTP/1.0",
		close: true,
	},
	{
		name:   "connect",
		head:   "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
		rest:   "\x16\x03\x01",
		method: "CONNECT", target: "example.com:443", path: "example.com:443", proto: "HTTP/1.1",
		upg: true,
	},
	{
		name:   "options asterisk",
		head:   "OPTIONS * HTTP/1.1\r\n\r\n",
		method: "OPTIONS", target: "*", path: "*", proto: "HTTP/1.1",
	},
	{
		name:   "absolute-form",
		head:   "GET http://example.com:8080/a/b?c=d HTTP/1.1\r\n\r\n",
		method: "GET", target: "http://example.com:8080/a/b?c=d", path: "/a/b", proto: "HTTP/1.1",
	},
	{
		name:   "absolute-form without a path",
		head:   "GET http://example.com?q HTTP/1.1\r\n\r\n",
		method: "GET", target: "http://example.com?q", path: "/", proto: "HTTP/1.1",
	},
	{
		name:   "extension method, raw bytes after",
		head:   "M-SEARCH /x HTTP/1.1\r\n\r\n",
		rest:   "\x00\x01\x02\r\n\r\n",
		method: "M-SEARCH", target: "/x", path: "/x", proto: "HTTP/1.1",
	},
	{
		name:   "pipelined: only the first head",
		head:   "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n",
		rest:   "GET /2 HTTP/1.1\r\nHost: h\r\n\r\n",
		method: "GET", target: "/1", path: "/1", proto: "HTTP/1.1",
	},
}

func TestHTTPFrameRequestHeads(t *testing.T) {
	for _, r := range readers {
		for _, c := range requestCases {
			t.Run(r.name+"/"+c.name, func(t *testing.T) {
				br := testReader(r.wrap, c.head+c.rest)
				h, err := ReadRequestHead(br)
				if err != nil {
					t.Fatalf("ReadRequestHead: %v", err)
				}
				if string(h.Raw) != c.head {
					t.Errorf("raw = %q, want %q", h.Raw, c.head)
				}
				got := [...]string{h.Method, h.Target, h.Path, h.Proto}
				if want := [...]string{c.method, c.target, c.path, c.proto}; got != want {
					t.Errorf("method, target, path, proto = %q, want %q", got, want)
				}
				if c.header != nil && !reflect.DeepEqual(h.Fields(), c.header) {
					t.Errorf("header = %q, want %q", h.Fields(), c.header)
				}
				if h.Body != c.body {
					t.Errorf("body = %+v, want %+v", h.Body, c.body)
				}
				if h.ExpectContinue != c.expect || h.Upgrade != c.upg || h.Close != c.close {
					t.Errorf("expectContinue, upgrade, close = %v %v %v, want %v %v %v",
						h.ExpectContinue, h.Upgrade, h.Close, c.expect, c.upg, c.close)
				}
				if rest := restOf(t, br); rest != c.rest {
					t.Errorf("left %q, want %q", rest, c.rest)
				}
			})
		}
	}
}

type responseCase struct {
	name      string
	reqMethod string
	head      string
	rest      string
	status    int
	proto     string
	header    []Field // nil: not checked
	body      Body
	close     bool
}

var responseCases = []responseCase{
	{
		name: "200 with length", reqMethod: "GET",
		head:   "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n",
		rest:   "hello",
		status: 200, proto: "HTTP/1.1",
		header: []Field{{"Content-Type", "text/plain"}, {"Content-Length", "5"}},
		body:   Body{Kind: BodyLength, Length: 5},
	},
	{
		name: "chunked", reqMethod: "GET",
		head:   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n",
		rest:   "3\r\nabc\r\n0\r\nX-Sum: 1\r\n\r\n",
		status: 200, proto: "HTTP/1.1",
		body: Body{Kind: BodyChunked},
	},
	{
		name: "transfer-encoding wins over content-length", reqMethod: "GET",
		head:   "HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n",
		status: 200, proto: "HTTP/1.1",
		body: Body{Kind: BodyChunked}, close: true,
	},
	{
		name: "transfer-encoding not chunked", reqMethod: "GET",
		head:   "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
		rest:   "\x1f\x8b...",
		status: 200, proto: "HTTP/1.1",
		body: Body{Kind: BodyUntilClose}, close: true,
	},
	{
		name: "chunked in http/1.0", reqMethod: "GET",
		head:   "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n",
		status: 200, proto: "HTTP/1.0",
		body: Body{Kind: BodyUntilClose}, close: true,
	},
	{
		name: "until close", reqMethod: "GET",
		head:   "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n",
		rest:   "everything until the end",
		status: 200, proto: "HTTP/1.1",
		body: Body{Kind: BodyUntilClose}, close: true,
	},
	{
		name: "head response", reqMethod: "HEAD",
		head:   "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n",
		rest:   "HTTP/1.1 204 No Content\r\n\r\n",
		status: 200, proto: "HTTP/1.1",
	},
	{
		name: "head response chunked", reqMethod: "HEAD",
		head:   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
		status: 200, proto: "HTTP/1.1",
	},
	{
		name: "204", reqMethod: "DELETE",
		head:   "HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n",
		rest:   "HTTP/1.1 200 OK\r\n",
		status: 204, proto: "HTTP/1.1",
	},
	{
		name: "304", reqMethod: "GET",
		head:   "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\nContent-Length: 100\r\n\r\n",
		status: 304, proto: "HTTP/1.1",
		header: []Field{{"ETag", `"x"`}, {"Content-Length", "100"}},
	},
	{
		name: "100 continue", reqMethod: "PUT",
		head:   "HTTP/1.1 100 Continue\r\n\r\n",
		rest:   "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
		status: 100, proto: "HTTP/1.1",
		header: []Field{},
	},
	{
		name: "103 early hints", reqMethod: "GET",
		head:   "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n",
		status: 103, proto: "HTTP/1.1",
	},
	{
		name: "101 switching protocols", reqMethod: "GET",
		head:   "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
		rest:   "\x81\x02hi",
		status: 101, proto: "HTTP/1.1",
	},
	{
		name: "200 to connect", reqMethod: "CONNECT",
		head:   "HTTP/1.1 200 Connection established\r\n\r\n",
		rest:   "\x16\x03\x03tunnel",
		status: 200, proto: "HTTP/1.1",
		body: Body{Kind: BodyUntilClose}, close: true,
	},
	{
		name: "407 to connect", reqMethod: "CONNECT",
		head:   "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 2\r\n\r\n",
		rest:   "no",
		status: 407, proto: "HTTP/1.1",
		body: Body{Kind: BodyLength, Length: 2},
	},
	{
		name: "http/1.0 closes", reqMethod: "GET",
		head:   "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n",
		rest:   "ok",
		status: 200, proto: "HTTP/1.0",
		body: Body{Kind: BodyLength, Length: 2}, close: true,
	},
	{
		name: "http/1.0 keep-alive", reqMethod: "GET",
		head:   "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n",
		status: 200, proto: "HTTP/1.0",
		body: Body{Kind: BodyLength, Length: 2},
	},
	{
		name: "connection close", reqMethod: "GET",
		head:   "HTTP/1.1 500 Internal Server Error\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n",
		status: 500, proto: "HTTP/1.1",
		body: Body{Kind: BodyLength}, close: true,
	},
	{
		name: "no reason phrase", reqMethod: "GET",
		head:   "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
		status: 200, proto: "HTTP/1.1",
		body: Body{Kind: BodyLength},
	},
	{
		name: "empty reason phrase", reqMethod: "GET",
		head:   "HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n",
		status: 404, proto: "HTTP/1.1",
		body: Body{Kind: BodyLength},
	},
	{
		name: "LF line endings", reqMethod: "POST",
		head:   "HTTP/1.1 201 Created\nLocation: /x\nContent-Length: 3\n\n",
		rest:   "abc",
		status: 201, proto: "HTTP/1.1",
		header: []Field{{"Location", "/x"}, {"Content-Length", "3"}},
		body:   Body{Kind: BodyLength, Length: 3},
	},
}

func TestHTTPFrameResponseHeads(t *testing.T) {
	for _, r := range readers {
		for _, c := range responseCases {
			t.Run(r.name+"/"+c.name, func(t *testing.T) {
				br := testReader(r.wrap, c.head+c.rest)
				h, err := ReadResponseHead(br, c.reqMethod)
				if err != nil {
					t.Fatalf("ReadResponseHead: %v", err)
				}
				if string(h.Raw) != c.head {
					t.Errorf("raw = %q, want %q", h.Raw, c.head)
				}
				if h.Status != c.status || h.Proto != c.proto {
					t.Errorf("status, proto = %d %q, want %d %q", h.Status, h.Proto, c.status, c.proto)
				}
				if c.header != nil && !reflect.DeepEqual(h.Fields(), c.header) {
					t.Errorf("header = %q, want %q", h.Fields(), c.header)
				}
				if h.Body != c.body {
					t.Errorf("body = %+v, want %+v", h.Body, c.body)
				}
				if h.Close != c.close {
					t.Errorf("close = %v, want %v", h.Close, c.close)
				}
				if rest := restOf(t, br); rest != c.rest {
					t.Errorf("left %q, want %q", rest, c.rest)
				}
			})
		}
	}
}

// malformedRequests are request streams ReadRequestHead must refuse.
var malformedRequests = []struct{ name, in string }{
	{"binary", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"},
	{"http/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"},
	{"http/0.9", "GET /\r\n\r\n"},
	{"no version", "GET / \r\n\r\n"},
	{"bad version", "GET / HTTP/1.2\r\n\r\n"},
	{"lowercase version", "GET / http/1.1\r\n\r\n"},
	{"version with space", "GET / HTTP/1.1 \r\n\r\n"},
	{"two spaces", "GET  / HTTP/1.1\r\n\r\n"},
	{"tab separator", "GET\t/ HTTP/1.1\r\n\r\n"},
	{"leading space", " GET / HTTP/1.1\r\n\r\n"},
	{"method not a token", "G(T / HTTP/1.1\r\n\r\n"},
	{"empty target", "GET  HTTP/1.1\r\n\r\n"},
	{"control in target", "GET /a\x01b HTTP/1.1\r\n\r\n"},
	{"NUL in header", "GET / HTTP/1.1\r\nA: b\x00c\r\n\r\n"},
	{"DEL in header", "GET / HTTP/1.1\r\nA: b\x7fc\r\n\r\n"},
	{"bare CR in header", "GET / HTTP/1.1\r\nA: b\rc\r\n\r\n"},
	{"bare CR line ending", "GET / HTTP/1.1\rHost: h\r\n\r\n"},
	{"CR CR LF", "GET / HTTP/1.1\r\r\n\r\n"},
	{"obs-fold", "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n"},
	{"obs-fold tab", "GET / HTTP/1.1\r\nA: b\r\n\tc\r\n\r\n"},
	{"space before first header", "GET / HTTP/1.1\r\n Host: h\r\n\r\n"},
	{"space before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n"},
	{"tab before colon", "GET / HTTP/1.1\r\nHost\t: h\r\n\r\n"},
	{"no colon", "GET / HTTP/1.1\r\nHost h\r\n\r\n"},
	{"empty name", "GET / HTTP/1.1\r\n: h\r\n\r\n"},
	{"name not a token", "GET / HTTP/1.1\r\nH(st: h\r\n\r\n"},
	{"bad content-length", "POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n"},
	{"negative content-length", "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"},
	{"plus content-length", "POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n"},
	{"empty content-length", "POST / HTTP/1.1\r\nContent-Length: \r\n\r\n"},
	{"hex content-length", "POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n"},
	{"overflowing content-length", "POST / HTTP/1.1\r\nContent-Length: 9223372036854775808\r\n\r\n"},
	{"differing content-lengths", "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n12345"},
	{"differing content-length list", "POST / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n12345"},
	{"te and cl", "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
	{"te not chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"},
	{"te chunked then gzip", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"},
	{"te empty", "POST / HTTP/1.1\r\nTransfer-Encoding: \r\n\r\n"},
	{"te not a token", "POST / HTTP/1.1\r\nTransfer-Encoding: \"chunked\"\r\n\r\n"},
	{"te in http/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"},
	{"response as request", "HTTP/1.1 200 OK\r\n\r\n"},
}

// truncatedRequests end inside a head.
var truncatedRequests = []struct{ name, in string }{
	{"request line", "GET / HT"},
	{"header", "GET / HTTP/1.1\r\nHost: h"},
	{"final CRLF", "GET / HTTP/1.1\r\nHost: h\r\n"},
	{"final CR", "GET / HTTP/1.1\r\nHost: h\r\n\r"},
	{"after empty lines", "\r\n\r\nG"},
}

func TestHTTPFrameMalformedRequestHeads(t *testing.T) {
	for _, r := range readers {
		for _, c := range malformedRequests {
			t.Run(r.name+"/"+c.name, func(t *testing.T) {
				br := testReader(r.wrap, c.in)
				h, err := ReadRequestHead(br)
				if !errors.Is(err, ErrMalformed) || h != nil {
					t.Fatalf("ReadRequestHead = %v, %v; want ErrMalformed", h, err)
				}
				if rest := restOf(t, br); rest != c.in {
					t.Errorf("consumed bytes: left %q", rest)
				}
			})
		}
		for _, c := range truncatedRequests {
			t.Run(r.name+"/truncated "+c.name, func(t *testing.T) {
				br := testReader(r.wrap, c.in)
				_, err := ReadRequestHead(br)
				if !errors.Is(err, ErrMalformed) || !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("ReadRequestHead: %v; want ErrMalformed and io.ErrUnexpectedEOF", err)
				}
				if br.Buffered() != len(c.in) {
					t.Errorf("Buffered = %d, want %d", br.Buffered(), len(c.in))
				}
				if rest := restOf(t, br); rest != c.in {
					t.Errorf("consumed bytes: left %q", rest)
				}
			})
		}
	}
}

var malformedResponses = []struct{ name, in string }{
	{"binary", "\x00\x00\x00\x0a\x0b"},
	{"request as response", "GET / HTTP/1.1\r\n\r\n"},
	{"leading empty line", "\r\nHTTP/1.1 200 OK\r\n\r\n"},
	{"http/2", "HTTP/2 200\r\n\r\n"},
	{"bad version", "HTTP/1.2 200 OK\r\n\r\n"},
	{"two-digit status", "HTTP/1.1 20 OK\r\n\r\n"},
	{"four-digit status", "HTTP/1.1 2000 OK\r\n\r\n"},
	{"status below 100", "HTTP/1.1 099 Odd\r\n\r\n"},
	{"status not digits", "HTTP/1.1 2x0 OK\r\n\r\n"},
	{"no status", "HTTP/1.1\r\n\r\n"},
	{"two spaces", "HTTP/1.1  200 OK\r\n\r\n"},
	{"control in reason", "HTTP/1.1 200 O\x01K\r\n\r\n"},
	{"obs-fold", "HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n"},
	{"space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\nx"},
	{"bad content-length", "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n"},
	{"negative content-length", "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n"},
	{"differing content-lengths", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"},
	{"bad content-length in a 304", "HTTP/1.1 304 Not Modified\r\nContent-Length: x\r\n\r\n"},
	{"te empty", "HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n\r\n"},
}

func TestHTTPFrameMalformedResponseHeads(t *testing.T) {
	for _, r := range readers {
		for _, c := range malformedResponses {
			t.Run(r.name+"/"+c.name, func(t *testing.T) {
				br := testReader(r.wrap, c.in)
				h, err := ReadResponseHead(br, "GET")
				if !errors.Is(err, ErrMalformed) || h != nil {
					t.Fatalf("ReadResponseHead = %v, %v; want ErrMalformed", h, err)
				}
				if rest := restOf(t, br); rest != c.in {
					t.Errorf("consumed bytes: left %q", rest)
				}
			})
		}
		t.Run(r.name+"/truncated", func(t *testing.T) {
			in := "HTTP/1.1 200 OK\r\nContent-Le"
			br := testReader(r.wrap, in)
			_, err := ReadResponseHead(br, "GET")
			if !errors.Is(err, ErrMalformed) || !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("ReadResponseHead: %v; want ErrMalformed and io.ErrUnexpectedEOF", err)
			}
			if rest := restOf(t, br); rest != in {
				t.Errorf("consumed bytes: left %q", rest)
			}
		})
	}
}

func TestHTTPFrameHeadEOF(t *testing.T) {
	for _, in := range []string{"", "\r\n", "\r\n\r\n", "\n\n"} {
		br := testReader(iotest.OneByteReader, in)
		if _, err := ReadRequestHead(br); err != io.EOF {
			t.Errorf("ReadRequestHead(%q): %v, want io.EOF", in, err)
		}
		if rest := restOf(t, br); rest != in {
			t.Errorf("ReadRequestHead(%q) consumed bytes: left %q", in, rest)
		}
	}
	if _, err := ReadResponseHead(testReader(iotest.OneByteReader, ""), "GET"); err != io.EOF {
		t.Errorf("ReadResponseHead: %v, want io.EOF", err)
	}
}

// headOfSize returns a request head of exactly n bytes.
func headOfSize(n int) string {
	const start, end = "GET / HTTP/1.1\r\nX: ", "\r\n\r\n"
	return start + strings.Repeat("a", n-len(start)-len(end)) + end
}

func TestHTTPFrameOversizedHead(t *testing.T) {
	head := headOfSize(MaxHead)
	br := testReader(iotest.HalfReader, head+"rest")
	h, err := ReadRequestHead(br)
	if err != nil {
		t.Fatalf("head of MaxHead bytes: %v", err)
	}
	if string(h.Raw) != head || restOf(t, br) != "rest" {
		t.Errorf("head of MaxHead bytes misread")
	}

	for _, in := range []string{
		headOfSize(MaxHead + 1),
		"GET /" + strings.Repeat("a", 2*MaxHead), // no line ending at all
		"GET / HTTP/1.1\r\n" + strings.Repeat("X: y\r\n", MaxHead/6+1),
		strings.Repeat("\r\n", MaxHead/2+1) + "GET / HTTP/1.1\r\n\r\n",
	} {
		for _, r := range readers {
			br := testReader(r.wrap, in)
			_, err := ReadRequestHead(br)
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("%s: oversized head: %v, want ErrMalformed", r.name, err)
			}
			if rest := restOf(t, br); rest != in {
				t.Errorf("%s: oversized head: consumed bytes", r.name)
			}
		}
	}

	// A smaller reader bounds heads to its size.
	br = bufio.NewReaderSize(strings.NewReader(headOfSize(5000)), 4096)
	if _, err := ReadRequestHead(br); !errors.Is(err, ErrMalformed) {
		t.Errorf("head larger than the reader's buffer: %v, want ErrMalformed", err)
	}
	if br.Buffered() != 4096 {
		t.Errorf("Buffered = %d, want 4096", br.Buffered())
	}
}

// stingyReader serves its bytes, then fails the test if read again.
type stingyReader struct {
	t    *testing.T
	data []byte
}

func (r *stingyReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		r.t.Errorf("read past the data given")
		return 0, errors.New("no more")
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// TestHTTPFrameEarlyRefusal checks that bytes that cannot start an HTTP
// message are refused without waiting for more.
func TestHTTPFrameEarlyRefusal(t *testing.T) {
	for _, in := range []string{
		"\x16\x03\x01\x02\x00",         // TLS ClientHello
		"*3\r\n$3\r\nSET",              // RESP, ends a line: refused on the whole line
		"\x00\x00\x00\x08\x04\xd2\x16", // PostgreSQL SSLRequest
		"GET /\x00",
		"GET / HTTP/1.1\r\nHost: a\x01",
		"GET / HTTP/1.1\r\nA: b\rc",
		"GET(",
	} {
		br := bufio.NewReaderSize(&stingyReader{t: t, data: []byte(in)}, MaxHead)
		if _, err := ReadRequestHead(br); !errors.Is(err, ErrMalformed) {
			t.Errorf("ReadRequestHead(%q): %v, want ErrMalformed", in, err)
		}
	}
	for _, in := range []string{"HTTP/2", "SSH-2.0-OpenSSH", "\x0a\x00\x00\x00\x0a5.5"} {
		br := bufio.NewReaderSize(&stingyReader{t: t, data: []byte(in)}, MaxHead)
		if _, err := ReadResponseHead(br, "GET"); !errors.Is(err, ErrMalformed) {
			t.Errorf("ReadResponseHead(%q): %v, want ErrMalformed", in, err)
		}
	}
}

// flakyReader fails once, with err, after serving first.
type flakyReader struct {
	first, then []byte
	err         error
	failed      bool
}

func (r *flakyReader) Read(p []byte) (int, error) {
	if len(r.first) > 0 {
		n := copy(p, r.first)
		r.first = r.first[n:]
		return n, nil
	}
	if !r.failed {
		r.failed = true
		return 0, r.err
	}
	if len(r.then) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.then)
	r.then = r.then[n:]
	return n, nil
}

// TestHTTPFrameReadErrorResumes checks that a read error inside a head (a
// deadline, say) consumes nothing, and that the next call reads the head.
func TestHTTPFrameReadErrorResumes(t *testing.T) {
	errTimeout := errors.New("timeout")
	head := "GET / HTTP/1.1\r\nHost: h\r\n\r\n"
	for cut := 0; cut < len(head); cut++ {
		br := bufio.NewReaderSize(&flakyReader{first: []byte(head[:cut]), then: []byte(head[cut:] + "x"), err: errTimeout}, MaxHead)
		if _, err := ReadRequestHead(br); err != errTimeout {
			t.Fatalf("cut %d: first read: %v, want the reader's error", cut, err)
		}
		if br.Buffered() != cut {
			t.Fatalf("cut %d: Buffered = %d after error", cut, br.Buffered())
		}
		h, err := ReadRequestHead(br)
		if err != nil || string(h.Raw) != head {
			t.Fatalf("cut %d: second read: %v", cut, err)
		}
		if rest := restOf(t, br); rest != "x" {
			t.Fatalf("cut %d: left %q", cut, rest)
		}
	}
}

func TestHTTPFrameGet(t *testing.T) {
	br := testReader(iotest.OneByteReader, "GET / HTTP/1.1\r\nhost: a\r\nX-Fault: one\r\nx-fault: two\r\nEmpty:\r\n\r\n")
	h, err := ReadRequestHead(br)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, value string
		ok          bool
	}{
		{"Host", "a", true},
		{"HOST", "a", true},
		{"x-fault", "one", true},
		{"Empty", "", true},
		{"Missing", "", false},
		{"X-Faul", "", false},
	} {
		if v, ok := h.Get(c.name); v != c.value || ok != c.ok {
			t.Errorf("get(%q) = %q, %v; want %q, %v", c.name, v, ok, c.value, c.ok)
		}
	}
	rh, err := ReadResponseHead(testReader(iotest.OneByteReader, "HTTP/1.1 200 OK\r\nContent-Type: a/b\r\n\r\n"), "GET")
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := rh.Get("content-type"); v != "a/b" || !ok {
		t.Errorf("response get = %q, %v", v, ok)
	}
}

type bodyCase struct {
	name string
	body Body
	in   string
	out  string // what CopyBody writes
	err  error  // nil, io.ErrUnexpectedEOF or ErrMalformed
}

var bodyCases = []bodyCase{
	{name: "none", body: Body{Kind: BodyNone}, in: "GET / HTTP/1.1\r\n\r\n", out: ""},
	{name: "length", body: Body{Kind: BodyLength, Length: 5}, in: "hello" + "GET /", out: "hello"},
	{name: "length zero", body: Body{Kind: BodyLength}, in: "next", out: ""},
	{name: "length binary", body: Body{Kind: BodyLength, Length: 6}, in: "\x00\r\n\xff\n\rrest", out: "\x00\r\n\xff\n\r"},
	{name: "length truncated", body: Body{Kind: BodyLength, Length: 10}, in: "hello", out: "hello", err: io.ErrUnexpectedEOF},
	{name: "length empty input", body: Body{Kind: BodyLength, Length: 1}, in: "", out: "", err: io.ErrUnexpectedEOF},
	{name: "until close", body: Body{Kind: BodyUntilClose}, in: "all\r\n\r\nof it\x00", out: "all\r\n\r\nof it\x00"},
	{name: "until close empty", body: Body{Kind: BodyUntilClose}, in: "", out: ""},
	{
		name: "chunked",
		body: Body{Kind: BodyChunked},
		in:   "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n" + "GET / HTTP/1.1\r\n\r\n",
		out:  "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n",
	},
	{
		name: "chunked with extensions and trailers",
		body: Body{Kind: BodyChunked},
		in:   "5;name=value;flag\r\nhello\r\n1a ; q=\"quoted; \\\"x\"\r\nabcdefghijklmnopqrstuvwxyz\r\n000;end\r\nX-Checksum: abc\r\nX-Other:  y \r\n\r\nNEXT",
		out:  "5;name=value;flag\r\nhello\r\n1a ; q=\"quoted; \\\"x\"\r\nabcdefghijklmnopqrstuvwxyz\r\n000;end\r\nX-Checksum: abc\r\nX-Other:  y \r\n\r\n",
	},
	{
		name: "chunked data holding CRLFs and a fake last chunk",
		body: Body{Kind: BodyChunked},
		in:   "A\r\n0\r\n\r\n\r\n\r\n\r\n0\r\n\r\nX",
		out:  "A\r\n0\r\n\r\n\r\n\r\n\r\n0\r\n\r\n",
	},
	{
		name: "chunked uppercase hex, leading zeros, whitespace after size",
		body: Body{Kind: BodyChunked},
		in:   "00B \r\nhello world\r\n0\t\r\n\r\n",
		out:  "00B \r\nhello world\r\n0\t\r\n\r\n",
	},
	{
		name: "chunked LF line endings",
		body: Body{Kind: BodyChunked},
		in:   "3\nabc\n0\nT: v\n\nrest",
		out:  "3\nabc\n0\nT: v\n\n",
	},
	{
		name: "chunked empty",
		body: Body{Kind: BodyChunked},
		in:   "0\r\n\r\n",
		out:  "0\r\n\r\n",
	},
	{
		name: "chunked bad size",
		body: Body{Kind: BodyChunked},
		in:   "5\r\nhello\r\nzz\r\nmore",
		out:  "5\r\nhello\r\n",
		err:  ErrMalformed,
	},
	{name: "chunked empty size", body: Body{Kind: BodyChunked}, in: "\r\n", out: "", err: ErrMalformed},
	{name: "chunked negative size", body: Body{Kind: BodyChunked}, in: "-1\r\n", out: "", err: ErrMalformed},
	{name: "chunked 0x prefix", body: Body{Kind: BodyChunked}, in: "0x5\r\nhello\r\n", out: "", err: ErrMalformed},
	{name: "chunked space before size", body: Body{Kind: BodyChunked}, in: " 5\r\nhello\r\n", out: "", err: ErrMalformed},
	{name: "chunked size overflow", body: Body{Kind: BodyChunked}, in: "10000000000000000\r\n", out: "", err: ErrMalformed},
	{name: "chunked bare CR in size line", body: Body{Kind: BodyChunked}, in: "5\r;x\r\nhello\r\n", out: "", err: ErrMalformed},
	{name: "chunked control in extension", body: Body{Kind: BodyChunked}, in: "5;a\x00\r\nhello\r\n", out: "", err: ErrMalformed},
	{
		name: "chunked data too long",
		body: Body{Kind: BodyChunked},
		in:   "3\r\nabcd\r\n0\r\n\r\n",
		out:  "3\r\nabc",
		err:  ErrMalformed,
	},
	{
		name: "chunked data followed by CR then junk",
		body: Body{Kind: BodyChunked},
		in:   "3\r\nabc\rX",
		out:  "3\r\nabc",
		err:  ErrMalformed,
	},
	{
		name: "chunked obs-fold in trailer",
		body: Body{Kind: BodyChunked},
		in:   "0\r\nA: b\r\n c\r\n\r\n",
		out:  "0\r\nA: b\r\n",
		err:  ErrMalformed,
	},
	{
		name: "chunked bad trailer",
		body: Body{Kind: BodyChunked},
		in:   "0\r\nnot a field\r\n\r\n",
		out:  "0\r\n",
		err:  ErrMalformed,
	},
	{name: "chunked truncated in size", body: Body{Kind: BodyChunked}, in: "5\r\nhello\r\n1", out: "5\r\nhello\r\n1", err: io.ErrUnexpectedEOF},
	{name: "chunked truncated in data", body: Body{Kind: BodyChunked}, in: "5\r\nhel", out: "5\r\nhel", err: io.ErrUnexpectedEOF},
	{name: "chunked truncated before CRLF", body: Body{Kind: BodyChunked}, in: "5\r\nhello", out: "5\r\nhello", err: io.ErrUnexpectedEOF},
	{name: "chunked truncated in CRLF", body: Body{Kind: BodyChunked}, in: "5\r\nhello\r", out: "5\r\nhello\r", err: io.ErrUnexpectedEOF},
	{name: "chunked truncated before trailers", body: Body{Kind: BodyChunked}, in: "0\r\n", out: "0\r\n", err: io.ErrUnexpectedEOF},
	{name: "chunked truncated in trailer", body: Body{Kind: BodyChunked}, in: "0\r\nX: y\r\n", out: "0\r\nX: y\r\n", err: io.ErrUnexpectedEOF},
	{name: "chunked truncated in final CRLF", body: Body{Kind: BodyChunked}, in: "0\r\n\r", out: "0\r\n\r", err: io.ErrUnexpectedEOF},
}

func TestHTTPFrameCopyBody(t *testing.T) {
	for _, r := range readers {
		for _, c := range bodyCases {
			t.Run(r.name+"/"+c.name, func(t *testing.T) {
				br := testReader(r.wrap, c.in)
				var out bytes.Buffer
				n, err := CopyBody(&out, br, c.body)
				if c.err == nil && err != nil || c.err != nil && !errors.Is(err, c.err) {
					t.Fatalf("CopyBody: %v, want %v", err, c.err)
				}
				if out.String() != c.out || n != int64(out.Len()) {
					t.Errorf("CopyBody wrote %q (n=%d), want %q", out.String(), n, c.out)
				}
				if rest := restOf(t, br); c.out+rest != c.in {
					t.Errorf("bytes lost or duplicated: wrote %q, left %q, input %q", out.String(), rest, c.in)
				}
			})
		}
	}
}

// TestHTTPFrameChunkLineTooLong checks the bound on a chunk-size line.
func TestHTTPFrameChunkLineTooLong(t *testing.T) {
	in := "5;" + strings.Repeat("x", MaxHead) + "\r\nhello\r\n0\r\n\r\n"
	br := testReader(iotest.HalfReader, in)
	n, err := CopyBody(io.Discard, br, Body{Kind: BodyChunked})
	if !errors.Is(err, ErrMalformed) || n != 0 {
		t.Fatalf("CopyBody = %d, %v; want 0, ErrMalformed", n, err)
	}
	if rest := restOf(t, br); rest != in {
		t.Errorf("consumed bytes")
	}
}

// errWriter takes limit bytes, then fails.
type errWriter struct {
	limit int
	buf   bytes.Buffer
}

var errWrite = errors.New("write failed")

func (w *errWriter) Write(p []byte) (int, error) {
	if len(p) > w.limit {
		w.buf.Write(p[:w.limit])
		n := w.limit
		w.limit = 0
		return n, errWrite
	}
	w.limit -= len(p)
	return w.buf.Write(p)
}

func TestHTTPFrameCopyBodyWriteError(t *testing.T) {
	for _, c := range []struct {
		body Body
		in   string
	}{
		{Body{Kind: BodyLength, Length: 20}, strings.Repeat("a", 20)},
		{Body{Kind: BodyChunked}, "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n"},
		{Body{Kind: BodyUntilClose}, strings.Repeat("b", 20)},
	} {
		for limit := 0; limit < len(c.in); limit++ {
			w := &errWriter{limit: limit}
			br := testReader(iotest.OneByteReader, c.in)
			n, err := CopyBody(w, br, c.body)
			if !errors.Is(err, errWrite) {
				t.Fatalf("%v limit %d: CopyBody: %v, want the write error", c.body.Kind, limit, err)
			}
			if n != int64(limit) || w.buf.String() != c.in[:limit] {
				t.Fatalf("%v limit %d: n = %d, wrote %q", c.body.Kind, limit, n, w.buf.String())
			}
			if c.body.Kind != BodyUntilClose { // WriteTo may have read ahead
				if rest := restOf(t, br); w.buf.String()+rest != c.in {
					t.Fatalf("%v limit %d: bytes lost: left %q", c.body.Kind, limit, rest)
				}
			}
		}
	}
}

// chunkSource generates head, size bytes of data, then tail, without
// holding the data.
type chunkSource struct {
	head, tail string
	size, off  int64
}

var pattern = bytes.Repeat([]byte("0123456789abcdef"), 4096)

func (s *chunkSource) Read(p []byte) (int, error) {
	head, data := int64(len(s.head)), s.size
	var n int
	switch {
	case s.off < head:
		n = copy(p, s.head[s.off:])
	case s.off < head+data:
		n = copy(p[:min(int64(len(p)), head+data-s.off)], pattern[(s.off-head)%int64(len(pattern)):])
	case s.off < head+data+int64(len(s.tail)):
		n = copy(p, s.tail[s.off-head-data:])
	default:
		return 0, io.EOF
	}
	s.off += int64(n)
	return n, nil
}

// TestHTTPFrameCopyBodyStreams checks that a huge chunk and a huge
// length-delimited body go through in bounded memory.
func TestHTTPFrameCopyBodyStreams(t *testing.T) {
	const size = 256 << 20
	for _, c := range []struct {
		body Body
		src  *chunkSource
	}{
		{Body{Kind: BodyChunked}, &chunkSource{head: fmt.Sprintf("%x\r\n", size), tail: "\r\n0\r\n\r\n", size: size}},
		{Body{Kind: BodyLength, Length: size}, &chunkSource{size: size}},
	} {
		want := int64(len(c.src.head)) + size + int64(len(c.src.tail))
		br := bufio.NewReaderSize(c.src, MaxHead)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		n, err := CopyBody(io.Discard, br, c.body)
		runtime.ReadMemStats(&after)
		if err != nil || n != want {
			t.Fatalf("%v: CopyBody = %d, %v; want %d", c.body.Kind, n, err, want)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
			t.Errorf("%v: CopyBody of %d bytes allocated %d bytes", c.body.Kind, size, alloc)
		}
	}
}

// reassemble frames a request stream, then the response stream, with the
// framer, checks that the frames put back together give both streams, and
// returns the heads.
func reassemble(t *testing.T, wrap func(io.Reader) io.Reader, requests, responses string) ([]*RequestHead, []*ResponseHead) {
	t.Helper()
	var reqs []*RequestHead
	var got bytes.Buffer
	br := testReader(wrap, requests)
	for {
		h, err := ReadRequestHead(br)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("request %d: %v", len(reqs)+1, err)
		}
		got.Write(h.Raw)
		if _, err := CopyBody(&got, br, h.Body); err != nil {
			t.Fatalf("request %d body: %v", len(reqs)+1, err)
		}
		reqs = append(reqs, h)
	}
	if got.String() != requests {
		t.Fatalf("requests reassemble to\n%q\nwant\n%q", got.String(), requests)
	}

	var resps []*ResponseHead
	got.Reset()
	br = testReader(wrap, responses)
	for i, req := range reqs {
		for {
			h, err := ReadResponseHead(br, req.Method)
			if err != nil {
				t.Fatalf("response %d: %v", i+1, err)
			}
			got.Write(h.Raw)
			if _, err := CopyBody(&got, br, h.Body); err != nil {
				t.Fatalf("response %d body: %v", i+1, err)
			}
			resps = append(resps, h)
			if h.Status >= 200 || h.Status == 101 {
				break
			}
		}
	}
	if _, err := ReadResponseHead(br, "GET"); err != io.EOF {
		t.Fatalf("after the last response: %v, want io.EOF", err)
	}
	if got.String() != responses {
		t.Fatalf("responses reassemble to\n%q\nwant\n%q", got.String(), responses)
	}
	return reqs, resps
}

func TestHTTPFramePipelined(t *testing.T) {
	requests := "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n" +
		"POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world" +
		"\r\n" + // a stray empty line between requests (RFC 9112 2.2)
		"POST /3 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nPOST\r\n0\r\nT: 1\r\n\r\n" +
		"HEAD /4 HTTP/1.1\r\nHost: h\r\n\r\n" +
		"PUT /5 HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc" +
		"GET /6 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
	responses := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" +
		"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n" +
		"HTTP/1.1 204 No Content\r\n\r\n" +
		"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n" +
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" +
		"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nthe rest\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"
	for _, r := range readers {
		t.Run(r.name, func(t *testing.T) {
			reqs, resps := reassemble(t, r.wrap, requests, responses)
			var paths []string
			for _, h := range reqs {
				paths = append(paths, h.Path)
			}
			if got := strings.Join(paths, " "); got != "/1 /2 /3 /4 /5 /6" {
				t.Errorf("paths %s", got)
			}
			var statuses []string
			for _, h := range resps {
				statuses = append(statuses, fmt.Sprint(h.Status, h.Body.Kind))
			}
			want := "200 length 201 chunked 204 none 200 none 100 none 103 none 200 length 200 until-close"
			if got := strings.Join(statuses, " "); got != want {
				t.Errorf("responses %s, want %s", got, want)
			}
		})
	}
}

func TestHTTPFrameWithoutHeader(t *testing.T) {
	for _, c := range []struct {
		name, raw, header, want string
		values                  []string
	}{
		{
			name:   "one",
			raw:    "GET / HTTP/1.1\r\nHost: h\r\nX-Fault: latency\r\nAccept: */*\r\n\r\n",
			header: "x-fault",
			want:   "GET / HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\n",
			values: []string{"latency"},
		},
		{
			name:   "all instances, any case, first and last",
			raw:    "GET / HTTP/1.1\r\nx-fault: a\r\nHost: h\r\nX-FAULT:  b \r\nX-Faults: keep\r\nX-Fault:\r\n\r\n",
			header: "X-Fault",
			want:   "GET / HTTP/1.1\r\nHost: h\r\nX-Faults: keep\r\n\r\n",
			values: []string{"a", "b", ""},
		},
		{
			name:   "LF endings and leading empty lines kept",
			raw:    "\r\n\nGET / HTTP/1.1\nX-Fault: a\nB:  odd\tspacing \r\n\n",
			header: "X-Fault",
			want:   "\r\n\nGET / HTTP/1.1\nB:  odd\tspacing \r\n\n",
			values: []string{"a"},
		},
		{
			name:   "absent",
			raw:    "GET /X-Fault:1 HTTP/1.1\r\nHost: X-Fault: 1\r\n\r\n",
			header: "X-Fault",
			want:   "GET /X-Fault:1 HTTP/1.1\r\nHost: X-Fault: 1\r\n\r\n",
		},
		{
			name:   "the start line is not a field",
			raw:    "X-Fault: 1\r\nX-Fault: 2\r\n\r\n",
			header: "X-Fault",
			want:   "X-Fault: 1\r\n\r\n",
			values: []string{"2"},
		},
		{
			name:   "nothing after the end of the head",
			raw:    "GET / HTTP/1.1\r\n\r\nX-Fault: body\r\n",
			header: "X-Fault",
			want:   "GET / HTTP/1.1\r\n\r\nX-Fault: body\r\n",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			raw := []byte(c.raw)
			got, values := WithoutHeader(raw, c.header)
			if string(got) != c.want {
				t.Errorf("WithoutHeader = %q, want %q", got, c.want)
			}
			if !reflect.DeepEqual(values, c.values) {
				t.Errorf("values = %q, want %q", values, c.values)
			}
			if string(raw) != c.raw {
				t.Errorf("raw modified: %q", raw)
			}
		})
	}

	// The result of stripping a parsed head parses to the same head
	// without the field.
	br := testReader(iotest.OneByteReader, "POST /x HTTP/1.1\r\nHost: h\r\nX-Fault: a\r\nContent-Length: 2\r\nx-fault: b\r\n\r\nok")
	h, err := ReadRequestHead(br)
	if err != nil {
		t.Fatal(err)
	}
	stripped, _ := WithoutHeader(h.Raw, "X-Fault")
	h2, err := ReadRequestHead(testReader(iotest.OneByteReader, string(stripped)))
	if err != nil {
		t.Fatal(err)
	}
	want := []Field{{"Host", "h"}, {"Content-Length", "2"}}
	if !reflect.DeepEqual(h2.Fields(), want) || h2.Body != h.Body || h2.Target != h.Target {
		t.Errorf("stripped head parses to %+v", h2)
	}
}

// TestHTTPFrameRealExchanges records what net/http's client and server send
// each other, through a recording relay, and checks that the framer splits
// both streams into messages that put back together give the same bytes.
func TestHTTPFrameRealExchanges(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Sum")
		for i := range 3 {
			fmt.Fprintf(w, "part %d\n", i)
			w.(http.Flusher).Flush()
		}
		w.Header().Set("X-Sum", "3 parts")
	})
	mux.HandleFunc("/upload", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "%d bytes, trailer %q", n, r.Trailer.Get("X-Client-Sum"))
	})
	mux.HandleFunc("/head", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		if r.Method != http.MethodHead {
			w.Write(make([]byte, 1000))
		}
	})
	mux.HandleFunc("/204", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/304", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		w.WriteHeader(http.StatusNotModified)
	})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	relay := testenv.NewRecorder(t, ln.Addr().String(), nil)
	tr := &http.Transport{ExpectContinueTimeout: 10 * time.Second, DisableCompression: true}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	defer func() {
		tr.CloseIdleConnections()
		relay.Close()
		srv.Close()
		<-served
	}()
	base := "http://" + relay.Addr()

	do := func(req *http.Request) string {
		t.Helper()
		return fixtureResult(t, client, req)
	}
	newRequest := func(method, path string, body io.Reader) *http.Request {
		t.Helper()
		return fixtureRequest(t, method, base+path, body)
	}

	if got := do(newRequest("GET", "/get", nil)); got != "200 hello" {
		t.Errorf("GET: %s", got)
	}
	if got := do(newRequest("GET", "/stream", nil)); got != "200 part 0\npart 1\npart 2\n" {
		t.Errorf("GET stream: %s", got)
	}
	pr, pw := io.Pipe()
	go func() {
		for _, s := range []string{"first part,", " second part"} {
			if _, err := pw.Write([]byte(s)); err != nil {
				return
			}
		}
		pw.Close()
	}()
	req := newRequest("POST", "/upload", pr)
	req.ContentLength = -1
	req.Trailer = http.Header{"X-Client-Sum": {"23"}}
	if got := do(req); got != `200 23 bytes, trailer "23"` {
		t.Errorf("POST chunked: %s", got)
	}
	req = newRequest("PUT", "/upload", strings.NewReader("after the 100"))
	req.Header.Set("Expect", "100-continue")
	if got := do(req); got != `200 13 bytes, trailer ""` {
		t.Errorf("PUT 100-continue: %s", got)
	}
	if got := do(newRequest("HEAD", "/head", nil)); got != "200 " {
		t.Errorf("HEAD: %s", got)
	}
	if got := do(newRequest("DELETE", "/204", nil)); got != "204 " {
		t.Errorf("DELETE: %s", got)
	}
	req = newRequest("GET", "/304", nil)
	req.Header.Set("If-None-Match", `"v1"`)
	req.Close = true // the server closes the connection after this one
	if got := do(req); got != "304 " {
		t.Errorf("GET 304: %s", got)
	}

	tr.CloseIdleConnections()
	relay.Close()
	recs := relay.Recordings()
	if len(recs) != 1 {
		t.Errorf("%d connections, want 1 (keep-alive)", len(recs))
	}
	seen := map[string]bool{}
	for i, rec := range recs {
		requests, responses := rec.Streams()
		for _, r := range readers {
			t.Run(fmt.Sprint("conn", i, "/", r.name), func(t *testing.T) {
				reqs, resps := reassemble(t, r.wrap, string(requests), string(responses))
				for _, h := range reqs {
					if h.Body.Kind == BodyChunked && strings.Contains(string(h.Raw), "Trailer: X-Client-Sum") {
						seen["chunked request"] = true
					}
					if h.ExpectContinue {
						seen["expect"] = true
					}
					if h.Close {
						seen["request close"] = true
					}
				}
				for _, h := range resps {
					switch {
					case h.Status == 100:
						seen["100"] = true
					case h.Body.Kind == BodyChunked:
						seen["chunked response"] = true
					case h.Status == 200 && h.Body.Kind == BodyNone:
						v, _ := h.Get("Content-Length")
						seen["HEAD "+v] = true
					case h.Status == 204 || h.Status == 304:
						seen[fmt.Sprint(h.Status, h.Body.Kind)] = true
					}
					if h.Close {
						seen["response close"] = true
					}
				}
			})
		}
	}
	for _, want := range []string{"chunked request", "expect", "request close", "100", "chunked response", "HEAD 1000", "204 none", "304 none", "response close"} {
		if !seen[want] {
			t.Errorf("the recordings hold no %s", want)
		}
	}
	if t.Failed() {
		for _, rec := range recs {
			requests, responses := rec.Streams()
			t.Logf("requests:\n%q\nresponses:\n%q", requests, responses)
		}
	}
}

// TestHTTPFrameBadFieldByte checks the eight-at-a-time check of field
// bytes against the table, for every byte value at every offset of slices
// of every length up to 24, in a field of good bytes of either kind.
func TestHTTPFrameBadFieldByte(t *testing.T) {
	for _, fill := range []byte{'a', 0xff, '\t', ' '} {
		for n := 0; n <= 24; n++ {
			p := bytes.Repeat([]byte{fill}, n)
			if got := badFieldByte(p); got != -1 {
				t.Fatalf("%q: %d, want -1", p, got)
			}
			for at := 0; at < n; at++ {
				for c := 0; c < 256; c++ {
					p[at] = byte(c)
					want := -1
					if !isFieldByte(byte(c)) {
						want = at
					}
					if got := badFieldByte(p); got != want {
						t.Fatalf("%q: %d, want %d", p, got, want)
					}
					// A bad byte later on does not hide this one.
					if want >= 0 && at+1 < n {
						p[n-1] = 0
						if got := badFieldByte(p); got != at {
							t.Fatalf("%q: %d, want %d", p, got, at)
						}
						p[n-1] = fill
					}
				}
				p[at] = fill
			}
		}
	}
}

// Benchmarks: heads as net/http's client and server send them, and a
// browser-like request with a dozen and a half header lines. Each iteration
// reads one message delivered by one Read, as over a socket.

var benchRequests = []struct{ name, in string }{
	{"go-client", "GET /hello HTTP/1.1\r\nHost: 127.0.0.1:1234\r\nUser-Agent: Go-http-client/1.1\r\nAccept-Encoding: gzip\r\n\r\n"},
	{"go-client-post", "POST /api/items HTTP/1.1\r\nHost: 127.0.0.1:1234\r\nUser-Agent: Go-http-client/1.1\r\nContent-Length: 13\r\nContent-Type: application/json\r\nAccept-Encoding: gzip\r\n\r\n{\"a\":\"hello\"}"},
	{"browser", "GET /static/app.js?v=3 HTTP/1.1\r\nHost: example.com\r\nConnection: keep-alive\r\n" +
		"sec-ch-ua: \"Chromium\";v=\"124\", \"Google Chrome\";v=\"124\", \"Not-A.Brand\";v=\"99\"\r\n" +
		"sec-ch-ua-mobile: ?0\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n" +
		"sec-ch-ua-platform: \"Linux\"\r\nAccept: */*\r\nSec-Fetch-Site: same-origin\r\nSec-Fetch-Mode: no-cors\r\nSec-Fetch-Dest: script\r\n" +
		"Referer: https://example.com/\r\nAccept-Encoding: gzip, deflate, br, zstd\r\nAccept-Language: en-US,en;q=0.9\r\n" +
		"Cookie: session=0123456789abcdef0123456789abcdef; theme=dark\r\nIf-None-Match: \"5d8c72a5edda8d6a\"\r\n\r\n"},
}

var benchResponses = []struct{ name, in string }{
	{"go-server", "HTTP/1.1 200 OK\r\nDate: Mon, 02 Jan 2006 15:04:05 GMT\r\nContent-Length: 13\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello, world\n"},
	{"go-server-chunked", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: Mon, 02 Jan 2006 15:04:05 GMT\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"d\r\n{\"a\":\"hello\"}\r\n0\r\n\r\n"},
	{"nginx", "HTTP/1.1 200 OK\r\nServer: nginx/1.25.3\r\nDate: Mon, 02 Jan 2006 15:04:05 GMT\r\nContent-Type: application/javascript\r\n" +
		"Content-Length: 13\r\nLast-Modified: Sun, 01 Jan 2006 10:00:00 GMT\r\nConnection: keep-alive\r\nETag: \"5d8c72a5edda8d6a\"\r\n" +
		"Cache-Control: public, max-age=31536000\r\nVary: Accept-Encoding\r\nX-Content-Type-Options: nosniff\r\nAccept-Ranges: bytes\r\n\r\n" +
		"console.log()"},
}

// benchStream delivers the same bytes, whole, to br on every reset, as if
// they had just arrived.
type benchStream struct {
	in []byte
	r  bytes.Reader
	br *bufio.Reader
}

func newBenchStream(in string) *benchStream {
	s := &benchStream{in: []byte(in)}
	s.br = bufio.NewReaderSize(&s.r, MaxHead)
	return s
}

func (s *benchStream) reset() *bufio.Reader {
	s.r.Reset(s.in)
	s.br.Reset(&s.r)
	return s.br
}

// BenchmarkReadRequestHead reads with a reused framer, raw left in the
// reader's buffer, as the relay does. "fresh-target" makes every target
// new to the framer (a string to allocate), as when a client walks a site.
func BenchmarkReadRequestHead(b *testing.B) {
	for _, c := range benchRequests {
		for _, fresh := range []bool{false, true} {
			name := c.name
			if fresh {
				name += "/fresh-target"
			}
			b.Run(name, func(b *testing.B) {
				s := newBenchStream(c.in)
				f := &Framer{NoCopy: true}
				b.SetBytes(int64(len(c.in)))
				b.ReportAllocs()
				for b.Loop() {
					if fresh {
						f.lastTarg = ""
					}
					if _, err := f.ReadRequestHead(s.reset()); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkReadRequestHeadFunc reads with ReadRequestHead: a new head
// every time, with its own copy of raw.
func BenchmarkReadRequestHeadFunc(b *testing.B) {
	for _, c := range benchRequests {
		b.Run(c.name, func(b *testing.B) {
			s := newBenchStream(c.in)
			b.SetBytes(int64(len(c.in)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ReadRequestHead(s.reset()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReadResponseHead reads with a reused framer, raw left in the
// reader's buffer, as the relay does.
func BenchmarkReadResponseHead(b *testing.B) {
	for _, c := range benchResponses {
		b.Run(c.name, func(b *testing.B) {
			s := newBenchStream(c.in)
			f := &Framer{NoCopy: true}
			b.SetBytes(int64(len(c.in)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.ReadResponseHead(s.reset(), "GET"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReadResponseHeadFunc reads with ReadResponseHead.
func BenchmarkReadResponseHeadFunc(b *testing.B) {
	for _, c := range benchResponses {
		b.Run(c.name, func(b *testing.B) {
			s := newBenchStream(c.in)
			b.SetBytes(int64(len(c.in)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ReadResponseHead(s.reset(), "GET"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRequestResponsePair frames one exchange as the relay does, with
// one framer per direction: the request head and body, then the response
// head and body. "copy" has the framers copy raw; "func" uses the
// package-level functions.
func BenchmarkRequestResponsePair(b *testing.B) {
	for i, name := range []string{"go", "browser"} {
		req, resp := benchRequests[2*i], benchResponses[2*i]
		for _, mode := range []string{"", "/copy", "/func"} {
			b.Run(name+mode, func(b *testing.B) {
				rs, ws := newBenchStream(req.in), newBenchStream(resp.in)
				up, down := &Framer{NoCopy: mode == ""}, &Framer{NoCopy: mode == ""}
				readReq, readResp := up.ReadRequestHead, down.ReadResponseHead
				if mode == "/func" {
					readReq, readResp = ReadRequestHead, ReadResponseHead
				}
				b.SetBytes(int64(len(req.in) + len(resp.in)))
				b.ReportAllocs()
				for b.Loop() {
					br := rs.reset()
					h, err := readReq(br)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := CopyBody(io.Discard, br, h.Body); err != nil {
						b.Fatal(err)
					}
					br = ws.reset()
					rh, err := readResp(br, h.Method)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := CopyBody(io.Discard, br, rh.Body); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
