// Package split finds where the messages of a connection end, per
// protocol, in the bytes each side sends, given piece by piece as they
// are seen: for a capture, whose segments are one message each, and for a
// replay, which sends a recorded client message by message and reads the
// answers.
//
// A Splitter keeps in constant memory what it must of a message seen in
// part (a head, a line), and counts the rest. It never blocks and never
// panics on malformed bytes. The codecs (internal/wire/...) do the
// framing; this package feeds them pieces.
package split

import (
	"errors"
	"io"
)

// Side says which end of a connection sent bytes.
type Side uint8

const (
	Client Side = iota // the end that connected
	Server
)

// ErrUnframed is wrapped by the error of a Splitter whose connection turns
// into something it does not frame: a tunnel after an HTTP upgrade or
// CONNECT, a body that lasts until the connection closes, encryption
// accepted, a cancel request.
var ErrUnframed = errors.New("split: the connection is no longer framed")

// A Splitter finds the ends of the messages of one connection. It is used
// by one goroutine.
type Splitter interface {
	// Split takes the next bytes b sent by from and appends to ends the
	// offsets in b where messages end, in increasing order (0 < end <=
	// len(b)); the bytes after the last end belong to a message still to
	// end. A message's end is reported once, in the piece where it falls.
	//
	// An error wraps the codec's ErrMalformed, or ErrUnframed: the bytes
	// from the last end returned on are not framed, nor anything after
	// them on either side; the Splitter must not be called again.
	Split(ends []int, from Side, b []byte) ([]int, error)
}

// sliceReader serves the bytes of a slice through the codecs' reader
// interfaces: Peek past its end returns what there is and io.EOF, as a
// stream that ends there.
type sliceReader struct {
	b   []byte
	pos int
}

func (r *sliceReader) Peek(n int) ([]byte, error) {
	if rest := r.b[r.pos:]; n > len(rest) {
		return rest, io.EOF
	}
	return r.b[r.pos : r.pos+n], nil
}

func (r *sliceReader) Discard(n int) (int, error) {
	n = min(n, len(r.b)-r.pos)
	r.pos += n
	return n, nil
}

func (r *sliceReader) Buffered() int { return len(r.b) - r.pos }

func (r *sliceReader) Size() int { return len(r.b) }

func (r *sliceReader) Read(p []byte) (int, error) {
	if r.pos == len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.pos:])
	r.pos += n
	return n, nil
}

// partial gathers the bytes of a message's beginning (a head, a header)
// seen in pieces, until the piece that completes it. While pieces keep
// completing what they start, it copies nothing.
type partial struct {
	buf []byte
}

// with returns the bytes held followed by b: b itself when nothing is
// held.
func (p *partial) with(b []byte) []byte {
	if len(p.buf) == 0 {
		return b
	}
	return append(p.buf, b...)
}

// keep holds all of b, the bytes held and the new ones (as with returned
// them), for the next piece.
func (p *partial) keep(b []byte) {
	if len(p.buf) == 0 {
		p.buf = append(p.buf[:0], b...)
		return
	}
	p.buf = b
}

// held returns how many bytes are held, and forgets them.
func (p *partial) take() int {
	n := len(p.buf)
	p.buf = p.buf[:0]
	return n
}
