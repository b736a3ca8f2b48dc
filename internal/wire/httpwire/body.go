package httpwire

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// CopyBody copies one body framed by b from br to w, byte for byte as
// received: for chunked, the chunk-size lines with their extensions, the
// data, the line endings, the last chunk, the trailer fields and the final
// empty line. It streams through br's buffer, never holding a whole body or
// chunk, and returns the number of bytes written.
//
// BodyUntilClose copies until the end of br's stream, which is then not an
// error. Otherwise, if the stream ends inside the body, everything received
// has been written and the error is io.ErrUnexpectedEOF. A malformed
// chunk-size line, trailer line or chunk ending is an error wrapping
// ErrMalformed; everything before the offending line (or chunk ending) has
// been written and the rest is still in br. After any other error (from the
// reader or from w) the bytes not written are still in br, except those w
// failed to take. A Body of a kind that is not one of the BodyKind
// constants, or a negative Length, is an error and copies nothing.
//
// CopyBody blocks in br's reads and w's writes. BodyUntilClose is copied
// with io.Copy, hence with br's WriteTo if it has one (as *bufio.Reader
// does). For the other kinds, bytes go to w straight from br's buffer
// (slices of what Peek returns), so w must not keep them.
func CopyBody(w io.Writer, br Reader, b Body) (int64, error) {
	switch b.Kind {
	case BodyNone:
		return 0, nil
	case BodyLength:
		if b.Length < 0 {
			return 0, malformed("negative body length %d", b.Length)
		}
		return copyN(w, br, b.Length)
	case BodyUntilClose:
		return io.Copy(w, br)
	case BodyChunked:
		return copyChunked(w, br)
	}
	return 0, fmt.Errorf("faults: unknown body kind %d", b.Kind)
}

// copyN copies n bytes from br to w, straight from br's buffer.
func copyN(w io.Writer, br Reader, n int64) (int64, error) {
	var written int64
	for written < n {
		if br.Buffered() == 0 {
			if _, err := br.Peek(1); err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return written, err
			}
		}
		p, _ := br.Peek(int(min(int64(br.Buffered()), n-written)))
		m, err := writeBuffered(w, br, p)
		written += int64(m)
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// writeBuffered writes p, which is the start of br's buffer, to w and consumes
// what w took.
func writeBuffered(w io.Writer, br Reader, p []byte) (int, error) {
	m, err := w.Write(p)
	if m < 0 || m > len(p) {
		m, err = 0, errors.New("faults: invalid Write result")
	}
	br.Discard(m)
	if err == nil && m < len(p) {
		err = io.ErrShortWrite
	}
	return m, err
}

// maxChunkLine bounds a chunk-size line (with its extensions) and a trailer
// line; it is also bounded by br's capacity.
const maxChunkLine = MaxHead

// peekLine returns the next line of br, line ending included, without
// consuming it. If the stream ends first, it returns what is left and
// io.ErrUnexpectedEOF.
func peekLine(br Reader) ([]byte, error) {
	const limit = maxChunkLine
	scanned := 0
	buf, _ := br.Peek(br.Buffered())
	for {
		if i := bytes.IndexByte(buf[scanned:], '\n'); i >= 0 {
			return buf[:scanned+i+1], nil
		}
		scanned = len(buf)
		if len(buf) >= limit {
			return nil, malformed("chunk-size or trailer line longer than %d bytes", limit)
		}
		var err error
		buf, err = br.Peek(len(buf) + 1)
		if err != nil {
			if err == io.EOF {
				return buf, io.ErrUnexpectedEOF
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				// buf holds the reader's capacity.
				return nil, malformed("chunk-size or trailer line longer than %d bytes", len(buf))
			}
			return nil, err
		}
	}
}

// trimEOL removes a line's CRLF or LF.
func trimEOL(line []byte) []byte {
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line
}

// copyChunked copies a chunked body (RFC 9112 7.1).
func copyChunked(w io.Writer, br Reader) (int64, error) {
	var written int64
	// pass writes a peeked piece that ended the stream: everything received
	// is written before reporting the truncation.
	pass := func(p []byte, err error) (int64, error) {
		m, werr := writeBuffered(w, br, p)
		written += int64(m)
		if werr != nil {
			return written, werr
		}
		return written, err
	}
	// next peeks the next line; a stream that ends within it has what it
	// sent of it passed on before the truncation is reported.
	next := func() ([]byte, error) {
		line, err := peekLine(br)
		if err == io.ErrUnexpectedEOF {
			_, err = pass(line, err)
		}
		return line, err
	}
	for {
		line, err := next()
		if err != nil {
			return written, err
		}
		size, err := chunkSize(trimEOL(line))
		if err != nil {
			return written, err
		}
		if _, err := pass(line, nil); err != nil {
			return written, err
		}
		if size == 0 {
			break
		}
		m, err := copyN(w, br, size)
		written += m
		if err != nil {
			return written, err
		}
		// The chunk's CRLF (or LF), without waiting for a second byte
		// after an LF.
		p, err := br.Peek(1)
		if err == nil && p[0] == '\r' {
			p, err = br.Peek(2)
		}
		switch {
		case len(p) >= 1 && p[0] == '\n':
			p = p[:1]
		case len(p) == 2 && p[0] == '\r' && p[1] == '\n':
		case err == io.EOF && (len(p) == 0 || p[0] == '\r'):
			return pass(p, io.ErrUnexpectedEOF)
		case err != nil && err != io.EOF:
			return written, err
		default:
			return written, malformed("chunk data not followed by CRLF")
		}
		if _, err := pass(p, nil); err != nil {
			return written, err
		}
	}
	// Trailer section, then the final empty line.
	for {
		line, err := next()
		if err != nil {
			return written, err
		}
		field := trimEOL(line)
		if len(field) > 0 {
			if _, _, _, err := fieldLine(field); err != nil {
				return written, fmt.Errorf("%w (trailer)", err)
			}
		}
		if _, err := pass(line, nil); err != nil {
			return written, err
		}
		if len(field) == 0 {
			return written, nil
		}
	}
}

// chunkSize parses a chunk-size line without its line ending:
// 1*HEXDIG [BWS ";" chunk-ext], extensions not interpreted, only checked to
// hold no control bytes. Whitespace after the size is tolerated (BWS).
func chunkSize(line []byte) (int64, error) {
	var size int64
	i := 0
	for ; i < len(line); i++ {
		c := line[i]
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			goto rest
		}
		if size > (1<<63-1)>>4 {
			return 0, malformed("chunk size %q too large", clip(line))
		}
		size = size<<4 | int64(d)
	}
rest:
	if i == 0 {
		return 0, malformed("chunk-size line %q", clip(line))
	}
	for ; i < len(line) && (line[i] == ' ' || line[i] == '\t'); i++ {
	}
	if i < len(line) && line[i] != ';' {
		return 0, malformed("chunk-size line %q", clip(line))
	}
	for _, c := range line[i:] {
		if !isFieldByte(c) {
			return 0, malformed("chunk extension holds byte %#02x", c)
		}
	}
	return size, nil
}
