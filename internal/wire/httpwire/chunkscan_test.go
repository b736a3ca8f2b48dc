package httpwire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// scanPieces scans b given in pieces of at most size bytes and returns
// where the body ended (-1 if it did not) and the error.
func scanPieces(b []byte, size int) (int, error) {
	var s ChunkScanner
	for off := 0; off < len(b); {
		piece := b[off:min(off+size, len(b))]
		n, done, err := s.Scan(piece)
		if err != nil {
			return -1, err
		}
		if done {
			return off + n, nil
		}
		if n != len(piece) {
			return -1, errors.New("took part of a piece without ending")
		}
		off += n
	}
	return -1, nil
}

func TestChunkScanner(t *testing.T) {
	cases := []struct {
		body string
		end  int // -1: not ended
		bad  bool
	}{
		{"0\r\n\r\n", 5, false},
		{"5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n", 15, false},
		{"5;ext=1\nhello\n0\nTrailer: x\n\n", 28, false},
		{"a\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n", 28, false},
		{"5\r\nhel", -1, false},
		{"zz\r\n", -1, true},
		{"5\r\nhelloXX", -1, true},
		{"0\r\nbad trailer\r\n\r\n", -1, true},
	}
	for _, c := range cases {
		for _, size := range []int{1, 2, 3, 7, 1000} {
			end, err := scanPieces([]byte(c.body), size)
			if c.bad {
				if !errors.Is(err, ErrMalformed) {
					t.Errorf("%q in pieces of %d: error %v, want ErrMalformed", c.body, size, err)
				}
				continue
			}
			if err != nil || end != c.end {
				t.Errorf("%q in pieces of %d: end %d, %v; want %d", c.body, size, end, err, c.end)
			}
		}
	}
}

// TestChunkScannerFixtures scans the chunked bodies captured from real
// servers and clients: each ends where CopyBody ends it.
func TestChunkScannerFixtures(t *testing.T) {
	paths := []string{filepath.Join("testdata", "chunked.response"), filepath.Join("testdata", "post_chunked.request")}
	if len(paths) == 0 {
		t.Fatal("no chunked fixtures")
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		head := bytes.Index(b, []byte("\r\n\r\n")) + 4
		body := b[head:]
		want, err := CopyBody(io.Discard, bufio.NewReaderSize(bytes.NewReader(body), MaxHead), Body{Kind: BodyChunked})
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for _, size := range []int{1, 5, 64, len(body)} {
			end, err := scanPieces(body, size)
			if err != nil || int64(end) != want {
				t.Errorf("%s in pieces of %d: end %d, %v; CopyBody took %d", p, size, end, err, want)
			}
		}
	}
}

// FuzzChunkScanner: whatever the bytes and however they are cut, the
// scanner does not panic and comes to the same end as in one piece.
func FuzzChunkScanner(f *testing.F) {
	f.Add([]byte("5\r\nhello\r\n0\r\n\r\n"), 3)
	f.Add([]byte("5;ext=1\nhello\n0\nTrailer: x\n\nrest"), 1)
	f.Fuzz(func(t *testing.T, b []byte, size int) {
		if size <= 0 || size > len(b)+1 {
			size = len(b) + 1
		}
		whole, werr := scanPieces(b, len(b)+1)
		cut, cerr := scanPieces(b, size)
		if (werr == nil) != (cerr == nil) || werr == nil && whole != cut {
			t.Fatalf("whole: %d, %v; in pieces of %d: %d, %v", whole, werr, size, cut, cerr)
		}
	})
}

func TestRedact(t *testing.T) {
	msg := "POST /login HTTP/1.1\r\nHost: x\r\nauthorization: Bearer s3cret\r\nCookie: a=1; b=2\r\nContent-Length: 27\r\n\r\nAuthorization: not a header"
	want := "POST /login HTTP/1.1\r\nHost: x\r\nauthorization: REDACTED\r\nCookie: REDACTED\r\nContent-Length: 27\r\n\r\nAuthorization: not a header"
	if got := string(Redact([]byte(msg), "Authorization", "Cookie")); got != want {
		t.Errorf("Redact:\n%q\nwant\n%q", got, want)
	}
	plain := []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if got := Redact(plain, "Authorization"); &got[0] != &plain[0] {
		t.Error("Redact copied a head with nothing to redact")
	}
	cut := "GET / HTTP/1.1\r\nCookie: sess"
	if got := string(Redact([]byte(cut), "Cookie")); got != "GET / HTTP/1.1\r\nCookie: REDACTED" {
		t.Errorf("a line cut short: %q", got)
	}
}
