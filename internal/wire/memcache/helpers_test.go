package memcache

import (
	"bufio"
	"errors"
	"io"
	"testing"
)

// framedCommand is a command framed from a stream: where it ends, and
// what it is owed.
type framedCommand struct {
	end      int64
	name     string
	keys     []string
	reply    Shape
	quiet    bool
	badChunk bool
	cmd      Command // its slices are not valid after framing
}

// frameCommands frames every command of r up to its end, as a relay does:
// PeekCommand, then CopyCommand. It returns the commands framed and the
// error that stopped it (nil at a clean end).
func frameCommands(t testing.TB, r Reader) ([]framedCommand, error) {
	t.Helper()
	var out []framedCommand
	var off int64
	var c Command
	for {
		err := PeekCommand(r, &c)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		f := framedCommand{name: string(c.Name), reply: c.Reply, quiet: c.Quiet}
		for _, k := range c.Keys {
			f.keys = append(f.keys, string(k))
		}
		f.cmd = c
		f.cmd.Name = []byte(f.name)
		n, err := CopyCommand(nil, r, &c)
		off += n
		f.end = off
		if errors.Is(err, ErrBadDataChunk) {
			f.badChunk, err = true, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, f)
	}
}

// frameReplies frames the replies r holds to cmds, in order: none for a
// command of ShapeNone, none for a quiet one whose next reply it cannot
// get, unless owed (if not nil) says for each command whether it is owed
// a reply. It returns where each command's reply ends (-1 for none) and
// the error that stopped it.
func frameReplies(t testing.TB, r Reader, cmds []framedCommand, owed []bool) ([]int64, error) {
	t.Helper()
	var ends []int64
	var off int64
	for i, f := range cmds {
		if f.reply == ShapeNone || owed != nil && !owed[i] {
			ends = append(ends, -1)
			continue
		}
		if f.quiet && owed == nil {
			l, err := PeekReply(r)
			if err == io.EOF || err == nil && !f.cmd.Answers(l.Code) {
				ends = append(ends, -1)
				continue
			}
			if err != nil {
				return ends, err
			}
		}
		n, err := CopyReply(nil, r, f.reply)
		off += n
		if err != nil {
			return ends, err
		}
		ends = append(ends, off)
	}
	return ends, nil
}

// newReader returns a bufio.Reader of src with memcached's buffer size.
func newReader(src io.Reader) *bufio.Reader { return bufio.NewReaderSize(src, 4096) }
