package faults

// HTTP/1.1 framing (RFC 9112): where each request and response head ends and
// how its body is delimited, decoded no further than that. The framer never
// rewrites a byte: a head's raw bytes and a body's bytes (chunk-size lines,
// extensions, trailers included) are forwarded exactly as received.
//
// Heads are read with bufio.Reader.Peek and consumed only when complete and
// valid, so that anything the framer refuses is still in the reader for the
// caller to pass through raw. Parsing is strict wherever a lenient reading
// could frame a message differently from the peer (line endings inside a line,
// obs-fold, whitespace before a colon, conflicting lengths) and lenient only
// where RFC 9112 allows it (bare LF line endings, empty lines before a request
// line, optional whitespace around a chunk extension, repeated identical
// Content-Length values).
//
// Unexported helpers of this file are prefixed "hf" to keep clear of other
// files of the package.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// maxHTTPHead is the largest request or response head the framer accepts,
// and the size the caller gives the bufio.Reader it reads heads from.
const maxHTTPHead = 64 << 10

// errMalformed is wrapped by every error about bytes that are not HTTP/1.x as
// the framer understands it.
var errMalformed = errors.New("faults: malformed HTTP")

// hfMalformed returns an error wrapping errMalformed.
func hfMalformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errMalformed, fmt.Sprintf(format, args...))
}

// bodyKind says how a message's body ends.
type bodyKind uint8

const (
	bodyNone       bodyKind = iota // no body
	bodyLength                     // exactly httpBody.length bytes
	bodyChunked                    // chunked transfer coding
	bodyUntilClose                 // everything up to the end of the stream
)

func (k bodyKind) String() string {
	switch k {
	case bodyNone:
		return "none"
	case bodyLength:
		return "length"
	case bodyChunked:
		return "chunked"
	case bodyUntilClose:
		return "until-close"
	}
	return fmt.Sprintf("bodyKind(%d)", uint8(k))
}

// httpBody says how a message's body is delimited.
type httpBody struct {
	kind   bodyKind
	length int64 // for bodyLength
}

// headerField is one header line: its name as sent and its value with
// surrounding whitespace trimmed.
type headerField struct{ name, value string }

// hfField is one header line as offsets into its head's raw bytes: the name
// as sent and the value with surrounding whitespace trimmed.
type hfField struct{ name, value hfSpan }

// httpRequestHead is a request's head.
//
// A head returned by an [httpFramer] is the framer's own: it and everything
// it holds (raw, header) are valid only until the framer's next call; see
// httpFramer for when raw lasts even less. Its strings (method, target,
// path, proto) are ordinary strings and may be kept.
type httpRequestHead struct {
	raw            []byte // the head exactly as received, leading empty lines and final empty line included
	method         string
	target         string    // request-target as sent, such as "/api/x?y=1"
	path           string    // target's path, without the query; "*" and authority-form kept as is
	proto          string    // "HTTP/1.1" or "HTTP/1.0"
	header         []hfField // in order, offsets into raw; nil if none
	body           httpBody
	expectContinue bool // Expect: 100-continue (ignored in HTTP/1.0, RFC 9110 10.1.1)
	upgrade        bool // Connection includes "upgrade" and an Upgrade header is present (HTTP/1.1 only); or method CONNECT
	close          bool // Connection: close, or HTTP/1.0 without Connection: keep-alive
}

// get returns the first value of header name (case-insensitive), and whether
// it is present. It reads raw, so it is valid only as long as raw is.
func (h *httpRequestHead) get(name string) (string, bool) { return hfGet(h.raw, h.header, name) }

// fields returns the header fields as strings, in order (never nil).
func (h *httpRequestHead) fields() []headerField { return hfFields(h.raw, h.header) }

// httpResponseHead is a response's head. The validity rules of
// httpRequestHead apply.
type httpResponseHead struct {
	raw    []byte // the head exactly as received
	status int
	proto  string    // "HTTP/1.1" or "HTTP/1.0"
	header []hfField // in order, offsets into raw; nil if none
	body   httpBody
	// close: Connection: close, HTTP/1.0 without keep-alive, a body that
	// ends at close, or both Transfer-Encoding and Content-Length
	// (RFC 9112 6.1: a possible smuggling attempt; the connection ends after
	// this response).
	close bool
}

// get returns the first value of header name (case-insensitive), and whether
// it is present. It reads raw, so it is valid only as long as raw is.
func (h *httpResponseHead) get(name string) (string, bool) { return hfGet(h.raw, h.header, name) }

// fields returns the header fields as strings, in order (never nil).
func (h *httpResponseHead) fields() []headerField { return hfFields(h.raw, h.header) }

func hfGet(raw []byte, header []hfField, name string) (string, bool) {
	if !hfIsASCII(name) {
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
		if f.name.hi-f.name.lo == len(name) && hfEqualFold(raw[f.name.lo:f.name.hi], name) {
			return string(raw[f.value.lo:f.value.hi]), true
		}
	}
	return "", false
}

func hfFields(raw []byte, header []hfField) []headerField {
	out := make([]headerField, len(header))
	for i, f := range header {
		out[i] = headerField{string(raw[f.name.lo:f.name.hi]), string(raw[f.value.lo:f.value.hi])}
	}
	return out
}

func hfIsASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// hfEqualFold reports whether b equals s under ASCII case folding.
func hfEqualFold(b []byte, s string) bool {
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

// httpFramer reads the successive heads of one direction of a connection
// (requests from a client, or responses from a server), reusing its memory
// from one head to the next. Reading a head allocates nothing but the
// request-target's string, and that only when it differs from the previous
// request's (methods are constants for the common ones, protos always):
// header lines are offsets into raw, up to hfInlineFields of them held in
// the framer itself, and a larger head grows the framer's buffers once.
//
// The head a framer returns is the framer's own and is valid only until the
// framer's next call (on any error too); its strings may be kept. Its raw
// bytes are:
//
//   - if noCopy is false, a buffer of the framer's, valid as long as the head;
//   - if noCopy is true, a slice of br's buffer, valid only until the next
//     call on br that may read from br's source: Read, ReadByte and the like,
//     WriteTo, copyBody (unless the whole body is buffered), Peek(n) or
//     Discard(n) with n > br.Buffered(), Reset. Until then Peek(n) with
//     n <= br.Buffered() and Discard of buffered bytes leave raw intact.
//     The head's get reads raw, and has the same limit.
//
// The zero httpFramer is ready to use; it must not be copied once used.
// A framer serves one goroutine at a time.
type httpFramer struct {
	// noCopy makes raw a slice of br's buffer instead of a copy.
	noCopy bool

	sc       hfScan
	inline   [hfInlineFields]hfField // sc.fields' first backing array
	req      httpRequestHead
	resp     httpResponseHead
	rawBuf   []byte // the copy of raw, if !noCopy
	lastTarg string // the last request-target, reused while it repeats
}

// hfInlineFields is how many header lines a framer holds without
// allocating.
const hfInlineFields = 16

// readRequestHead reads the next request head from br.
//
// It consumes bytes only when it returns a complete, valid head (exactly
// len(head.raw) bytes). On any error nothing is consumed: the bytes it looked
// at are still buffered in br, for the caller to pass through raw. Errors:
//
//   - io.EOF: the stream ended cleanly before a new head, possibly after empty
//     lines (which stay buffered);
//   - an error wrapping errMalformed: not a valid HTTP/1.0 or HTTP/1.1 request
//     head, or longer than maxHTTPHead (or than br's buffer); an obviously
//     foreign first line (binary bytes, a method that is not a token) is
//     reported as soon as it is seen, without waiting for more bytes;
//   - an error wrapping both errMalformed and io.ErrUnexpectedEOF: the stream
//     ended inside a head;
//   - any other error from the underlying reader (a timeout, a reset), as is;
//     a later call starts over with the bytes already buffered.
//
// Empty lines before the request line are tolerated (RFC 9112 2.2) and are
// part of raw.
//
// The head is a new one, with its own copy of raw; see
// httpFramer.readRequestHead for reading heads without allocating.
func readRequestHead(br *bufio.Reader) (*httpRequestHead, error) {
	return new(httpFramer).readRequestHead(br)
}

// readResponseHead reads the next response head from br, for a request made
// with method reqMethod. Same contract as readRequestHead, except that empty
// lines before the status line are malformed (RFC 9112 allows them only
// before a request line).
//
// Body rules (RFC 9112 6.3): a response to HEAD, 1xx, 204 and 304 has no
// body; a 2xx response to CONNECT starts a tunnel (bodyUntilClose); then
// Transfer-Encoding whose final coding is chunked gives bodyChunked, any other
// Transfer-Encoding (or any Transfer-Encoding in HTTP/1.0) bodyUntilClose; a
// Content-Length gives bodyLength; otherwise bodyUntilClose. Transfer-Encoding
// wins over Content-Length. An invalid Content-Length is malformed even where
// it would be ignored.
//
// The head is a new one, with its own copy of raw; see
// httpFramer.readResponseHead for reading heads without allocating.
func readResponseHead(br *bufio.Reader, reqMethod string) (*httpResponseHead, error) {
	return new(httpFramer).readResponseHead(br, reqMethod)
}

// readRequestHead is the package-level readRequestHead, returning the
// framer's own head (see httpFramer for how long it is valid).
func (f *httpFramer) readRequestHead(br *bufio.Reader) (*httpRequestHead, error) {
	buf, err := f.scanHead(br, true)
	if err != nil {
		return nil, err
	}
	h, err := f.parseRequest(buf)
	if err != nil {
		return nil, err
	}
	h.raw = f.own(buf)
	br.Discard(len(buf)) // cannot fail: the bytes are buffered
	return h, nil
}

// readResponseHead is the package-level readResponseHead, returning the
// framer's own head (see httpFramer for how long it is valid).
func (f *httpFramer) readResponseHead(br *bufio.Reader, reqMethod string) (*httpResponseHead, error) {
	buf, err := f.scanHead(br, false)
	if err != nil {
		return nil, err
	}
	h, err := f.parseResponse(buf, reqMethod)
	if err != nil {
		return nil, err
	}
	h.raw = f.own(buf)
	br.Discard(len(buf)) // cannot fail: the bytes are buffered
	return h, nil
}

// own returns the head buf as the returned head's raw: buf itself, or the
// framer's copy of it.
func (f *httpFramer) own(buf []byte) []byte {
	if f.noCopy {
		return buf[:len(buf):len(buf)]
	}
	f.rawBuf = append(f.rawBuf[:0], buf...)
	return f.rawBuf[:len(buf):len(buf)]
}

// hfSpan is a byte range of a head.
type hfSpan struct{ lo, hi int }

// hfScan finds where a head ends and checks its syntax line by line as bytes
// arrive, remembering where each piece is (offsets, since a longer Peek may
// move the buffer).
type hfScan struct {
	request   bool
	pos       int // bytes examined so far
	line      int // offset of the current, incomplete line
	started   bool
	start     hfSpan    // the start line, without its line ending
	method    hfSpan    // request: the method; the target follows it after one space
	target    hfSpan    // request: the request-target
	status    int       // response: the status code
	fields    []hfField // header lines
	checkedTo int       // the incomplete start line is checked up to here
}

// scanHead peeks at br until it holds a complete head whose syntax is
// valid, and returns it, unconsumed, as a slice of br's buffer; f.sc
// describes it.
func (f *httpFramer) scanHead(br *bufio.Reader, request bool) ([]byte, error) {
	limit := min(br.Size(), maxHTTPHead)
	sc := &f.sc
	fields := sc.fields[:0]
	if fields == nil {
		fields = f.inline[:0]
	}
	*sc = hfScan{request: request, fields: fields}
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
				return nil, hfMalformed("head longer than %d bytes", limit)
			}
			return buf[:end], nil
		}
		if len(buf) >= limit {
			return nil, hfMalformed("head longer than %d bytes", limit)
		}
		buf, err = br.Peek(len(buf) + 1)
		if err != nil {
			if err == io.EOF && sc.onlyEmptyLines(buf) {
				return nil, io.EOF
			}
			if err == io.EOF {
				return nil, fmt.Errorf("%w: stream ends inside a head: %w", errMalformed, io.ErrUnexpectedEOF)
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				return nil, hfMalformed("head longer than %d bytes", limit)
			}
			return nil, err
		}
		// Everything that arrived with that byte.
		buf, _ = br.Peek(min(br.Buffered(), limit))
	}
}

// onlyEmptyLines reports whether buf holds nothing but line endings before a
// request line (a clean end of stream, RFC 9112 2.2).
func (sc *hfScan) onlyEmptyLines(buf []byte) bool {
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
func (sc *hfScan) scan(buf []byte) (int, error) {
	for {
		j := bytes.IndexByte(buf[sc.pos:], '\n')
		if j < 0 {
			if err := hfCheckControl(buf, sc.pos, len(buf)); err != nil {
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
				return 0, hfMalformed("empty line before the status line")
			}
			if err := sc.startLine(buf, lo, hi); err != nil {
				return 0, err
			}
			continue
		}
		if lo == hi {
			return sc.pos, nil
		}
		colon, vlo, vhi, err := hfFieldLine(buf[lo:hi])
		if err != nil {
			return 0, fmt.Errorf("%w (header line %d)", err, len(sc.fields)+1)
		}
		sc.fields = append(sc.fields, hfField{hfSpan{lo, lo + colon}, hfSpan{lo + vlo, lo + vhi}})
	}
}

// startLine checks the start line buf[lo:hi] and records its parts.
func (sc *hfScan) startLine(buf []byte, lo, hi int) error {
	if sc.request {
		method, target, _, err := hfRequestLine(buf[lo:hi])
		if err != nil {
			return err
		}
		sc.method = hfSpan{lo, lo + len(method)}
		sc.target = hfSpan{sc.method.hi + 1, sc.method.hi + 1 + len(target)}
	} else {
		_, status, err := hfStatusLine(buf[lo:hi])
		if err != nil {
			return err
		}
		sc.status = status
	}
	sc.started = true
	sc.start = hfSpan{lo, hi}
	return nil
}

// hfCheckControl refuses control bytes in buf[from:to], a piece of a line
// that ends at to (exclusive) or is still incomplete: they are never valid in
// a head, except HT, and CR as the line's last byte. Checking every byte as
// it arrives refuses binary data at once; the line parsers check the rest
// when a line is complete.
func hfCheckControl(buf []byte, from, to int) error {
	for i := from; i < to; i++ {
		c := buf[i]
		if c >= 0x20 && c != 0x7f || c == '\t' || c == '\r' && i == to-1 {
			continue
		}
		if c == '\r' {
			return hfMalformed("CR not followed by LF at byte %d", i)
		}
		return hfMalformed("control byte %#02x at byte %d", c, i)
	}
	return nil
}

// checkPartialStart refuses an incomplete start line whose first bytes
// already rule out HTTP: a method that is not a token, or a status line not
// starting with "HTTP/1.". Only the first bytes are checked, once.
func (sc *hfScan) checkPartialStart(buf []byte) error {
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
				return hfMalformed("request line starts with a space")
			}
			method = p[:i]
		}
		if !hfIsToken(method) {
			return hfMalformed("request method %q is not a token", method)
		}
		return nil
	}
	const prefix = "HTTP/1."
	n := min(len(p), len(prefix))
	if string(p[:n]) != prefix[:n] {
		return hfMalformed("status line does not start with %q", prefix)
	}
	return nil
}

// hfRequestLine splits a request line: method SP request-target SP
// HTTP-version, single spaces (RFC 9112 3).
func hfRequestLine(line []byte) (method, target, proto []byte, err error) {
	i := bytes.IndexByte(line, ' ')
	if i < 0 {
		return nil, nil, nil, hfMalformed("request line %q has no spaces", hfClip(line))
	}
	method, rest := line[:i], line[i+1:]
	if !hfIsToken(method) {
		return nil, nil, nil, hfMalformed("request method %q is not a token", hfClip(method))
	}
	j := bytes.IndexByte(rest, ' ')
	if j < 0 {
		return nil, nil, nil, hfMalformed("request line %q has no version", hfClip(line))
	}
	target, proto = rest[:j], rest[j+1:]
	if len(target) == 0 {
		return nil, nil, nil, hfMalformed("empty request-target")
	}
	for _, c := range target {
		if c <= ' ' || c == 0x7f {
			return nil, nil, nil, hfMalformed("request-target %q holds byte %#02x", hfClip(target), c)
		}
	}
	if !hfIsVersion(proto) {
		return nil, nil, nil, hfMalformed("request version %q is not HTTP/1.0 or HTTP/1.1", hfClip(proto))
	}
	return method, target, proto, nil
}

// hfStatusLine splits a status line: HTTP-version SP 3DIGIT [SP reason]
// (the reason's space may be missing when the reason is, as many servers
// send it).
func hfStatusLine(line []byte) (proto []byte, status int, err error) {
	if len(line) < 12 || line[8] != ' ' || !hfIsVersion(line[:8]) {
		return nil, 0, hfMalformed("status line %q is not HTTP/1.x SP status", hfClip(line))
	}
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return nil, 0, hfMalformed("status code %q is not 3 digits", line[9:12])
		}
		status = status*10 + int(c-'0')
	}
	if status < 100 {
		return nil, 0, hfMalformed("status code %d", status)
	}
	if len(line) > 12 {
		if line[12] != ' ' {
			return nil, 0, hfMalformed("status code %q is not 3 digits", hfClip(line[9:]))
		}
		for _, c := range line[13:] {
			if !hfIsFieldByte(c) {
				return nil, 0, hfMalformed("reason phrase holds byte %#02x", c)
			}
		}
	}
	return line[:8], status, nil
}

// hfFieldLine checks a header or trailer line, name ":" OWS value OWS, and
// returns the offset of its colon and the bounds of its value, trimmed of
// OWS.
func hfFieldLine(line []byte) (colon, vlo, vhi int, err error) {
	i := 0
	for i < len(line) && hfTchar[line[i]] {
		i++
	}
	if i == 0 || i == len(line) || line[i] != ':' {
		return 0, 0, 0, hfFieldNameError(line)
	}
	v := i + 1
	for v < len(line) && (line[v] == ' ' || line[v] == '\t') {
		v++
	}
	if j := hfBadFieldByte(line[v:]); j >= 0 {
		return 0, 0, 0, hfMalformed("field %q holds byte %#02x", line[:i], line[v+j])
	}
	end := len(line)
	for end > v && (line[end-1] == ' ' || line[end-1] == '\t') {
		end--
	}
	return i, v, end, nil
}

// hfFieldNameError says why line, a field line, has no valid name and
// colon.
func hfFieldNameError(line []byte) error {
	if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
		return hfMalformed("line folding (obs-fold) or whitespace before a field name")
	}
	i := bytes.IndexByte(line, ':')
	if i < 0 {
		return hfMalformed("field line %q has no colon", hfClip(line))
	}
	if i == 0 {
		return hfMalformed("empty field name")
	}
	if c := line[i-1]; c == ' ' || c == '\t' {
		return hfMalformed("whitespace before the colon in %q", hfClip(line))
	}
	return hfMalformed("field name %q is not a token", hfClip(line[:i]))
}

func hfIsVersion(p []byte) bool { return string(p) == "HTTP/1.1" || string(p) == "HTTP/1.0" }

// hfProto returns the version p, checked by hfIsVersion, as a constant.
func hfProto(p []byte) string {
	if p[len(p)-1] == '1' {
		return "HTTP/1.1"
	}
	return "HTTP/1.0"
}

// hfIsFieldByte reports whether c may appear in a field value or reason
// phrase: HT, SP, VCHAR, obs-text.
func hfIsFieldByte(c byte) bool { return c == '\t' || c >= ' ' && c != 0x7f }

// hfFieldByte marks the bytes for which hfIsFieldByte holds.
var hfFieldByte = func() (t [256]bool) {
	for c := range t {
		t[c] = hfIsFieldByte(byte(c))
	}
	return t
}()

// hfBadFieldByte returns the index of the first byte of p that may not
// appear in a field value (see hfIsFieldByte), or -1. It looks at eight
// bytes at a time for one below SP or DEL, and at each byte of a word that
// has one (HT is allowed).
func hfBadFieldByte(p []byte) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(p); i += 8 {
		x := binary.LittleEndian.Uint64(p[i:])
		d := x ^ (ones * 0x7f) // a zero byte where x holds DEL
		if (x-ones*' ')&^x&highs == 0 && (d-ones)&^d&highs == 0 {
			continue
		}
		for j := i; j < i+8; j++ {
			if !hfFieldByte[p[j]] {
				return j
			}
		}
	}
	for ; i < len(p); i++ {
		if !hfFieldByte[p[i]] {
			return i
		}
	}
	return -1
}

// hfTchar marks the characters of a token (RFC 9110 5.6.2).
var hfTchar = func() (t [256]bool) {
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

func hfIsToken[T string | []byte](s T) bool {
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !hfTchar[s[i]] {
			return false
		}
	}
	return true
}

// hfClip shortens what goes into an error message.
func hfClip(p []byte) []byte {
	if len(p) > 64 {
		return p[:64]
	}
	return p
}

// hfSemantics is what the framer needs from a head's fields.
type hfSemantics struct {
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

// hfNext returns the first non-empty element of the comma-separated list
// v, trimmed of OWS, and what follows it; nil if there is none.
func hfNext(v []byte) (elem, rest []byte) {
	for len(v) > 0 {
		e := v
		v = nil
		if i := bytes.IndexByte(e, ','); i >= 0 {
			e, v = e[:i], e[i+1:]
		}
		if e = hfTrimOWS(e); len(e) > 0 {
			return e, v
		}
	}
	return nil, nil
}

func hfTrimOWS(p []byte) []byte {
	for len(p) > 0 && (p[0] == ' ' || p[0] == '\t') {
		p = p[1:]
	}
	for len(p) > 0 && (p[len(p)-1] == ' ' || p[len(p)-1] == '\t') {
		p = p[:len(p)-1]
	}
	return p
}

// hfSemanticsOf reads the framing fields of a head: Content-Length,
// Transfer-Encoding, Connection, Upgrade, Expect. Names and list elements
// are compared under ASCII case folding, as field names and tokens are
// ASCII.
func hfSemanticsOf(raw []byte, header []hfField) (hfSemantics, error) {
	var m hfSemantics
	for _, f := range header {
		name, value := raw[f.name.lo:f.name.hi], raw[f.value.lo:f.value.hi]
		switch len(name) {
		case len("Content-Length"):
			if !hfEqualFold(name, "content-length") {
				continue
			}
			// Repeated identical values, in one line or several, are
			// accepted as one (RFC 9110 8.6); anything else is refused.
			n := 0
			for e, rest := hfNext(value); e != nil; e, rest = hfNext(rest) {
				n++
				v, ok := hfParseLength(e)
				switch {
				case !ok:
					return m, hfMalformed("Content-Length %q", value)
				case m.hasLength && v != m.length:
					return m, hfMalformed("conflicting Content-Length values %d and %d", m.length, v)
				}
				m.hasLength, m.length = true, v
			}
			if n == 0 {
				return m, hfMalformed("empty Content-Length")
			}
		case len("Transfer-Encoding"):
			if !hfEqualFold(name, "transfer-encoding") {
				continue
			}
			n := 0
			for e, rest := hfNext(value); e != nil; e, rest = hfNext(rest) {
				n++
				coding := e
				if i := bytes.IndexByte(coding, ';'); i >= 0 {
					coding = hfTrimOWS(coding[:i])
				}
				if !hfIsToken(coding) {
					return m, hfMalformed("transfer coding %q", e)
				}
				m.chunked = hfEqualFold(coding, "chunked")
			}
			if n == 0 {
				return m, hfMalformed("empty Transfer-Encoding")
			}
			m.hasTE = true
		case len("Connection"):
			if !hfEqualFold(name, "connection") {
				continue
			}
			for e, rest := hfNext(value); e != nil; e, rest = hfNext(rest) {
				switch {
				case hfEqualFold(e, "close"):
					m.connClose = true
				case hfEqualFold(e, "keep-alive"):
					m.keepAlive = true
				case hfEqualFold(e, "upgrade"):
					m.connUpg = true
				}
			}
		case len("Upgrade"):
			if hfEqualFold(name, "upgrade") && len(value) > 0 {
				m.upgradeHdr = true
			}
		case len("Expect"):
			if !hfEqualFold(name, "expect") {
				continue
			}
			for e, rest := hfNext(value); e != nil; e, rest = hfNext(rest) {
				if hfEqualFold(e, "100-continue") {
					m.expect100 = true
				}
			}
		}
	}
	return m, nil
}

// hfParseLength parses 1*DIGIT into a non-negative int64.
func hfParseLength[T string | []byte](s T) (int64, bool) {
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

// hfMethod returns method as a string, a constant for the common ones.
func hfMethod(method []byte) string {
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
func (f *httpFramer) targetString(target []byte) string {
	if string(target) != f.lastTarg {
		f.lastTarg = string(target)
	}
	return f.lastTarg
}

// parseRequest interprets the request head buf, just scanned. Its raw is
// left for the caller to set.
func (f *httpFramer) parseRequest(buf []byte) (*httpRequestHead, error) {
	sc := &f.sc
	m, err := hfSemanticsOf(buf, sc.fields)
	if err != nil {
		return nil, err
	}
	proto := hfProto(buf[sc.start.hi-len("HTTP/1.1") : sc.start.hi])
	http10 := proto == "HTTP/1.0"
	switch {
	case m.hasTE && http10:
		return nil, hfMalformed("Transfer-Encoding in an HTTP/1.0 request")
	case m.hasTE && m.hasLength:
		return nil, hfMalformed("request with both Transfer-Encoding and Content-Length")
	case m.hasTE && !m.chunked:
		return nil, hfMalformed("request Transfer-Encoding does not end in chunked")
	}
	h := &f.req
	*h = httpRequestHead{
		method: hfMethod(buf[sc.method.lo:sc.method.hi]),
		target: f.targetString(buf[sc.target.lo:sc.target.hi]),
		proto:  proto,
	}
	if len(sc.fields) > 0 {
		h.header = sc.fields
	}
	h.path = hfPath(h.method, h.target)
	switch {
	case m.hasTE:
		h.body = httpBody{kind: bodyChunked}
	case m.hasLength:
		h.body = httpBody{kind: bodyLength, length: m.length}
	}
	h.expectContinue = m.expect100 && !http10
	h.upgrade = h.method == "CONNECT" || m.connUpg && m.upgradeHdr && !http10
	h.close = m.connClose || http10 && !m.keepAlive
	return h, nil
}

// hfPath returns the path of a request-target, without its query: the
// origin-form's path, the absolute-form's path ("/" if empty), and the
// asterisk-form and authority-form unchanged. It is target or a substring
// of it, or "/".
func hfPath(method, target string) string {
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
func (f *httpFramer) parseResponse(buf []byte, reqMethod string) (*httpResponseHead, error) {
	sc := &f.sc
	m, err := hfSemanticsOf(buf, sc.fields)
	if err != nil {
		return nil, err
	}
	status := sc.status
	h := &f.resp
	*h = httpResponseHead{
		status: status,
		proto:  hfProto(buf[sc.start.lo : sc.start.lo+len("HTTP/1.1")]),
	}
	if len(sc.fields) > 0 {
		h.header = sc.fields
	}
	http10 := h.proto == "HTTP/1.0"
	switch {
	case reqMethod == "HEAD" || status/100 == 1 || status == 204 || status == 304:
	case reqMethod == "CONNECT" && status/100 == 2:
		h.body = httpBody{kind: bodyUntilClose}
	case m.hasTE && m.chunked && !http10:
		h.body = httpBody{kind: bodyChunked}
	case m.hasTE:
		// Another final coding, or Transfer-Encoding in HTTP/1.0, whose
		// framing is faulty (RFC 9112 6.1, 6.3).
		h.body = httpBody{kind: bodyUntilClose}
	case m.hasLength:
		h.body = httpBody{kind: bodyLength, length: m.length}
	default:
		h.body = httpBody{kind: bodyUntilClose}
	}
	h.close = m.connClose || http10 && !m.keepAlive || h.body.kind == bodyUntilClose ||
		m.hasTE && m.hasLength
	return h, nil
}

// copyBody copies one body framed by b from br to w, byte for byte as
// received: for chunked, the chunk-size lines with their extensions, the
// data, the line endings, the last chunk, the trailer fields and the final
// empty line. It streams through br's buffer, never holding a whole body or
// chunk, and returns the number of bytes written.
//
// bodyUntilClose copies until the end of br's stream, which is then not an
// error. Otherwise, if the stream ends inside the body, everything received
// has been written and the error is io.ErrUnexpectedEOF. A malformed
// chunk-size line, trailer line or chunk ending is an error wrapping
// errMalformed; everything before the offending line (or chunk ending) has
// been written and the rest is still in br. After any other error (from the
// reader or from w) the bytes not written are still in br, except those w
// failed to take.
func copyBody(w io.Writer, br *bufio.Reader, b httpBody) (int64, error) {
	switch b.kind {
	case bodyNone:
		return 0, nil
	case bodyLength:
		if b.length < 0 {
			return 0, hfMalformed("negative body length %d", b.length)
		}
		return hfCopyN(w, br, b.length)
	case bodyUntilClose:
		return br.WriteTo(w)
	case bodyChunked:
		return hfCopyChunked(w, br)
	}
	return 0, fmt.Errorf("faults: unknown body kind %d", b.kind)
}

// hfCopyN copies n bytes from br to w, straight from br's buffer.
func hfCopyN(w io.Writer, br *bufio.Reader, n int64) (int64, error) {
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
		m, err := hfWrite(w, br, p)
		written += int64(m)
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// hfWrite writes p, which is the start of br's buffer, to w and consumes
// what w took.
func hfWrite(w io.Writer, br *bufio.Reader, p []byte) (int, error) {
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
// line; it is also bounded by br's buffer size.
const maxChunkLine = maxHTTPHead

// hfPeekLine returns the next line of br, line ending included, without
// consuming it. If the stream ends first, it returns what is left and
// io.ErrUnexpectedEOF.
func hfPeekLine(br *bufio.Reader) ([]byte, error) {
	limit := min(br.Size(), maxChunkLine)
	scanned := 0
	buf, _ := br.Peek(br.Buffered())
	for {
		if i := bytes.IndexByte(buf[scanned:], '\n'); i >= 0 {
			return buf[:scanned+i+1], nil
		}
		scanned = len(buf)
		if len(buf) >= limit {
			return nil, hfMalformed("chunk-size or trailer line longer than %d bytes", limit)
		}
		var err error
		buf, err = br.Peek(len(buf) + 1)
		if err != nil {
			if err == io.EOF {
				return buf, io.ErrUnexpectedEOF
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				return nil, hfMalformed("chunk-size or trailer line longer than %d bytes", limit)
			}
			return nil, err
		}
	}
}

// hfTrimEOL removes a line's CRLF or LF.
func hfTrimEOL(line []byte) []byte {
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line
}

// hfCopyChunked copies a chunked body (RFC 9112 7.1).
func hfCopyChunked(w io.Writer, br *bufio.Reader) (int64, error) {
	var written int64
	// pass writes a peeked piece that ended the stream: everything received
	// is written before reporting the truncation.
	pass := func(p []byte, err error) (int64, error) {
		m, werr := hfWrite(w, br, p)
		written += int64(m)
		if werr != nil {
			return written, werr
		}
		return written, err
	}
	for {
		line, err := hfPeekLine(br)
		if err == io.ErrUnexpectedEOF {
			return pass(line, err)
		}
		if err != nil {
			return written, err
		}
		size, err := hfChunkSize(hfTrimEOL(line))
		if err != nil {
			return written, err
		}
		if _, err := pass(line, nil); err != nil {
			return written, err
		}
		if size == 0 {
			break
		}
		m, err := hfCopyN(w, br, size)
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
			return written, hfMalformed("chunk data not followed by CRLF")
		}
		if _, err := pass(p, nil); err != nil {
			return written, err
		}
	}
	// Trailer section, then the final empty line.
	for {
		line, err := hfPeekLine(br)
		if err == io.ErrUnexpectedEOF {
			return pass(line, err)
		}
		if err != nil {
			return written, err
		}
		field := hfTrimEOL(line)
		if len(field) > 0 {
			if _, _, _, err := hfFieldLine(field); err != nil {
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

// hfChunkSize parses a chunk-size line without its line ending:
// 1*HEXDIG [BWS ";" chunk-ext], extensions not interpreted, only checked to
// hold no control bytes. Whitespace after the size is tolerated (BWS).
func hfChunkSize(line []byte) (int64, error) {
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
			return 0, hfMalformed("chunk size %q too large", hfClip(line))
		}
		size = size<<4 | int64(d)
	}
rest:
	if i == 0 {
		return 0, hfMalformed("chunk-size line %q", hfClip(line))
	}
	for ; i < len(line) && (line[i] == ' ' || line[i] == '\t'); i++ {
	}
	if i < len(line) && line[i] != ';' {
		return 0, hfMalformed("chunk-size line %q", hfClip(line))
	}
	for _, c := range line[i:] {
		if !hfIsFieldByte(c) {
			return 0, hfMalformed("chunk extension holds byte %#02x", c)
		}
	}
	return size, nil
}

// withoutHeader returns raw, a request or response head, with every line of
// header name (case-insensitive) removed, and the removed values (trimmed of
// whitespace), in order. Every other byte is kept as is. raw itself is not
// modified; if no line is removed, raw is returned.
func withoutHeader(raw []byte, name string) ([]byte, []string) {
	var out []byte
	var values []string
	bname := []byte(name)
	kept := 0 // raw[:kept] is accounted for in out
	started := false
	for pos := 0; pos < len(raw); {
		end := len(raw)
		if i := bytes.IndexByte(raw[pos:], '\n'); i >= 0 {
			end = pos + i + 1
		}
		line := raw[pos:end]
		lo := pos
		pos = end
		body := bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
		if !started {
			started = len(body) > 0 // empty lines before the start line
			continue
		}
		if len(body) == 0 {
			break // the end of the head
		}
		colon := bytes.IndexByte(body, ':')
		if colon < 0 || !bytes.EqualFold(body[:colon], bname) {
			continue
		}
		out = append(out, raw[kept:lo]...)
		kept = end
		values = append(values, strings.Trim(string(body[colon+1:]), " \t"))
	}
	if values == nil {
		return raw, nil
	}
	return append(out, raw[kept:]...), values
}
