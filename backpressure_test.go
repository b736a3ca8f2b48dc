package faults_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gofaults/faults"
)

// pipelineUntilBlocked writes req to c over and over, without reading, until
// a write blocks for a second or limit bytes are written, and returns how
// many requests went out whole.
func pipelineUntilBlocked(t *testing.T, c net.Conn, req []byte, limit int) int {
	t.Helper()
	batch := bytes.Repeat(req, 64<<10/len(req))
	written := 0
	for written < limit {
		c.SetWriteDeadline(time.Now().Add(time.Second))
		n, err := c.Write(batch)
		written += n
		if err != nil {
			if !isTimeout(err) {
				t.Fatalf("pipelining: %v", err)
			}
			break
		}
	}
	c.SetWriteDeadline(time.Time{})
	return written / len(req)
}

// A client that pipelines requests without reading the answers, all
// answered by the proxy behind one answer the server holds back, is pushed
// back on, as a server's full buffers would push back, instead of the proxy
// reading (and queuing answers for) everything it sends.
func TestHTTPPipelineWithoutReadingIsPushedBack(t *testing.T) {
	release := make(chan struct{})
	b := newBackend(t, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		if _, err := br.ReadString('\n'); err != nil {
			return
		}
		select {
		case <-release:
		case <-time.After(30 * time.Second):
		}
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nslow"))
	})
	p := newHTTPProxy(t, b.addr())
	mustSet(t, p, faults.Error(faults.HTTPStatus(503)).When(faults.Path("/x")))
	c := dial(t, p.Addr())
	if _, err := c.Write([]byte("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	const limit = 64 << 20
	sent := pipelineUntilBlocked(t, c, []byte("GET /x HTTP/1.1\r\nHost: x\r\n\r\n"), limit)
	if sent*len("GET /x HTTP/1.1\r\nHost: x\r\n\r\n") >= limit {
		t.Fatalf("the proxy read %d MiB of pipelined requests from a client that reads nothing", limit>>20)
	}
	t.Logf("the client could send %d requests before it was pushed back", sent)
	close(release)
	br := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for i := range 10 {
		resp := readHTTPResponse(t, br)
		want := "503"
		if i == 0 {
			want = "200"
		}
		if !strings.HasPrefix(resp, "HTTP/1.1 "+want+" ") {
			t.Fatalf("answer %d: %q, want %s", i, firstLine(resp), want)
		}
	}
}

// readHTTPResponse reads one response with a Content-Length body from br.
func readHTTPResponse(t *testing.T, br *bufio.Reader) string {
	t.Helper()
	var head strings.Builder
	length := 0
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading a response: %v (read %q)", err, head.String())
		}
		head.WriteString(line)
		if line == "\r\n" {
			break
		}
		if v, ok := strings.CutPrefix(line, "Content-Length: "); ok {
			for _, d := range strings.TrimSpace(v) {
				length = 10*length + int(d-'0')
			}
		}
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(br, body); err != nil {
		t.Fatalf("reading a body of %d bytes: %v", length, err)
	}
	return head.String() + string(body)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\r\n")
	return line
}

// The same on Redis, behind a BLPOP the server holds: GETs answered by the
// proxy, and GETs whose replies a behavior delays (each an entry of its
// own in the queue).
func TestRedisPipelineWithoutReadingIsPushedBack(t *testing.T) {
	for _, c := range []struct {
		name  string
		b     faults.Behavior
		reply string
	}{
		{"answered by the proxy", faults.Error(faults.RedisLoading), "-LOADING"},
		{"reply delayed", faults.DelayResponse(time.Microsecond), "$-1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := newRedisProxy(t)
			mustSet(t, p, c.b.When(faults.Command("GET")))
			key := "faults:pushback:" + t.Name()
			conn := dial(t, p.Addr())
			blpop := "*3\r\n$5\r\nBLPOP\r\n$" + strconv.Itoa(len(key)) + "\r\n" + key + "\r\n$1\r\n0\r\n"
			if _, err := conn.Write([]byte(blpop)); err != nil {
				t.Fatal(err)
			}
			get := []byte("*2\r\n$3\r\nGET\r\n$20\r\nfaults:pushback:none\r\n")
			const limit = 64 << 20
			sent := pipelineUntilBlocked(t, conn, get, limit)
			if sent*len(get) >= limit {
				t.Fatalf("the proxy read %d MiB of pipelined commands from a client that reads nothing", limit>>20)
			}
			t.Logf("the client could send %d commands before it was pushed back", sent)
			other := newRedisClient(t, redisAddr(t))
			if err := other.RPush(context.Background(), key, "v").Err(); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(conn)
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			want := "*2\r\n$" + strconv.Itoa(len(key)) + "\r\n" + key + "\r\n$1\r\nv\r\n"
			got := make([]byte, len(want))
			if _, err := io.ReadFull(br, got); err != nil || string(got) != want {
				t.Fatalf("BLPOP's reply: %q, %v; want %q", got, err, want)
			}
			for i := range 10 {
				line, err := br.ReadString('\n')
				if err != nil || !strings.HasPrefix(line, c.reply) {
					t.Fatalf("GET %d: %q, %v; want %s", i, line, err, c.reply)
				}
			}
		})
	}
}

// The same on memcached, where nothing holds a reply back: the client's
// unread replies fill the sockets' buffers, then the queue (gets answered
// by the proxy, or gets whose replies a behavior delays), and then the
// proxy stops reading the client.
func TestMemcachedPipelineWithoutReadingIsPushedBack(t *testing.T) {
	for _, c := range []struct {
		name string
		b    faults.Behavior
	}{
		{"answered by the proxy", faults.Miss()},
		{"reply delayed", faults.DelayResponse(time.Microsecond)},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := newMemcachedProxy(t, "")
			mustSet(t, p, c.b.When(faults.Command("get")))
			conn := dial(t, p.Addr())
			get := []byte("get faults:pushback:none\r\n")
			const limit = 64 << 20
			sent := pipelineUntilBlocked(t, conn, get, limit)
			if sent*len(get) >= limit {
				t.Fatalf("the proxy read %d MiB of pipelined commands from a client that reads nothing", limit>>20)
			}
			t.Logf("the client could send %d commands before it was pushed back", sent)
			br := bufio.NewReader(conn)
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			for i := range 10 {
				if line, err := br.ReadString('\n'); err != nil || line != "END\r\n" {
					t.Fatalf("get %d: %q, %v; want END", i, line, err)
				}
			}
		})
	}
}
