package split

import (
	"bytes"
	"fmt"

	"github.com/gofaults/faults/internal/wire/memcache"
)

// Memcached returns a Splitter of memcached's text protocol: a message is
// a command with its data block from the client, and a reply from the
// server, as long as the command's shape says (a get's VALUEs up to END,
// a stats' lines up to END, a meta command's line and its data block,
// one line for the rest). A command with noreply is owed no reply, and a
// quiet meta command one only where memcached sends it. The binary
// protocol, watch and lru_crawler metadump end the framing.
func Memcached() Splitter { return new(memcachedSplitter) }

// memcachedLongLine is the longest get line framed, as the relay frames
// them.
const memcachedLongLine = 1 << 20

type memcachedSplitter struct {
	client memcachedClient
	server memcachedServer
	owed   []memcachedOwed // the replies owed, oldest first
	cmd    memcache.Command
}

// memcachedOwed is n replies of one shape owed in a row: for a quiet meta
// command, its name in quiet.
type memcachedOwed struct {
	shape memcache.Shape
	quiet string
	n     int
}

type memcachedClient struct {
	started bool    // a byte was seen: binary or not is decided
	line    partial // a command line seen in part
	block   int64   // bytes of a data block still to come
	last    bool    // the command whose block is read ends the framing
}

type memcachedServer struct {
	line    partial // a reply line seen in part
	block   int64   // bytes of a data block still to come
	inReply bool    // a reply has begun
	first   bool    // the reply's next line is its first
	shape   memcache.Shape
	end     bool // the reply ends after the block
}

var errNoCommand = fmt.Errorf("%w: a reply to no command", memcache.ErrMalformed)

func (s *memcachedSplitter) Split(ends []int, from Side, b []byte) ([]int, error) {
	if from == Client {
		return s.splitClient(ends, b)
	}
	return s.splitServer(ends, b)
}

func (s *memcachedSplitter) splitClient(ends []int, b []byte) ([]int, error) {
	st := &s.client
	if !st.started && len(b) > 0 {
		st.started = true
		if b[0] == memcache.BinaryMagic {
			return ends, fmt.Errorf("%w: the binary protocol", ErrUnframed)
		}
	}
	off := 0
	for off < len(b) {
		if st.block > 0 {
			if off = skipBlock(&st.block, b, off); st.block > 0 {
				return ends, nil
			}
			ends = append(ends, off)
			if st.last {
				return ends, fmt.Errorf("%w: a command whose replies cannot be framed", ErrUnframed)
			}
			continue
		}
		line, n, err := s.lineOf(&st.line, b[off:], memcache.MaxLine, true)
		off += n
		if err != nil || line == nil {
			return ends, err
		}
		if err := memcache.ParseCommand(&s.cmd, line); err != nil {
			return ends, err
		}
		st.line.take()
		s.owe(&s.cmd)
		st.last = s.cmd.Reply == memcache.ShapeUnknown
		if st.block = s.cmd.DataLen; st.block > 0 {
			continue
		}
		ends = append(ends, off)
		if st.last {
			return ends, fmt.Errorf("%w: a command whose replies cannot be framed", ErrUnframed)
		}
	}
	return ends, nil
}

// skipBlock takes what b holds of a data block of which left bytes are
// still to come, from off on, and returns where it stops.
func skipBlock(left *int64, b []byte, off int) int {
	n := int(min(*left, int64(len(b)-off)))
	*left -= int64(n)
	return off + n
}

// owe notes the reply c is owed, if any.
func (s *memcachedSplitter) owe(c *memcache.Command) {
	if c.Reply == memcache.ShapeNone {
		return
	}
	o := memcachedOwed{shape: c.Reply, n: 1}
	if c.Quiet && c.Reply == memcache.ShapeMeta {
		o.quiet = string(c.Name)
	}
	if last := len(s.owed) - 1; last >= 0 && s.owed[last].shape == o.shape && s.owed[last].quiet == o.quiet {
		s.owed[last].n++
		return
	}
	s.owed = append(s.owed, o)
}

// pop forgets the oldest reply owed.
func (s *memcachedSplitter) pop() {
	if s.owed[0].n--; s.owed[0].n == 0 {
		s.owed = s.owed[1:]
	}
}

// lineOf returns the line that b completes after the part of it held in
// p (nil if b does not complete it; then b is held too), and how many
// bytes of b it took. A line longer than limit is refused, unless get
// lines may be longer (a client's) and it is one.
func (s *memcachedSplitter) lineOf(p *partial, b []byte, limit int, gets bool) ([]byte, int, error) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		held := len(p.buf) + len(b)
		if held > limit && !(gets && held <= memcachedLongLine && isGetLine(p.with(nil), b)) {
			return nil, len(b), fmt.Errorf("%w: a line of more than %d bytes", memcache.ErrMalformed, limit)
		}
		p.keep(p.with(b))
		return nil, len(b), nil
	}
	return p.with(b[:i+1]), i + 1, nil
}

// isGetLine reports whether the line begun by held and then b is a get
// or gets, which memcached reads whatever their length.
func isGetLine(held, b []byte) bool {
	start := held
	if len(start) < 8 {
		start = append(append([]byte(nil), held...), b[:min(len(b), 8)]...)
	}
	t := bytes.TrimLeft(start, " ")
	return bytes.HasPrefix(t, []byte("get ")) || bytes.HasPrefix(t, []byte("gets "))
}

func (s *memcachedSplitter) splitServer(ends []int, b []byte) ([]int, error) {
	st := &s.server
	off := 0
	for off < len(b) {
		if st.block > 0 {
			if off = skipBlock(&st.block, b, off); st.block > 0 {
				return ends, nil
			}
			if st.end {
				st.inReply = false
				ends = append(ends, off)
			}
			continue
		}
		line, n, err := s.lineOf(&st.line, b[off:], memcache.MaxReplyLine, false)
		off += n
		if err != nil || line == nil {
			return ends, err
		}
		l, err := memcache.ParseReplyLine(line)
		st.line.take()
		if err != nil {
			return ends, err
		}
		if !st.inReply {
			if err := s.startReply(l.Code); err != nil {
				return ends, err
			}
		}
		last := s.lineEnds(&l)
		st.first = false
		switch {
		case l.DataLen > 0 && (st.shape == memcache.ShapeValues || st.shape == memcache.ShapeMeta):
			st.block, st.end = l.DataLen, last
		case last:
			st.inReply = false
			ends = append(ends, off)
		}
	}
	return ends, nil
}

// startReply takes the reply owed whose first line's code is code: the
// quiet commands before it that memcached answers with nothing are owed
// none.
func (s *memcachedSplitter) startReply(code []byte) error {
	for {
		if len(s.owed) == 0 {
			return errNoCommand
		}
		o := s.owed[0]
		if o.quiet != "" && !(&memcache.Command{Name: []byte(o.quiet), Quiet: true}).Answers(code) {
			s.pop()
			continue
		}
		s.pop()
		st := &s.server
		st.inReply, st.first, st.shape = true, true, o.shape
		return nil
	}
}

// lineEnds reports whether l is the last line of the reply begun (its
// data block aside): as memcache.CopyReply frames replies of each shape.
func (s *memcachedSplitter) lineEnds(l *memcache.ReplyLine) bool {
	st := &s.server
	code := string(l.Code)
	switch st.shape {
	case memcache.ShapeValues:
		return code != "VALUE"
	case memcache.ShapeStats:
		return code == "END" || st.first && (l.IsError() || code == "OK" || code == "RESET")
	}
	return true
}
