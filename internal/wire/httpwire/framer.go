package httpwire

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Reader is what the framer reads from: a buffered reader whose buffered
// bytes can be looked at before they are consumed. *bufio.Reader satisfies
// it.
//
// Peek(n) returns the next n bytes without consuming them, reading from the
// underlying source (and blocking) only if fewer than n are buffered. If n
// is beyond the reader's capacity, Peek must return bufio.ErrBufferFull
// along with every byte that is buffered (its capacity's worth); the framer
// treats that as a head or line too long. If the source ends or fails
// first, Peek returns what is buffered and the source's error (io.EOF at
// the end of the stream). The slice Peek returns is valid until the next
// call that reads from the source or consumes bytes beyond it; peeking at
// no more than Buffered() bytes, and discarding buffered bytes, must leave
// earlier slices of buffered bytes intact.
//
// Discard(n) consumes n bytes; the framer discards only bytes it has
// peeked at, so the call never blocks. Buffered returns how many bytes can
// be peeked at without reading from the source. Read is io.Reader's; if the
// Reader also implements io.WriterTo, [CopyBody] uses it for a body that
// lasts until the end of the stream.
//
// The buffer capacity bounds the heads and chunk lines the framer accepts,
// along with [MaxHead]; it should be at least MaxHead.
type Reader interface {
	Peek(n int) ([]byte, error)
	Discard(n int) (discarded int, err error)
	Buffered() int
	Read(p []byte) (n int, err error)
}

var _ Reader = (*bufio.Reader)(nil)

// MaxHead is the largest request or response head the framer accepts, and
// the buffer size a [Reader] should have. It also bounds a chunk-size line
// and a trailer line.
const MaxHead = 64 << 10

// ErrMalformed is wrapped by every error about bytes that are not HTTP/1.x
// as the framer understands it. Such an error leaves the offending bytes
// unconsumed in the reader (see [Framer.ReadRequestHead] and [CopyBody] for
// exactly which), so that the caller can pass them on raw.
var ErrMalformed = errors.New("faults: malformed HTTP")

// malformed returns an error wrapping ErrMalformed.
func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// BodyKind says how a message's body ends.
type BodyKind uint8

// The kinds of body.
const (
	BodyNone       BodyKind = iota // no body
	BodyLength                     // exactly Body.Length bytes
	BodyChunked                    // chunked transfer coding
	BodyUntilClose                 // everything up to the end of the stream
)

// String returns "none", "length", "chunked" or "until-close" (or
// "BodyKind(n)" for a value that is none of the kinds).
func (k BodyKind) String() string {
	switch k {
	case BodyNone:
		return "none"
	case BodyLength:
		return "length"
	case BodyChunked:
		return "chunked"
	case BodyUntilClose:
		return "until-close"
	}
	return fmt.Sprintf("BodyKind(%d)", uint8(k))
}

// Body says how a message's body is delimited. It is a plain value and may
// be kept.
type Body struct {
	Kind   BodyKind
	Length int64 // the body's length in bytes, for BodyLength; 0 otherwise
}

// Field is one header line as strings: its name as sent and its value with
// surrounding whitespace trimmed.
type Field struct{ Name, Value string }

// fieldSpan is one header line as offsets into its head's raw bytes: the name
// as sent and the value with surrounding whitespace trimmed.
type fieldSpan struct{ name, value span }

// RequestHead is a request's head.
//
// A head returned by a [Framer] is the framer's own: it and everything it
// holds (Raw, the header fields) are valid only until the framer's next
// call; see Framer for when Raw lasts even less. Its strings (Method,
// Target, Path, Proto) are ordinary strings and may be kept. A head
// returned by the package-level [ReadRequestHead] is the caller's.
type RequestHead struct {
	Raw            []byte // the head exactly as received, leading empty lines and final empty line included
	Method         string
	Target         string // request-target as sent, such as "/api/x?y=1"
	Path           string // Target's path, without the query; "*" and authority-form kept as is
	Proto          string // "HTTP/1.1" or "HTTP/1.0"
	Body           Body
	ExpectContinue bool // Expect: 100-continue (ignored in HTTP/1.0, RFC 9110 10.1.1)
	Upgrade        bool // Connection includes "upgrade" and an Upgrade header is present (HTTP/1.1 only); or method CONNECT
	Close          bool // Connection: close, or HTTP/1.0 without Connection: keep-alive

	header []fieldSpan // in order, offsets into Raw; nil if none
}

// Get returns the first value of header name (compared case-insensitively),
// trimmed of surrounding whitespace, and whether it is present. It reads
// Raw, so it may be called only as long as Raw is valid; the string it
// returns may be kept.
func (h *RequestHead) Get(name string) (string, bool) { return getField(h.Raw, h.header, name) }

// Fields returns the header fields as strings, in order; never nil. It
// reads Raw, as Get does; the result is the caller's.
func (h *RequestHead) Fields() []Field { return fieldStrings(h.Raw, h.header) }

// ResponseHead is a response's head. The validity rules of [RequestHead]
// apply.
type ResponseHead struct {
	Raw    []byte // the head exactly as received
	Status int    // the status code, 100 to 999
	Proto  string // "HTTP/1.1" or "HTTP/1.0"
	Body   Body
	// Close: Connection: close, HTTP/1.0 without keep-alive, a body that
	// ends at close, or both Transfer-Encoding and Content-Length
	// (RFC 9112 6.1: a possible smuggling attempt; the connection ends after
	// this response).
	Close bool

	header []fieldSpan // in order, offsets into Raw; nil if none
}

// Get returns the first value of header name; see [RequestHead.Get].
func (h *ResponseHead) Get(name string) (string, bool) { return getField(h.Raw, h.header, name) }

// Fields returns the header fields as strings, in order; see
// [RequestHead.Fields].
func (h *ResponseHead) Fields() []Field { return fieldStrings(h.Raw, h.header) }

func getField(raw []byte, header []fieldSpan, name string) (string, bool) {
	if !isASCII(name) {
		// Field names are tokens, hence ASCII, but name may fold to
		// one under Unicode rules (the Kelvin sign to "k").
		for _, f := range header {
			if strings.EqualFold(string(raw[f.name.lo:f.name.hi]), name) {
				return string(raw[f.value.lo:f.value.hi]), true
			}
		}
		return "", false
	}
	for _, f := range header {
		if f.name.hi-f.name.lo == len(name) && equalFold(raw[f.name.lo:f.name.hi], name) {
			return string(raw[f.value.lo:f.value.hi]), true
		}
	}
	return "", false
}

func fieldStrings(raw []byte, header []fieldSpan) []Field {
	out := make([]Field, len(header))
	for i, f := range header {
		out[i] = Field{string(raw[f.name.lo:f.name.hi]), string(raw[f.value.lo:f.value.hi])}
	}
	return out
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// equalFold reports whether b equals s under ASCII case folding.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c, d := b[i], s[i]
		if c == d {
			continue
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= d && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}

// Framer reads the successive heads of one direction of a connection
// (requests from a client, or responses from a server), reusing its memory
// from one head to the next. Reading a head allocates nothing but the
// request-target's string, and that only when it differs from the previous
// request's (methods are constants for the common ones, protos always):
// header lines are offsets into Raw, up to 16 of them held in the framer
// itself, and a larger head grows the framer's buffers once.
//
// The head a framer returns is the framer's own and is valid only until the
// framer's next call (on any error too); its strings may be kept. Its Raw
// bytes are:
//
//   - if NoCopy is false, a buffer of the framer's, valid as long as the head;
//   - if NoCopy is true, a slice of br's buffer, valid only until the next
//     call on br that may read from br's source: Read, ReadByte and the like,
//     WriteTo, CopyBody (unless the whole body is buffered), Peek(n) or
//     Discard(n) with n > br.Buffered(), Reset. Until then Peek(n) with
//     n <= br.Buffered() and Discard of buffered bytes leave Raw intact.
//     The head's Get and Fields read Raw, and have the same limit.
//
// The zero Framer is ready to use; it must not be copied once used.
// A framer serves one goroutine at a time.
type Framer struct {
	// NoCopy makes a head's Raw a slice of the reader's buffer instead of
	// a copy: no copying, but a shorter validity (see above). Set it
	// before the first read.
	NoCopy bool

	sc       scanner
	inline   [inlineFields]fieldSpan // sc.fields' first backing array
	req      RequestHead
	resp     ResponseHead
	rawBuf   []byte // the copy of raw, if !NoCopy
	lastTarg string // the last request-target, reused while it repeats
}

// inlineFields is how many header lines a framer holds without
// allocating.
const inlineFields = 16

// ReadRequestHead reads the next request head from br, blocking in br's
// reads until the head is complete or refused.
//
// It consumes bytes only when it returns a complete, valid head (exactly
// len(head.Raw) bytes). On any error nothing is consumed: the bytes it looked
// at are still buffered in br, for the caller to pass through raw. Errors:
//
//   - io.EOF: the stream ended cleanly before a new head, possibly after empty
//     lines (which stay buffered);
//   - an error wrapping ErrMalformed: not a valid HTTP/1.0 or HTTP/1.1 request
//     head, or longer than MaxHead (or than br's buffer); an obviously
//     foreign first line (binary bytes, a method that is not a token) is
//     reported as soon as it is seen, without waiting for more bytes;
//   - an error wrapping both ErrMalformed and io.ErrUnexpectedEOF: the stream
//     ended inside a head;
//   - any other error from the underlying reader (a timeout, a reset), as is;
//     a later call starts over with the bytes already buffered.
//
// Empty lines before the request line are tolerated (RFC 9112 2.2) and are
// part of Raw.
//
// Body rules (RFC 9112 6.1, 6.3): Transfer-Encoding whose final coding is
// chunked gives BodyChunked; Content-Length gives BodyLength; otherwise
// BodyNone. Transfer-Encoding in HTTP/1.0, Transfer-Encoding not ending in
// chunked, and both Transfer-Encoding and Content-Length are malformed.
//
// The head is a new one, the caller's, with its own copy of Raw; see
// [Framer.ReadRequestHead] for reading heads without allocating.
func ReadRequestHead(br Reader) (*RequestHead, error) {
	return new(Framer).ReadRequestHead(br)
}

// ReadResponseHead reads the next response head from br, for a request made
// with method reqMethod. Same contract as [ReadRequestHead], except that
// empty lines before the status line are malformed (RFC 9112 allows them
// only before a request line).
//
// Body rules (RFC 9112 6.3): a response to HEAD, 1xx, 204 and 304 has no
// body; a 2xx response to CONNECT starts a tunnel (BodyUntilClose); then
// Transfer-Encoding whose final coding is chunked gives BodyChunked, any other
// Transfer-Encoding (or any Transfer-Encoding in HTTP/1.0) BodyUntilClose; a
// Content-Length gives BodyLength; otherwise BodyUntilClose. Transfer-Encoding
// wins over Content-Length. An invalid Content-Length is malformed even where
// it would be ignored.
//
// The head is a new one, the caller's, with its own copy of Raw; see
// [Framer.ReadResponseHead] for reading heads without allocating.
func ReadResponseHead(br Reader, reqMethod string) (*ResponseHead, error) {
	return new(Framer).ReadResponseHead(br, reqMethod)
}

// ReadRequestHead is the package-level [ReadRequestHead] (same errors,
// same consumption), returning the framer's own head: see [Framer] for how
// long it is valid.
func (f *Framer) ReadRequestHead(br Reader) (*RequestHead, error) {
	buf, err := f.scanHead(br, true)
	if err != nil {
		return nil, err
	}
	h, err := f.parseRequest(buf)
	if err != nil {
		return nil, err
	}
	h.Raw = f.own(buf)
	br.Discard(len(buf)) // cannot fail: the bytes are buffered
	return h, nil
}

// ReadResponseHead is the package-level [ReadResponseHead] (same errors,
// same consumption), returning the framer's own head: see [Framer] for how
// long it is valid.
func (f *Framer) ReadResponseHead(br Reader, reqMethod string) (*ResponseHead, error) {
	buf, err := f.scanHead(br, false)
	if err != nil {
		return nil, err
	}
	h, err := f.parseResponse(buf, reqMethod)
	if err != nil {
		return nil, err
	}
	h.Raw = f.own(buf)
	br.Discard(len(buf)) // cannot fail: the bytes are buffered
	return h, nil
}

// own returns the head buf as the returned head's raw: buf itself, or the
// framer's copy of it.
func (f *Framer) own(buf []byte) []byte {
	if f.NoCopy {
		return buf[:len(buf):len(buf)]
	}
	f.rawBuf = append(f.rawBuf[:0], buf...)
	return f.rawBuf[:len(buf):len(buf)]
}

// span is a byte range of a head.
type span struct{ lo, hi int }

// scanner finds where a head ends and checks its syntax line by line as bytes
// arrive, remembering where each piece is (offsets, since a longer Peek may
// move the buffer).
type scanner struct {
	request   bool
	pos       int // bytes examined so far
	line      int // offset of the current, incomplete line
	started   bool
	start     span        // the start line, without its line ending
	method    span        // request: the method; the target follows it after one space
	target    span        // request: the request-target
	status    int         // response: the status code
	fields    []fieldSpan // header lines
	checkedTo int         // the incomplete start line is checked up to here
}

// scanHead peeks at br until it holds a complete head whose syntax is
// valid, and returns it, unconsumed, as a slice of br's buffer; f.sc
// describes it.
//
// A head is bounded by MaxHead and by br's capacity: a Peek beyond the
// capacity fails with bufio.ErrBufferFull, and the head is then too long.
func (f *Framer) scanHead(br Reader, request bool) ([]byte, error) {
	const limit = MaxHead
	sc := &f.sc
	fields := sc.fields[:0]
	if fields == nil {
		fields = f.inline[:0]
	}
	*sc = scanner{request: request, fields: fields}
	buf, err := br.Peek(min(br.Buffered(), limit))
	if err != nil { // cannot happen: never more than is buffered
		return nil, err
	}
	for {
		end, err := sc.scan(buf)
		if err != nil {
			return nil, err
		}
		if end > 0 {
			if end > limit {
				return nil, malformed("head longer than %d bytes", limit)
			}
			return buf[:end], nil
		}
		if len(buf) >= limit {
			return nil, malformed("head longer than %d bytes", limit)
		}
		buf, err = br.Peek(len(buf) + 1)
		if err != nil {
			if err == io.EOF && sc.onlyEmptyLines(buf) {
				return nil, io.EOF
			}
			if err == io.EOF {
				return nil, fmt.Errorf("%w: stream ends inside a head: %w", ErrMalformed, io.ErrUnexpectedEOF)
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				// buf holds the reader's capacity.
				return nil, malformed("head longer than %d bytes", len(buf))
			}
			return nil, err
		}
		// Everything that arrived with that byte.
		buf, _ = br.Peek(min(br.Buffered(), limit))
	}
}

// onlyEmptyLines reports whether buf holds nothing but line endings before a
// request line (a clean end of stream, RFC 9112 2.2).
func (sc *scanner) onlyEmptyLines(buf []byte) bool {
	if sc.started {
		return false
	}
	if !sc.request {
		return len(buf) == 0
	}
	return len(bytes.Trim(buf, "\r\n")) == 0
}

// scan examines buf from where the last call stopped (buf holds at least
// what it held then, at the same offsets) and returns the length of the head
// if it is complete, or 0.
//
// A complete line is checked by its parser, which refuses every control
// byte but HT; only the incomplete last line is checked for control bytes
// on its own, to refuse binary data without waiting for a line ending.
func (sc *scanner) scan(buf []byte) (int, error) {
	for {
		j := bytes.IndexByte(buf[sc.pos:], '\n')
		if j < 0 {
			if err := checkControl(buf, sc.pos, len(buf)); err != nil {
				return 0, err
			}
			sc.pos = len(buf)
			if sc.pos > sc.line && buf[sc.pos-1] == '\r' {
				sc.pos-- // look at it again with the byte after it
			}
			if !sc.started {
				return 0, sc.checkPartialStart(buf)
			}
			return 0, nil
		}
		lf := sc.pos + j
		sc.pos = lf + 1
		lo, hi := sc.line, lf
		if hi > lo && buf[hi-1] == '\r' {
			hi--
		}
		sc.line = sc.pos
		if !sc.started {
			if lo == hi {
				if sc.request {
					sc.checkedTo = sc.pos
					continue // empty line before the request line
				}
				return 0, malformed("empty line before the status line")
			}
			if err := sc.startLine(buf, lo, hi); err != nil {
				return 0, err
			}
			continue
		}
		if lo == hi {
			return sc.pos, nil
		}
		colon, vlo, vhi, err := fieldLine(buf[lo:hi])
		if err != nil {
			return 0, fmt.Errorf("%w (header line %d)", err, len(sc.fields)+1)
		}
		sc.fields = append(sc.fields, fieldSpan{span{lo, lo + colon}, span{lo + vlo, lo + vhi}})
	}
}

// startLine checks the start line buf[lo:hi] and records its parts.
func (sc *scanner) startLine(buf []byte, lo, hi int) error {
	if sc.request {
		method, target, _, err := requestLine(buf[lo:hi])
		if err != nil {
			return err
		}
		sc.method = span{lo, lo + len(method)}
		sc.target = span{sc.method.hi + 1, sc.method.hi + 1 + len(target)}
	} else {
		_, status, err := statusLine(buf[lo:hi])
		if err != nil {
			return err
		}
		sc.status = status
	}
	sc.started = true
	sc.start = span{lo, hi}
	return nil
}

// checkControl refuses control bytes in buf[from:to], a piece of a line
// that ends at to (exclusive) or is still incomplete: they are never valid in
// a head, except HT, and CR as the line's last byte. Checking every byte as
// it arrives refuses binary data at once; the line parsers check the rest
// when a line is complete.
func checkControl(buf []byte, from, to int) error {
	for i := from; i < to; i++ {
		c := buf[i]
		if c >= 0x20 && c != 0x7f || c == '\t' || c == '\r' && i == to-1 {
			continue
		}
		if c == '\r' {
			return malformed("CR not followed by LF at byte %d", i)
		}
		return malformed("control byte %#02x at byte %d", c, i)
	}
	return nil
}

// checkPartialStart refuses an incomplete start line whose first bytes
// already rule out HTTP: a method that is not a token, or a status line not
// starting with "HTTP/1.". Only the first bytes are checked, once.
func (sc *scanner) checkPartialStart(buf []byte) error {
	const enough = 16
	lo := max(sc.line, sc.checkedTo)
	if lo >= sc.line+enough || lo >= len(buf) {
		return nil
	}
	p := buf[sc.line:min(len(buf), sc.line+enough)]
	sc.checkedTo = sc.line + len(p)
	p = bytes.TrimSuffix(p, []byte("\r"))
	if len(p) == 0 {
		return nil
	}
	if sc.request {
		method := p
		if i := bytes.IndexByte(p, ' '); i >= 0 {
			if i == 0 {
				return malformed("request line starts with a space")
			}
			method = p[:i]
		}
		if !isToken(method) {
			return malformed("request method %q is not a token", method)
		}
		return nil
	}
	const prefix = "HTTP/1."
	n := min(len(p), len(prefix))
	if string(p[:n]) != prefix[:n] {
		return malformed("status line does not start with %q", prefix)
	}
	return nil
}

// requestLine splits a request line: method SP request-target SP
// HTTP-version, single spaces (RFC 9112 3).
func requestLine(line []byte) (method, target, proto []byte, err error) {
	i := bytes.IndexByte(line, ' ')
	if i < 0 {
		return nil, nil, nil, malformed("request line %q has no spaces", clip(line))
	}
	method, rest := line[:i], line[i+1:]
	if !isToken(method) {
		return nil, nil, nil, malformed("request method %q is not a token", clip(method))
	}
	j := bytes.IndexByte(rest, ' ')
	if j < 0 {
		return nil, nil, nil, malformed("request line %q has no version", clip(line))
	}
	target, proto = rest[:j], rest[j+1:]
	if len(target) == 0 {
		return nil, nil, nil, malformed("empty request-target")
	}
	for _, c := range target {
		if c <= ' ' || c == 0x7f {
			return nil, nil, nil, malformed("request-target %q holds byte %#02x", clip(target), c)
		}
	}
	if !isVersion(proto) {
		return nil, nil, nil, malformed("request version %q is not HTTP/1.0 or HTTP/1.1", clip(proto))
	}
	return method, target, proto, nil
}

// statusLine splits a status line: HTTP-version SP 3DIGIT [SP reason]
// (the reason's space may be missing when the reason is, as many servers
// send it).
func statusLine(line []byte) (proto []byte, status int, err error) {
	if len(line) < 12 || line[8] != ' ' || !isVersion(line[:8]) {
		return nil, 0, malformed("status line %q is not HTTP/1.x SP status", clip(line))
	}
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return nil, 0, malformed("status code %q is not 3 digits", line[9:12])
		}
		status = status*10 + int(c-'0')
	}
	if status < 100 {
		return nil, 0, malformed("status code %d", status)
	}
	if len(line) > 12 {
		if line[12] != ' ' {
			return nil, 0, malformed("status code %q is not 3 digits", clip(line[9:]))
		}
		for _, c := range line[13:] {
			if !isFieldByte(c) {
				return nil, 0, malformed("reason phrase holds byte %#02x", c)
			}
		}
	}
	return line[:8], status, nil
}

// fieldLine checks a header or trailer line, name ":" OWS value OWS, and
// returns the offset of its colon and the bounds of its value, trimmed of
// OWS.
func fieldLine(line []byte) (colon, vlo, vhi int, err error) {
	i := 0
	for i < len(line) && tchar[line[i]] {
		i++
	}
	if i == 0 || i == len(line) || line[i] != ':' {
		return 0, 0, 0, fieldNameError(line)
	}
	v := i + 1
	for v < len(line) && (line[v] == ' ' || line[v] == '\t') {
		v++
	}
	if j := badFieldByte(line[v:]); j >= 0 {
		return 0, 0, 0, malformed("field %q holds byte %#02x", line[:i], line[v+j])
	}
	end := len(line)
	for end > v && (line[end-1] == ' ' || line[end-1] == '\t') {
		end--
	}
	return i, v, end, nil
}

// fieldNameError says why line, a field line, has no valid name and
// colon.
func fieldNameError(line []byte) error {
	if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
		return malformed("line folding (obs-fold) or whitespace before a field name")
	}
	i := bytes.IndexByte(line, ':')
	if i < 0 {
		return malformed("field line %q has no colon", clip(line))
	}
	if i == 0 {
		return malformed("empty field name")
	}
	if c := line[i-1]; c == ' ' || c == '\t' {
		return malformed("whitespace before the colon in %q", clip(line))
	}
	return malformed("field name %q is not a token", clip(line[:i]))
}

func isVersion(p []byte) bool { return string(p) == "HTTP/1.1" || string(p) == "HTTP/1.0" }

// protoString returns the version p, checked by isVersion, as a constant.
func protoString(p []byte) string {
	if p[len(p)-1] == '1' {
		return "HTTP/1.1"
	}
	return "HTTP/1.0"
}

// isFieldByte reports whether c may appear in a field value or reason
// phrase: HT, SP, VCHAR, obs-text.
func isFieldByte(c byte) bool { return c == '\t' || c >= ' ' && c != 0x7f }

// fieldByte marks the bytes for which isFieldByte holds.
var fieldByte = func() (t [256]bool) {
	for c := range t {
		t[c] = isFieldByte(byte(c))
	}
	return t
}()

// badFieldByte returns the index of the first byte of p that may not
// appear in a field value (see isFieldByte), or -1. It looks at eight
// bytes at a time for one below SP or DEL, and at each byte of a word that
// has one (HT is allowed).
func badFieldByte(p []byte) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(p); i += 8 {
		x := binary.LittleEndian.Uint64(p[i:])
		d := x ^ (ones * 0x7f) // a zero byte where x holds DEL
		if (x-ones*' ')&^x&highs == 0 && (d-ones)&^d&highs == 0 {
			continue
		}
		for j := i; j < i+8; j++ {
			if !fieldByte[p[j]] {
				return j
			}
		}
	}
	for ; i < len(p); i++ {
		if !fieldByte[p[i]] {
			return i
		}
	}
	return -1
}

// tchar marks the characters of a token (RFC 9110 5.6.2).
var tchar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

func isToken[T string | []byte](s T) bool {
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tchar[s[i]] {
			return false
		}
	}
	return true
}

// clip shortens what goes into an error message.
func clip(p []byte) []byte {
	if len(p) > 64 {
		return p[:64]
	}
	return p
}

// semantics is what the framer needs from a head's fields.
type semantics struct {
	hasLength  bool
	length     int64
	hasTE      bool
	chunked    bool // the final transfer coding is chunked
	connClose  bool
	keepAlive  bool
	connUpg    bool // Connection lists "upgrade"
	upgradeHdr bool // an Upgrade field with a value
	expect100  bool // Expect lists 100-continue
}

// nextElem returns the first non-empty element of the comma-separated list
// v, trimmed of OWS, and what follows it; nil if there is none.
func nextElem(v []byte) (elem, rest []byte) {
	for len(v) > 0 {
		e := v
		v = nil
		if i := bytes.IndexByte(e, ','); i >= 0 {
			e, v = e[:i], e[i+1:]
		}
		if e = trimOWS(e); len(e) > 0 {
			return e, v
		}
	}
	return nil, nil
}

func trimOWS(p []byte) []byte {
	for len(p) > 0 && (p[0] == ' ' || p[0] == '\t') {
		p = p[1:]
	}
	for len(p) > 0 && (p[len(p)-1] == ' ' || p[len(p)-1] == '\t') {
		p = p[:len(p)-1]
	}
	return p
}

// semanticsOf reads the framing fields of a head: Content-Length,
// Transfer-Encoding, Connection, Upgrade, Expect. Names and list elements
// are compared under ASCII case folding, as field names and tokens are
// ASCII.
func semanticsOf(raw []byte, header []fieldSpan) (semantics, error) {
	var m semantics
	for _, f := range header {
		name, value := raw[f.name.lo:f.name.hi], raw[f.value.lo:f.value.hi]
		switch len(name) {
		case len("Content-Length"):
			if !equalFold(name, "content-length") {
				continue
			}
			// Repeated identical values, in one line or several, are
			// accepted as one (RFC 9110 8.6); anything else is refused.
			n := 0
			for e, rest := nextElem(value); e != nil; e, rest = nextElem(rest) {
				n++
				v, ok := parseLength(e)
				switch {
				case !ok:
					return m, malformed("Content-Length %q", value)
				case m.hasLength && v != m.length:
					return m, malformed("conflicting Content-Length values %d and %d", m.length, v)
				}
				m.hasLength, m.length = true, v
			}
			if n == 0 {
				return m, malformed("empty Content-Length")
			}
		case len("Transfer-Encoding"):
			if !equalFold(name, "transfer-encoding") {
				continue
			}
			n := 0
			for e, rest := nextElem(value); e != nil; e, rest = nextElem(rest) {
				n++
				coding := e
				if i := bytes.IndexByte(coding, ';'); i >= 0 {
					coding = trimOWS(coding[:i])
				}
				if !isToken(coding) {
					return m, malformed("transfer coding %q", e)
				}
				m.chunked = equalFold(coding, "chunked")
			}
			if n == 0 {
				return m, malformed("empty Transfer-Encoding")
			}
			m.hasTE = true
		case len("Connection"):
			if !equalFold(name, "connection") {
				continue
			}
			for e, rest := nextElem(value); e != nil; e, rest = nextElem(rest) {
				switch {
				case equalFold(e, "close"):
					m.connClose = true
				case equalFold(e, "keep-alive"):
					m.keepAlive = true
				case equalFold(e, "upgrade"):
					m.connUpg = true
				}
			}
		case len("Upgrade"):
			if equalFold(name, "upgrade") && len(value) > 0 {
				m.upgradeHdr = true
			}
		case len("Expect"):
			if !equalFold(name, "expect") {
				continue
			}
			for e, rest := nextElem(value); e != nil; e, rest = nextElem(rest) {
				if equalFold(e, "100-continue") {
					m.expect100 = true
				}
			}
		}
	}
	return m, nil
}

// parseLength parses 1*DIGIT into a non-negative int64.
func parseLength[T string | []byte](s T) (int64, bool) {
	if len(s) == 0 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (1<<63-1-int64(c-'0'))/10 {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// methodString returns method as a string, a constant for the common ones.
func methodString(method []byte) string {
	switch string(method) {
	case "GET":
		return "GET"
	case "POST":
		return "POST"
	case "PUT":
		return "PUT"
	case "DELETE":
		return "DELETE"
	case "HEAD":
		return "HEAD"
	case "OPTIONS":
		return "OPTIONS"
	case "PATCH":
		return "PATCH"
	case "CONNECT":
		return "CONNECT"
	case "TRACE":
		return "TRACE"
	}
	return string(method)
}

// targetString returns target as a string: the previous request's if it
// is the same (a client polling one URL), a new one otherwise.
func (f *Framer) targetString(target []byte) string {
	if string(target) != f.lastTarg {
		f.lastTarg = string(target)
	}
	return f.lastTarg
}

// parseRequest interprets the request head buf, just scanned. Its raw is
// left for the caller to set.
func (f *Framer) parseRequest(buf []byte) (*RequestHead, error) {
	sc := &f.sc
	m, err := semanticsOf(buf, sc.fields)
	if err != nil {
		return nil, err
	}
	proto := protoString(buf[sc.start.hi-len("HTTP/1.1") : sc.start.hi])
	http10 := proto == "HTTP/1.0"
	switch {
	case m.hasTE && http10:
		return nil, malformed("Transfer-Encoding in an HTTP/1.0 request")
	case m.hasTE && m.hasLength:
		return nil, malformed("request with both Transfer-Encoding and Content-Length")
	case m.hasTE && !m.chunked:
		return nil, malformed("request Transfer-Encoding does not end in chunked")
	}
	h := &f.req
	*h = RequestHead{
		Method: methodString(buf[sc.method.lo:sc.method.hi]),
		Target: f.targetString(buf[sc.target.lo:sc.target.hi]),
		Proto:  proto,
	}
	if len(sc.fields) > 0 {
		h.header = sc.fields
	}
	h.Path = targetPath(h.Method, h.Target)
	switch {
	case m.hasTE:
		h.Body = Body{Kind: BodyChunked}
	case m.hasLength:
		h.Body = Body{Kind: BodyLength, Length: m.length}
	}
	h.ExpectContinue = m.expect100 && !http10
	h.Upgrade = h.Method == "CONNECT" || m.connUpg && m.upgradeHdr && !http10
	h.Close = m.connClose || http10 && !m.keepAlive
	return h, nil
}

// targetPath returns the path of a request-target, without its query: the
// origin-form's path, the absolute-form's path ("/" if empty), and the
// asterisk-form and authority-form unchanged. It is target or a substring
// of it, or "/".
func targetPath(method, target string) string {
	switch {
	case method == "CONNECT" || target == "*":
		return target
	case strings.HasPrefix(target, "/"):
	default:
		i := strings.Index(target, "://")
		if i < 0 {
			return target
		}
		rest := target[i+3:]
		j := strings.IndexAny(rest, "/?#")
		if j < 0 || rest[j] != '/' {
			return "/"
		}
		target = rest[j:]
	}
	if i := strings.IndexAny(target, "?#"); i >= 0 {
		target = target[:i]
	}
	return target
}

// parseResponse interprets the response head buf, just scanned. Its raw
// is left for the caller to set.
func (f *Framer) parseResponse(buf []byte, reqMethod string) (*ResponseHead, error) {
	sc := &f.sc
	m, err := semanticsOf(buf, sc.fields)
	if err != nil {
		return nil, err
	}
	status := sc.status
	h := &f.resp
	*h = ResponseHead{
		Status: status,
		Proto:  protoString(buf[sc.start.lo : sc.start.lo+len("HTTP/1.1")]),
	}
	if len(sc.fields) > 0 {
		h.header = sc.fields
	}
	http10 := h.Proto == "HTTP/1.0"
	switch {
	case reqMethod == "HEAD" || status/100 == 1 || status == 204 || status == 304:
	case reqMethod == "CONNECT" && status/100 == 2:
		h.Body = Body{Kind: BodyUntilClose}
	case m.hasTE && m.chunked && !http10:
		h.Body = Body{Kind: BodyChunked}
	case m.hasTE:
		// Another final coding, or Transfer-Encoding in HTTP/1.0, whose
		// framing is faulty (RFC 9112 6.1, 6.3).
		h.Body = Body{Kind: BodyUntilClose}
	case m.hasLength:
		h.Body = Body{Kind: BodyLength, Length: m.length}
	default:
		h.Body = Body{Kind: BodyUntilClose}
	}
	h.Close = m.connClose || http10 && !m.keepAlive || h.Body.Kind == BodyUntilClose ||
		m.hasTE && m.hasLength
	return h, nil
}
