package resp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
	"testing/iotest"

	"github.com/gofaults/faults/internal/testenv"
)

// respFuzzOutcome is what framing an input came to.
type respFuzzOutcome struct {
	ends      []int
	malformed bool
}

func respFuzzFrame(t *testing.T, in []byte, src io.Reader) respFuzzOutcome {
	ends, err := respFrameAll(t, src)
	if err != nil && !errors.Is(err, ErrMalformed) {
		t.Fatalf("frame: %v", err)
	}
	last := 0
	for _, e := range ends {
		if e <= last || e > len(in) {
			t.Fatalf("values end at %v in %d bytes", ends, len(in))
		}
		last = e
	}
	return respFuzzOutcome{ends: ends, malformed: err != nil}
}

// FuzzRESPFrame frames arbitrary bytes read whole, a byte at a time and in
// chunks of sizes drawn from seed: the framer must not panic, must find the
// same value boundaries and the same verdict whatever the chunking, and
// never frame past the input. PeekCommand must come to the same answer
// whole and a byte at a time.
func FuzzRESPFrame(f *testing.F) {
	for i, s := range testenv.RESPFuzzSeeds(f, "testdata") {
		f.Add(s, uint64(i))
	}
	f.Fuzz(func(t *testing.T, in []byte, seed uint64) {
		want := respFuzzFrame(t, in, bytes.NewReader(in))
		for how, src := range respReaders(in, seed) {
			got := respFuzzFrame(t, in, src)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%s: %+v; whole: %+v", how, got, want)
			}
		}

		peek := func(src io.Reader) string {
			cmd, err := respPeek(t, src)
			if err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, io.EOF) {
				t.Fatalf("PeekCommand: %v", err)
			}
			if cmd.Inline > len(in) || len(cmd.Name)+len(cmd.Key) > len(in) {
				t.Fatalf("PeekCommand: %+v of %d bytes", cmd, len(in))
			}
			return fmt.Sprintf("%q %q %v %d %v", cmd.Name, cmd.Key, cmd.None, cmd.Inline, errors.Is(err, ErrMalformed))
		}
		if a, b := peek(bytes.NewReader(in)), peek(iotest.OneByteReader(bytes.NewReader(in))); a != b {
			t.Fatalf("PeekCommand whole: %s; a byte at a time: %s", a, b)
		}

		// The arguments of a command never reach past it, and an array
		// framed element by element ends where it ends framed whole.
		rr := NewReader(bytes.NewReader(in))
		if rr.Fill() != nil {
			return
		}
		args, whole, err := rr.PeekArgs(nil)
		size := 0
		for _, a := range args {
			size += len(a)
		}
		if size > len(in) || whole && err != nil {
			t.Fatalf("PeekArgs: %d bytes of arguments in %d, whole %v, %v", size, len(in), whole, err)
		}
		n, isArray, ok, err := rr.FrameArrayHead()
		if !isArray || !ok || err != nil || n < 0 || len(want.ends) == 0 || len(in) > 4000 {
			return
		}
		for range n {
			if whole, err := rr.Frame(); !whole || err != nil {
				t.Fatalf("element of an array framed whole at %d: %v, %v", want.ends[0], whole, err)
			}
		}
		if rr.f != want.ends[0] {
			t.Fatalf("the array's elements end at %d, the array at %d", rr.f, want.ends[0])
		}
	})
}
