package faults

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"reflect"
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
	f.Fuzz(func(t *testing.T, in []byte) {
		h := hfFuzzHead(t, in, readRequestHead, func(h *httpRequestHead) []byte { return h.raw })
		if h == nil {
			return
		}
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
		for _, f := range h.header {
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
		if string(h2.raw) != string(stripped) || len(h2.header) != len(kept) || h2.body != h.body || h2.target != h.target {
			t.Fatalf("stripped head %+v from %+v", h2, h)
		}
		for i := range kept {
			if h2.header[i] != kept[i] {
				t.Fatalf("stripped head fields %q, want %q", h2.header, kept)
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
	f.Fuzz(func(t *testing.T, in []byte, m uint8) {
		method := methods[int(m)%len(methods)]
		read := func(br *bufio.Reader) (*httpResponseHead, error) { return readResponseHead(br, method) }
		h := hfFuzzHead(t, in, read, func(h *httpResponseHead) []byte { return h.raw })
		if h == nil {
			return
		}
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
