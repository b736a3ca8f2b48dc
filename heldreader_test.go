package faults

import (
	"fmt"
	"io"
	"testing"

	"github.com/gofaults/faults/internal/pooledbuf"
)

// reads returns its chunks one per Read.
type reads struct{ chunks []string }

func (r *reads) Read(p []byte) (int, error) {
	if len(r.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.chunks[0])
	if r.chunks[0] = r.chunks[0][n:]; r.chunks[0] == "" {
		r.chunks = r.chunks[1:]
	}
	return n, nil
}

// TestHeldReaderSends: messages framed whole leave before the next read,
// together; a message framed in part waits for its rest, to leave in one
// write with it, unless the buffer cannot hold it.
func TestHeldReaderSends(t *testing.T) {
	for _, tc := range []struct {
		name   string
		chunks []string
		size   int
		want   []string // the writes
	}{
		{"a pipeline read at once", []string{"aaa|bbb|ccc|"}, 64, []string{"aaa|bbb|ccc|"}},
		{"a message cut by a read", []string{"aaa|bb", "b|ccc|"}, 64, []string{"aaa|", "bbb|ccc|"}},
		{"a message longer than the buffer", []string{"aaaaaaaaaaaaaaaaaaaaaaa|", "b|"}, 16, []string{"aaaaaaaaaaaaaaaa", "aaaaaaa|", "b|"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var writes []string
			h := heldReader{r: pooledbuf.NewReader(&reads{chunks: tc.chunks}, tc.size)}
			h.send = func(b []byte) error { writes = append(writes, string(b)); return nil }
			// Frame messages ended by '|' a byte at a time, as the
			// codec's copies do, marking each end.
			for {
				b, err := h.Peek(1)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				h.Discard(1)
				if b[0] == '|' {
					h.mark()
				}
			}
			if err := h.release(); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(writes) != fmt.Sprint(tc.want) {
				t.Fatalf("writes %q, want %q", writes, tc.want)
			}
		})
	}
}
