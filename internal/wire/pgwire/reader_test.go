package pgwire

import (
	"bytes"
	"testing"
	"testing/iotest"

	"github.com/gofaults/faults/internal/pooledbuf"
)

// The relays read through the repository's pooled reader.
var _ Reader = (*pooledbuf.Reader)(nil)

// TestPooledReader frames a captured session through a pooled reader fed
// a byte at a time: the first packet, then every message, copied whole.
func TestPooledReader(t *testing.T) {
	client := readFixture(t, "extended.client")
	r := pooledbuf.NewReader(iotest.OneByteReader(bytes.NewReader(client)), 16<<10)
	s, err := PeekStartup(r)
	if err != nil || s.Kind != StartupMessage {
		t.Fatalf("%+v %v", s, err)
	}
	var out bytes.Buffer
	out.Write(must(r.Peek(s.Length)))
	r.Discard(s.Length)
	for {
		h, err := PeekHeader(r)
		if err != nil {
			break
		}
		if h.Type == TypeParse {
			payload, err := PeekPayload(r, h, h.PayloadLen())
			if p, perr := ParseParse(payload); err != nil || perr != nil || len(p.Query) == 0 {
				t.Fatalf("Parse: %v %v", err, perr)
			}
		}
		if _, err := CopyMessage(&out, r, h); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(out.Bytes(), client) {
		t.Error("the copy differs from the stream")
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
