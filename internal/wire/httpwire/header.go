package httpwire

import (
	"bytes"
	"strings"
)

// WithoutHeader returns raw, a request or response head, with every line of
// header name (case-insensitive) removed, and the removed values (trimmed of
// whitespace), in order. Every other byte is kept as is. raw itself is not
// modified; if no line is removed, raw is returned (the same slice);
// otherwise the result is a new slice, the caller's. The values are nil if
// none was removed.
//
// raw should be a whole head as a Framer returns it: lines are split at LF
// (a CR before it belongs to the line ending), empty lines before the start
// line are kept, the start line is never taken for a field, and nothing
// after the head's final empty line is looked at. name is compared with
// each line's text before its first colon, under Unicode case folding; it
// does not validate raw.
func WithoutHeader(raw []byte, name string) ([]byte, []string) {
	var out []byte
	var values []string
	bname := []byte(name)
	kept := 0 // raw[:kept] is accounted for in out
	eachField(raw, func(lo, end int, field []byte, colon int) {
		if !bytes.EqualFold(field[:colon], bname) {
			return
		}
		out = append(out, raw[kept:lo]...)
		kept = end
		values = append(values, strings.Trim(string(field[colon+1:]), " \t"))
	})
	if values == nil {
		return raw, nil
	}
	return append(out, raw[kept:]...), values
}

// Redacted is what [Redact] writes in place of a field's value.
const Redacted = "REDACTED"

// Redact returns msg, a message starting with its head, with the value of
// every header line named one of names (case-insensitive) replaced by
// [Redacted]; the rest is kept as is, the body included. It reads raw as
// [WithoutHeader] does, up to the head's end or msg's, and a line cut
// short at msg's end is redacted too. msg is not modified; if nothing is
// redacted, msg is returned.
func Redact(msg []byte, names ...string) []byte {
	var out []byte
	kept := 0
	eachField(msg, func(lo, end int, field []byte, colon int) {
		for _, name := range names {
			if !bytes.EqualFold(field[:colon], []byte(name)) {
				continue
			}
			out = append(out, msg[kept:lo+colon+1]...)
			out = append(out, " "+Redacted...)
			kept = lo + len(field) // the line ending stays
			return
		}
	})
	if out == nil {
		return msg
	}
	return append(out, msg[kept:]...)
}

// eachField calls fn for each header line of the head at the start of
// raw, with the line's span [lo, end), ending included, its text without
// the ending, and the index of its first colon; lines without one are
// skipped.
func eachField(raw []byte, fn func(lo, end int, field []byte, colon int)) {
	started := false
	for pos := 0; pos < len(raw); {
		end := len(raw)
		if i := bytes.IndexByte(raw[pos:], '\n'); i >= 0 {
			end = pos + i + 1
		}
		line := raw[pos:end]
		lo := pos
		pos = end
		field := bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
		if !started {
			started = len(field) > 0 // empty lines before the start line
			continue
		}
		if len(field) == 0 {
			return // the end of the head
		}
		if colon := bytes.IndexByte(field, ':'); colon >= 0 {
			fn(lo, end, field, colon)
		}
	}
}
