package memcache

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"
)

// chunkReader returns its bytes in reads of sizes drawn from a seed.
type chunkReader struct {
	b   []byte
	rng *rand.Rand
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(c.b), 1+c.rng.IntN(64))
	copy(p, c.b[:n])
	c.b = c.b[n:]
	return n, nil
}

// fuzzSources returns in read whole, a byte at a time, in halves and in
// chunks drawn from seed, each through a buffer of 4096 bytes.
func fuzzSources(in []byte, seed uint64) map[string]Reader {
	return map[string]Reader{
		"whole":   newReader(bytes.NewReader(in)),
		"onebyte": newReader(iotest.OneByteReader(bytes.NewReader(in))),
		"half":    newReader(iotest.HalfReader(bytes.NewReader(in))),
		"chunks":  newReader(&chunkReader{in, rand.New(rand.NewPCG(seed, seed>>7))}),
	}
}

// fuzzSeeds are the fixture session's steps, client or server side.
func fuzzSeeds(f *testing.F, server bool) [][]byte {
	var seeds [][]byte
	for _, st := range loadSession(f) {
		b := st.client
		if server {
			b = st.server
		}
		if len(b) < 8<<10 {
			seeds = append(seeds, b)
		}
	}
	return seeds
}

// FuzzCommandFramer frames arbitrary client bytes: the framer must not
// panic, must find the same command boundaries, names and shapes, and the
// same verdict, however the bytes are chunked, and never frame past the
// input.
func FuzzCommandFramer(f *testing.F) {
	for i, s := range fuzzSeeds(f, false) {
		f.Add(s, uint64(i))
	}
	f.Fuzz(func(t *testing.T, in []byte, seed uint64) {
		var want string
		for how, r := range fuzzSources(in, seed) {
			cmds, err := frameCommands(t, r)
			if err != nil && !errors.Is(err, ErrMalformed) {
				t.Fatalf("%s: %v", how, err)
			}
			var last int64
			var got bytes.Buffer
			for _, c := range cmds {
				if c.end <= last || c.end > int64(len(in)) {
					t.Fatalf("%s: command ends at %d after %d, of %d bytes", how, c.end, last, len(in))
				}
				last = c.end
				fmt.Fprintf(&got, "%d %q %q %v %v %v|", c.end, c.name, c.keys, c.reply, c.quiet, c.badChunk)
			}
			fmt.Fprintf(&got, "%v", err != nil)
			if want == "" {
				want = got.String()
			} else if got.String() != want {
				t.Fatalf("%s: %s\nother chunking: %s", how, got.String(), want)
			}
		}
	})
}

// FuzzReplyFramer frames arbitrary server bytes as the replies to
// commands of the shapes drawn from shapes (one a byte, cycled): the
// framer must not panic, must find the same reply boundaries and verdict
// however the bytes are chunked, and never frame past the input.
func FuzzReplyFramer(f *testing.F) {
	shapeOf := map[string]Shape{}
	for _, st := range loadSession(f) {
		cmds, err := frameCommands(f, newReader(bytes.NewReader(st.client)))
		if err == nil && len(cmds) > 0 {
			shapeOf[st.name] = cmds[0].reply
		}
	}
	for i, st := range loadSession(f) {
		if len(st.server) < 8<<10 {
			f.Add(st.server, []byte{byte(shapeOf[st.name])}, uint64(i))
		}
	}
	f.Fuzz(func(t *testing.T, in, shapes []byte, seed uint64) {
		if len(shapes) == 0 {
			shapes = []byte{byte(ShapeLine)}
		}
		var want string
		for how, r := range fuzzSources(in, seed) {
			var got bytes.Buffer
			var off int64
			var err error
			for i := 0; err == nil; i++ {
				s := Shape(shapes[i%len(shapes)] % byte(ShapeUnknown+1))
				if s == ShapeNone || s == ShapeUnknown {
					s = ShapeLine
				}
				if _, err = r.Peek(1); err == io.EOF {
					err = nil
					break
				}
				var n int64
				n, err = CopyReply(nil, r, s)
				off += n
				if off > int64(len(in)) || err == nil && n == 0 {
					t.Fatalf("%s: framed %d bytes (%d last) of %d", how, off, n, len(in))
				}
				fmt.Fprintf(&got, "%d|", off)
			}
			if err != nil && !errors.Is(err, ErrMalformed) {
				t.Fatalf("%s: %v", how, err)
			}
			fmt.Fprintf(&got, "%v", err != nil)
			if want == "" {
				want = got.String()
			} else if got.String() != want {
				t.Fatalf("%s: %s\nother chunking: %s", how, got.String(), want)
			}
		}
	})
}
