package httpwire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// plainReader has only the methods of Reader: no Size, no WriteTo.
type plainReader struct{ br *bufio.Reader }

func (r plainReader) Peek(n int) ([]byte, error) { return r.br.Peek(n) }
func (r plainReader) Discard(n int) (int, error) { return r.br.Discard(n) }
func (r plainReader) Buffered() int              { return r.br.Buffered() }
func (r plainReader) Read(p []byte) (int, error) { return r.br.Read(p) }

// TestPlainReader checks that the framer needs nothing of a Reader but its
// four methods: heads, bodies (a body until close without WriteTo too),
// and the bound of a reader smaller than MaxHead, reported through
// bufio.ErrBufferFull.
func TestPlainReader(t *testing.T) {
	for _, c := range requestCases {
		br := testReader(iotest.HalfReader, c.head+c.rest)
		h, err := ReadRequestHead(plainReader{br})
		if err != nil || string(h.Raw) != c.head || h.Body != c.body {
			t.Errorf("%s: %+v, %v", c.name, h, err)
			continue
		}
		if rest := restOf(t, br); rest != c.rest {
			t.Errorf("%s: left %q, want %q", c.name, rest, c.rest)
		}
	}
	for _, c := range bodyCases {
		br := testReader(iotest.OneByteReader, c.in)
		var out bytes.Buffer
		n, err := CopyBody(&out, plainReader{br}, c.body)
		if c.err == nil && err != nil || c.err != nil && !errors.Is(err, c.err) {
			t.Errorf("%s: CopyBody: %v, want %v", c.name, err, c.err)
		}
		if out.String() != c.out || n != int64(out.Len()) {
			t.Errorf("%s: wrote %q (n=%d), want %q", c.name, out.String(), n, c.out)
		}
	}

	br := bufio.NewReaderSize(strings.NewReader(headOfSize(5000)), 4096)
	if _, err := ReadRequestHead(plainReader{br}); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "longer than 4096 bytes") {
		t.Errorf("head larger than the reader's buffer: %v, want ErrMalformed naming 4096 bytes", err)
	}
	in := "5;" + strings.Repeat("x", 5000) + "\r\nhello\r\n0\r\n\r\n"
	br = bufio.NewReaderSize(strings.NewReader(in), 4096)
	if _, err := CopyBody(io.Discard, plainReader{br}, Body{Kind: BodyChunked}); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "longer than 4096 bytes") {
		t.Errorf("chunk line larger than the reader's buffer: %v, want ErrMalformed naming 4096 bytes", err)
	}
	if rest := restOf(t, br); rest != in {
		t.Errorf("chunk line too long: consumed bytes")
	}
}
