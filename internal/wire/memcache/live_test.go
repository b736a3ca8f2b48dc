package memcache

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gofaults/faults/internal/testenv"
)

// TestLiveMemcached sends a pipeline to a private memcached and frames
// both directions as a relay does: the commands as sent, then the replies
// the server sent for them, paired by shape, with a terminating mn. It is
// skipped without a memcached binary.
func TestLiveMemcached(t *testing.T) {
	addr := testenv.StartMemcached(t)
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))

	var pipe bytes.Buffer
	pipe.WriteString("set a 0 0 3\r\nabc\r\n")
	// A value too large for memcached: refused, and its block swallowed.
	fmt.Fprintf(&pipe, "set huge 0 0 %d\r\n%s\r\n", 2<<20, strings.Repeat("h", 2<<20))
	fmt.Fprintf(&pipe, "set huge 0 0 %d noreply\r\n%s\r\n", 2<<20, strings.Repeat("h", 2<<20))
	// A get line longer than MaxLine, which memcached reads whole.
	pipe.WriteString("get" + strings.Repeat(" a", 1500) + "\r\n")
	// Quiet commands, each run ended by mn: which of them a reply
	// answers is then plain from the bytes (see Command.Answers).
	pipe.WriteString("mg a v q\r\nmg missing v q\r\nms b 2 q\r\nhi\r\nmn\r\n")
	pipe.WriteString("md missing q\r\nmn\r\nma a q\r\nmn\r\n")
	pipe.WriteString("incr a 1 noreply\r\ngat 0 a b\r\nstats settings\r\nmn\r\nversion\r\n")
	client := pipe.Bytes()

	go conn.Write(client)
	cmds, err := frameCommands(t, newReader(bytes.NewReader(client)))
	if err != nil {
		t.Fatal(err)
	}
	// Read everything up to the reply to version, the last command and
	// the only VERSION line.
	var server []byte
	chunk := make([]byte, 64<<10)
	for !bytes.HasSuffix(server, []byte("\r\n")) || !bytes.HasPrefix(server[bytes.LastIndex(server[:len(server)-2], []byte("\n"))+1:], []byte("VERSION ")) {
		n, err := conn.Read(chunk)
		server = append(server, chunk[:n]...)
		if err != nil {
			t.Fatalf("%v after %q", err, server)
		}
	}
	ends, err := frameReplies(t, bufio.NewReaderSize(bytes.NewReader(server), 4096), cmds, nil)
	if err != nil {
		t.Fatalf("replies: %v; ends %v", err, ends)
	}
	if got := ends[len(ends)-1]; got != int64(len(server)) {
		t.Fatalf("replies end at %v, the stream at %d", ends, len(server))
	}
	// Which commands got a reply: quiet ones only on failure (md of a
	// missing key: NF; ma of a non-number: CLIENT_ERROR).
	var owed []string
	for i, c := range cmds {
		if ends[i] >= 0 {
			owed = append(owed, c.name)
		}
	}
	want := "set set get mg mn md mn ma mn gat stats mn version"
	if strings.Join(owed, " ") != want {
		t.Errorf("replies to %q, want %q; server sent %q", owed, want, server[:min(len(server), 400)])
	}
}
