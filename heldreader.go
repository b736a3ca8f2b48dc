package faults

import "github.com/gofaults/faults/internal/pooledbuf"

// heldReader is a buffered reader for a framer that consumes whole
// messages (the memcached codec's CopyCommand and CopyReply with no
// writer): the bytes it consumes stay at the front of the buffer, held,
// until the relay releases them, writing them on in one write. Before any
// read from the source, release is called, so that what was framed leaves
// before the relay waits for more: a pipeline read in one read leaves in
// one write, as through a plain proxy.
//
// Peek, Discard, Buffered and Size see the bytes after the held ones, with
// pooledbuf.Reader's contracts; an error of release is returned by the call
// that needed it.
type heldReader struct {
	r       *pooledbuf.Reader
	held    int          // bytes at the front of r's buffer consumed, not yet released
	release func() error // writes held() on and calls drop
}

// Peek returns the next n bytes after the held ones, releasing them first
// if more must be read.
func (h *heldReader) Peek(n int) ([]byte, error) {
	if h.held+n > h.r.Buffered() && h.held > 0 {
		if err := h.release(); err != nil {
			return nil, err
		}
	}
	b, err := h.r.Peek(h.held + n)
	if len(b) < h.held {
		return nil, err
	}
	return b[h.held:], err
}

// Discard consumes n bytes, holding them if they are buffered.
func (h *heldReader) Discard(n int) (int, error) {
	if n <= h.Buffered() {
		h.held += n
		return n, nil
	}
	if h.held > 0 {
		if err := h.release(); err != nil {
			return 0, err
		}
	}
	return h.r.Discard(n)
}

// Read releases the held bytes and reads, unbuffered by the holding.
func (h *heldReader) Read(p []byte) (int, error) {
	if h.held > 0 {
		if err := h.release(); err != nil {
			return 0, err
		}
	}
	return h.r.Read(p)
}

// Buffered is the number of bytes buffered after the held ones.
func (h *heldReader) Buffered() int { return h.r.Buffered() - h.held }

// Size is the underlying reader's: the longest Peek, once nothing is held.
func (h *heldReader) Size() int { return h.r.Size() }

// heldBytes returns the held bytes, valid until the next read from the
// source.
func (h *heldReader) heldBytes() []byte {
	if h.held == 0 {
		return nil
	}
	b, _ := h.r.Peek(h.held)
	return b
}

// drop forgets the held bytes: they have been written on, or are to be
// lost.
func (h *heldReader) drop() {
	if h.held > 0 {
		h.r.Discard(h.held)
		h.held = 0
	}
}
