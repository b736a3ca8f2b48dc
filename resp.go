package faults

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// RESP framing. Redis clients and servers speak RESP: every value starts
// with a type byte and a line ended by CRLF. Strings of known length ('$'
// bulk, '!' bulk error, '=' verbatim) carry that many bytes and CRLF after
// their line; aggregates ('*' array, '~' set, '>' push, '%' map, '|'
// attribute) are followed by their elements; every other type is the line
// alone. RESP2 has '+', '-', ':', '$' and '*'; RESP3 adds the rest.
//
// The framer finds where values end without copying or keeping them: a
// value of any size or depth is framed in constant memory, since all it
// needs to know is how many values are still owed and how many bytes of a
// string remain.

// errMalformedRESP reports bytes that are not RESP where they stand; the
// connection falls back to pass-through.
var errMalformedRESP = errors.New("faults: malformed RESP")

const (
	respBufferSize = 16 << 10 // a connection's buffer per direction, to start
	respMaxLine    = 64 << 10 // the longest line: Redis's limit on inline commands
	respMaxCount   = 1 << 32  // the most elements an aggregate may declare
)

// respReader reads the bytes of one direction and frames them into values.
// Framed bytes stay in its buffer until the relay passes them on (take) or
// drops them (skip), so that consecutive values leave in one write.
type respReader struct {
	src io.Reader
	buf []byte
	r   int // start of the bytes not yet taken or skipped
	f   int // end of the framed bytes: buf[r:f] are framed
	w   int // end of the bytes read

	// The value being framed: values still owed before it ends (0 at a
	// boundary between values), and what is left of a string's payload.
	owed    int64
	payload int64 // bytes of a string's payload still to frame
	tail    bool  // the string's closing CRLF is still to frame
}

func newRESPReader(src io.Reader) *respReader {
	return &respReader{src: src, buf: make([]byte, respBufferSize)}
}

// atBoundary reports whether the framed bytes end between two values.
func (rr *respReader) atBoundary() bool {
	return rr.owed == 0 && rr.payload == 0 && !rr.tail
}

// take returns the framed bytes and forgets them; the slice is valid
// until the next fill.
func (rr *respReader) take() []byte {
	b := rr.buf[rr.r:rr.f]
	rr.r = rr.f
	return b
}

// skip forgets the framed bytes.
func (rr *respReader) skip() { rr.r = rr.f }

// fill reads more bytes, at least one. The framed bytes must have been
// taken or skipped. The buffer grows, up to what holds a line of
// respMaxLine, if its unframed bytes fill it.
func (rr *respReader) fill() error {
	if rr.r != rr.f {
		panic("faults: respReader.fill with framed bytes pending")
	}
	if rr.r == rr.w {
		rr.r, rr.f, rr.w = 0, 0, 0
	}
	if rr.w == len(rr.buf) {
		if rr.r > 0 {
			n := copy(rr.buf, rr.buf[rr.r:rr.w])
			rr.r, rr.f, rr.w = 0, 0, n
		} else {
			if len(rr.buf) >= respMaxLine+2 {
				return fmt.Errorf("%w: line longer than %d bytes", errMalformedRESP, respMaxLine)
			}
			grown := make([]byte, min(2*len(rr.buf), respMaxLine+2))
			rr.w = copy(grown, rr.buf[:rr.w])
			rr.buf = grown
		}
	}
	n, err := rr.src.Read(rr.buf[rr.w:])
	rr.w += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// frame frames what it can of the current value, starting a new one at a
// boundary. It reports whether the value is now whole; if not, more must
// be read (a line read in part stays unframed until it is whole).
func (rr *respReader) frame() (bool, error) {
	if rr.atBoundary() {
		if rr.f == rr.w {
			return false, nil
		}
		rr.owed = 1
	}
	for {
		if rr.payload > 0 {
			n := min(rr.payload, int64(rr.w-rr.f))
			rr.f += int(n)
			rr.payload -= n
			if rr.payload > 0 {
				return false, nil
			}
		}
		if rr.tail {
			switch avail := rr.buf[rr.f:rr.w]; {
			case len(avail) >= 2 && avail[0] == '\r' && avail[1] == '\n':
				rr.f += 2
				rr.tail = false
			case len(avail) == 1 && avail[0] == '\r' || len(avail) == 0:
				return false, nil
			default:
				return false, fmt.Errorf("%w: string not followed by CRLF", errMalformedRESP)
			}
		}
		if rr.owed == 0 {
			return true, nil
		}
		line, ok, err := rr.line()
		if err != nil || !ok {
			return false, err
		}
		if err := rr.header(line); err != nil {
			return false, err
		}
		rr.f += len(line) + 2
		rr.owed--
	}
}

// line returns the unframed line ahead, without its CRLF, and whether it
// is whole.
func (rr *respReader) line() ([]byte, bool, error) {
	avail := rr.buf[rr.f:rr.w]
	i := bytes.IndexByte(avail, '\n')
	switch {
	case i < 0 && len(avail) > respMaxLine+1: // the line and its CR
		return nil, false, fmt.Errorf("%w: line longer than %d bytes", errMalformedRESP, respMaxLine)
	case i < 0:
		return nil, false, nil
	case i == 0 || avail[i-1] != '\r':
		return nil, false, fmt.Errorf("%w: line not ended by CRLF", errMalformedRESP)
	}
	return avail[:i-1], true, nil
}

// header takes in the line that starts a value: what it says is still
// owed after it.
func (rr *respReader) header(line []byte) error {
	if len(line) == 0 {
		return fmt.Errorf("%w: empty line", errMalformedRESP)
	}
	switch line[0] {
	case '+', '-', ':', ',', '(', '#', '_':
		return nil
	case '$', '!', '=':
		n, err := respLength(line, line[0] == '$')
		if err != nil {
			return err
		}
		if n >= 0 {
			rr.payload, rr.tail = n, true
		}
		return nil
	case '*', '~', '>', '%', '|':
		n, err := respLength(line, line[0] == '*')
		if err != nil {
			return err
		}
		switch line[0] {
		case '%':
			n *= 2
		case '|':
			n = 2*n + 1 // the attribute's pairs, then the value it is about
		}
		rr.owed += max(n, 0)
		return nil
	}
	return fmt.Errorf("%w: type byte %q", errMalformedRESP, line[0])
}

// respLength parses the length or count in a value's line; -1 (null) is
// accepted where nullable.
func respLength(line []byte, nullable bool) (int64, error) {
	digits := line[1:]
	if nullable && string(digits) == "-1" {
		return -1, nil
	}
	if len(digits) == 0 || len(digits) > 10 {
		return 0, fmt.Errorf("%w: length %q", errMalformedRESP, digits)
	}
	var n int64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: length %q", errMalformedRESP, digits)
		}
		n = n*10 + int64(c-'0')
	}
	if n > respMaxCount {
		return 0, fmt.Errorf("%w: length %d", errMalformedRESP, n)
	}
	return n, nil
}

// respCommand is what the proxy needs to know of a client's command
// before passing it on.
type respCommand struct {
	name []byte // as sent
	key  []byte // the first argument; nil if none, or too long to look at
	// A multibulk command of zero elements, like an empty inline line,
	// is no command: the server reads it and answers nothing.
	none bool
	// inline is the length of an inline command (a line of words, as
	// typed into telnet), newline included; 0 for a multibulk command.
	inline int
}

var errRESPShort = errors.New("faults: RESP command head not yet read whole")

// peekCommand looks at the command whose bytes start the unframed bytes,
// without framing them. It returns errRESPShort if more must be read
// first.
func (rr *respReader) peekCommand() (respCommand, error) {
	avail := rr.buf[rr.f:rr.w]
	if len(avail) == 0 {
		return respCommand{}, errRESPShort
	}
	if avail[0] != '*' {
		return rr.peekInline(avail)
	}
	line, rest, ok, err := respCut(avail)
	if err != nil {
		return respCommand{}, err
	}
	if !ok {
		return respCommand{}, rr.short(avail)
	}
	n, err := respLength(line, true)
	if err != nil {
		return respCommand{}, err
	}
	if n <= 0 {
		return respCommand{none: true}, nil
	}
	var cmd respCommand
	cmd.name, rest, err = respBulk(rest)
	if err != nil {
		return respCommand{}, err
	}
	if cmd.name == nil {
		return respCommand{}, rr.short(avail)
	}
	if n >= 2 {
		key, _, err := respBulk(rest)
		if err != nil {
			return respCommand{}, err
		}
		if key == nil && len(avail) < respMaxLine {
			return respCommand{}, errRESPShort
		}
		// A key too long to wait for is not matched.
		cmd.key = key
	}
	return cmd, nil
}

// short returns errRESPShort, or errMalformedRESP if avail is already
// longer than a command head can be.
func (rr *respReader) short(avail []byte) error {
	if len(avail) > respMaxLine {
		return fmt.Errorf("%w: command head longer than %d bytes", errMalformedRESP, respMaxLine)
	}
	return errRESPShort
}

// peekInline reads an inline command's first two words. Redis splits
// inline commands on spaces and understands quotes; the proxy takes words
// between spaces, which is the same for names and keys without quotes.
func (rr *respReader) peekInline(avail []byte) (respCommand, error) {
	i := bytes.IndexByte(avail, '\n')
	if i < 0 {
		return respCommand{}, rr.short(avail)
	}
	words := bytes.Fields(avail[:i])
	cmd := respCommand{inline: i + 1, none: len(words) == 0}
	if len(words) > 0 {
		cmd.name = words[0]
	}
	if len(words) > 1 {
		cmd.key = words[1]
	}
	return cmd, nil
}

// startCommand begins framing the command that peekCommand looked at: an
// inline one is framed whole at once.
func (rr *respReader) startCommand(cmd respCommand) {
	if cmd.inline > 0 {
		rr.f += cmd.inline
		return
	}
	rr.owed = 1
}

// respCut splits b after its first line, and reports whether b holds it
// whole; a line must end with CRLF.
func respCut(b []byte) (line, rest []byte, ok bool, err error) {
	i := bytes.IndexByte(b, '\n')
	switch {
	case i < 0:
		return nil, nil, false, nil
	case i == 0 || b[i-1] != '\r':
		return nil, nil, false, fmt.Errorf("%w: line not ended by CRLF", errMalformedRESP)
	}
	return b[:i-1], b[i+1:], true, nil
}

// respBulk reads a bulk string at the start of b: its payload, or nil if
// b does not hold it whole yet.
func respBulk(b []byte) (payload, rest []byte, err error) {
	if len(b) == 0 {
		return nil, nil, nil
	}
	if b[0] != '$' {
		return nil, nil, fmt.Errorf("%w: command argument of RESP type %q, not a bulk string", errMalformedRESP, b[0])
	}
	line, rest, ok, err := respCut(b)
	if err != nil || !ok {
		return nil, nil, err
	}
	n, err := respLength(line, false)
	if err != nil {
		return nil, nil, err
	}
	if int64(len(rest)) < n+2 {
		return nil, nil, nil
	}
	if rest[n] != '\r' || rest[n+1] != '\n' {
		return nil, nil, fmt.Errorf("%w: string not followed by CRLF", errMalformedRESP)
	}
	return rest[:n:n], rest[n+2:], nil
}
