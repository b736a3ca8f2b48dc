package faults_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofaults/faults"
)

// headerSpy is a handler that notes whether any request reached the server
// carrying the fault header.
type headerSpy struct {
	leaked atomic.Int64
}

func (s *headerSpy) handler(w http.ResponseWriter, r *http.Request) {
	for name := range r.Header {
		if strings.EqualFold(name, "X-Faults") {
			s.leaked.Add(1)
		}
	}
	pathHandler(w, r)
}

// TestHTTPFaultHeader: each request chooses its own fault with the header,
// which never reaches the server.
func TestHTTPFaultHeader(t *testing.T) {
	var spy headerSpy
	srv := newHTTPServer(t, spy.handler)
	p := newHTTPProxy(t, srv.addr(), faults.WithFaultHeader("X-Faults"))
	c, _ := newHTTPClient(t, 10*time.Second)
	base := "http://" + p.Addr()

	// No header: passes. The header with nothing to do: stripped.
	for _, hdr := range [][]string{nil, {"X-Faults", ""}, {"X-Faults", " , "}} {
		resp, body := mustFetch(t, c, "GET", base+"/plain", hdr...)
		if resp.StatusCode != 200 || body != "GET /plain" {
			t.Errorf("header %q: %d %q", hdr, resp.StatusCode, body)
		}
	}

	// status: answered by the proxy.
	hits := srv.hits.Load()
	resp, body := mustFetch(t, c, "GET", base+"/s", "X-Faults", "status=503")
	if resp.StatusCode != 503 || body != injected503 {
		t.Errorf("status=503: %d %q", resp.StatusCode, body)
	}
	if srv.hits.Load() != hits {
		t.Errorf("status=503 reached the server")
	}

	// status with retry-after.
	resp, _ = mustFetch(t, c, "GET", base+"/s", "X-Faults", "status=429, retry-after=2")
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "2" {
		t.Errorf("status=429, retry-after=2: %d %v", resp.StatusCode, resp.Header)
	}

	// delay-response: the server answers at once, the client waits.
	start := time.Now()
	resp, body = mustFetch(t, c, "GET", base+"/d", "X-Faults", "delay-response=100ms")
	if elapsed := time.Since(start); resp.StatusCode != 200 || body != "GET /d" || elapsed < 100*time.Millisecond || elapsed > 3*time.Second {
		t.Errorf("delay-response=100ms: %d %q after %v", resp.StatusCode, body, elapsed)
	}

	// The header is case-insensitive and may come twice; values combine.
	req := newRequest(t, "GET", base+"/two", nil)
	req.Header["x-faults"] = []string{"delay-request=50ms"}
	req.Header["X-FAULTS"] = []string{"status=418"}
	start = time.Now()
	resp, _, err := fetch(c, req)
	if err != nil || resp.StatusCode != 418 || time.Since(start) < 50*time.Millisecond {
		t.Errorf("two header lines: %v %v after %v", err, resp, time.Since(start))
	}
	if got := srv.conns.Load(); got != 1 {
		t.Errorf("server saw %d connections, want 1", got)
	}

	// abort: the server handles it, the client gets an error. A fresh
	// connection, so that net/http does not retry.
	c2, _ := newHTTPClient(t, 10*time.Second)
	hits = srv.hits.Load()
	if _, _, err := fetch(c2, newRequest(t, "GET", base+"/abort", nil, "X-Faults", "abort")); !isConnBroken(err) {
		t.Errorf("abort: %v, want EOF or reset", err)
	}
	waitUntil(t, 5*time.Second, "the aborted request to reach the server", func() bool { return srv.hits.Load() == hits+1 })

	// truncate, on a fresh connection.
	c3, _ := newHTTPClient(t, 10*time.Second)
	if _, _, err := fetch(c3, newRequest(t, "GET", base+"/t", nil, "X-Faults", "truncate=5")); err == nil {
		t.Errorf("truncate=5: got a response")
	}

	// drop: the client waits until its own timeout.
	c4, _ := newHTTPClient(t, 200*time.Millisecond)
	if _, _, err := fetch(c4, newRequest(t, "GET", base+"/drop", nil, "X-Faults", "drop")); !isTimeout(err) {
		t.Errorf("drop: %v, want the client's timeout", err)
	}

	// close: the answer says Connection: close, and the proxy closes.
	resp, _ = mustFetch(t, c, "GET", base+"/c", "X-Faults", "status=503, close")
	if resp.StatusCode != 503 || !resp.Close {
		t.Errorf("status=503, close: %d, close %v", resp.StatusCode, resp.Close)
	}

	if n := spy.leaked.Load(); n != 0 {
		t.Errorf("the server saw X-Faults on %d requests", n)
	}
	st := p.Stats()
	// status=503, status=429 with retry-after (one Error), delay-response,
	// delay-request and status=418, abort, truncate, drop, status=503
	// with close.
	if st.Injected != 9 {
		t.Errorf("Injected = %d, want 9", st.Injected)
	}
	var got []string
	for _, e := range p.Events() {
		got = append(got, e.Request+" "+e.Behavior)
	}
	want := []string{
		"GET /s Error(HTTPStatus(503))",
		`GET /s Error(HTTPStatus(429).Header("Retry-After", "2"))`,
		"GET /d DelayResponse(100ms)",
		"GET /two Error(HTTPStatus(418))", // answers first, then request delays (see phase)
		"GET /two DelayRequest(50ms)",
		"GET /abort Abort()",
		"GET /t TruncateResponse(5)",
		"GET /drop DropResponse()",
		"GET /c Error(HTTPStatus(503).CloseConnection())",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestHTTPFaultHeaderBad: a value the proxy cannot read is answered with
// 400 naming the problem, and the server never sees the request.
func TestHTTPFaultHeaderBad(t *testing.T) {
	var spy headerSpy
	srv := newHTTPServer(t, spy.handler)
	p := newHTTPProxy(t, srv.addr(), faults.WithFaultHeader("X-Faults"))
	c, _ := newHTTPClient(t, 10*time.Second)
	for _, tc := range []struct{ value, mention string }{
		{"status=abc", `status "abc"`},
		{"status=101", "status=101: 101 Switching Protocols cannot be injected"},
		{"status=42", "status=42: status must be in"},
		{"status=103", "status=103: a 1xx response is interim"},
		{"bogus", `unknown fault "bogus"`},
		{"retry-after=2", "retry-after needs a status"},
		{"close", "close needs a status"},
		{"delay-request=soon", "delay-request"},
		{"delay-response=-1s", "delay-response=-1s: delay must not be negative"},
		{"truncate=x", `truncate "x"`},
		{"slow=0", "slow=0: rate must be positive"},
		{"status=503, bogus", "bogus"},
	} {
		resp, body, err := fetch(c, newRequest(t, "POST", "http://"+p.Addr()+"/bad", strings.NewReader("ignored body"), "X-Faults", tc.value))
		if err != nil {
			t.Fatalf("%q: %v", tc.value, err)
		}
		if resp.StatusCode != 400 || !strings.Contains(body, "X-Faults") || !strings.Contains(body, tc.mention) {
			t.Errorf("%q: %d %q, want 400 mentioning %q", tc.value, resp.StatusCode, body, tc.mention)
		}
	}
	if got := srv.hits.Load(); got != 0 {
		t.Errorf("the server handled %d requests", got)
	}
	// The connection survived every 400, the request bodies were skipped.
	resp, body := mustFetch(t, c, "GET", "http://"+p.Addr()+"/ok")
	if resp.StatusCode != 200 || body != "GET /ok" {
		t.Errorf("after the 400s: %d %q", resp.StatusCode, body)
	}
	if st := p.Stats(); st.ConnsTotal != 1 || st.Injected != 0 {
		t.Errorf("Stats = %+v, want 1 connection, nothing injected", st)
	}
}

// TestHTTPFaultHeaderParallel: goroutines sharing one proxy each get the
// fault their own requests ask for, and nothing else.
func TestHTTPFaultHeaderParallel(t *testing.T) {
	var spy headerSpy
	srv := newHTTPServer(t, spy.handler)
	p := newHTTPProxy(t, srv.addr(), faults.WithFaultHeader("X-Faults"))
	const perWorker = 30
	workers := []struct {
		header string
		status int
	}{
		{"status=503", 503},
		{"status=429", 429},
		{"", 200},
		{"delay-response=1ms", 200},
	}
	var wg sync.WaitGroup
	for i, w := range workers {
		c, _ := newHTTPClient(t, 10*time.Second)
		wg.Go(func() {
			for j := range perWorker {
				req, err := http.NewRequest("GET", fmt.Sprintf("http://%s/w/%d/%d", p.Addr(), i, j), nil)
				if err != nil {
					t.Error(err)
					return
				}
				if w.header != "" {
					req.Header.Set("X-Faults", w.header)
				}
				resp, body, err := fetch(c, req)
				if err != nil {
					t.Errorf("worker %d request %d: %v", i, j, err)
					return
				}
				if resp.StatusCode != w.status {
					t.Errorf("worker %d (%q) request %d: %d %q, want %d", i, w.header, j, resp.StatusCode, body, w.status)
					return
				}
			}
		})
	}
	wg.Wait()
	if got := srv.hits.Load(); got != 2*perWorker {
		t.Errorf("server handled %d requests, want %d", got, 2*perWorker)
	}
	if n := spy.leaked.Load(); n != 0 {
		t.Errorf("the server saw X-Faults on %d requests", n)
	}
	if st := p.Stats(); st.Injected != 3*perWorker || st.Requests != int64(len(workers)*perWorker) {
		t.Errorf("Stats = %+v, want %d injected of %d requests", st, 3*perWorker, len(workers)*perWorker)
	}
}

// TestHTTPFaultHeaderStrippedExactly: the proxy removes every line of the
// fault header, whatever its case and place, and changes no other byte.
func TestHTTPFaultHeaderStrippedExactly(t *testing.T) {
	in := "GET /raw HTTP/1.1\r\nX-Faults: delay-request=1ms\r\nHost: x\r\nx-faults:\r\nAccept:  */* \r\nX-Faults-Not: kept\r\nX-FAULTS:  delay-response=1ms , \r\n\r\n"
	want := "GET /raw HTTP/1.1\r\nHost: x\r\nAccept:  */* \r\nX-Faults-Not: kept\r\n\r\n"
	got := make(chan string, 1)
	b := newBackend(t, func(c net.Conn) {
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(c)
		var head strings.Builder
		for {
			line, err := br.ReadString('\n')
			head.WriteString(line)
			if err != nil || line == "\r\n" {
				break
			}
		}
		got <- head.String()
		io.WriteString(c, "HTTP/1.1 204 No Content\r\n\r\n")
		io.Copy(io.Discard, br)
	})
	p := newHTTPProxy(t, b.addr(), faults.WithFaultHeader("X-Faults"))
	c := dial(t, p.Addr())
	io.WriteString(c, in)
	c.CloseWrite()
	out, err := readUntilEnd(t, c, 5*time.Second)
	if string(out) != "HTTP/1.1 204 No Content\r\n\r\n" || err != io.EOF {
		t.Errorf("client got %q, %v", out, err)
	}
	if h := <-got; h != want {
		t.Errorf("server received %q, want %q", h, want)
	}
	var evs []string
	for _, e := range p.Events() {
		evs = append(evs, e.Behavior)
	}
	if strings.Join(evs, " ") != "DelayRequest(1ms) DelayResponse(1ms)" {
		t.Errorf("Events: %v", evs)
	}
}
