package pgwire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"testing/iotest"
)

// fuzzFixtures returns the captured streams, client streams without their
// startup packet unless startup is set.
func fuzzFixtures(f *testing.F, startup bool) [][]byte {
	paths, err := filepath.Glob(filepath.Join("testdata", "*.client"))
	if err != nil {
		f.Fatal(err)
	}
	servers, _ := filepath.Glob(filepath.Join("testdata", "*.server"))
	var out [][]byte
	for _, p := range append(paths, servers...) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		if filepath.Ext(p) == ".client" && !startup && len(b) >= 4 {
			n := int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3])
			b = b[min(n, len(b)):]
		}
		out = append(out, b)
	}
	return out
}

// FuzzStartup classifies arbitrary first packets read whole and a byte at
// a time: PeekStartup must not panic, must come to the same answer either
// way, must consume nothing, and must agree with ParseStartup on the
// packet it framed.
func FuzzStartup(f *testing.F) {
	for _, s := range fuzzFixtures(f, true) {
		f.Add(s)
	}
	for _, s := range [][]byte{startup30, sslReq, gssReq, cancel30, {0x16, 3, 1},
		startupPacket(CodeProtocol32, "user\x00u\x00\x00"), startupPacket(CodeCancelRequest, "\x00\x00\x00\x01"+string(bytes.Repeat([]byte{1}, 32))),
		startupPacket(4<<16, ""), startupPacket(CodeProtocol30, "a\x00")} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		outcome := func(src io.Reader) (Startup, string) {
			br := bufio.NewReaderSize(src, MaxStartupLength)
			s, err := PeekStartup(br)
			if err != nil && err != io.EOF && !errors.Is(err, ErrMalformed) {
				t.Fatalf("PeekStartup: %v", err)
			}
			if rest, _ := io.ReadAll(br); !bytes.Equal(rest, in) {
				t.Fatalf("consumed %d bytes", len(in)-len(rest))
			}
			if err != nil {
				return s, err.Error()
			}
			return s, ""
		}
		s, verdict := outcome(bytes.NewReader(in))
		s1, verdict1 := outcome(iotest.OneByteReader(bytes.NewReader(in)))
		if verdict != verdict1 || !reflect.DeepEqual(s, s1) {
			t.Fatalf("whole: %+v %q; a byte at a time: %+v %q", s, verdict, s1, verdict1)
		}
		if verdict != "" {
			return
		}
		if s.Kind == DirectTLS {
			if in[0] != TLSHandshakeByte || s.Length != 0 {
				t.Fatalf("direct TLS: %+v", s)
			}
			return
		}
		if s.Length < 8 || s.Length > len(in) || s.Length > MaxStartupLength {
			t.Fatalf("length %d of %d bytes", s.Length, len(in))
		}
		if p, err := ParseStartup(in[:s.Length]); err != nil || !reflect.DeepEqual(p, s) {
			t.Fatalf("ParseStartup: %+v %v; PeekStartup %+v", p, err, s)
		}
	})
}

// fuzzOutcome is what framing a stream came to.
type fuzzOutcome struct {
	ends    []int
	verdict string
}

// fuzzFrame frames a stream with PeekHeader and CopyMessage, checking
// that what is copied is the input.
func fuzzFrame(t *testing.T, in []byte, src io.Reader, size int) fuzzOutcome {
	br := bufio.NewReaderSize(src, size)
	var out fuzzOutcome
	var copied bytes.Buffer
	off := 0
	for {
		h, err := PeekHeader(br)
		if err == nil {
			var n int64
			n, err = CopyMessage(&copied, br, h)
			off += int(n)
			if err == nil {
				out.ends = append(out.ends, off)
				continue
			}
		}
		if err != io.EOF && !errors.Is(err, ErrMalformed) {
			t.Fatalf("framing: %v", err)
		}
		if err != io.EOF {
			out.verdict = err.Error()
		}
		if !bytes.Equal(copied.Bytes(), in[:off]) {
			t.Fatalf("copied bytes differ from the input")
		}
		return out
	}
}

// FuzzFrame frames arbitrary streams read whole and in chunks of sizes
// drawn from seed, with buffers of several sizes: the framer must not
// panic, must find the same boundaries and verdict whatever the chunking
// and buffer, and agree with SplitMessage. Every message framed is
// parsed as a client's and as a server's, which must not panic either.
func FuzzFrame(f *testing.F) {
	for i, s := range fuzzFixtures(f, false) {
		f.Add(s, uint64(i))
	}
	f.Add([]byte("Q\x00\x00\x00\x03"), uint64(1))
	f.Add([]byte("D\xff\xff\xff\xff"), uint64(2))
	f.Add(append(AppendErrorResponse(nil, ErrorFields{Severity: "ERROR", Code: "40001", Message: "m"}), "Z\x00\x00\x00\x05I"...), uint64(3))
	f.Fuzz(func(t *testing.T, in []byte, seed uint64) {
		want := fuzzFrame(t, in, bytes.NewReader(in), 64<<10)
		rng := rand.New(rand.NewPCG(seed, seed>>7))
		for _, size := range []int{16, 64, 4096} {
			for _, src := range []io.Reader{iotest.OneByteReader(bytes.NewReader(in)), &randomChunks{in, rng}} {
				if got := fuzzFrame(t, in, src, size); !reflect.DeepEqual(got, want) {
					t.Fatalf("buffer %d, %T: %+v; whole: %+v", size, src, got, want)
				}
			}
		}
		// SplitMessage finds the same boundaries in the bytes.
		rest, off := in, 0
		for i := 0; ; i++ {
			h, payload, r, err := SplitMessage(rest)
			if err != nil {
				if i != len(want.ends) {
					t.Fatalf("SplitMessage: %d messages then %v; framer %d", i, err, len(want.ends))
				}
				break
			}
			off += h.Size()
			if i >= len(want.ends) || off != want.ends[i] {
				t.Fatalf("SplitMessage: message %d ends at %d; framer %v", i, off, want.ends)
			}
			fuzzParse(t, h.Type, payload)
			rest = r
		}
	})
}

// FuzzParse runs every parser on arbitrary payloads: none may panic, and
// what parses must survive the round trips the encoders offer.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzFixtures(f, false) {
		for len(s) > 0 {
			h, payload, rest, err := SplitMessage(s)
			if err != nil {
				break
			}
			f.Add(h.Type, payload)
			s = rest
		}
	}
	f.Fuzz(func(t *testing.T, typ byte, payload []byte) {
		fuzzParse(t, typ, payload)
	})
}

// fuzzParse parses payload as a client's and a server's message of type
// typ, and checks what the encoders can write back.
func fuzzParse(t *testing.T, typ byte, payload []byte) {
	h := Header{Type: typ, Length: len(payload) + 4}
	parseFrontend(h, payload)
	parseBackend(h, payload)
	if e, err := ParseErrorFields(payload); err == nil {
		back, err := ParseErrorFields(AppendErrorResponse(nil, e)[HeaderLen:])
		if err != nil {
			t.Fatalf("AppendErrorResponse wrote what ParseErrorFields refuses: %v", err)
		}
		// Empty known fields are left out, which reads back the same;
		// unknown ones keep their order.
		if !reflect.DeepEqual(back, e) {
			t.Fatalf("round trip: %+v\nparsed: %+v", back, e)
		}
	}
	if sql, err := ParseQuery(payload); err == nil {
		if got := AppendQuery(nil, string(sql)); !bytes.Equal(got[HeaderLen:], payload) {
			t.Fatalf("AppendQuery: %q of %q", got, payload)
		}
	}
	if st, err := ParseReadyForQuery(payload); err == nil {
		if got := AppendReadyForQuery(nil, st); !bytes.Equal(got[HeaderLen:], payload) {
			t.Fatalf("AppendReadyForQuery: %q of %q", got, payload)
		}
	}
}

// randomChunks reads b in pieces of random sizes.
type randomChunks struct {
	b   []byte
	rng *rand.Rand
}

func (c *randomChunks) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.b[:min(len(c.b), 1+c.rng.IntN(32))])
	c.b = c.b[n:]
	return n, nil
}
