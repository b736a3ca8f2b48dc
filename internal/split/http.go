package split

import (
	"errors"
	"fmt"
	"io"

	"github.com/gofaults/faults/internal/wire/httpwire"
)

// HTTP returns a Splitter of HTTP/1.x: a message is a head with its body.
// The head of a request that waits for 100 Continue is a message of its
// own, and so is an interim response. A request or response after which
// the connection is a tunnel (an upgrade, CONNECT, a body until close)
// ends the framing.
func HTTP() Splitter { return new(httpSplitter) }

type httpSplitter struct {
	side  [2]httpSide
	notes []string // what each request still owed a response needs to frame it: its method if HEAD or CONNECT
}

// httpSide is one direction's state.
type httpSide struct {
	framer   httpwire.Framer
	head     partial
	body     uint8 // bodyNone between messages
	left     int64 // of a body of known length
	chunks   httpwire.ChunkScanner
	upgraded bool // the request just read upgrades the connection: its body is its last
	waits    bool // the request just read waits for 100 Continue before its body
}

const (
	bodyNone = iota
	bodyLength
	bodyChunked
)

func (s *httpSplitter) Split(ends []int, from Side, b []byte) ([]int, error) {
	st := &s.side[from]
	off := 0
	for off < len(b) {
		switch st.body {
		case bodyLength:
			n := int(min(st.left, int64(len(b)-off)))
			off += n
			if st.left -= int64(n); st.left > 0 {
				continue
			}
		case bodyChunked:
			n, done, err := st.chunks.Scan(b[off:])
			off += n
			if err != nil {
				return ends, err
			}
			if !done {
				continue
			}
		default:
			n, whole, err := s.head(from, b[off:])
			off += n
			if err != nil && whole {
				ends = append(ends, off) // the head before a tunnel
			}
			if err != nil || !whole {
				return ends, err
			}
			if st.body != bodyNone {
				if st.waits {
					// The head goes alone: the body waits for the server.
					ends = append(ends, off)
				}
				continue
			}
		}
		// A message ended at off.
		st.body = bodyNone
		ends = append(ends, off)
		if st.upgraded {
			return ends, fmt.Errorf("%w: the client upgraded the connection", ErrUnframed)
		}
	}
	return ends, nil
}

// head reads a head from b, after the part of it held, and sets up its
// body. It returns how many bytes of b it took, and whether the head is
// whole.
func (s *httpSplitter) head(from Side, b []byte) (int, bool, error) {
	st := &s.side[from]
	buf := st.head.with(b)
	r := &sliceReader{b: buf}
	var body httpwire.Body
	var err error
	if from == Client {
		var h *httpwire.RequestHead
		if h, err = st.framer.ReadRequestHead(r); err == nil {
			body = h.Body
			st.upgraded, st.waits = h.Upgrade, h.ExpectContinue
			note := ""
			if h.Method == "HEAD" || h.Method == "CONNECT" {
				note = h.Method
			}
			s.notes = append(s.notes, note)
		}
	} else {
		if len(s.notes) == 0 {
			return 0, false, fmt.Errorf("%w: a response to no request", ErrUnframed)
		}
		var h *httpwire.ResponseHead
		if h, err = st.framer.ReadResponseHead(r, s.notes[0]); err == nil {
			body = h.Body
			switch {
			case h.Status == 101:
				return r.pos - st.head.take(), true, fmt.Errorf("%w: switching protocols", ErrUnframed)
			case h.Status < 200:
				// Interim: the final response is still owed.
			case body.Kind == httpwire.BodyUntilClose:
				return r.pos - st.head.take(), true, fmt.Errorf("%w: a body or tunnel until the connection closes", ErrUnframed)
			default:
				s.notes = s.notes[1:]
			}
		}
	}
	switch {
	case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
		st.head.keep(buf)
		return len(b), false, nil
	case err != nil:
		return 0, false, err
	}
	n := r.pos - st.head.take()
	switch body.Kind {
	case httpwire.BodyLength:
		if body.Length > 0 {
			st.body, st.left = bodyLength, body.Length
		}
	case httpwire.BodyChunked:
		st.body, st.chunks = bodyChunked, httpwire.ChunkScanner{}
	}
	return n, true, nil
}
