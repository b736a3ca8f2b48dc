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
