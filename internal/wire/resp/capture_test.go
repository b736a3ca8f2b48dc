package resp

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gofaults/faults/internal/testenv"
)

// TestCaptureRESPFixtures regenerates testdata/*.resp, the replies of a
// real server that resp_test.go frames, when FAULTS_CAPTURE=1:
//
//	FAULTS_CAPTURE=1 go test -run '^TestCaptureRESPFixtures$' ./internal/wire/resp
//
// Each fixture is the exact bytes a private server (started with
// --enable-debug-command yes) sent for one command, in RESP2 and, after
// HELLO 3, in RESP3. The end of a reply is found without a RESP framer:
// the command is followed by ECHO of a marker, and the bytes are read
// until the marker's reply, which is cut off.
func TestCaptureRESPFixtures(t *testing.T) {
	if os.Getenv("FAULTS_CAPTURE") != "1" {
		t.Skip("set FAULTS_CAPTURE=1 to regenerate testdata from a private redis-server")
	}
	addr := testenv.StartRedisServer(t, "--enable-debug-command", "yes")
	dir := "testdata"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name+".resp"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	conns := map[int]*captureConn{2: dialCapture(t, addr), 3: dialCapture(t, addr)}
	write("resp3_hello", conns[3].do(t, "HELLO", "3"))

	// The data the commands read. The large value holds CRLFs and RESP
	// headers, which a framer must count past, not read.
	setup := dialCapture(t, addr)
	big := bytes.Repeat([]byte("big\r\n*3\r\n$-1\r\n:7\r\n"), (1<<17)/18+1)[:1<<17]
	for _, cmd := range [][]string{
		{"HSET", "h", "f1", "v1", "f2", "v2"},
		{"SADD", "s", "a", "b", "c"},
		{"ZADD", "z", "1.5", "a", "2", "b", "3.25", "c"},
		{"XADD", "x", "1-1", "f", "v"},
		{"XADD", "x", "2-1", "a", "b", "c", "d"},
		{"SET", "big", string(big)},
		{"SET", "tracked", "1"},
	} {
		if r := setup.do(t, cmd...); r[0] == '-' {
			t.Fatalf("%s: %q", cmd[0], r)
		}
	}

	type capture struct {
		name string
		cmd  []string
	}
	var captures []capture
	for _, typ := range []string{"string", "integer", "double", "bignum", "null", "array", "set", "map",
		"attrib", "push", "verbatim", "true", "false"} {
		captures = append(captures, capture{"debug_protocol_" + typ, []string{"DEBUG", "PROTOCOL", typ}})
	}
	captures = append(captures,
		capture{"hgetall", []string{"HGETALL", "h"}},
		capture{"smembers", []string{"SMEMBERS", "s"}},
		capture{"zrange_withscores", []string{"ZRANGE", "z", "0", "-1", "WITHSCORES"}},
		capture{"error", []string{"NOSUCHCOMMAND", "x"}},
		capture{"nil", []string{"GET", "missing"}},
		capture{"xrange", []string{"XRANGE", "x", "-", "+"}},
		capture{"command_info", []string{"COMMAND", "INFO", "GET"}},
		capture{"nil_array", []string{"BLPOP", "missing", "0.01"}},
	)
	for _, proto := range []int{2, 3} {
		for _, c := range captures {
			write(fmt.Sprintf("resp%d_%s", proto, c.name), conns[proto].do(t, c.cmd...))
		}
	}
	// The same in either version: kept once.
	write("resp2_large_bulk", conns[2].do(t, "GET", "big"))

	// A client-side caching invalidation: a push the server sends unasked
	// when another client changes a key the connection read.
	tr := conns[3]
	if r := tr.do(t, "CLIENT", "TRACKING", "ON"); string(r) != "+OK\r\n" {
		t.Fatalf("CLIENT TRACKING ON: %q", r)
	}
	tr.do(t, "GET", "tracked")
	setup.do(t, "SET", "tracked", "2")
	write("resp3_push_invalidate", tr.do(t))
	// The connection's own write of a tracked key: its reply and the
	// invalidation push, two values.
	tr.do(t, "GET", "tracked")
	write("resp3_push_and_reply", tr.do(t, "SET", "tracked", "3"))
}

// captureConn is a connection to a server that records its replies.
type captureConn struct {
	c   net.Conn
	buf []byte
}

func dialCapture(t *testing.T, addr string) *captureConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &captureConn{c: c}
}

// do sends cmd (nothing if empty), then ECHO of a marker, and returns the
// bytes the server sent before the marker's reply.
func (cc *captureConn) do(t *testing.T, cmd ...string) []byte {
	t.Helper()
	const marker = "faults-capture-end-9f1c2b"
	var req []byte
	for _, args := range [][]string{cmd, {"ECHO", marker}} {
		if len(args) == 0 {
			continue
		}
		req = fmt.Appendf(req, "*%d\r\n", len(args))
		for _, a := range args {
			req = fmt.Appendf(req, "$%d\r\n%s\r\n", len(a), a)
		}
	}
	cc.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := cc.c.Write(req); err != nil {
		t.Fatal(err)
	}
	end := []byte(fmt.Sprintf("$%d\r\n%s\r\n", len(marker), marker))
	chunk := make([]byte, 64<<10)
	for !bytes.HasSuffix(cc.buf, end) {
		n, err := cc.c.Read(chunk)
		cc.buf = append(cc.buf, chunk[:n]...)
		if err != nil {
			t.Fatalf("%q: %v after %q", cmd, err, cc.buf)
		}
	}
	reply := bytes.Clone(cc.buf[:len(cc.buf)-len(end)])
	cc.buf = cc.buf[:0]
	return reply
}
