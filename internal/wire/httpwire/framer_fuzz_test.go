package httpwire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// fuzzReaders are reused by the fuzz targets (one input at a time per
// process): a fresh 64 KiB reader per call would dominate their cost.
var fuzzReaders [3]*bufio.Reader

func fuzzReader(i int, r io.Reader) *bufio.Reader {
	if fuzzReaders[i] == nil {
		fuzzReaders[i] = bufio.NewReaderSize(r, MaxHead)
	}
	fuzzReaders[i].Reset(r)
	return fuzzReaders[i]
}

// fuzzHead checks the contract shared by ReadRequestHead and
// ReadResponseHead on in: no panic; on error nothing consumed; on success
// raw is exactly the bytes consumed, re-reading raw alone gives the same
// head, and a reader serving one byte at a time gives the same result.
func fuzzHead[H any](t *testing.T, in []byte, read func(Reader) (*H, error), raw func(*H) []byte) *H {
	br := fuzzReader(0, bytes.NewReader(in))
	h, err := read(br)
	rest, rerr := io.ReadAll(br)
	if rerr != nil {
		t.Fatalf("reading the rest: %v", rerr)
	}

	slow := fuzzReader(1, iotest.OneByteReader(bytes.NewReader(in)))
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
		case !errors.Is(err, ErrMalformed):
			t.Fatalf("error %v wraps neither io.EOF nor ErrMalformed", err)
		}
		return nil
	}
	r := raw(h)
	if len(r) == 0 || !bytes.Equal(r, in[:len(r)]) || !bytes.Equal(rest, in[len(r):]) {
		t.Fatalf("raw %q is not the %d bytes consumed", r, len(in)-len(rest))
	}
	again, err := read(fuzzReader(2, bytes.NewReader(r)))
	if err != nil {
		t.Fatalf("re-reading raw %q: %v", r, err)
	}
	if !reflect.DeepEqual(again, h) {
		t.Fatalf("re-reading raw gives\n%+v\nwant\n%+v", again, h)
	}
	return h
}

// fuzzFramers are reused across inputs, so that each input starts with
// whatever earlier ones left in them: [0] returns raw as a slice of the
// reader's buffer, [1] as its own copy.
var fuzzFramers = [2]*Framer{{NoCopy: true}, {}}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// fuzzSequence reads the heads in holds one after another, each body
// skipped, with each reused framer (the copying one fed one byte at a
// time), and checks that every result equals what a fresh call reads at
// the same offset, and that raw is the bytes there.
func fuzzSequence[H any](t *testing.T, in []byte, read func(*Framer, Reader) (*H, error), fresh func(Reader) (*H, error), raw func(*H) []byte, body func(*H) Body) {
	for i, f := range fuzzFramers {
		src := &countingReader{r: bytes.NewReader(in)}
		var r io.Reader = src
		if i == 1 {
			r = iotest.OneByteReader(src)
		}
		br := fuzzReader(0, r)
		for n := 0; n < 16; n++ {
			pos := src.n - br.Buffered()
			want, werr := fresh(fuzzReader(2, bytes.NewReader(in[pos:])))
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
			if _, err := CopyBody(io.Discard, br, body(got)); err != nil {
				break
			}
		}
	}
}

// fuzzGet checks get against the fields: each name gives the first
// value under that name, compared without regard to case.
func fuzzGet(t *testing.T, get func(string) (string, bool), fields []Field) {
	for _, f := range fields {
		want := ""
		for _, g := range fields {
			if strings.EqualFold(g.Name, f.Name) {
				want = g.Value
				break
			}
		}
		for _, name := range []string{f.Name, strings.ToUpper(f.Name), strings.ToLower(f.Name)} {
			if v, ok := get(name); !ok || v != want {
				t.Fatalf("get(%q) = %q, %v; want %q", name, v, ok, want)
			}
		}
	}
	if v, ok := get("X-Not-There-At-All"); ok || v != "" {
		t.Fatalf("get of an absent field: %q, %v", v, ok)
	}
}

// fuzzFixture returns the bytes of testdata/name.
func fuzzFixture(f *testing.F, name string) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		f.Fatal(err)
	}
	return b
}

func FuzzReadRequestHead(f *testing.F) {
	for _, c := range requestCases {
		f.Add([]byte(c.head + c.rest))
	}
	for _, c := range malformedRequests {
		f.Add([]byte(c.in))
	}
	for _, c := range truncatedRequests {
		f.Add([]byte(c.in))
	}
	for _, fx := range fixtures {
		f.Add(fuzzFixture(f, fx.name+".request"))
	}
	f.Add([]byte("GET / HTTP/1.1\r\nX-Fault: a\r\nx-fault:b\r\n\r\n"))
	f.Add([]byte("GET /1 HTTP/1.1\r\nHost: h\r\n\r\nPOST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello\r\n" +
		"POST /3 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nPOST\r\n0\r\nT: 1\r\n\r\nGET /1 HTTP/1.1\r\nHost: h\r\n\r\n" +
		"PUT /5 HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabcGET /6 HTTP/1.0\r\n\r\n"))
	raw := func(h *RequestHead) []byte { return h.Raw }
	body := func(h *RequestHead) Body { return h.Body }
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzSequence(t, in, (*Framer).ReadRequestHead, ReadRequestHead, raw, body)
		h := fuzzHead(t, in, ReadRequestHead, raw)
		if h == nil {
			return
		}
		fuzzGet(t, h.Get, h.Fields())
		if !isToken(h.Method) || h.Target == "" || h.Path == "" || h.Proto != "HTTP/1.1" && h.Proto != "HTTP/1.0" {
			t.Fatalf("implausible head %+v", h)
		}
		if h.Body.Kind != BodyNone && h.Body.Kind != BodyLength && h.Body.Kind != BodyChunked || h.Body.Length < 0 {
			t.Fatalf("request body %+v", h.Body)
		}
		// Removing a field leaves a head that parses to the same head
		// without it.
		stripped, values := WithoutHeader(h.Raw, "X-Fault")
		var want []string
		var kept []Field
		for _, f := range h.Fields() {
			if bytes.EqualFold([]byte(f.Name), []byte("X-Fault")) {
				want = append(want, f.Value)
			} else {
				kept = append(kept, f)
			}
		}
		if !reflect.DeepEqual(values, want) {
			t.Fatalf("WithoutHeader values %q, want %q", values, want)
		}
		h2, err := ReadRequestHead(fuzzReader(2, bytes.NewReader(stripped)))
		if err != nil {
			t.Fatalf("stripped head %q: %v", stripped, err)
		}
		fields2 := h2.Fields()
		if string(h2.Raw) != string(stripped) || len(fields2) != len(kept) || h2.Body != h.Body || h2.Target != h.Target {
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
	for _, c := range responseCases {
		m := 0
		for i, s := range methods {
			if s == c.reqMethod {
				m = i
			}
		}
		f.Add([]byte(c.head+c.rest), uint8(m))
	}
	for _, c := range malformedResponses {
		f.Add([]byte(c.in), uint8(0))
	}
	for _, fx := range fixtures {
		m := 0
		for i, s := range methods {
			if s == fx.method {
				m = i
			}
		}
		f.Add(fuzzFixture(f, fx.name+".response"), uint8(m))
	}
	f.Add([]byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"+
		"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"+
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.0 200 OK\r\n\r\nthe rest"), uint8(0))
	raw := func(h *ResponseHead) []byte { return h.Raw }
	body := func(h *ResponseHead) Body { return h.Body }
	f.Fuzz(func(t *testing.T, in []byte, m uint8) {
		method := methods[int(m)%len(methods)]
		read := func(br Reader) (*ResponseHead, error) { return ReadResponseHead(br, method) }
		readF := func(f *Framer, br Reader) (*ResponseHead, error) {
			return f.ReadResponseHead(br, method)
		}
		fuzzSequence(t, in, readF, read, raw, body)
		h := fuzzHead(t, in, read, raw)
		if h == nil {
			return
		}
		fuzzGet(t, h.Get, h.Fields())
		if h.Status < 100 || h.Status > 999 || h.Proto != "HTTP/1.1" && h.Proto != "HTTP/1.0" || h.Body.Length < 0 {
			t.Fatalf("implausible head %+v", h)
		}
		if h.Body.Kind == BodyUntilClose && !h.Close {
			t.Fatalf("body until close without close: %+v", h)
		}
	})
}

func FuzzCopyBody(f *testing.F) {
	for _, c := range bodyCases {
		f.Add(uint8(c.body.Kind), uint16(c.body.Length), []byte(c.in))
	}
	f.Fuzz(func(t *testing.T, kind uint8, length uint16, in []byte) {
		b := Body{Kind: BodyKind(kind % 4)}
		if b.Kind == BodyLength {
			b.Length = int64(length)
		}
		br := fuzzReader(0, bytes.NewReader(in))
		var out bytes.Buffer
		n, err := CopyBody(&out, br, b)
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
		case errors.Is(err, ErrMalformed):
			if b.Kind != BodyChunked {
				t.Fatalf("ErrMalformed for %v", b.Kind)
			}
		default:
			t.Fatalf("CopyBody: %v", err)
		}

		slow := fuzzReader(1, iotest.OneByteReader(bytes.NewReader(in)))
		var slowOut bytes.Buffer
		ns, errs := CopyBody(&slowOut, slow, b)
		if ns != n || !bytes.Equal(slowOut.Bytes(), out.Bytes()) || (errs == nil) != (err == nil) {
			t.Fatalf("one byte at a time: %d, %v; whole: %d, %v", ns, errs, n, err)
		}

		if err == nil && b.Kind == BodyChunked {
			// A complete chunked body is a fixed point.
			var again bytes.Buffer
			br := fuzzReader(2, bytes.NewReader(out.Bytes()))
			if _, err := CopyBody(&again, br, b); err != nil || !bytes.Equal(again.Bytes(), out.Bytes()) || br.Buffered() != 0 {
				t.Fatalf("re-copying %q: %q, %v", out.Bytes(), again.Bytes(), err)
			}
		}
	})
}
