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

// httpRequestHead is a request's head.
type httpRequestHead struct {
	raw            []byte // the head exactly as received, leading empty lines and final empty line included
	method         string
	target         string        // request-target as sent, such as "/api/x?y=1"
	path           string        // target's path, without the query; "*" and authority-form kept as is
	proto          string        // "HTTP/1.1" or "HTTP/1.0"
	header         []headerField // in order, names as sent
	body           httpBody
	expectContinue bool // Expect: 100-continue (ignored in HTTP/1.0, RFC 9110 10.1.1)
	upgrade        bool // Connection includes "upgrade" and an Upgrade header is present (HTTP/1.1 only); or method CONNECT
	close          bool // Connection: close, or HTTP/1.0 without Connection: keep-alive
}

// get returns the first value of header name (case-insensitive), and whether
// it is present.
func (h *httpRequestHead) get(name string) (string, bool) { return hfGet(h.header, name) }

// httpResponseHead is a response's head.
type httpResponseHead struct {
	raw    []byte // the head exactly as received
	status int
	proto  string // "HTTP/1.1" or "HTTP/1.0"
	header []headerField
	body   httpBody
	// close: Connection: close, HTTP/1.0 without keep-alive, a body that
	// ends at close, or both Transfer-Encoding and Content-Length
	// (RFC 9112 6.1: a possible smuggling attempt; the connection ends after
	// this response).
	close bool
}

// get returns the first value of header name (case-insensitive), and whether
// it is present.
func (h *httpResponseHead) get(name string) (string, bool) { return hfGet(h.header, name) }

func hfGet(header []headerField, name string) (string, bool) {
	for _, f := range header {
		if strings.EqualFold(f.name, name) {
			return f.value, true
		}
	}
	return "", false
}

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
func readRequestHead(br *bufio.Reader) (*httpRequestHead, error) {
	return hfReadHead(br, true, hfParseRequest)
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
func readResponseHead(br *bufio.Reader, reqMethod string) (*httpResponseHead, error) {
	return hfReadHead(br, false, func(sc *hfScan, raw []byte) (*httpResponseHead, error) {
		return hfParseResponse(sc, raw, reqMethod)
	})
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
	start     hfSpan   // the start line, without its line ending
	fields    []hfSpan // header lines, without line endings
	nameEnds  []int    // offset of each header line's colon
	checkedTo int      // the incomplete start line is checked up to here
}

// hfReadHead peeks at br until it holds a complete head whose syntax is
// valid, parses a copy of it with parse, and only then consumes it.
func hfReadHead[H any](br *bufio.Reader, request bool, parse func(*hfScan, []byte) (*H, error)) (*H, error) {
	limit := min(br.Size(), maxHTTPHead)
	sc := &hfScan{request: request}
	buf, err := br.Peek(br.Buffered())
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
			h, err := parse(sc, bytes.Clone(buf[:end]))
			if err != nil {
				return nil, err
			}
			if _, err := br.Discard(end); err != nil {
				return nil, err // cannot happen: the bytes are buffered
			}
			return h, nil
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
		if err := hfCheckControl(buf, sc.pos, lf); err != nil {
			return 0, err
		}
		sc.pos = lf + 1
		lineEnd := lf
		if lineEnd > sc.line && buf[lineEnd-1] == '\r' {
			lineEnd--
		}
		line := hfSpan{sc.line, lineEnd}
		sc.line = sc.pos
		if !sc.started {
			if line.lo == line.hi {
				if sc.request {
					sc.checkedTo = sc.pos
					continue // empty line before the request line
				}
				return 0, hfMalformed("empty line before the status line")
			}
			var err error
			if sc.request {
				_, _, _, err = hfRequestLine(buf[line.lo:line.hi])
			} else {
				_, _, err = hfStatusLine(buf[line.lo:line.hi])
			}
			if err != nil {
				return 0, err
			}
			sc.started = true
			sc.start = line
			continue
		}
		if line.lo == line.hi {
			return sc.pos, nil
		}
		colon, err := hfFieldLine(buf[line.lo:line.hi])
		if err != nil {
			return 0, fmt.Errorf("%w (header line %d)", err, len(sc.fields)+1)
		}
		sc.fields = append(sc.fields, line)
		sc.nameEnds = append(sc.nameEnds, line.lo+colon)
	}
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
// returns the offset of its colon.
func hfFieldLine(line []byte) (int, error) {
	if line[0] == ' ' || line[0] == '\t' {
		return 0, hfMalformed("line folding (obs-fold) or whitespace before a field name")
	}
	i := bytes.IndexByte(line, ':')
	if i < 0 {
		return 0, hfMalformed("field line %q has no colon", hfClip(line))
	}
	if i == 0 {
		return 0, hfMalformed("empty field name")
	}
	if !hfIsToken(line[:i]) {
		if c := line[i-1]; c == ' ' || c == '\t' {
			return 0, hfMalformed("whitespace before the colon in %q", hfClip(line))
		}
		return 0, hfMalformed("field name %q is not a token", hfClip(line[:i]))
	}
	for _, c := range line[i+1:] {
		if !hfIsFieldByte(c) {
			return 0, hfMalformed("field %q holds byte %#02x", line[:i], c)
		}
	}
	return i, nil
}

func hfIsVersion(p []byte) bool { return string(p) == "HTTP/1.1" || string(p) == "HTTP/1.0" }

// hfIsFieldByte reports whether c may appear in a field value or reason
// phrase: HT, SP, VCHAR, obs-text.
func hfIsFieldByte(c byte) bool { return c == '\t' || c >= ' ' && c != 0x7f }

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

// hfFields converts the scanned header lines to fields, as substrings of s
// (the head as a string).
func hfFields(sc *hfScan, s string) []headerField {
	header := make([]headerField, len(sc.fields))
	for i, f := range sc.fields {
		header[i] = headerField{
			name:  s[f.lo:sc.nameEnds[i]],
			value: strings.Trim(s[sc.nameEnds[i]+1:f.hi], " \t"),
		}
	}
	return header
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

// hfList calls fn with each non-empty element of a comma-separated list
// value, trimmed of OWS.
func hfList(v string, fn func(string)) {
	for e := range strings.SplitSeq(v, ",") {
		if e = strings.Trim(e, " \t"); e != "" {
			fn(e)
		}
	}
}

func hfSemanticsOf(header []headerField) (hfSemantics, error) {
	var m hfSemantics
	var err error
	for _, f := range header {
		switch {
		case strings.EqualFold(f.name, "Content-Length"):
			// Repeated identical values, in one line or several, are
			// accepted as one (RFC 9110 8.6); anything else is refused.
			n := 0
			hfList(f.value, func(e string) {
				n++
				v, ok := hfParseLength(e)
				switch {
				case !ok:
					err = hfMalformed("Content-Length %q", f.value)
				case m.hasLength && v != m.length:
					err = hfMalformed("conflicting Content-Length values %d and %d", m.length, v)
				default:
					m.hasLength, m.length = true, v
				}
			})
			if n == 0 {
				err = hfMalformed("empty Content-Length")
			}
		case strings.EqualFold(f.name, "Transfer-Encoding"):
			n := 0
			hfList(f.value, func(e string) {
				n++
				coding, _, _ := strings.Cut(e, ";")
				coding = strings.Trim(coding, " \t")
				if !hfIsToken(coding) {
					err = hfMalformed("transfer coding %q", e)
				}
				m.chunked = strings.EqualFold(coding, "chunked")
			})
			if n == 0 {
				err = hfMalformed("empty Transfer-Encoding")
			}
			m.hasTE = true
		case strings.EqualFold(f.name, "Connection"):
			hfList(f.value, func(e string) {
				switch {
				case strings.EqualFold(e, "close"):
					m.connClose = true
				case strings.EqualFold(e, "keep-alive"):
					m.keepAlive = true
				case strings.EqualFold(e, "upgrade"):
					m.connUpg = true
				}
			})
		case strings.EqualFold(f.name, "Upgrade"):
			if f.value != "" {
				m.upgradeHdr = true
			}
		case strings.EqualFold(f.name, "Expect"):
			hfList(f.value, func(e string) {
				if strings.EqualFold(e, "100-continue") {
					m.expect100 = true
				}
			})
		}
		if err != nil {
			return m, err
		}
	}
	return m, nil
}

// hfParseLength parses 1*DIGIT into a non-negative int64.
func hfParseLength(s string) (int64, bool) {
	if s == "" {
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

func hfParseRequest(sc *hfScan, raw []byte) (*httpRequestHead, error) {
	s := string(raw)
	method, target, proto, err := hfRequestLine(raw[sc.start.lo:sc.start.hi])
	if err != nil {
		return nil, err // cannot happen: checked by scan
	}
	lo := sc.start.lo
	h := &httpRequestHead{
		raw:    raw,
		method: s[lo : lo+len(method)],
		target: s[lo+len(method)+1 : lo+len(method)+1+len(target)],
		proto:  s[sc.start.hi-len(proto) : sc.start.hi],
		header: hfFields(sc, s),
	}
	h.path = hfPath(h.method, h.target)
	m, err := hfSemanticsOf(h.header)
	if err != nil {
		return nil, err
	}
	http10 := h.proto == "HTTP/1.0"
	switch {
	case m.hasTE && http10:
		return nil, hfMalformed("Transfer-Encoding in an HTTP/1.0 request")
	case m.hasTE && m.hasLength:
		return nil, hfMalformed("request with both Transfer-Encoding and Content-Length")
	case m.hasTE && !m.chunked:
		return nil, hfMalformed("request Transfer-Encoding does not end in chunked")
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
// asterisk-form and authority-form unchanged.
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

func hfParseResponse(sc *hfScan, raw []byte, reqMethod string) (*httpResponseHead, error) {
	s := string(raw)
	_, status, err := hfStatusLine(raw[sc.start.lo:sc.start.hi])
	if err != nil {
		return nil, err // cannot happen: checked by scan
	}
	h := &httpResponseHead{
		raw:    raw,
		status: status,
		proto:  s[sc.start.lo : sc.start.lo+8],
		header: hfFields(sc, s),
	}
	m, err := hfSemanticsOf(h.header)
	if err != nil {
		return nil, err
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
			if _, err := hfFieldLine(field); err != nil {
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
