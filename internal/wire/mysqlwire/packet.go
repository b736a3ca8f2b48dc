// Package mysqlwire is the MySQL client/server protocol (MySQL 4.1+ and
// MariaDB) as framing over bytes: where each packet and each message ends,
// which command a client message is, when a server's response to it is
// complete, and the few encodings a proxy writes itself (ERR packets). It
// decodes no further than that, and knows nothing of connections or of
// what a caller does with the bytes.
//
// A packet is a 4-byte header, the payload's length (3 bytes, little
// endian) and a sequence id, then the payload. A message (a command, a row,
// an OK) longer than [MaxPayload] bytes is split into packets of MaxPayload
// bytes and a last, shorter one, possibly empty; each packet of a command's
// exchange has the sequence id of the one before it plus one (mod 256),
// across both directions, starting at 0 with the client's command.
//
// Headers are peeked and consumed only when valid, so that anything the
// framer refuses is still in the reader for the caller to pass through
// raw. Payloads are streamed, never buffered whole.
//
// The classifiers need only the start of a payload: the first
// min(length, [HeadLen]) bytes, which [PeekPayload] returns.
//
// Every error about bytes that are not the protocol as this package
// understands it wraps [ErrMalformed].
package mysqlwire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

const (
	// HeaderLen is the length of a packet header.
	HeaderLen = 4
	// MaxPayload is the largest payload of one packet; a packet this long
	// is followed by the next packet of the same message.
	MaxPayload = 1<<24 - 1
	// MaxMessage is a sane bound on a whole message, MySQL's largest
	// max_allowed_packet (1 GiB).
	MaxMessage = 1 << 30
	// HeadLen is how much of a payload's start the classifiers
	// ([Follower.Server], [ParseOK], [ClassifyReply], ...) need: the
	// longest fixed part they read is an OK packet's header, two 9-byte
	// length-encoded integers and its status flags (21 bytes).
	HeadLen = 32
)

// ErrMalformed is wrapped by every error about bytes that are not the
// MySQL protocol as this package understands it.
var ErrMalformed = errors.New("mysqlwire: malformed MySQL protocol")

// malformed returns an error wrapping ErrMalformed.
func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// truncated is the error of a stream that ends inside a packet.
func truncated(where string) error {
	return fmt.Errorf("%w: stream ends inside %s: %w", ErrMalformed, where, io.ErrUnexpectedEOF)
}

// Reader is the buffered reader the framing functions read from.
// *bufio.Reader satisfies it; so may a pooled reader of the caller's. The
// methods have *bufio.Reader's contracts: Peek returns the next n bytes
// without consuming them, as a slice of the buffer valid until the next
// read, or fewer and an error (io.EOF at the end of the stream, an error
// when n is more than Size); Discard consumes n bytes; Buffered is how
// many bytes can be peeked or read without reading from the source; Size
// is the buffer's size.
type Reader interface {
	io.Reader
	Peek(n int) ([]byte, error)
	Discard(n int) (discarded int, err error)
	Buffered() int
	Size() int
}

// Header is a packet header.
type Header struct {
	Length int  // payload length, 0 to MaxPayload
	Seq    byte // sequence id
}

// Continued reports whether the message goes on in the next packet: the
// payload is MaxPayload bytes long.
func (h Header) Continued() bool { return h.Length == MaxPayload }

// Bytes returns h's 4 bytes as on the wire. Length must be 0 to
// MaxPayload.
func (h Header) Bytes() [HeaderLen]byte {
	return [HeaderLen]byte{byte(h.Length), byte(h.Length >> 8), byte(h.Length >> 16), h.Seq}
}

// String returns h for logs and test failures.
func (h Header) String() string { return fmt.Sprintf("packet(seq %d, %d bytes)", h.Seq, h.Length) }

// ReadHeader reads the next packet header from r and returns it, leaving
// the payload in r for [PeekPayload], [CopyPayload], [CopyMessage] and the
// like. It blocks until 4 bytes are buffered or the source fails.
//
// Any 4 bytes are a valid header: it consumes them, and only them, when
// all four are there. On any error nothing is consumed. Errors:
//
//   - io.EOF: the stream ended cleanly, before a header;
//   - an error wrapping both ErrMalformed and io.ErrUnexpectedEOF: the
//     stream ended inside a header;
//   - any other error from the underlying reader (a timeout, a reset), as
//     is; a later call starts over with the bytes already buffered.
//
// See [ReadExpectedHeader] for a header checked against what the exchange
// expects.
func ReadHeader(r Reader) (Header, error) {
	h, err := PeekHeader(r)
	if err != nil {
		return Header{}, err
	}
	r.Discard(HeaderLen) // cannot fail: the bytes are buffered
	return h, nil
}

// ReadExpectedHeader is [ReadHeader] for a header that must have sequence
// id seq and a payload of at most max bytes: any other is malformed (an
// error wrapping ErrMalformed) and not consumed.
func ReadExpectedHeader(r Reader, seq byte, max int) (Header, error) {
	h, err := PeekHeader(r)
	if err != nil {
		return Header{}, err
	}
	if h.Seq != seq {
		return Header{}, malformed("sequence id %d where %d was due", h.Seq, seq)
	}
	if h.Length > max {
		return Header{}, malformed("payload of %d bytes, more than the %d allowed", h.Length, max)
	}
	r.Discard(HeaderLen) // cannot fail: the bytes are buffered
	return h, nil
}

// PeekHeader returns the next header of r without consuming it, with the
// errors of [ReadHeader]. It blocks until 4 bytes are buffered or the
// source fails.
func PeekHeader(r Reader) (Header, error) {
	b, err := r.Peek(HeaderLen)
	if err != nil {
		if err == io.EOF {
			if len(b) == 0 {
				return Header{}, io.EOF
			}
			return Header{}, truncated("a packet header")
		}
		return Header{}, err
	}
	return Header{Length: int(b[0]) | int(b[1])<<8 | int(b[2])<<16, Seq: b[3]}, nil
}

// PeekPayload returns the first min(n, h.Length, r.Size()) bytes of the
// payload of h, whose header [ReadHeader] has just read, without consuming
// them; it blocks until they are buffered. They are a slice of r's
// buffer, valid until the next read from r: callers that keep them copy
// them. If the stream ends first, the error wraps both ErrMalformed and
// io.ErrUnexpectedEOF; any other error of the underlying reader is
// returned as is.
func PeekPayload(r Reader, h Header, n int) ([]byte, error) {
	n = min(n, h.Length, r.Size())
	if n <= 0 {
		return nil, nil
	}
	b, err := r.Peek(n)
	if err != nil {
		if err == io.EOF {
			return nil, truncated("a packet payload")
		}
		return nil, err
	}
	return b, nil
}

// CopyPayload copies the payload of h, whose header [ReadHeader] has just
// read, from r to w, straight from r's buffer (no copy buffer of its own).
// It returns the bytes written; the bytes consumed from r are those, plus,
// after a write error, those w refused. A stream that ends first gives
// io.ErrUnexpectedEOF; w's and r's other errors are returned as they are.
func CopyPayload(w io.Writer, r Reader, h Header) (int64, error) {
	return copyN(w, r, int64(h.Length))
}

// copyN copies n bytes from r to w, straight from r's buffer.
func copyN(w io.Writer, r Reader, n int64) (int64, error) {
	var written int64
	for written < n {
		if r.Buffered() == 0 {
			if _, err := r.Peek(1); err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return written, err
			}
		}
		p, _ := r.Peek(int(min(int64(r.Buffered()), n-written)))
		m, err := w.Write(p)
		if m < 0 || m > len(p) {
			m, err = 0, errors.New("mysqlwire: invalid Write result")
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

// CopyMessage forwards a whole message whose first header h [ReadHeader]
// has just read: it writes h's header and payload to w, then, while the
// last packet was MaxPayload long, reads the next header (refusing,
// unconsumed, one whose sequence id is not the previous one's plus one or
// that takes the message beyond max bytes) and copies that packet too. It
// returns the message's last header, whose Seq the exchange goes on from,
// and the bytes written, headers included. Headers are written as
// separate small writes: w should be buffered. It blocks on r and w.
//
// On error, written says how much reached w; the bytes read from r are
// those written, plus, after a write error, those w refused. If h itself
// is longer than max, nothing is written, and h's payload is left in r.
// Errors about the bytes wrap ErrMalformed (with io.ErrUnexpectedEOF if
// the stream ends inside the message); r's and w's are returned as is.
func CopyMessage(w io.Writer, r Reader, h Header, max int) (last Header, written int64, err error) {
	if h.Length > max {
		return h, 0, malformed("message longer than %d bytes", max)
	}
	total := 0
	for {
		hb := h.Bytes()
		m, err := w.Write(hb[:])
		written += int64(m)
		if err == nil && m < len(hb) {
			err = io.ErrShortWrite
		}
		if err != nil {
			return h, written, err
		}
		n, err := CopyPayload(w, r, h)
		written += n
		if err != nil {
			return h, written, err
		}
		total += h.Length
		if !h.Continued() {
			return h, written, nil
		}
		next, err := ReadExpectedHeader(r, h.Seq+1, max-total)
		if err != nil {
			if err == io.EOF {
				err = truncated("a message")
			}
			return h, written, err
		}
		h = next
	}
}

// ReadMessage reads a whole message whose first header h [ReadHeader] has
// just read, as [CopyMessage] would forward it, and appends its raw bytes
// (headers included) to dst; raw is the extended dst, owned by the caller.
// On error, raw holds h's header and every byte consumed from r (for a
// payload cut short, what there was of it), for the caller to pass on.
// [MessagePayload] gives the payload of a complete message.
//
// It is meant for small messages (a greeting, a handshake response, a
// statement's text): max bounds the payload.
func ReadMessage(dst []byte, r Reader, h Header, max int) (raw []byte, last Header, err error) {
	if h.Length > max {
		hb := h.Bytes()
		return append(dst, hb[:]...), h, malformed("message longer than %d bytes", max)
	}
	w := appender{dst}
	last, _, err = CopyMessage(&w, r, h, max)
	return w.b, last, err
}

// appender is an io.Writer appending to a slice.
type appender struct{ b []byte }

func (a *appender) Write(p []byte) (int, error) {
	a.b = append(a.b, p...)
	return len(p), nil
}

// MessagePayload returns the payload of raw, a complete message as
// [ReadMessage] returns it: for a single packet a slice of raw (sharing
// its memory), for several a new slice joining their payloads. It returns
// nil if raw is shorter than a header.
func MessagePayload(raw []byte) []byte {
	if len(raw) < HeaderLen {
		return nil
	}
	n := int(raw[0]) | int(raw[1])<<8 | int(raw[2])<<16
	if n < MaxPayload {
		return raw[HeaderLen:min(len(raw), HeaderLen+n)]
	}
	var out []byte
	for len(raw) >= HeaderLen {
		n := int(raw[0]) | int(raw[1])<<8 | int(raw[2])<<16
		end := min(len(raw), HeaderLen+n)
		out = append(out, raw[HeaderLen:end]...)
		raw = raw[end:]
	}
	return out
}

// AppendPacket appends payload to dst as one message starting at sequence
// id seq: packets of MaxPayload bytes while they are full, then a last,
// shorter one (empty if the payload is a multiple of MaxPayload), with
// sequence ids counting up from seq. It returns the extended dst.
func AppendPacket(dst []byte, seq byte, payload []byte) []byte {
	for {
		n := min(len(payload), MaxPayload)
		h := Header{Length: n, Seq: seq}.Bytes()
		dst = append(dst, h[:]...)
		dst = append(dst, payload[:n]...)
		payload = payload[n:]
		if n < MaxPayload {
			return dst
		}
		seq++
	}
}

// ParseLenEnc decodes the length-encoded integer at the start of b: a
// first byte below 0xfb is the value; 0xfc, 0xfd and 0xfe are followed by
// the value in 2, 3 and 8 bytes, little endian. It returns the value and
// the bytes it takes; ok is false if b is too short, or starts with 0xfb
// (NULL, in a row) or 0xff (not an integer).
func ParseLenEnc(b []byte) (v uint64, n int, ok bool) {
	if len(b) == 0 {
		return 0, 0, false
	}
	switch c := b[0]; {
	case c < 0xfb:
		return uint64(c), 1, true
	case c == 0xfc:
		n = 3
	case c == 0xfd:
		n = 4
	case c == 0xfe:
		n = 9
	default:
		return 0, 0, false
	}
	if len(b) < n {
		return 0, 0, false
	}
	for i := n - 1; i >= 1; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v, n, true
}

// AppendLenEnc appends v to dst as a length-encoded integer, in its
// shortest form, and returns the extended dst.
func AppendLenEnc(dst []byte, v uint64) []byte {
	switch {
	case v < 0xfb:
		return append(dst, byte(v))
	case v <= 0xffff:
		return append(dst, 0xfc, byte(v), byte(v>>8))
	case v <= 0xffffff:
		return append(dst, 0xfd, byte(v), byte(v>>8), byte(v>>16))
	}
	dst = append(dst, 0xfe)
	return binary.LittleEndian.AppendUint64(dst, v)
}
