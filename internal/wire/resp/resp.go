// Package resp frames RESP, the wire format of Redis, over bytes: it finds
// where the values a client or a server sends end, and looks at a client's
// command before it is passed on, without decoding or copying the values.
// It also encodes the error replies a proxy writes in a server's place.
//
// Every value starts with a type byte and a line ended by CRLF. Strings of
// known length ('$' bulk, '!' bulk error, '=' verbatim) carry that many
// bytes and CRLF after their line; aggregates ('*' array, '~' set, '>'
// push, '%' map, '|' attribute) are followed by their elements; every
// other type is the line alone. RESP2 has '+', '-', ':', '$' and '*'; RESP3
// adds the rest.
//
// A [Reader] finds where values end without keeping them: a value of any
// size or depth is framed in constant memory, since all it needs to know
// is how many values are still owed and how many bytes of a string remain.
//
// The package knows nothing of connections or of what is done with the
// bytes it frames; it is not safe for concurrent use.
package resp

import (
	"github.com/gofaults/faults/internal/pooledbuf"

	"bytes"
	"errors"
	"fmt"
	"io"
)

// ErrMalformed reports bytes that are not RESP where they stand. Errors of
// [Reader.Fill], [Reader.Frame] and [Reader.PeekCommand] that say so wrap
// it (test with errors.Is); the bytes after them cannot be framed.
var ErrMalformed = errors.New("faults: malformed RESP")

// ErrShort is returned, unwrapped, by [Reader.PeekCommand] when the bytes
// read so far do not yet hold a command's head whole: more must be read
// ([Reader.Fill]) before looking again.
var ErrShort = errors.New("faults: RESP command head not yet read whole")

const (
	idleBufferSize = 4 << 10  // a Reader's buffer while it waits for bytes
	bufferSize     = 16 << 10 // a Reader's buffer while bytes flood in

	// MaxLine is the longest line a Reader accepts, CRLF not counted:
	// Redis's limit on inline commands. A longer line is [ErrMalformed].
	MaxLine = 64 << 10
	// MaxCount is the largest length or element count a value's line may
	// declare; a larger one is [ErrMalformed].
	MaxCount = 1 << 32
)

// Reader reads the bytes of one direction of a connection and frames them
// into values. Bytes pass through three states in its buffer: unframed
// (read, not yet known to belong to a whole value), framed (known to), and
// gone, once taken ([Reader.Take]) or skipped ([Reader.Skip]) or dropped
// ([Reader.Drop]). Framed bytes stay in the buffer until then, so that
// consecutive values can leave in one write.
//
// Slices a Reader returns point into its buffer: they are valid until the
// next call of [Reader.Fill], which may overwrite or move the bytes, and
// must not be modified.
type Reader struct {
	src io.Reader
	buf []byte
	r   int // start of the bytes not yet taken or skipped
	f   int // end of the framed bytes: buf[r:f] are framed
	w   int // end of the bytes read

	flood bool // the last read filled the buffer: more is likely waiting

	// The value being framed: values still owed before it ends (0 at a
	// boundary between values), and what is left of a string's payload.
	owed    int64
	payload int64 // bytes of a string's payload still to frame
	tail    bool  // the string's closing CRLF is still to frame
}

// NewReader returns a Reader of src, with nothing read yet. It reads src
// only in [Reader.Fill].
func NewReader(src io.Reader) *Reader {
	return &Reader{src: src}
}

// AtBoundary reports whether the framed bytes end between two values: no
// value is framed in part.
func (rr *Reader) AtBoundary() bool {
	return rr.owed == 0 && rr.payload == 0 && !rr.tail
}

// Take returns the framed bytes and forgets them. The slice is valid until
// the next Fill; it is empty if nothing was framed since the last Take,
// Skip or Drop.
func (rr *Reader) Take() []byte {
	b := rr.buf[rr.r:rr.f]
	rr.r = rr.f
	return b
}

// Skip forgets the framed bytes, as Take without returning them.
func (rr *Reader) Skip() { rr.r = rr.f }

// Drop forgets every byte read and not yet taken or skipped, framed or
// not, without framing the unframed ones. It is for handing a stream over
// to something else (raw pass-through, discarding): the framing state
// (AtBoundary) is left as it was, so framing does not resume correctly
// after a Drop in the middle of a value. Slices returned before stay
// valid until the next Fill.
func (rr *Reader) Drop() { rr.r, rr.f = rr.w, rr.w }

// Unframed returns the bytes read but not yet framed. The slice is valid
// until the next Fill.
func (rr *Reader) Unframed() []byte { return rr.buf[rr.f:rr.w] }

// Pending returns every byte read and not yet taken, skipped or dropped:
// the framed bytes, then the unframed ones. The slice is valid until the
// next Fill.
func (rr *Reader) Pending() []byte { return rr.buf[rr.r:rr.w] }

// Fill reads more bytes from the source, with one Read that blocks as it
// does; it returns nil once at least one byte came. The source's error
// (io.EOF at its end) is returned as is, or io.ErrNoProgress if it
// returned neither bytes nor an error. The buffer grows, up to what holds
// a line of MaxLine bytes, when its unframed bytes fill it; past that,
// Fill returns an error wrapping ErrMalformed without reading.
//
// The framed bytes must have been taken, skipped or dropped first: Fill
// panics otherwise. Every slice the Reader returned before is invalid
// after it.
func (rr *Reader) Fill() error {
	if rr.r != rr.f {
		panic("resp: Reader.Fill with framed bytes pending")
	}
	switch {
	case rr.r == rr.w:
		// Every byte is passed on or dropped: the buffer goes back to
		// its pool, and an idle read parks in a small one, or in a full
		// one if the last read filled its buffer.
		if rr.buf != nil {
			pooledbuf.Put(rr.buf)
		}
		size := idleBufferSize
		if rr.flood {
			size = bufferSize
		}
		rr.buf, rr.r, rr.f, rr.w = pooledbuf.Get(size), 0, 0, 0
	case rr.w == len(rr.buf) && rr.r > 0 && !(rr.flood && len(rr.buf) < bufferSize):
		n := copy(rr.buf, rr.buf[rr.r:rr.w])
		rr.r, rr.f, rr.w = 0, 0, n
	case rr.w == len(rr.buf):
		// Grow: a line longer than the buffer, or a flood that a small
		// buffer would read in many small reads.
		if len(rr.buf) >= MaxLine+2 {
			return fmt.Errorf("%w: line longer than %d bytes", ErrMalformed, MaxLine)
		}
		grown := pooledbuf.Get(min(max(2*len(rr.buf), bufferSize), MaxLine+2))
		rr.w = copy(grown, rr.buf[rr.r:rr.w])
		rr.f -= rr.r
		rr.r = 0
		pooledbuf.Put(rr.buf)
		rr.buf = grown
	}
	n, err := rr.src.Read(rr.buf[rr.w:])
	rr.w += n
	rr.flood = rr.w == len(rr.buf)
	if n > 0 {
		return nil
	}
	if rr.r == rr.w {
		pooledbuf.Put(rr.buf)
		rr.buf, rr.r, rr.f, rr.w = nil, 0, 0, 0
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// Frame frames what it can of the unframed bytes, up to the end of the
// current value, starting a new value at a boundary. It reports whether
// the value is now whole; if not, all the unframed bytes that can be
// framed are, and more must be read (a line read in part stays unframed
// until it is whole). Called at a boundary with nothing unframed, it
// reports false and does nothing. It never reads from the source. An error
// wraps ErrMalformed; the Reader's state after it is unspecified.
func (rr *Reader) Frame() (bool, error) {
	if rr.AtBoundary() {
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
				return false, fmt.Errorf("%w: string not followed by CRLF", ErrMalformed)
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
func (rr *Reader) line() ([]byte, bool, error) {
	avail := rr.buf[rr.f:rr.w]
	i := bytes.IndexByte(avail, '\n')
	switch {
	case i < 0 && len(avail) > MaxLine+1: // the line and its CR
		return nil, false, fmt.Errorf("%w: line longer than %d bytes", ErrMalformed, MaxLine)
	case i < 0:
		return nil, false, nil
	case i == 0 || avail[i-1] != '\r':
		return nil, false, fmt.Errorf("%w: line not ended by CRLF", ErrMalformed)
	}
	return avail[:i-1], true, nil
}

// header takes in the line that starts a value: what it says is still
// owed after it.
func (rr *Reader) header(line []byte) error {
	if len(line) == 0 {
		return fmt.Errorf("%w: empty line", ErrMalformed)
	}
	switch line[0] {
	case '+', '-', ':', ',', '(', '#', '_':
		return nil
	case '$', '!', '=':
		n, err := parseLength(line, line[0] == '$')
		if err != nil {
			return err
		}
		if n >= 0 {
			rr.payload, rr.tail = n, true
		}
		return nil
	case '*', '~', '>', '%', '|':
		n, err := parseLength(line, line[0] == '*')
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
	return fmt.Errorf("%w: type byte %q", ErrMalformed, line[0])
}

// parseLength parses the length or count in a value's line; -1 (null) is
// accepted where nullable.
func parseLength(line []byte, nullable bool) (int64, error) {
	digits := line[1:]
	if nullable && string(digits) == "-1" {
		return -1, nil
	}
	if len(digits) == 0 || len(digits) > 10 {
		return 0, fmt.Errorf("%w: length %q", ErrMalformed, digits)
	}
	var n int64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: length %q", ErrMalformed, digits)
		}
		n = n*10 + int64(c-'0')
	}
	if n > MaxCount {
		return 0, fmt.Errorf("%w: length %d", ErrMalformed, n)
	}
	return n, nil
}

// Command is what [Reader.PeekCommand] finds at the head of a client's
// command: what a proxy needs to know of it before passing it on. Name and
// Key point into the Reader's buffer: they are valid until its next Fill.
type Command struct {
	// Name is the command's name as sent, in the client's case; nil if
	// None.
	Name []byte
	// Key is the first argument; nil if there is none, or if it is too
	// long to wait for (its head alone would pass MaxLine bytes).
	Key []byte
	// None reports a command that is no command: a multibulk of zero
	// elements (or a null one), or an empty inline line. The server
	// reads it and answers nothing.
	None bool
	// Inline is the length of an inline command (a line of words, as
	// typed into telnet), its newline included; 0 for a multibulk one.
	Inline int
	// Args is how many arguments the command has, its name included:
	// the multibulk's length, or the inline command's words.
	Args int64
}

// PeekCommand looks at the command whose bytes start the unframed bytes,
// without framing them; the Reader should be at a boundary. It returns
// ErrShort if more must be read first, and an error wrapping ErrMalformed
// if the bytes are no command, or if its head is longer than MaxLine
// bytes. An inline command (one not starting with '*') is read as words
// between spaces; Redis also understands quotes there, which the words of
// names and keys seldom hold.
func (rr *Reader) PeekCommand() (Command, error) {
	avail := rr.buf[rr.f:rr.w]
	if len(avail) == 0 {
		return Command{}, ErrShort
	}
	if avail[0] != '*' {
		return rr.peekInline(avail)
	}
	line, rest, ok, err := cutLine(avail)
	if err != nil {
		return Command{}, err
	}
	if !ok {
		return Command{}, rr.short(avail)
	}
	n, err := parseLength(line, true)
	if err != nil {
		return Command{}, err
	}
	if n <= 0 {
		return Command{None: true}, nil
	}
	cmd := Command{Args: n}
	cmd.Name, rest, err = bulk(rest)
	if err != nil {
		return Command{}, err
	}
	if cmd.Name == nil {
		return Command{}, rr.short(avail)
	}
	if n >= 2 {
		key, _, err := bulk(rest)
		if err != nil {
			return Command{}, err
		}
		if key == nil && len(avail) < MaxLine {
			return Command{}, ErrShort
		}
		// A key too long to wait for is not matched.
		cmd.Key = key
	}
	return cmd, nil
}

// short returns ErrShort, or ErrMalformed if avail is already longer than
// a command head can be.
func (rr *Reader) short(avail []byte) error {
	if len(avail) > MaxLine {
		return fmt.Errorf("%w: command head longer than %d bytes", ErrMalformed, MaxLine)
	}
	return ErrShort
}

// peekInline reads an inline command's first two words. Redis splits
// inline commands on spaces and understands quotes; this takes words
// between spaces, which is the same for names and keys without quotes.
func (rr *Reader) peekInline(avail []byte) (Command, error) {
	i := bytes.IndexByte(avail, '\n')
	if i < 0 {
		return Command{}, rr.short(avail)
	}
	words := bytes.Fields(avail[:i])
	cmd := Command{Inline: i + 1, None: len(words) == 0, Args: int64(len(words))}
	if len(words) > 0 {
		cmd.Name = words[0]
	}
	if len(words) > 1 {
		cmd.Key = words[1]
	}
	return cmd, nil
}

// PeekArgs appends to dst the arguments of the command whose bytes start
// the unframed bytes, its name first, without framing them; the Reader
// should be at a boundary, and PeekCommand have found a command there.
// whole is false if the command is not read whole yet: more must be read
// (it cannot be once the unframed bytes hold MaxLine bytes; the caller
// then does without the arguments). An inline command's arguments are
// its words. The slices point into the buffer: they are valid until the
// next Fill.
func (rr *Reader) PeekArgs(dst [][]byte) (args [][]byte, whole bool, err error) {
	avail := rr.buf[rr.f:rr.w]
	if len(avail) > 0 && avail[0] != '*' {
		i := bytes.IndexByte(avail, '\n')
		if i < 0 {
			return dst, false, nil
		}
		return append(dst, bytes.Fields(avail[:i])...), true, nil
	}
	line, rest, ok, err := cutLine(avail)
	if err != nil || !ok {
		return dst, false, err
	}
	n, err := parseLength(line, true)
	if err != nil {
		return dst, false, err
	}
	for range max(n, 0) {
		var arg []byte
		if arg, rest, err = bulk(rest); err != nil || arg == nil {
			return dst, false, err
		}
		dst = append(dst, arg)
	}
	return dst, true, nil
}

// FrameArrayHead frames the head of the value that starts the unframed
// bytes, at a boundary, if it is an array ('*'): its first line, after
// which the Reader is at a boundary again, before the array's elements,
// which the caller frames one by one, as values of their own (Frame
// knows nothing of the array). It returns the array's length (-1 for a
// null array). isArray is false, and nothing is framed, if the value is
// something else, which the caller frames whole; ok is false if its
// first line is not read whole yet.
func (rr *Reader) FrameArrayHead() (n int64, isArray, ok bool, err error) {
	if !rr.AtBoundary() {
		return 0, false, false, fmt.Errorf("%w: FrameArrayHead inside a value", ErrMalformed)
	}
	line, ok, err := rr.line()
	if err != nil || !ok {
		return 0, false, ok, err
	}
	if len(line) == 0 || line[0] != '*' {
		return 0, false, true, nil
	}
	if n, err = parseLength(line, true); err != nil {
		return 0, true, false, err
	}
	rr.f += len(line) + 2
	return n, true, true, nil
}

// StartCommand begins framing the command that PeekCommand returned, which
// must still start the unframed bytes: an inline one is framed whole at
// once (the Reader stays at a boundary), a multibulk one is then framed
// by Frame like any value.
func (rr *Reader) StartCommand(cmd Command) {
	if cmd.Inline > 0 {
		rr.f += cmd.Inline
		return
	}
	rr.owed = 1
}

// cutLine splits b after its first line, and reports whether b holds it
// whole; a line must end with CRLF.
func cutLine(b []byte) (line, rest []byte, ok bool, err error) {
	i := bytes.IndexByte(b, '\n')
	switch {
	case i < 0:
		return nil, nil, false, nil
	case i == 0 || b[i-1] != '\r':
		return nil, nil, false, fmt.Errorf("%w: line not ended by CRLF", ErrMalformed)
	}
	return b[:i-1], b[i+1:], true, nil
}

// bulk reads a bulk string at the start of b: its payload, or nil if b
// does not hold it whole yet.
func bulk(b []byte) (payload, rest []byte, err error) {
	if len(b) == 0 {
		return nil, nil, nil
	}
	if b[0] != '$' {
		return nil, nil, fmt.Errorf("%w: command argument of RESP type %q, not a bulk string", ErrMalformed, b[0])
	}
	line, rest, ok, err := cutLine(b)
	if err != nil || !ok {
		return nil, nil, err
	}
	n, err := parseLength(line, false)
	if err != nil {
		return nil, nil, err
	}
	if int64(len(rest)) < n+2 {
		return nil, nil, nil
	}
	if rest[n] != '\r' || rest[n+1] != '\n' {
		return nil, nil, fmt.Errorf("%w: string not followed by CRLF", ErrMalformed)
	}
	return rest[:n:n], rest[n+2:], nil
}
