// Package memcache frames memcached's text protocol over a buffered
// reader: where each command a client sends ends (its line, and the data
// block of a storage command), what a proxy needs to know of it (its name,
// keys, noreply, the meta flags), what reply it is owed and of which
// shape, and where each reply the server sends ends. It also encodes the
// few replies a proxy writes in the server's place, and detects a client
// speaking the binary protocol, which it does not frame.
//
// A command is a line ended by '\n' (memcached strips a '\r' before it),
// followed, for set, add, replace, append, prepend, cas and ms, by a data
// block: the number of bytes the line declares, then "\r\n". A reply is a
// line ended by "\r\n"; a VALUE line (get, gets, gat, gats) and a VA line
// (mg, ma) are followed by a data block, and a get's values and a stats
// reply's lines end with END.
//
// Nothing is consumed from a [Reader] until a caller says so: the peeking
// functions ([PeekCommand], [PeekReply], [PeekBinary]) leave the bytes
// where they are, so that anything the framer refuses can still be passed
// on raw. [CopyCommand] and [CopyReply] consume a command or a reply whole,
// in constant memory whatever the size of its data blocks: they write
// straight from the reader's buffer, a buffer at a time.
//
// Where memcached refuses a command, the framer frames it as memcached
// does: a set whose line is malformed has no data block (memcached reads
// the bytes that follow as commands), a data block that does not end in
// "\r\n" still ends after its declared length. Lines memcached would
// accept in ways this package does not model (control characters,
// over-long lines) are refused with [ErrMalformed], for the caller to stop
// framing and pass the rest through raw.
//
// The package knows nothing of connections or of what a caller does with
// the bytes; it is not safe for concurrent use on one Reader.
package memcache

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

const (
	// MaxKeyLen is the longest key memcached accepts; a longer one gets
	// CLIENT_ERROR.
	MaxKeyLen = 250
	// MaxLine is the most bytes a command line may hold before its '\n'
	// (a '\r' included). memcached closes the connection when it has
	// buffered more than this without finding the '\n' (it may accept a
	// longer line that arrives in one read, but not reliably), except for
	// get and gets, whose lines it reads whatever their length: those are
	// framed up to the Reader's Size.
	MaxLine = 2048
	// MaxReplyLine is the longest reply line framed, "\r\n" included:
	// memcached's reply lines hold at most a key, a few numbers and the
	// meta flags, far less than this.
	MaxReplyLine = 8192
	// BinaryMagic is the first byte of every request of the binary
	// protocol. memcached decides a connection's protocol by its first
	// byte: this one makes it binary, any other makes it text.
	BinaryMagic = 0x80
)

// ErrMalformed is wrapped by every error about bytes that are not the
// memcached text protocol as this package understands it. The bytes from
// there on cannot be framed.
var ErrMalformed = errors.New("memcache: malformed memcached protocol")

// ErrBadDataChunk is returned, unwrapped, by [CopyCommand] when a data
// block did not end in "\r\n". The block was consumed as memcached
// consumes it (its declared length and two bytes more), and framing goes
// on: memcached answers "CLIENT_ERROR bad data chunk" (nothing to a
// noreply command) and reads the next command after it.
var ErrBadDataChunk = errors.New("memcache: data block not ended by CRLF")

// ErrUnframeable is returned, unwrapped, by [CopyReply] for a command of
// [ShapeUnknown]: its replies cannot be framed, and the caller should pass
// the rest of the connection through raw.
var ErrUnframeable = errors.New("memcache: replies of this command cannot be framed")

// Reader is the buffered reader the framing functions read from.
// *bufio.Reader satisfies it, and so does the repository's pooled reader.
// The methods have *bufio.Reader's contracts: Peek returns the next n
// bytes without consuming them, as a slice of the buffer valid until the
// next read, or fewer and an error (io.EOF at the end of the stream,
// bufio.ErrBufferFull when n is more than Size); Discard consumes n bytes;
// Buffered is how many bytes can be peeked without reading from the
// source; Size is the buffer's size.
type Reader interface {
	io.Reader
	Peek(n int) ([]byte, error)
	Discard(n int) (discarded int, err error)
	Buffered() int
	Size() int
}

// malformed returns an error wrapping ErrMalformed.
func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// truncated is the error of a stream that ends inside something.
func truncated(where string) error {
	return fmt.Errorf("%w: stream ends inside %s: %w", ErrMalformed, where, io.ErrUnexpectedEOF)
}

// PeekBinary reports whether the connection whose first bytes r holds
// speaks the binary protocol: whether its first byte is BinaryMagic. It
// consumes nothing and blocks until a byte is buffered. It is meant for
// the start of a client's connection only; a relay that gets true passes
// the connection through raw. At the end of the stream it returns
// io.EOF; other errors of r are returned as they are.
func PeekBinary(r Reader) (bool, error) {
	b, err := r.Peek(1)
	if len(b) == 0 {
		if err == nil {
			err = io.ErrNoProgress
		}
		return false, err
	}
	return b[0] == BinaryMagic, nil
}

// peekLine returns the line at the start of r's buffered bytes, its '\n'
// included, without consuming it; it blocks until the line is buffered.
// A line with no '\n' in its first limit bytes (or in r.Size() bytes) is
// refused; ok is then false with a nil error, and the line's first bytes
// are returned. io.EOF is returned alone if the stream ends before any
// byte.
func peekLine(r Reader, limit int) (line []byte, ok bool, err error) {
	limit = min(limit, r.Size())
	searched := 0
	for {
		want := min(max(r.Buffered(), searched+1), limit)
		b, err := r.Peek(want)
		if i := bytes.IndexByte(b[searched:], '\n'); i >= 0 {
			return b[:searched+i+1], true, nil
		}
		searched = len(b)
		switch {
		case err == io.EOF && searched == 0:
			return nil, false, io.EOF
		case err == io.EOF:
			return nil, false, truncated("a line")
		case err != nil && err != bufio.ErrBufferFull:
			return nil, false, err
		case searched >= limit || err == bufio.ErrBufferFull:
			return b, false, nil
		}
	}
}

// copyN writes the next n bytes of r to w straight from r's buffer,
// consuming them; w nil discards them. It returns the bytes consumed.
func copyN(w io.Writer, r Reader, n int64, where string) (int64, error) {
	var done int64
	for done < n {
		if r.Buffered() == 0 {
			if _, err := r.Peek(1); err != nil {
				if err == io.EOF {
					err = truncated(where)
				}
				return done, err
			}
		}
		p, _ := r.Peek(int(min(int64(r.Buffered()), n-done)))
		m := len(p)
		var err error
		if w != nil {
			m, err = w.Write(p)
			if m < 0 || m > len(p) {
				m, err = 0, errors.New("memcache: invalid Write result")
			}
			if err == nil && m < len(p) {
				err = io.ErrShortWrite
			}
		}
		r.Discard(m)
		done += int64(m)
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// copyBlock copies a data block of n bytes, its "\r\n" included, from r
// to w (nil: discards it), consuming it, and reports whether it ended in
// "\r\n". n must be at least 2.
func copyBlock(w io.Writer, r Reader, n int64, where string) (written int64, crlf bool, err error) {
	written, err = copyN(w, r, n-2, where)
	if err != nil {
		return written, false, err
	}
	tail, err := r.Peek(2)
	if err != nil {
		if err == io.EOF {
			err = truncated(where)
		}
		return written, false, err
	}
	crlf = tail[0] == '\r' && tail[1] == '\n'
	m, err := copyN(w, r, 2, where)
	return written + m, crlf, err
}
