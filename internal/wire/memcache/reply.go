package memcache

import (
	"bytes"
	"io"
)

// ReplyLine is a line of a server's reply as [ParseReplyLine] reads it.
// Its slices point into the line parsed: they are valid as long as it is
// (for [PeekReply], until the next read from the Reader).
type ReplyLine struct {
	// Len is the line's length, its "\r\n" included.
	Len int
	// Code is the line's first word: VALUE, END, STAT, VA, HD, EN, STORED,
	// a number, ERROR, CLIENT_ERROR, ...
	Code []byte
	// DataLen is the length of the data block that follows a VALUE or VA
	// line, its "\r\n" included; 0 for other lines.
	DataLen int64
	// Key is a VALUE line's key; nil for other lines.
	Key []byte
}

// IsError reports whether the line is an error: ERROR (with or without a
// message), CLIENT_ERROR or SERVER_ERROR.
func (l *ReplyLine) IsError() bool {
	switch string(l.Code) {
	case "ERROR", "CLIENT_ERROR", "SERVER_ERROR":
		return true
	}
	// "ERROR: shutdown not enabled" has no space after ERROR.
	return bytes.HasPrefix(l.Code, []byte("ERROR"))
}

// ParseReplyLine parses line, a whole reply line ending with "\r\n". The
// error, wrapping ErrMalformed, is for a line not ended by "\r\n", an
// empty one, or a VALUE or VA line whose size is not a number.
func ParseReplyLine(line []byte) (ReplyLine, error) {
	l := ReplyLine{Len: len(line)}
	if len(line) < 3 || line[len(line)-1] != '\n' || line[len(line)-2] != '\r' {
		return l, malformed("reply line %.40q not ended by CRLF", line)
	}
	body := line[:len(line)-2]
	l.Code, body, _ = bytes.Cut(body, []byte(" "))
	switch string(l.Code) {
	case "":
		return l, malformed("empty reply line")
	case "VALUE": // VALUE <key> <flags> <bytes> [<cas unique>]
		var buf [6][]byte
		tok := tokens(buf[:0], body)
		if len(tok) != 3 && len(tok) != 4 {
			return l, malformed("VALUE line %.60q", line)
		}
		size, ok := parseInt(tok[2])
		if !ok || size < 0 || !isUint(tok[1]) {
			return l, malformed("VALUE line %.60q", line)
		}
		l.Key, l.DataLen = tok[0], size+2
	case "VA": // VA <size> <flags>*
		sizeTok, _, _ := bytes.Cut(body, []byte(" "))
		size, ok := parseInt(sizeTok)
		if !ok || size < 0 {
			return l, malformed("VA line %.60q", line)
		}
		l.DataLen = size + 2
	}
	return l, nil
}

// PeekReply parses the reply line at the start of r's buffered bytes,
// without consuming anything; it blocks until the line is buffered. A
// caller looks at the first line of a reply to decide what to do with it
// (whether a quiet command's reply is there: see [Command.Silenced]),
// then frames it with [CopyReply]. Errors: io.EOF if the stream ended
// cleanly before the line; an error wrapping ErrMalformed (and
// io.ErrUnexpectedEOF if the stream ended inside the line) for a line
// longer than MaxReplyLine or one ParseReplyLine refuses; r's other
// errors as they are.
func PeekReply(r Reader) (ReplyLine, error) {
	line, ok, err := peekLine(r, MaxReplyLine)
	if err != nil {
		return ReplyLine{}, err
	}
	if !ok {
		return ReplyLine{}, malformed("reply line of more than %d bytes", len(line))
	}
	return ParseReplyLine(line)
}

// CopyReply writes the next reply, which has shape s, from r to w,
// consuming it, in constant memory whatever the size of its data blocks;
// w nil discards it. It returns the bytes consumed. A reply of ShapeNone
// is empty: nothing is read. For ShapeUnknown nothing is read and the
// error is ErrUnframeable. Bytes that are not a reply of that shape give
// an error wrapping ErrMalformed, after the whole lines before them were
// written; a stream that ends inside the reply, one wrapping ErrMalformed
// and io.ErrUnexpectedEOF; w's and r's other errors are returned as they
// are. It blocks on r and w.
//
// A reply of ShapeValues is VALUE lines, each followed by its block, and
// END, or an error line (memcached replaces the values with it); one of
// ShapeMeta is a line, followed by a data block if it is VA; one of
// ShapeStats is lines up to END, or a single OK, RESET or error line.
func CopyReply(w io.Writer, r Reader, s Shape) (int64, error) {
	switch s {
	case ShapeNone:
		return 0, nil
	case ShapeUnknown:
		return 0, ErrUnframeable
	}
	var done int64
	for first := true; ; first = false {
		l, err := PeekReply(r)
		if err == io.EOF {
			err = truncated("a reply")
		}
		if err != nil {
			return done, err
		}
		last := true
		switch s {
		case ShapeValues:
			switch {
			case string(l.Code) == "VALUE":
				last = false
			case string(l.Code) != "END" && !l.IsError():
				return done, malformed("%q line in a get's reply", l.Code)
			}
		case ShapeMeta:
			switch string(l.Code) {
			case "VA", "HD", "EN", "NF", "NS", "EX", "MN", "ME":
			default:
				if !l.IsError() {
					return done, malformed("%q line in a meta command's reply", l.Code)
				}
			}
		case ShapeStats:
			last = string(l.Code) == "END" ||
				first && (l.IsError() || string(l.Code) == "OK" || string(l.Code) == "RESET")
		}
		dataLen := l.DataLen
		if s == ShapeLine || s == ShapeStats {
			dataLen = 0 // a line alone, whatever its words
		}
		n, err := copyN(w, r, int64(l.Len), "a reply line")
		done += n
		if err != nil {
			return done, err
		}
		if dataLen > 0 {
			n, crlf, err := copyBlock(w, r, dataLen, "a reply's data block")
			done += n
			if err != nil {
				return done, err
			}
			if !crlf {
				return done, malformed("reply data block not ended by CRLF")
			}
		}
		if last {
			return done, nil
		}
	}
}
