package split

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gofaults/faults/internal/testenv"
	"github.com/gofaults/faults/internal/wire/memcache"
)

// memcachedEnds frames a recorded session with the codec, as the relay
// does (quiet replies paired by memcache.Command.Answers), and returns
// where each command and each reply ends.
func memcachedEnds(t *testing.T, client, server []byte) [2][]int {
	t.Helper()
	var ends [2][]int
	type owed struct {
		shape memcache.Shape
		cmd   memcache.Command
	}
	var queue []owed
	cr := bufio.NewReaderSize(bytes.NewReader(client), 1<<20)
	pos := 0
	for {
		var c memcache.Command
		err := memcache.PeekCommand(cr, &c)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		cmd := c
		cmd.Name = bytes.Clone(c.Name)
		n, err := memcache.CopyCommand(nil, cr, &c)
		if err != nil && err != memcache.ErrBadDataChunk {
			t.Fatal(err)
		}
		pos += int(n)
		ends[Client] = append(ends[Client], pos)
		if cmd.Reply != memcache.ShapeNone {
			queue = append(queue, owed{cmd.Reply, cmd})
		}
	}
	sr := bufio.NewReaderSize(bytes.NewReader(server), 64<<10)
	pos = 0
	for len(queue) > 0 {
		l, err := memcache.PeekReply(sr)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		o := queue[0]
		queue = queue[1:]
		if o.cmd.Quiet && !o.cmd.Answers(l.Code) {
			continue
		}
		n, err := memcache.CopyReply(nil, sr, o.shape)
		if err != nil {
			t.Fatal(err)
		}
		pos += int(n)
		ends[Server] = append(ends[Server], pos)
	}
	return ends
}

// TestMemcached splits the session recorded from memcached 1.6.18 (every
// command family, noreply, quiet meta commands, refused lines, a 128 KiB
// value) where the codec frames it, in pieces of every size.
func TestMemcached(t *testing.T) {
	var client, server []byte
	for _, st := range testenv.ReadMemcachedSession(t, filepath.Join("..", "wire", "memcache", "testdata")) {
		if st.Name == "quit" {
			continue
		}
		// Each step was captured alone, then an mg answered; an mn does
		// what it did here: after a quiet command, the next reply could
		// be its, or the next command's.
		client = append(append(client, st.Client...), "mn\r\n"...)
		server = append(append(server, st.Server...), "MN\r\n"...)
	}
	checkSplit(t, Memcached, client, server, memcachedEnds(t, client, server))

	// A get line longer than any other line memcached reads.
	long := "get" + strings.Repeat(" k", 100000) + "\r\n"
	checkSplit(t, Memcached, []byte(long+"version\r\n"), []byte("END\r\nVERSION 1.6.18\r\n"),
		[2][]int{{len(long), len(long) + 9}, {5, 21}})
}

// TestMemcachedUnframed: the binary protocol, and the commands whose
// replies no framer follows, end the framing; bytes that are no reply,
// or a reply to no command, are refused.
func TestMemcachedUnframed(t *testing.T) {
	for _, tc := range []struct {
		from Side
		in   string
		ends []int
		want error
	}{
		{Client, "\x80\x0b\x00\x00", nil, ErrUnframed},
		{Client, "get k\r\nwatch\r\nget x\r\n", []int{7, 14}, ErrUnframed},
		{Client, "set k 0 0 1\r\nx\r\nlru_crawler metadump all\r\n", []int{16, 42}, ErrUnframed},
		{Client, "set k 0 0 1\r\nx\r\n" + strings.Repeat("z", 3000), []int{16}, memcache.ErrMalformed},
		{Server, "STORED\r\n", nil, memcache.ErrMalformed},
	} {
		ends, err := Memcached().Split(nil, tc.from, []byte(tc.in))
		if !errors.Is(err, tc.want) || len(ends) != len(tc.ends) || len(ends) > 0 && ends[len(ends)-1] != tc.ends[len(tc.ends)-1] {
			t.Errorf("%.30q: ends %v, %v; want %v, %v", tc.in, ends, err, tc.ends, tc.want)
		}
	}
}
