package httpwire

import "bytes"

// A ChunkScanner finds where a chunked body (RFC 9112 7.1) ends in bytes
// given to it piece by piece, as they arrive, for a caller that cannot
// block in a [Reader]: it keeps what it must of a line read in part, and
// counts the rest. It accepts what [CopyBody] accepts. The zero
// ChunkScanner is at the start of a body.
type ChunkScanner struct {
	state uint8
	line  []byte // a chunk-size or trailer line read in part
	left  int64  // bytes of the current chunk's data still to come
}

const (
	chunkSizeLine = iota // reading a chunk-size line
	chunkData            // reading a chunk's data
	chunkCR              // after the data: CRLF or LF
	chunkLF              // after its CR: LF
	chunkTrailer         // reading trailer lines, up to an empty one
	chunkDone            // the body ended
)

// Scan takes the body's next bytes from b: all of b, or those up to the
// end of the body, in which case done is true and n is where it ended. An
// error wraps ErrMalformed; the scanner cannot go on after it. After the
// end, Scan takes nothing.
func (s *ChunkScanner) Scan(b []byte) (n int, done bool, err error) {
	for n < len(b) {
		switch s.state {
		case chunkDone:
			return n, true, nil
		case chunkData:
			k := int(min(s.left, int64(len(b)-n)))
			n += k
			if s.left -= int64(k); s.left == 0 {
				s.state = chunkCR
			}
		case chunkCR, chunkLF:
			c := b[n]
			switch {
			case c == '\n':
				s.state = chunkSizeLine
			case c == '\r' && s.state == chunkCR:
				s.state = chunkLF
			default:
				return n, false, malformed("chunk data not followed by CRLF")
			}
			n++
		default: // a line
			i := bytes.IndexByte(b[n:], '\n')
			end := len(b)
			if i >= 0 {
				end = n + i + 1
			}
			if len(s.line)+end-n > maxChunkLine {
				return n, false, malformed("chunk-size or trailer line longer than %d bytes", maxChunkLine)
			}
			line := b[n:end]
			if len(s.line) > 0 || i < 0 {
				s.line = append(s.line, line...)
				line = s.line
			}
			n = end
			if i < 0 {
				continue
			}
			s.line = s.line[:0]
			if err := s.endLine(trimEOL(line)); err != nil {
				return n, false, err
			}
		}
	}
	return n, s.state == chunkDone, nil
}

// endLine takes in a whole line, without its ending.
func (s *ChunkScanner) endLine(line []byte) error {
	if s.state == chunkTrailer {
		if len(line) == 0 {
			s.state = chunkDone
			return nil
		}
		if _, _, _, err := fieldLine(line); err != nil {
			return err
		}
		return nil
	}
	size, err := chunkSize(line)
	if err != nil {
		return err
	}
	if size == 0 {
		s.state = chunkTrailer
		return nil
	}
	s.state, s.left = chunkData, size
	return nil
}
