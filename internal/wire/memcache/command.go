package memcache

import (
	"bytes"
	"encoding/base64"
	"io"
	"math"
	"strings"
)

// Shape is what a command is owed: the form of the one reply the server
// sends for it, or none.
type Shape uint8

const (
	// ShapeNone: no reply. A command with noreply (memcached sends
	// nothing, errors included), and quit (memcached closes the
	// connection).
	ShapeNone Shape = iota
	// ShapeLine: one line, such as STORED, NOT_FOUND, a number (incr,
	// decr), OK, VERSION ..., ERROR, CLIENT_ERROR ... or SERVER_ERROR ....
	ShapeLine
	// ShapeValues: the reply of get, gets, gat and gats: VALUE lines,
	// each followed by its data block, then END; or an error line
	// instead.
	ShapeValues
	// ShapeMeta: the reply of a meta command: VA <size> <flags>* and its
	// data block, or a line HD, EN, NF, NS, EX, MN, ME ... (with flags),
	// or an error line. A quiet command ([Command.Quiet]) is owed it only
	// if memcached does not silence it ([Command.Silenced]).
	ShapeMeta
	// ShapeStats: the reply of stats: lines (STAT, ITEM, ...) ended by
	// END, or one line alone (OK, RESET, an error).
	ShapeStats
	// ShapeUnknown: replies this package cannot frame, which may come
	// unasked and without end (watch, lru_crawler metadump and mgdump):
	// the caller passes the connection through raw from this command on.
	ShapeUnknown
)

var shapeNames = [...]string{"none", "line", "values", "meta", "stats", "unknown"}

// String returns the shape's name, for logs and test failures.
func (s Shape) String() string {
	if int(s) < len(shapeNames) {
		return shapeNames[s]
	}
	return "Shape(?)"
}

// Command is a client's command line as [ParseCommand] reads it. Its
// slices point into the line parsed: they are valid as long as it is
// (for [PeekCommand], until the next read from the Reader) and must not
// be modified. A Command is reused by passing it again: its Keys and
// Flags keep their backing arrays.
type Command struct {
	// LineLen is the length of the line, its '\n' included.
	LineLen int
	// DataLen is the length of the data block that follows the line, its
	// "\r\n" included, or 0 if none does: memcached reads one only after
	// a storage command (or ms) whose line it accepts.
	DataLen int64
	// Name is the command's name as sent (memcached's names are lower
	// case; "SET" is an unknown command); nil for an empty line.
	Name []byte
	// Keys are the keys the command names: each of a get, gets, bget,
	// gat or gats, the one of other commands that have one, none for the rest.
	// A meta command's key is as sent, base64 if Base64.
	Keys [][]byte
	// NoReply: the command ends with noreply and memcached sends it no
	// reply, not even an error.
	NoReply bool
	// Invalid: memcached refuses the line (wrong number of tokens, an
	// unknown name, a key longer than MaxKeyLen, a number that is none)
	// and answers an error line, unless NoReply; a storage command then
	// has no data block.
	Invalid bool
	// Reply is the shape of the reply the command is owed.
	Reply Shape

	// The meta commands' flags (mg, ms, md, ma, mn, me): each flag token
	// as sent, its letter first, in order.
	Flags [][]byte
	// Quiet: the q flag of mg, ms, md or ma. memcached sends no reply
	// for the outcome the flag silences ([Command.Silenced]), and sends
	// the others; a client ends a run of quiet commands with mn, whose
	// MN answers only it.
	Quiet bool
	// Opaque is the O flag's token (without the O), echoed in the reply;
	// nil if none.
	Opaque []byte
	// ReturnKey, ReturnValue, Base64: the k, v and b flags.
	ReturnKey, ReturnValue, Base64 bool
}

// Meta reports whether the command is one of the meta commands.
func (c *Command) Meta() bool {
	return len(c.Name) == 2 && c.Name[0] == 'm' && bytes.IndexByte([]byte("gsdane"), c.Name[1]) >= 0
}

// Key returns the command's first key, nil if it has none.
func (c *Command) Key() []byte {
	if len(c.Keys) == 0 {
		return nil
	}
	return c.Keys[0]
}

// Silenced reports whether memcached sends nothing in answer to the
// quiet command c where it would send a reply of code code (the reply's
// first word, such as "HD" or "EN"): in quiet mode, mg does not send EN
// (a miss), ms and md do not send HD (success), and ma sends neither HD
// nor VA (success). Every other reply (a failure, an error) is sent. It
// is false for a command that is not quiet.
func (c *Command) Silenced(code []byte) bool {
	if !c.Quiet {
		return false
	}
	switch string(c.Name) {
	case "mg":
		return string(code) == "EN"
	case "ms", "md":
		return string(code) == "HD"
	case "ma":
		return string(code) == "HD" || string(code) == "VA"
	}
	return false
}

// Answers reports whether memcached may answer c with a reply whose
// first word is code. For a meta command it is false for the codes that
// command never gets (MN answers only mn) and for those its quiet mode
// silences ([Command.Silenced]); error lines may answer any command. For
// other commands it is true: their replies are paired by order alone.
//
// A relay pairs the replies of quiet commands with it: a reply that a
// quiet command cannot get belongs to a later command, and the command is
// owed nothing. When the quiet command and the next one may both get that
// reply (a quiet mg that hits or misses, then an mg), the bytes alone do
// not tell whose it is: clients end runs of quiet commands with mn, whose
// MN is unambiguous, or tell replies apart by their O (opaque) flags.
func (c *Command) Answers(code []byte) bool {
	l := ReplyLine{Code: code}
	if l.IsError() {
		return true
	}
	var codes string
	switch string(c.Name) {
	case "mg":
		codes = " VA HD EN "
	case "ms":
		codes = " HD NS EX NF "
	case "md":
		codes = " HD NF EX "
	case "ma":
		codes = " HD VA NF NS EX "
	case "mn":
		codes = " MN "
	case "me":
		codes = " ME EN "
	default:
		return true
	}
	i := strings.Index(codes, string(code))
	if len(code) != 2 || i < 0 || codes[i-1] != ' ' || codes[i+2] != ' ' {
		return false
	}
	return !c.Silenced(code)
}

// PeekCommand parses the command line at the start of r's buffered bytes
// into c (see [ParseCommand]), without consuming anything; it blocks until
// the line is buffered. c's slices are valid until the next read from r.
// Errors:
//
//   - io.EOF: the stream ended cleanly, between two commands;
//   - an error wrapping both ErrMalformed and io.ErrUnexpectedEOF: the
//     stream ended inside a line;
//   - an error wrapping ErrMalformed: a line longer than MaxLine (or, for
//     get and gets, than r's Size), or one ParseCommand refuses;
//   - any other error of r, as it is; a later call starts over with the
//     bytes already buffered.
func PeekCommand(r Reader, c *Command) error {
	line, ok, err := peekLine(r, MaxLine+1)
	if err != nil {
		return err
	}
	if !ok && len(line) > MaxLine && isGetPrefix(line) {
		line, ok, err = peekLine(r, r.Size())
		if err != nil {
			return err
		}
	}
	if !ok {
		return malformed("command line of more than %d bytes without a newline", len(line))
	}
	return ParseCommand(c, line)
}

// isGetPrefix reports whether b starts as memcached's long get lines do:
// "get " or "gets " after at most 100 spaces.
func isGetPrefix(b []byte) bool {
	t := bytes.TrimLeft(b, " ")
	if len(b)-len(t) > 100 {
		return false
	}
	return bytes.HasPrefix(t, []byte("get ")) || bytes.HasPrefix(t, []byte("gets "))
}

// CopyCommand writes the command c describes, which [PeekCommand] has just
// parsed, line and data block, from r to w, consuming it, in constant
// memory whatever the block's size; w nil discards it. It returns the
// bytes consumed. If the data block does not end in "\r\n", it is
// consumed all the same and the error is ErrBadDataChunk. A stream that
// ends first gives an error wrapping ErrMalformed and io.ErrUnexpectedEOF;
// w's and r's other errors are returned as they are. It blocks on r and w.
func CopyCommand(w io.Writer, r Reader, c *Command) (int64, error) {
	n, err := copyN(w, r, int64(c.LineLen), "a command line")
	if err != nil || c.DataLen == 0 {
		return n, err
	}
	m, crlf, err := copyBlock(w, r, c.DataLen, "a data block")
	if err == nil && !crlf {
		err = ErrBadDataChunk
	}
	return n + m, err
}

// ParseCommand parses line, a whole command line whose last byte is its
// '\n', into c, reusing c's slices. It follows memcached's reading:
// tokens are separated by one or more spaces, names are case-sensitive,
// the last token of a classic command that takes one is noreply if it is
// exactly "noreply". A line memcached refuses is not an error here: it is
// framed as memcached frames it ([Command.Invalid]). The error, wrapping
// ErrMalformed, is for a line with no '\n' at its end, or holding a
// control character other than its final "\r\n", which memcached reads
// in ways this package does not follow.
func ParseCommand(c *Command, line []byte) error {
	keys, flags := c.Keys[:0], c.Flags[:0]
	*c = Command{LineLen: len(line), Keys: keys, Flags: flags}
	if len(line) == 0 || line[len(line)-1] != '\n' {
		return malformed("command line not ended by a newline")
	}
	body := line[:len(line)-1]
	if len(body) > 0 && body[len(body)-1] == '\r' {
		body = body[:len(body)-1]
	}
	for _, b := range body {
		if b < ' ' || b == 0x7f {
			return malformed("control character %q in a command line", b)
		}
	}
	var buf [8][]byte
	tok := tokens(buf[:0], body)
	c.Reply = ShapeLine
	if len(tok) == 0 {
		c.Invalid = true // memcached answers ERROR
		return nil
	}
	c.Name = tok[0]
	n := len(tok)
	switch name := string(c.Name); name {
	case "get", "gets", "bget": // bget: get's old name, which memcached still reads
		c.parseGet(tok, 1)
	case "gat", "gats":
		c.parseGet(tok, 2)
	case "set", "add", "replace", "append", "prepend", "cas":
		c.parseStorage(tok)
	case "incr", "decr":
		c.parseKeyed(tok, n == 3 || n == 4, true)
		if !c.Invalid && !c.NoReply && !isUint(tok[2]) {
			c.Invalid = true
		}
	case "touch":
		c.parseKeyed(tok, n == 3 || n == 4, true)
	case "delete":
		c.parseKeyed(tok, n >= 2 && n <= 4, n >= 3)
	case "flush_all":
		c.noReplyIf(tok, n >= 1 && n <= 3, n >= 2)
	case "verbosity", "cache_memlimit":
		c.noReplyIf(tok, n == 2 || n == 3, true)
	case "quit":
		c.Reply = ShapeNone
	case "stats":
		c.Reply = ShapeStats
	case "watch":
		c.Reply = ShapeUnknown
	case "lru_crawler":
		if n >= 2 && (string(tok[1]) == "metadump" || string(tok[1]) == "mgdump") {
			c.Reply = ShapeUnknown
		}
	case "mg", "ms", "md", "ma", "mn", "me":
		c.parseMeta(tok)
	default:
		// version, shutdown, verbosity, slabs, lru, misbehave, ... are
		// answered with one line; unknown names with ERROR.
	}
	return nil
}

// tokens splits b on runs of spaces, appending to dst.
func tokens(dst [][]byte, b []byte) [][]byte {
	for len(b) > 0 {
		i := bytes.IndexByte(b, ' ')
		if i < 0 {
			return append(dst, b)
		}
		if i > 0 {
			dst = append(dst, b[:i])
		}
		b = b[i+1:]
	}
	return dst
}

// noReplyIf applies the token-count check valid and, if it holds and
// memcached looks for noreply in the command's last token (hasLast), takes
// noreply from it. memcached looks there whatever the token stands for: in
// "set k 0 0 noreply" or "incr k noreply" it is noreply, and the refusal
// of the line that follows is not sent. delete alone looks only past its
// key.
func (c *Command) noReplyIf(tok [][]byte, valid, hasLast bool) {
	if !valid {
		c.Invalid = true // ERROR, whatever the last token
		return
	}
	if hasLast && string(tok[len(tok)-1]) == "noreply" {
		c.NoReply = true
		c.Reply = ShapeNone
	}
}

// parseKeyed parses a classic command whose second token is a key.
func (c *Command) parseKeyed(tok [][]byte, valid, hasLast bool) {
	c.noReplyIf(tok, valid, hasLast)
	if c.Invalid {
		return
	}
	c.Keys = append(c.Keys, tok[1])
	if len(tok[1]) > MaxKeyLen {
		c.Invalid = true
	}
}

// parseGet parses get, gets (keys from the second token) and gat, gats
// (an exptime, then keys).
func (c *Command) parseGet(tok [][]byte, first int) {
	if len(tok) <= first {
		c.Invalid = true
		return
	}
	c.Reply = ShapeValues
	for _, k := range tok[first:] {
		c.Keys = append(c.Keys, k)
		if len(k) > MaxKeyLen {
			c.Invalid = true // CLIENT_ERROR, in place of the values
		}
	}
	if first == 2 && !isInt(tok[1]) {
		c.Invalid = true
	}
}

// parseStorage parses set, add, replace, append, prepend
// (<key> <flags> <exptime> <bytes> [noreply]) and cas (one more token,
// the cas unique, before noreply).
func (c *Command) parseStorage(tok [][]byte) {
	want := 5
	if string(c.Name) == "cas" {
		want = 6
	}
	c.noReplyIf(tok, len(tok) == want || len(tok) == want+1, true)
	if c.Invalid {
		return
	}
	c.Keys = append(c.Keys, tok[1])
	size, ok := parseInt(tok[4])
	if len(tok[1]) > MaxKeyLen || !isUint(tok[2]) || !isInt(tok[3]) || !ok || size < 0 ||
		want == 6 && !isUint(tok[5]) {
		c.Invalid = true // no data block: memcached reads it as commands
		return
	}
	c.DataLen = size + 2
}

// parseMeta parses mg, ms, md, ma (<key> <flags>*; ms: <key> <datalen>
// <flags>*), mn and me.
func (c *Command) parseMeta(tok [][]byte) {
	c.Reply = ShapeMeta
	if string(c.Name) == "mn" {
		return // MN, whatever follows
	}
	if len(tok) < 2 {
		c.Invalid = true
		return
	}
	c.Keys = append(c.Keys, tok[1])
	flags := tok[2:]
	if string(c.Name) == "ms" {
		if len(tok) < 3 {
			c.Invalid = true
			return
		}
		flags = tok[3:]
	}
	for _, f := range flags {
		c.Flags = append(c.Flags, f)
		switch f[0] {
		case 'q':
			c.Quiet = c.Quiet || string(c.Name) != "me"
		case 'O':
			c.Opaque = f[1:]
		case 'k':
			c.ReturnKey = true
		case 'v':
			c.ReturnValue = true
		case 'b':
			c.Base64 = true
		}
	}
	key := tok[1]
	keyLen := len(key)
	if c.Base64 {
		keyLen = base64.StdEncoding.DecodedLen(len(key)) - bytes.Count(key, []byte("="))
	}
	if keyLen > MaxKeyLen {
		c.Invalid = true // CLIENT_ERROR; for ms, with no data block
		return
	}
	if string(c.Name) == "ms" {
		size, ok := parseInt(tok[2])
		if !ok || size < 0 {
			c.Invalid = true
			return
		}
		// memcached reads the block even if a flag is then refused.
		c.DataLen = size + 2
	}
}

// cNumber reads b as C's strtoull and strtol read a whole token in base
// 10 on a 64-bit system, as memcached reads numbers: an optional sign,
// then one or more decimal digits (any number of leading zeros). It
// returns the magnitude and whether the sign is '-'; ok is false if b is
// not such a number or its magnitude does not fit 64 bits.
func cNumber(b []byte) (mag uint64, neg, ok bool) {
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 {
		return 0, false, false
	}
	for _, d := range b {
		if d < '0' || d > '9' {
			return 0, false, false
		}
		if mag > (math.MaxUint64-uint64(d-'0'))/10 {
			return 0, false, false
		}
		mag = mag*10 + uint64(d-'0')
	}
	return mag, neg, true
}

// isUint reports whether memcached reads b as an unsigned number (flags,
// a cas unique, incr's delta): as strtoull, which negates a '-' number
// modulo 2^64, a result memcached refuses if it is negative as a signed
// number ("-0" passes, "-1" does not).
func isUint(b []byte) bool {
	mag, neg, ok := cNumber(b)
	return ok && (!neg || mag == 0 || mag > 1<<63)
}

// isInt reports whether memcached reads b as a signed number (an
// exptime): as strtol, whatever fits 64 bits.
func isInt(b []byte) bool {
	_, ok := cInt(b)
	return ok
}

// cInt reads b as strtol does: a signed number that fits 64 bits.
func cInt(b []byte) (int64, bool) {
	mag, neg, ok := cNumber(b)
	if !ok || !(mag <= math.MaxInt64 || neg && mag == 1<<63) {
		return 0, false
	}
	if neg {
		mag = -mag
	}
	return int64(mag), true
}

// parseInt parses a data length as memcached does: a signed 64-bit number
// (strtol) kept in an int32, whose high bits are lost (4294967297 is 1).
// ok is false if b is no such number, or if the length is more than
// memcached takes (its int32 less the block's "\r\n"); a negative length
// is returned as it is.
func parseInt(b []byte) (int64, bool) {
	v, ok := cInt(b)
	if !ok {
		return 0, false
	}
	n := int64(int32(v))
	return n, n <= 1<<31-3
}
