package split

import (
	"errors"

	"github.com/gofaults/faults/internal/wire/resp"
)

// Redis returns a Splitter of RESP2 and RESP3: a message is a command
// (multibulk or inline) from the client, a value from the server.
func Redis() Splitter {
	s := new(redisSplitter)
	for i := range s.side {
		s.side[i].rr = resp.NewReader(&s.side[i].feed)
	}
	return s
}

type redisSplitter struct {
	side [2]redisSide
}

type redisSide struct {
	rr   *resp.Reader
	feed feeder
}

// feeder is a resp.Reader's source: the piece being split.
type feeder struct{ b []byte }

// errFed ends a Fill once the piece is all read.
var errFed = errors.New("split: piece read")

func (f *feeder) Read(p []byte) (int, error) {
	if len(f.b) == 0 {
		return 0, errFed
	}
	n := copy(p, f.b)
	f.b = f.b[n:]
	return n, nil
}

func (s *redisSplitter) Split(ends []int, from Side, b []byte) ([]int, error) {
	st := &s.side[from]
	rr := st.rr
	st.feed.b = b
	for {
		if err := rr.Fill(); err != nil {
			if err == errFed {
				return ends, nil
			}
			return ends, err
		}
		// Where the unframed bytes start in b: past every end found.
		read := len(b) - len(st.feed.b)
		for {
			if rr.AtBoundary() {
				if len(rr.Unframed()) == 0 {
					break
				}
				if from == Client {
					cmd, err := rr.PeekCommand()
					if err == resp.ErrShort {
						break
					}
					if err != nil {
						return ends, err
					}
					rr.StartCommand(cmd)
					if rr.AtBoundary() { // an inline command, framed whole
						rr.Skip()
						ends = append(ends, read-len(rr.Unframed()))
						continue
					}
				}
			}
			whole, err := rr.Frame()
			if err != nil {
				return ends, err
			}
			rr.Skip()
			if !whole {
				break
			}
			ends = append(ends, read-len(rr.Unframed()))
		}
	}
}
