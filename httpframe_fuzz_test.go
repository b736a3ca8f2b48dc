package faults

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// hfFuzzReaders are reused by the fuzz targets (one input at a time per
// process): a fresh 64 KiB reader per call would dominate their cost.
var hfFuzzReaders [3]*bufio.Reader

func hfFuzzReader(i int, r io.Reader) *bufio.Reader {
	if hfFuzzReaders[i] == nil {
		hfFuzzReaders[i] = bufio.NewReaderSize(r, maxHTTPHead)
	}
	hfFuzzReaders[i].Reset(r)
	return hfFuzzReaders[i]
}

// hfFuzzHead checks the contract shared by readRequestHead and
// readResponseHead on in: no panic; on error nothing consumed; on success
// raw is exactly the bytes consumed, re-reading raw alone gives the same
// head, and a reader serving one byte at a time gives the same result.
func hfFuzzHead[H any](t *testing.T, in []byte, read func(*bufio.Reader) (*H, error), raw func(*H) []byte) *H {
	br := hfFuzzReader(0, bytes.NewReader(in))
	h, err := read(br)
	rest, rerr := io.ReadAll(br)
	if rerr != nil {
		t.Fatalf("reading the rest: %v", rerr)
	}

	slow := hfFuzzReader(1, iotest.OneByteReader(bytes.NewReader(in)))
	hs, errs := read(slow)
	if (err == nil) != (errs == nil) || !reflect.DeepEqual(h, hs) {
		t.Fatalf("whole and one byte at a time differ:\n%+v, %v\n%+v, %v", h, err, hs, errs)
	}

	if err != nil {
		if h != nil {
			t.Fatalf("head %+v with error %v", h, err)
		}
		if !bytes.Equal(rest, in) {
			t.Fatalf("error %v, but consumed %d bytes", err, len(in)-len(rest))
		}
		switch {
		case err == io.EOF:
			if len(bytes.Trim(in, "\r\n")) != 0 {
				t.Fatalf("io.EOF on %q", in)
			}
		case !errors.Is(err, errMalformed):
			t.Fatalf("error %v wraps neither io.EOF nor errMalformed", err)
		}
		return nil
	}
	r := raw(h)
	if len(r) == 0 || !bytes.Equal(r, in[:len(r)]) || !bytes.Equal(rest, in[len(r):]) {
		t.Fatalf("raw %q is not the %d bytes consumed", r, len(in)-len(rest))
	}
	again, err := read(hfFuzzReader(2, bytes.NewReader(r)))
	if err != nil {
		t.Fatalf("re-reading raw %q: %v", r, err)
	}
	if !reflect.DeepEqual(again, h) {
		t.Fatalf("re-reading raw gives\n%+v\nwant\n%+v", again, h)
	}
	return h
}

// hfFuzzFramers are reused across inputs, so that each input starts with
// whatever earlier ones left in them: [0] returns raw as a slice of the
// reader's buffer, [1] as its own copy.
var hfFuzzFramers = [2]*httpFramer{{noCopy: true}, {}}

// hfCountingReader counts the bytes read through it.
type hfCountingReader struct {
	r io.Reader
	n int
}

func (c *hfCountingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// hfFuzzSequence reads the heads in holds one after another, each body
// skipped, with each reused framer (the copying one fed one byte at a
// time), and checks that every result equals what a fresh call reads at
// the same offset, and that raw is the bytes there.
func hfFuzzSequence[H any](t *testing.T, in []byte, read func(*httpFramer, *bufio.Reader) (*H, error), fresh func(*bufio.Reader) (*H, error), raw func(*H) []byte, body func(*H) httpBody) {
	for i, f := range hfFuzzFramers {
		src := &hfCountingReader{r: bytes.NewReader(in)}
		var r io.Reader = src
		if i == 1 {
			r = iotest.OneByteReader(src)
		}
		br := hfFuzzReader(0, r)
		for n := 0; n < 16; n++ {
			pos := src.n - br.Buffered()
			want, werr := fresh(hfFuzzReader(2, bytes.NewReader(in[pos:])))
			got, err := read(f, br)
			if (err == nil) != (werr == nil) || !reflect.DeepEqual(got, want) {
				t.Fatalf("framer %d, head %d at byte %d:\n%+v, %v\nfresh:\n%+v, %v", i, n, pos, got, err, want, werr)
			}
			if err != nil {
				if br.Buffered() != src.n-pos {
					t.Fatalf("framer %d, head %d: error %v, but consumed bytes", i, n, err)
				}
				break
			}
			if r := raw(got); !bytes.Equal(r, in[pos:pos+len(r)]) || src.n-br.Buffered() != pos+len(r) {
				t.Fatalf("framer %d, head %d: raw %q is not the bytes consumed at %d", i, n, r, pos)
			}
			if _, err := copyBody(io.Discard, br, body(got)); err != nil {
				break
			}
		}
	}
}

// hfFuzzGet checks get against the fields: each name gives the first
// value under that name, compared without regard to case.
func hfFuzzGet(t *testing.T, get func(string) (string, bool), fields []headerField) {
	for _, f := range fields {
		want := ""
		for _, g := range fields {
			if strings.EqualFold(g.name, f.name) {
				want = g.value
				break
			}
		}
		for _, name := range []string{f.name, strings.ToUpper(f.name), strings.ToLower(f.name)} {
			if v, ok := get(name); !ok || v != want {
				t.Fatalf("get(%q) = %q, %v; want %q", name, v, ok, want)
			}
		}
	}
	if v, ok := get("X-Not-There-At-All"); ok || v != "" {
		t.Fatalf("get of an absent field: %q, %v", v, ok)
	}
}

func FuzzReadRequestHead(f *testing.F) {
	for _, c := range hfRequestCases {
		f.Add([]byte(c.head + c.rest))
	}
	for _, c := range hfMalformedRequests {
		f.Add([]byte(c.in))
	}
	for _, c := range hfTruncatedRequests {
		f.Add([]byte(c.in))
	}
	f.Add([]byte("GET / HTTP/1.1\r\nX-Fault: a\r\nx-fault:b\r\n\r\n"))
	f.Add([]byte("GET /1 HTTP/1.1\r\nHost: h\r\n\r\nPOST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello\r\n" +
		"POST /3 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nPOST\r\n0\r\nT: 1\r\n\r\nGET /1 HTTP/1.1\r\nHost: h\r\n\r\n" +
		"PUT /5 HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabcGET /6 HTTP/1.0\r\n\r\n"))
	raw := func(h *httpRequestHead) []byte { return h.raw }
	body := func(h *httpRequestHead) httpBody { return h.body }
	f.Fuzz(func(t *testing.T, in []byte) {
		hfFuzzSequence(t, in, (*httpFramer).readRequestHead, readRequestHead, raw, body)
		h := hfFuzzHead(t, in, readRequestHead, raw)
		if h == nil {
			return
		}
		hfFuzzGet(t, h.get, h.fields())
		if !hfIsToken(h.method) || h.target == "" || h.path == "" || h.proto != "HTTP/1.1" && h.proto != "HTTP/1.0" {
			t.Fatalf("implausible head %+v", h)
		}
		if h.body.kind != bodyNone && h.body.kind != bodyLength && h.body.kind != bodyChunked || h.body.length < 0 {
			t.Fatalf("request body %+v", h.body)
		}
		// Removing a field leaves a head that parses to the same head
		// without it.
		stripped, values := withoutHeader(h.raw, "X-Fault")
		var want []string
		var kept []headerField
		for _, f := range h.fields() {
			if bytes.EqualFold([]byte(f.name), []byte("X-Fault")) {
				want = append(want, f.value)
			} else {
				kept = append(kept, f)
			}
		}
		if !reflect.DeepEqual(values, want) {
			t.Fatalf("withoutHeader values %q, want %q", values, want)
		}
		h2, err := readRequestHead(hfFuzzReader(2, bytes.NewReader(stripped)))
		if err != nil {
			t.Fatalf("stripped head %q: %v", stripped, err)
		}
		fields2 := h2.fields()
		if string(h2.raw) != string(stripped) || len(fields2) != len(kept) || h2.body != h.body || h2.target != h.target {
			t.Fatalf("stripped head %+v from %+v", h2, h)
		}
		for i := range kept {
			if fields2[i] != kept[i] {
				t.Fatalf("stripped head fields %q, want %q", fields2, kept)
			}
		}
	})
}

func FuzzReadResponseHead(f *testing.F) {
	methods := []string{"GET", "HEAD", "CONNECT", "POST"}
	for _, c := range hfResponseCases {
		m := 0
		for i, s := range methods {
			if s == c.reqMethod {
				m = i
			}
		}
		f.Add([]byte(c.head+c.rest), uint8(m))
	}
	for _, c := range hfMalformedResponses {
		f.Add([]byte(c.in), uint8(0))
	}
	f.Add([]byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"+
		"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"+
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.0 200 OK\r\n\r\nthe rest"), uint8(0))
	raw := func(h *httpResponseHead) []byte { return h.raw }
	body := func(h *httpResponseHead) httpBody { return h.body }
	f.Fuzz(func(t *testing.T, in []byte, m uint8) {
		method := methods[int(m)%len(methods)]
		read := func(br *bufio.Reader) (*httpResponseHead, error) { return readResponseHead(br, method) }
		readF := func(f *httpFramer, br *bufio.Reader) (*httpResponseHead, error) {
			return f.readResponseHead(br, method)
		}
		hfFuzzSequence(t, in, readF, read, raw, body)
		h := hfFuzzHead(t, in, read, raw)
		if h == nil {
			return
		}
		hfFuzzGet(t, h.get, h.fields())
		if h.status < 100 || h.status > 999 || h.proto != "HTTP/1.1" && h.proto != "HTTP/1.0" || h.body.length < 0 {
			t.Fatalf("implausible head %+v", h)
		}
		if h.body.kind == bodyUntilClose && !h.close {
			t.Fatalf("body until close without close: %+v", h)
		}
	})
}

func FuzzCopyBody(f *testing.F) {
	for _, c := range hfBodyCases {
		f.Add(uint8(c.body.kind), uint16(c.body.length), []byte(c.in))
	}
	f.Fuzz(func(t *testing.T, kind uint8, length uint16, in []byte) {
		b := httpBody{kind: bodyKind(kind % 4)}
		if b.kind == bodyLength {
			b.length = int64(length)
		}
		br := hfFuzzReader(0, bytes.NewReader(in))
		var out bytes.Buffer
		n, err := copyBody(&out, br, b)
		rest, rerr := io.ReadAll(br)
		if rerr != nil {
			t.Fatalf("reading the rest: %v", rerr)
		}
		if n != int64(out.Len()) {
			t.Fatalf("n = %d, wrote %d", n, out.Len())
		}
		if !bytes.HasPrefix(in, out.Bytes()) || out.Len()+len(rest) != len(in) {
			t.Fatalf("wrote %q and left %q of %q", out.Bytes(), rest, in)
		}
		switch {
		case err == nil:
		case err == io.ErrUnexpectedEOF:
			if len(rest) != 0 {
				t.Fatalf("io.ErrUnexpectedEOF with %q left", rest)
			}
		case errors.Is(err, errMalformed):
			if b.kind != bodyChunked {
				t.Fatalf("errMalformed for %v", b.kind)
			}
		default:
			t.Fatalf("copyBody: %v", err)
		}

		slow := hfFuzzReader(1, iotest.OneByteReader(bytes.NewReader(in)))
		var slowOut bytes.Buffer
		ns, errs := copyBody(&slowOut, slow, b)
		if ns != n || !bytes.Equal(slowOut.Bytes(), out.Bytes()) || (errs == nil) != (err == nil) {
			t.Fatalf("one byte at a time: %d, %v; whole: %d, %v", ns, errs, n, err)
		}

		if err == nil && b.kind == bodyChunked {
			// A complete chunked body is a fixed point.
			var again bytes.Buffer
			br := hfFuzzReader(2, bytes.NewReader(out.Bytes()))
			if _, err := copyBody(&again, br, b); err != nil || !bytes.Equal(again.Bytes(), out.Bytes()) || br.Buffered() != 0 {
				t.Fatalf("re-copying %q: %q, %v", out.Bytes(), again.Bytes(), err)
			}
		}
	})
}
