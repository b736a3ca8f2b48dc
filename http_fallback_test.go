package faults_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofaults/faults"
)

// logBuffer collects a proxy's log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// Bytes that are not HTTP, and some that are until they are not.
var (
	bigPayload     = randomBytes(60, 4<<20)
	serverGarbage  = "\x00\xffNOT HTTP AT ALL\r\n\r\n" + string(randomBytes(61, 64<<10))
	badLengthReply = "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n" + string(randomBytes(62, 1000))
)

// mixedBackend answers GET requests (HTTP/1.1, keep-alive) and echoes
// anything else, from the first byte that does not start a valid GET head:
//
//	/garbage        bytes that are not HTTP, then close
//	/bad-length     a response with an invalid Content-Length, then close
//	/then-garbage   a valid response followed by bytes that are not HTTP
//	/big            bigPayload, framed by Content-Length
//	anything else   "ok"
func mixedBackend(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	done := func(s string) {
		io.WriteString(c, s)
		c.(*net.TCPConn).CloseWrite()
		io.Copy(io.Discard, br)
	}
	for {
		req := peekGet(br)
		if req == nil {
			io.Copy(c, br)
			c.(*net.TCPConn).CloseWrite()
			return
		}
		switch req.URL.Path {
		case "/garbage":
			done(serverGarbage)
			return
		case "/bad-length":
			done(badLengthReply)
			return
		case "/then-garbage":
			done("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + serverGarbage)
			return
		case "/big":
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(bigPayload))
			c.Write(bigPayload)
		default:
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	}
}

// peekGet reads an HTTP/1.x GET head without a body from br, or returns
// nil, consuming nothing, if br does not start with one.
func peekGet(br *bufio.Reader) *http.Request {
	n := 1
	for {
		p, err := br.Peek(n)
		if i := bytes.Index(p, []byte("\r\n\r\n")); i >= 0 {
			req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(p[:i+4])))
			if err != nil || req.Method != "GET" || req.ProtoMajor != 1 {
				return nil
			}
			br.Discard(i + 4)
			return req
		}
		if err != nil {
			return nil
		}
		n = max(n+1, br.Buffered())
	}
}

// checkStillServes sends a normal request on a new connection.
func checkStillServes(t testing.TB, p *faults.Proxy) {
	t.Helper()
	c, _ := newHTTPClient(t, 5*time.Second)
	resp, body := mustFetch(t, c, "GET", "http://"+p.Addr()+"/normal")
	if resp.StatusCode != 200 || body != "ok" {
		t.Errorf("normal request afterwards: %d %q", resp.StatusCode, body)
	}
}

// exchangeRaw writes out (concurrently, then half-closes) on a new
// connection and returns everything read back until EOF.
func exchangeRaw(t testing.TB, addr string, out []byte) []byte {
	t.Helper()
	c := dial(t, addr)
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(out)
		if err == nil {
			err = c.CloseWrite()
		}
		werr <- err
	}()
	got, err := readUntilEnd(t, c, 10*time.Second)
	if err != io.EOF {
		t.Errorf("read ended with %v after %d bytes, want EOF", err, len(got))
	}
	if err := <-werr; err != nil {
		t.Errorf("write: %v", err)
	}
	return got
}

// TestHTTPFallbackClientGarbage: bytes from the client that are not HTTP
// pass through raw to the server, and the server's answer comes back raw.
func TestHTTPFallbackClientGarbage(t *testing.T) {
	b := newBackend(t, mixedBackend)
	var logs logBuffer
	p := newHTTPProxy(t, b.addr(), faults.WithLogger(logs.logger()))
	random := string(randomBytes(63, 1<<20))
	for _, tc := range []struct{ name, out string }{
		// A TLS ClientHello: refused at its first bytes, with no line
		// ending to wait for.
		{"tls", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + random},
		{"text", "HELLO WORLD\r\n\r\n" + random},
		{"no version", "GET /x\r\n\r\n" + random},
		{"bad version", "GET / HTTP/2.0\r\nHost: x\r\n\r\n" + random},
		{"bad header", "GET / HTTP/1.1\r\nHost x\r\n\r\n" + random},
		{"short", "\x00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := exchangeRaw(t, p.Addr(), []byte(tc.out))
			if string(got) != tc.out {
				t.Errorf("echo: %d bytes differing from the %d sent (first difference at %d)", len(got), len(tc.out), firstDiff(got, []byte(tc.out)))
			}
			checkStillServes(t, p)
		})
	}
	// A valid request first, then bytes that are not HTTP: the answer,
	// then the echo.
	t.Run("after a request", func(t *testing.T) {
		out := "GET /first HTTP/1.1\r\nHost: x\r\n\r\n" + "\x01\x02garbage" + random
		want := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + "\x01\x02garbage" + random
		got := exchangeRaw(t, p.Addr(), []byte(out))
		if string(got) != want {
			t.Errorf("got %d bytes differing from the %d expected (first difference at %d)", len(got), len(want), firstDiff(got, []byte(want)))
		}
	})
	if !strings.Contains(logs.String(), "HTTP framing stopped") {
		t.Errorf("no fallback logged:\n%s", logs.String())
	}
	waitUntil(t, 5*time.Second, "every connection to end", func() bool { return p.Stats().ConnsOpen == 0 })
}

// TestHTTPFallbackServerGarbage: a server answering with bytes that are not
// HTTP, or stop being HTTP, has them reach the client unchanged.
func TestHTTPFallbackServerGarbage(t *testing.T) {
	b := newBackend(t, mixedBackend)
	var logs logBuffer
	p := newHTTPProxy(t, b.addr(), faults.WithLogger(logs.logger()))
	for _, tc := range []struct{ path, want string }{
		{"/garbage", serverGarbage},
		{"/bad-length", badLengthReply},
		{"/then-garbage", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + serverGarbage},
	} {
		t.Run(tc.path, func(t *testing.T) {
			got := exchangeRaw(t, p.Addr(), []byte("GET "+tc.path+" HTTP/1.1\r\nHost: x\r\n\r\n"))
			if string(got) != tc.want {
				t.Errorf("got %d bytes differing from the %d the server sent (first difference at %d)", len(got), len(tc.want), firstDiff(got, []byte(tc.want)))
			}
			checkStillServes(t, p)
		})
	}
	if !strings.Contains(logs.String(), "HTTP framing stopped") {
		t.Errorf("no fallback logged:\n%s", logs.String())
	}
	waitUntil(t, 5*time.Second, "every connection to end", func() bool { return p.Stats().ConnsOpen == 0 })
}

// TestHTTPFallbackMidResponse: the client sends bytes that are not HTTP
// while the server is still sending a large response: the response arrives
// whole, then the echo of those bytes.
func TestHTTPFallbackMidResponse(t *testing.T) {
	b := newBackend(t, mixedBackend)
	p := newHTTPProxy(t, b.addr())
	c := dial(t, p.Addr())
	c.SetDeadline(time.Now().Add(20 * time.Second))
	io.WriteString(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Part of the body, so that the rest is still on its way.
	part := make([]byte, 64<<10)
	if _, err := io.ReadFull(resp.Body, part); err != nil {
		t.Fatal(err)
	}
	garbage := "\x00\x01 not http \xff"
	io.WriteString(c, garbage)
	c.CloseWrite()
	rest, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("body after %d bytes: %v", len(part)+len(rest), err)
	}
	if body := append(part, rest...); !bytes.Equal(body, bigPayload) {
		t.Errorf("body: %d bytes differing from the %d sent (first difference at %d)", len(body), len(bigPayload), firstDiff(body, bigPayload))
	}
	echo, err := io.ReadAll(br)
	if err != nil || string(echo) != garbage {
		t.Errorf("after the response: %q, %v; want the echo %q", echo, err, garbage)
	}
}

// TestHTTPFallbackMidRequest: the server answers with bytes that are not
// HTTP while the client is still sending a large request body: the body
// reaches the server whole, and the server's bytes reach the client.
func TestHTTPFallbackMidRequest(t *testing.T) {
	const size = 4 << 20
	body := randomBytes(65, size)
	head := "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: " + fmt.Sprint(size) + "\r\n\r\n"
	b := newBackend(t, func(c net.Conn) {
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		got := make([]byte, len(head))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != head {
			return
		}
		io.WriteString(c, "\x00garbage, not HTTP\n")
		rest, _ := io.ReadAll(c)
		fmt.Fprintf(c, "%d %x", len(rest), sha256.Sum256(rest))
	})
	p := newHTTPProxy(t, b.addr())
	c := dial(t, p.Addr())
	c.SetDeadline(time.Now().Add(20 * time.Second))
	io.WriteString(c, head)
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if line != "\x00garbage, not HTTP\n" {
		t.Fatalf("got %q, %v; want the server's bytes", line, err)
	}
	go func() {
		c.Write(body)
		c.CloseWrite()
	}()
	rest, err := io.ReadAll(br)
	if want := fmt.Sprintf("%d %x", size, sha256.Sum256(body)); err != nil || string(rest) != want {
		t.Errorf("the server received %q (%v), want %q", rest, err, want)
	}
}

// TestHTTPFallbackAfterAnswer: once the proxy has answered a request
// itself, bytes that are not HTTP close the connection instead.
func TestHTTPFallbackAfterAnswer(t *testing.T) {
	b := newBackend(t, mixedBackend)
	p := newHTTPProxy(t, b.addr())
	mustSet(t, p, faults.Error(faults.HTTPStatus(503)).Times(1))
	c := dial(t, p.Addr())
	io.WriteString(c, "GET /x HTTP/1.1\r\nHost: x\r\n\r\n\x00\x01garbage")
	got, err := readUntilEnd(t, c, 5*time.Second)
	if err != io.EOF && !isReset(err) {
		t.Errorf("read ended with %v, want EOF or reset", err)
	}
	if !strings.HasPrefix(string(got), "HTTP/1.1 503 ") || !strings.HasSuffix(string(got), injected503) {
		t.Errorf("got %q, want the injected 503 and nothing else", got)
	}
	checkStillServes(t, p)
}

// TestHTTPUpgrade: after a 101, bytes pass raw both ways, including those
// the client sends right behind its request and those the server sends
// right behind its 101; a declined upgrade leaves the connection usable.
func TestHTTPUpgrade(t *testing.T) {
	var handlers sync.WaitGroup
	srv := newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" {
			io.WriteString(w, "no upgrade for "+r.URL.Path)
			return
		}
		handlers.Add(1)
		defer handlers.Done()
		conn, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(20 * time.Second))
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nwelcome\n")
		brw.Flush()
		io.Copy(conn, brw.Reader)
		conn.(*net.TCPConn).CloseWrite()
	})
	t.Cleanup(handlers.Wait)
	p := newHTTPProxy(t, srv.addr())

	t.Run("switched", func(t *testing.T) {
		c := dial(t, p.Addr())
		c.SetDeadline(time.Now().Add(20 * time.Second))
		early := "early bytes \x00\xff HTTP/1.1 200 OK\r\n\r\n"
		io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n"+early)
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 101 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		line, err := br.ReadString('\n')
		if line != "welcome\n" {
			t.Fatalf("after the 101: %q, %v", line, err)
		}
		data := randomBytes(64, 1<<20)
		werr := make(chan error, 1)
		go func() {
			_, err := c.Write(append([]byte("GET / HTTP/1.1\r\n\r\n"), data...))
			if err == nil {
				err = c.CloseWrite()
			}
			werr <- err
		}()
		got, err := io.ReadAll(br)
		if err != nil {
			t.Fatalf("read after %d bytes: %v", len(got), err)
		}
		if err := <-werr; err != nil {
			t.Fatal(err)
		}
		want := append([]byte(early+"GET / HTTP/1.1\r\n\r\n"), data...)
		if !bytes.Equal(got, want) {
			t.Errorf("echo: %d bytes differing from the %d sent (first difference at %d)", len(got), len(want), firstDiff(got, want))
		}
	})

	t.Run("declined", func(t *testing.T) {
		c := dial(t, p.Addr())
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "GET /plain HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: other\r\n\r\n")
		br := bufio.NewReader(c)
		resps := readResponses(t, c, br, []string{"GET"}, 5*time.Second)
		if body := bodyOf(resps[0]); resps[0].StatusCode != 200 || body != "no upgrade for /plain" {
			t.Fatalf("declined upgrade: %d %q", resps[0].StatusCode, body)
		}
		io.WriteString(c, "GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
		resps = readResponses(t, c, br, []string{"GET"}, 5*time.Second)
		if body := bodyOf(resps[0]); resps[0].StatusCode != 200 || body != "no upgrade for /next" {
			t.Errorf("after a declined upgrade: %d %q", resps[0].StatusCode, body)
		}
	})
	if st := p.Stats(); st.Requests < 2 {
		t.Errorf("Stats.Requests = %d", st.Requests)
	}
}
