package faults_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gofaults/faults"
)

// TestRedisPipelineWrittenBeforeRead: a client that writes a whole
// pipeline before it reads a reply (large SETs and GETs, megabytes each
// way, more than the sockets buffer) is served as Redis serves it
// directly, which buffers replies without limit: the proxy never stops
// passing commands on while the client is not reading. Errors the proxy
// answers itself, every tenth command, take their places in between.
func TestRedisPipelineWrittenBeforeRead(t *testing.T) {
	p := newRedisProxy(t)
	if err := p.Set(faults.Error(faults.RedisLoading).When(faults.Command("ECHO"))); err != nil {
		t.Fatal(err)
	}
	c, err := net.DialTimeout("tcp", p.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))

	const rounds = 200
	value := strings.Repeat("v", 128<<10)
	key := fmt.Sprintf("faults:test:%s:%d", t.Name(), time.Now().UnixNano())
	defer newRedisClient(t, redisAddr(t)).Del(t.Context(), key)
	var cmds bytes.Buffer
	var want bytes.Buffer
	for i := range rounds {
		fmt.Fprintf(&cmds, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", len(key), key, len(value), value)
		want.WriteString("+OK\r\n")
		fmt.Fprintf(&cmds, "*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", len(key), key)
		fmt.Fprintf(&want, "$%d\r\n%s\r\n", len(value), value)
		if i%5 == 0 {
			cmds.WriteString("*2\r\n$4\r\nECHO\r\n$1\r\nx\r\n")
			want.WriteString("-" + faults.RedisLoading.Text() + "\r\n")
		}
	}
	// Write everything, then read: the replies (25 MiB) are read only
	// once the commands (25 MiB) are all written.
	if _, err := c.Write(cmds.Bytes()); err != nil {
		t.Fatalf("writing the pipeline: %v (the proxy stopped reading commands)", err)
	}
	got := make([]byte, want.Len())
	if _, err := io.ReadFull(bufio.NewReader(c), got); err != nil {
		t.Fatalf("reading the replies: %v", err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		i := 0
		for i < len(got) && got[i] == want.Bytes()[i] {
			i++
		}
		t.Fatalf("replies differ from byte %d of %d", i, want.Len())
	}
	if n := p.Stats().Injected; n != rounds/5 {
		t.Fatalf("Injected %d, want %d", n, rounds/5)
	}
}
