// Package pgwire is the PostgreSQL frontend/backend protocol (version 3.0
// and 3.2) as framing over bytes: where the first packet of a connection
// and each message after it end, what the few messages a proxy must
// understand say, and the few a proxy writes itself (ErrorResponse,
// ReadyForQuery, the refusal of an encryption request, Query, Sync). It
// decodes no further than that, and knows nothing of connections or of
// what a caller does with the bytes.
//
// A connection starts with a packet that has no type byte: a length (4
// bytes, big endian, counting itself), a code (4 bytes) and a body. The
// code is a protocol version (a StartupMessage) or a request
// (SSLRequest, GSSENCRequest, CancelRequest); [PeekStartup] classifies
// it. Every message after it, both ways, is a type byte, a length (4
// bytes, big endian, counting itself but not the type byte) and a
// payload; [PeekHeader] reads that header.
//
// Nothing is consumed from a [Reader] until a caller says so: the peeking
// functions leave the bytes where they are, so that anything the framer
// refuses can still be passed through raw. [CopyMessage],
// [DiscardMessage] and [ReadMessage] consume a message whole.
//
// The parsers (ParseQuery, ParseErrorFields, ...) take a message's whole
// payload, the bytes after the 5-byte header, and check that it is laid
// out as PostgreSQL lays it out, to the last byte; they return []byte
// views into the payload, valid as long as it is (copy what you keep),
// except where they say otherwise.
//
// Every error about bytes that are not the protocol as this package
// understands it wraps [ErrMalformed].
package pgwire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

const (
	// HeaderLen is the length of a message header: the type byte and the
	// length.
	HeaderLen = 5
	// MaxLength is the largest length field this package accepts, 1 GiB:
	// PostgreSQL's limit on the messages it reads (a query's text, a
	// row), and far beyond what it writes in any other.
	MaxLength = 1 << 30
	// MaxStartupLength is the largest first packet of a connection,
	// length field included: the server refuses a longer one.
	MaxStartupLength = 10000
)

// ErrMalformed is wrapped by every error about bytes that are not the
// PostgreSQL protocol as this package understands it.
var ErrMalformed = errors.New("pgwire: malformed PostgreSQL protocol")

// ErrIncomplete is returned, unwrapped, by [SplitMessage] when the bytes
// given do not hold a whole message yet.
var ErrIncomplete = errors.New("pgwire: message not complete")

// malformed returns an error wrapping ErrMalformed.
func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// truncated is the error of a stream that ends inside something.
func truncated(where string) error {
	return fmt.Errorf("%w: stream ends inside %s: %w", ErrMalformed, where, io.ErrUnexpectedEOF)
}

// Reader is the buffered reader the framing functions read from.
// *bufio.Reader satisfies it, and so does the repository's pooled reader.
// The methods have *bufio.Reader's contracts: Peek returns the next n
// bytes without consuming them, as a slice of the buffer valid until the
// next read, or fewer and an error (io.EOF at the end of the stream, an
// error when n is more than Size); Discard consumes n bytes; Buffered is
// how many bytes can be peeked or read without reading from the source;
// Size is the buffer's size.
type Reader interface {
	io.Reader
	Peek(n int) ([]byte, error)
	Discard(n int) (discarded int, err error)
	Buffered() int
	Size() int
}

// Header is the header of a regular message.
type Header struct {
	Type   byte // the message's type, such as 'Q' (Query) or 'Z' (ReadyForQuery)
	Length int  // the length field: the payload's length plus 4, 4 to MaxLength
}

// PayloadLen returns the length of the payload, Length - 4.
func (h Header) PayloadLen() int { return h.Length - 4 }

// Size returns the message's size on the wire, header included:
// Length + 1.
func (h Header) Size() int { return h.Length + 1 }

// Bytes returns h's 5 bytes as on the wire.
func (h Header) Bytes() [HeaderLen]byte {
	var b [HeaderLen]byte
	b[0] = h.Type
	binary.BigEndian.PutUint32(b[1:], uint32(h.Length))
	return b
}

// String returns h for logs and test failures.
func (h Header) String() string {
	return fmt.Sprintf("message(%q, length %d)", h.Type, h.Length)
}

// parseHeader reads a header from its 5 bytes.
func parseHeader(b []byte) (Header, error) {
	n := int32(binary.BigEndian.Uint32(b[1:]))
	if n < 4 || n > MaxLength {
		return Header{}, malformed("message %q with length %d", b[0], n)
	}
	return Header{Type: b[0], Length: int(n)}, nil
}

// PeekHeader returns the header of the next message in r without
// consuming anything. It blocks until 5 bytes are buffered or the source
// fails. Any type byte is accepted (see [IsFrontendType] and
// [IsBackendType]); a length below 4 or above MaxLength is not. Errors:
//
//   - io.EOF: the stream ended cleanly, before a header;
//   - an error wrapping both ErrMalformed and io.ErrUnexpectedEOF: the
//     stream ended inside a header;
//   - an error wrapping ErrMalformed: the length is impossible;
//   - any other error from the underlying reader (a timeout, a reset), as
//     is; a later call starts over with the bytes already buffered.
func PeekHeader(r Reader) (Header, error) {
	b, err := r.Peek(HeaderLen)
	if err != nil {
		if err == io.EOF {
			if len(b) == 0 {
				return Header{}, io.EOF
			}
			return Header{}, truncated("a message header")
		}
		return Header{}, err
	}
	return parseHeader(b)
}

// PeekPayload returns the first min(n, h.PayloadLen(), r.Size() - 5)
// bytes of the payload of the message whose header [PeekHeader] has just
// returned, without consuming anything (the header included); it blocks
// until they are buffered. They are a slice of r's buffer, valid until the
// next read from r: callers that keep them copy them. If the stream ends
// first, the error wraps both ErrMalformed and io.ErrUnexpectedEOF; any
// other error of the underlying reader is returned as is.
//
// With n >= h.PayloadLen() and a reader whose Size is at least h.Size(),
// it returns the whole payload, ready for the parsers.
func PeekPayload(r Reader, h Header, n int) ([]byte, error) {
	n = min(n, h.PayloadLen(), r.Size()-HeaderLen)
	if n <= 0 {
		return nil, nil
	}
	b, err := r.Peek(HeaderLen + n)
	if err != nil {
		if err == io.EOF {
			return nil, truncated("a message payload")
		}
		return nil, err
	}
	return b[HeaderLen:], nil
}

// CopyMessage forwards the message whose header [PeekHeader] has just
// returned, header and payload, from r to w, straight from r's buffer (no
// copy buffer of its own), consuming it. It returns the bytes written; the
// bytes consumed from r are those, plus, after a write error, those w
// refused. A stream that ends first gives an error wrapping ErrMalformed
// and io.ErrUnexpectedEOF; w's and r's other errors are returned as they
// are. It blocks on r and w.
func CopyMessage(w io.Writer, r Reader, h Header) (int64, error) {
	n := int64(h.Size())
	var written int64
	for written < n {
		if r.Buffered() == 0 {
			if _, err := r.Peek(1); err != nil {
				if err == io.EOF {
					err = truncated("a message")
				}
				return written, err
			}
		}
		p, _ := r.Peek(int(min(int64(r.Buffered()), n-written)))
		m, err := w.Write(p)
		if m < 0 || m > len(p) {
			m, err = 0, errors.New("pgwire: invalid Write result")
		}
		r.Discard(m)
		written += int64(m)
		if err == nil && m < len(p) {
			err = io.ErrShortWrite
		}
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// DiscardMessage consumes the message whose header [PeekHeader] has just
// returned, header and payload. A stream that ends first gives an error
// wrapping ErrMalformed and io.ErrUnexpectedEOF, with what there was
// consumed.
func DiscardMessage(r Reader, h Header) error {
	n, err := r.Discard(h.Size())
	if n < h.Size() && (err == io.EOF || err == nil) {
		err = truncated("a message")
	}
	return err
}

// ReadMessage consumes the message whose header [PeekHeader] has just
// returned and appends it whole, header included, to dst; raw is the
// extended dst, owned by the caller, and raw[len(dst)+HeaderLen:] the
// payload. A message whose payload is longer than max is refused with an
// error wrapping ErrMalformed and nothing consumed. On any other error,
// raw holds every byte consumed from r, for the caller to pass on.
//
// It is meant for messages a caller parses (a Parse, an ErrorResponse):
// max bounds the memory it takes.
func ReadMessage(dst []byte, r Reader, h Header, max int) (raw []byte, err error) {
	if h.PayloadLen() > max {
		return dst, malformed("message %q of %d bytes, more than the %d allowed", h.Type, h.PayloadLen(), max)
	}
	w := appender{dst}
	_, err = CopyMessage(&w, r, h)
	return w.b, err
}

// appender is an io.Writer appending to a slice.
type appender struct{ b []byte }

func (a *appender) Write(p []byte) (int, error) {
	a.b = append(a.b, p...)
	return len(p), nil
}

// SplitMessage frames the message at the start of b: its header, its
// payload and the bytes after it, both slices of b. If b does not hold the
// whole message yet, the error is ErrIncomplete (unwrapped); if the header
// is impossible, an error wrapping ErrMalformed.
func SplitMessage(b []byte) (h Header, payload, rest []byte, err error) {
	if len(b) < HeaderLen {
		return Header{}, nil, b, ErrIncomplete
	}
	if h, err = parseHeader(b); err != nil {
		return Header{}, nil, b, err
	}
	if len(b) < h.Size() {
		return h, nil, b, ErrIncomplete
	}
	return h, b[HeaderLen:h.Size()], b[h.Size():], nil
}
