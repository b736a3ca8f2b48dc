package faults

import "github.com/gofaults/faults/internal/pooledbuf"

// heldReader is a buffered reader for a framer that consumes whole
// messages (the memcached codec's CopyCommand and CopyReply with no
// writer): the bytes it consumes stay at the front of the buffer, held,
// until they are sent on, several messages in one write. Before a read
// from the source, the messages framed whole (see mark) are sent, so that
// they never wait for the bytes after them: a pipeline read in one read
// leaves in one write, as through a plain proxy. A message framed in part
// stays held, and leaves with its rest in one write, unless the buffer
// cannot hold it: then what is held is sent, and the message streams on a
// buffer at a time.
//
// Peek, Discard, Buffered and Size see the bytes after the held ones, with
// pooledbuf.Reader's contracts; an error of send is returned by the call
// that needed it.
type heldReader struct {
	r     *pooledbuf.Reader
	held  int                // bytes at the front of r's buffer consumed, not yet sent
	whole int                // of held, the bytes of the messages framed whole
	send  func([]byte) error // writes bytes held on, in order
}

// mark notes that the bytes held so far end a message.
func (h *heldReader) mark() { h.whole = h.held }

// release sends every byte held.
func (h *heldReader) release() error { return h.sendHeld(h.held) }

// sendHeld sends the first n bytes held and forgets them.
func (h *heldReader) sendHeld(n int) error {
	if n == 0 {
		return nil
	}
	b, _ := h.r.Peek(n)
	if err := h.send(b); err != nil {
		return err
	}
	h.r.Discard(n)
	h.held -= n
	h.whole = max(h.whole-n, 0)
	return nil
}

// beforeRead sends what must not wait for a read that makes n bytes more
// available: the messages framed whole, and the message framed in part
// too if the buffer cannot hold it with the n bytes.
func (h *heldReader) beforeRead(n int) error {
	if err := h.sendHeld(h.whole); err != nil {
		return err
	}
	if h.held+n > h.r.Size() {
		return h.sendHeld(h.held)
	}
	return nil
}

// Peek returns the next n bytes after the held ones, reading more if need
// be.
func (h *heldReader) Peek(n int) ([]byte, error) {
	if h.held+n > h.r.Buffered() && h.held > 0 {
		if err := h.beforeRead(n); err != nil {
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
	if err := h.release(); err != nil {
		return 0, err
	}
	return h.r.Discard(n)
}

// Read sends every byte held, then reads, unbuffered by the holding.
func (h *heldReader) Read(p []byte) (int, error) {
	if err := h.release(); err != nil {
		return 0, err
	}
	return h.r.Read(p)
}

// Buffered is the number of bytes buffered after the held ones.
func (h *heldReader) Buffered() int { return h.r.Buffered() - h.held }

// Size is the underlying reader's: the longest Peek, once nothing is held.
func (h *heldReader) Size() int { return h.r.Size() }

// heldBytes returns the bytes held, valid until the next read from the
// source.
func (h *heldReader) heldBytes() []byte {
	if h.held == 0 {
		return nil
	}
	b, _ := h.r.Peek(h.held)
	return b
}

// drop forgets the bytes held: they have been written on, or are to be
// lost.
func (h *heldReader) drop() {
	if h.held > 0 {
		h.r.Discard(h.held)
		h.held, h.whole = 0, 0
	}
}
