package faults_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gofaults/faults"
)

const injected503 = "503 Service Unavailable (injected by faults)\n"

// hitLog is a handler that records the paths it served, in order.
type hitLog struct {
	mu    sync.Mutex
	paths []string
}

func (h *hitLog) handler(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.paths = append(h.paths, r.URL.Path)
	h.mu.Unlock()
	pathHandler(w, r)
}

func (h *hitLog) get() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.paths)
}

func (h *hitLog) count(path string) int {
	n := 0
	for _, p := range h.get() {
		if p == path {
			n++
		}
	}
	return n
}

// TestHTTPErrorStatus: an injected 503 reaches the client with its default
// body, the server never sees the request, and the connection serves the
// next request.
func TestHTTPErrorStatus(t *testing.T) {
	srv := newHTTPServer(t, pathHandler)
	p := newHTTPProxy(t, srv.addr())
	c, _ := newHTTPClient(t, 10*time.Second)
	base := "http://" + p.Addr()
	mustFetch(t, c, "GET", base+"/warm")
	mustSet(t, p, faults.Error(faults.HTTPStatus(503)).Times(1))

	// A chunked body, skipped by the proxy.
	resp, body, err := fetch(c, newRequest(t, "POST", base+"/x", io.MultiReader(strings.NewReader(strings.Repeat("body", 25<<10)))))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 503 || body != injected503 {
		t.Fatalf("got %d %q, want 503 %q", resp.StatusCode, body, injected503)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") || resp.ContentLength != int64(len(injected503)) || resp.Close {
		t.Errorf("headers: Content-Type %q, Content-Length %d, close %v", ct, resp.ContentLength, resp.Close)
	}
	if got := srv.hits.Load(); got != 1 {
		t.Errorf("server handled %d requests, want 1 (the warm-up only)", got)
	}
	resp, body = mustFetch(t, c, "GET", base+"/next")
	if resp.StatusCode != 200 || body != "GET /next" {
		t.Errorf("next request: %d %q", resp.StatusCode, body)
	}
	if got := srv.conns.Load(); got != 1 {
		t.Errorf("server saw %d connections, want 1", got)
	}
	if st := p.Stats(); st.ConnsTotal != 1 || st.Requests != 3 || st.Injected != 1 {
		t.Errorf("Stats = %+v, want 1 connection, 3 requests, 1 injected", st)
	}
	ev := p.Events()
	if len(ev) != 1 || ev[0].Request != "POST /x" || ev[0].Behavior != "Error(HTTPStatus(503)).Times(1)" || ev[0].Conn != 1 {
		t.Errorf("Events = %+v", ev)
	}

	// A HEAD request gets the reply's headers and no body; the
	// connection goes on.
	mustSet(t, p, faults.Error(faults.HTTPStatus(503)).Times(1))
	resp, body = mustFetch(t, c, "HEAD", base+"/h")
	if resp.StatusCode != 503 || body != "" || resp.ContentLength != int64(len(injected503)) {
		t.Errorf("HEAD: %d, %d body bytes, Content-Length %d", resp.StatusCode, len(body), resp.ContentLength)
	}
	resp, body = mustFetch(t, c, "GET", base+"/after-head")
	if resp.StatusCode != 200 || body != "GET /after-head" {
		t.Errorf("after HEAD: %d %q", resp.StatusCode, body)
	}
	if got := srv.conns.Load(); got != 1 {
		t.Errorf("server saw %d connections, want 1", got)
	}
}

// TestHTTPErrorReplyOptions: headers, body and Connection: close of an
// injected reply.
func TestHTTPErrorReplyOptions(t *testing.T) {
	srv := newHTTPServer(t, pathHandler)
	p := newHTTPProxy(t, srv.addr())
	c, _ := newHTTPClient(t, 10*time.Second)
	base := "http://" + p.Addr()

	mustSet(t, p, faults.Error(faults.HTTPStatus(429).Header("Retry-After", "1").Header("x-custom", "v")).Times(1))
	resp, body := mustFetch(t, c, "GET", base+"/a")
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "1" || resp.Header.Get("X-Custom") != "v" {
		t.Errorf("got %d %v", resp.StatusCode, resp.Header)
	}
	if want := "429 Too Many Requests (injected by faults)\n"; body != want {
		t.Errorf("body %q, want %q", body, want)
	}

	mustSet(t, p, faults.Error(faults.HTTPStatus(500).Body("x")).Times(1))
	resp, body = mustFetch(t, c, "GET", base+"/b")
	if resp.StatusCode != 500 || body != "x" || resp.ContentLength != 1 {
		t.Errorf("got %d %q (Content-Length %d), want 500 \"x\"", resp.StatusCode, body, resp.ContentLength)
	}
	if st := p.Stats(); st.ConnsTotal != 1 || srv.hits.Load() != 0 {
		t.Errorf("Stats = %+v, server hits %d: want one connection, no hit", st, srv.hits.Load())
	}

	// CloseConnection: the client is told, and the proxy closes.
	mustSet(t, p, faults.Error(faults.HTTPStatus(503).CloseConnection()).Times(1))
	resp, _ = mustFetch(t, c, "GET", base+"/c")
	if resp.StatusCode != 503 || !resp.Close || resp.Header.Get("Connection") != "" && !strings.EqualFold(resp.Header.Get("Connection"), "close") {
		t.Errorf("got %d, close %v, want 503 with Connection: close", resp.StatusCode, resp.Close)
	}
	waitUntil(t, 5*time.Second, "the proxy to close the connection", func() bool { return p.Stats().ConnsOpen == 0 })
	resp, body = mustFetch(t, c, "GET", base+"/d")
	if resp.StatusCode != 200 || body != "GET /d" {
		t.Errorf("after close: %d %q", resp.StatusCode, body)
	}
	if st := p.Stats(); st.ConnsTotal != 2 {
		t.Errorf("ConnsTotal = %d, want 2", st.ConnsTotal)
	}

	// The same, seen by a raw client: the reply, then EOF.
	mustSet(t, p, faults.Error(faults.HTTPStatus(503).CloseConnection()).Times(1))
	rc := dial(t, p.Addr())
	io.WriteString(rc, "GET /e HTTP/1.1\r\nHost: x\r\n\r\n")
	got, err := readUntilEnd(t, rc, 5*time.Second)
	if err != io.EOF {
		t.Errorf("raw client: read ended with %v, want EOF", err)
	}
	want := "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " + strconv.Itoa(len(injected503)) + "\r\nConnection: close\r\n\r\n" + injected503
	if string(got) != want {
		t.Errorf("raw client got %q, want %q", got, want)
	}
	if got := srv.hits.Load(); got != 1 {
		t.Errorf("server handled %d requests, want 1", got)
	}
}

// pipeline writes requests GET path for each path in one write to a new
// raw connection and returns the connection and a reader on it.
func pipeline(t testing.TB, addr string, paths ...string) (*net.TCPConn, *bufio.Reader) {
	t.Helper()
	c := dial(t, addr)
	var b strings.Builder
	for _, p := range paths {
		fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", p)
	}
	if _, err := io.WriteString(c, b.String()); err != nil {
		t.Fatal(err)
	}
	return c, bufio.NewReader(c)
}

// newSlowFirstServer starts a server that logs each request in hl and
// answers "/n/1" 50ms late, so that a reply the proxy injects further down
// a pipeline must wait for it.
func newSlowFirstServer(t *testing.T, hl *hitLog) *httpServer {
	return newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/n/1" {
			time.Sleep(50 * time.Millisecond)
		}
		hl.handler(w, r)
	})
}

// checkPipelined checks the answers to pipelined requests for /n/1,
// /n/2, ...: the injected 503 for request number injected, the server's
// own answers for the others.
func checkPipelined(t *testing.T, resps []*http.Response, injected int) {
	t.Helper()
	for i, r := range resps {
		want, status := fmt.Sprintf("GET /n/%d", i+1), 200
		if i+1 == injected {
			want, status = injected503, 503
		}
		if body := bodyOf(r); r.StatusCode != status || body != want {
			t.Errorf("response %d: %d %q, want %d %q", i+1, r.StatusCode, body, status, want)
		}
	}
}

// TestHTTPErrorInPipeline: the answer injected for the third of five
// pipelined requests comes third, after the server's answers to the first
// two and before those to the last two; the server sees four requests.
func TestHTTPErrorInPipeline(t *testing.T) {
	var hl hitLog
	srv := newSlowFirstServer(t, &hl)
	p := newHTTPProxy(t, srv.addr())
	mustSet(t, p, faults.Error(faults.HTTPStatus(503)).When(faults.Path("/n/3")))
	c, br := pipeline(t, p.Addr(), "/n/1", "/n/2", "/n/3", "/n/4", "/n/5")
	resps := readResponses(t, c, br, []string{"GET", "GET", "GET", "GET", "GET"}, 10*time.Second)
	checkPipelined(t, resps, 3)
	if got, want := hl.get(), []string{"/n/1", "/n/2", "/n/4", "/n/5"}; !slices.Equal(got, want) {
		t.Errorf("server saw %v, want %v", got, want)
	}
	if st := p.Stats(); st.Requests != 5 || st.Injected != 1 {
		t.Errorf("Stats = %+v, want 5 requests, 1 injected", st)
	}
}

// TestHTTPErrorCloseInPipeline: an injected reply that closes the
// connection, for the third of five pipelined requests, still comes after
// the server's answers to the first two; then the connection ends, and the
// server never sees the last two.
func TestHTTPErrorCloseInPipeline(t *testing.T) {
	var hl hitLog
	srv := newSlowFirstServer(t, &hl)
	p := newHTTPProxy(t, srv.addr())
	mustSet(t, p, faults.Error(faults.HTTPStatus(503).CloseConnection()).When(faults.Path("/n/3")))
	c, br := pipeline(t, p.Addr(), "/n/1", "/n/2", "/n/3", "/n/4", "/n/5")
	resps := readResponses(t, c, br, []string{"GET", "GET", "GET"}, 10*time.Second)
	checkPipelined(t, resps, 3)
	if !resps[2].Close {
		t.Errorf("the injected reply does not say Connection: close")
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if rest, err := io.ReadAll(br); err != nil || len(rest) > 0 {
		t.Errorf("after the injected reply: %q, %v; want EOF", rest, err)
	}
	if got, want := hl.get(), []string{"/n/1", "/n/2"}; !slices.Equal(got, want) {
		t.Errorf("server saw %v, want %v", got, want)
	}
}

// TestHTTPMatchers: Method, Path and Header select the requests a fault
// fires on, and several matchers must all hold.
func TestHTTPMatchers(t *testing.T) {
	srv := newHTTPServer(t, pathHandler)
	p := newHTTPProxy(t, srv.addr())
	c, _ := newHTTPClient(t, 10*time.Second)
	base := "http://" + p.Addr()
	e503 := faults.Error(faults.HTTPStatus(503))
	type req struct {
		method, path string
		header       []string
		faulted      bool
	}
	for _, tc := range []struct {
		name string
		b    faults.Behavior
		reqs []req
	}{
		{"method", e503.When(faults.Method("POST")), []req{
			{"GET", "/a", nil, false},
			{"POST", "/a", nil, true},
			{"PUT", "/a", nil, false},
			{"post", "/a", nil, true},
		}},
		{"path", e503.When(faults.Path("/api/*")), []req{
			{"GET", "/api/x/y", nil, true},
			{"GET", "/api/", nil, true},
			{"GET", "/api/x?q=/other", nil, true},
			{"GET", "/apix", nil, false},
			{"GET", "/api", nil, false},
			{"GET", "/v1/api/x", nil, false},
		}},
		{"path-question-mark", e503.When(faults.Path("/item/?")), []req{
			{"GET", "/item/7", nil, true},
			{"GET", "/item/77", nil, false},
			{"GET", "/other?x=/item/7", nil, false},
		}},
		{"header", e503.When(faults.Header("X-Tenant", "a*")), []req{
			{"GET", "/h", []string{"X-Tenant", "abc"}, true},
			{"GET", "/h", []string{"x-tenant", "a"}, true},
			{"GET", "/h", []string{"X-Tenant", "b"}, false},
			{"GET", "/h", []string{"X-Tenant", "ba"}, false},
			{"GET", "/h", nil, false},
		}},
		{"all", e503.When(faults.Method("POST"), faults.Path("/api/*")).When(faults.Header("X-Tenant", "*")), []req{
			{"POST", "/api/x", []string{"X-Tenant", "a"}, true},
			{"POST", "/api/x", nil, false},
			{"GET", "/api/x", []string{"X-Tenant", "a"}, false},
			{"POST", "/other", []string{"X-Tenant", "a"}, false},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mustSet(t, p, tc.b)
			before := srv.hits.Load()
			want := 0
			for _, r := range tc.reqs {
				resp, body, err := fetch(c, newRequest(t, r.method, base+r.path, nil, r.header...))
				if err != nil {
					t.Fatalf("%s %s: %v", r.method, r.path, err)
				}
				got := resp.StatusCode == 503 && body == injected503
				if got != r.faulted || !got && resp.StatusCode != 200 {
					t.Errorf("%s %s %v: %d %q, faulted %v, want %v", r.method, r.path, r.header, resp.StatusCode, body, got, r.faulted)
				}
				if !r.faulted {
					want++
				}
			}
			if got := srv.hits.Load() - before; got != int64(want) {
				t.Errorf("server handled %d requests, want %d", got, want)
			}
		})
	}
	if st := p.Stats(); st.ConnsTotal != 1 {
		t.Errorf("ConnsTotal = %d, want 1", st.ConnsTotal)
	}
}

// TestHTTPAfterTimes: After(2).Times(1) faults exactly the third matching
// request; requests that do not match do not count.
func TestHTTPAfterTimes(t *testing.T) {
	srv := newHTTPServer(t, pathHandler)
	p := newHTTPProxy(t, srv.addr())
	c, _ := newHTTPClient(t, 10*time.Second)
	mustSet(t, p, faults.Error(faults.HTTPStatus(503)).When(faults.Path("/m/*")).After(2).Times(1))
	var faulted []string
	for i := range 6 {
		for _, path := range []string{fmt.Sprintf("/m/%d", i), fmt.Sprintf("/other/%d", i)} {
			resp, _ := mustFetch(t, c, "GET", "http://"+p.Addr()+path)
			if resp.StatusCode == 503 {
				faulted = append(faulted, path)
			}
		}
	}
	if want := []string{"/m/2"}; !slices.Equal(faulted, want) {
		t.Errorf("faulted %v, want %v", faulted, want)
	}
	if st := p.Stats(); st.Injected != 1 || st.Requests != 12 {
		t.Errorf("Stats = %+v, want 1 injected of 12 requests", st)
	}
	if ev := p.Events(); len(ev) != 1 || ev[0].Request != "GET /m/2" {
		t.Errorf("Events = %+v", ev)
	}
}

// TestHTTPProbabilitySeeded: Probability is decided per request, and two
// proxies with the same seed fault the same requests.
func TestHTTPProbabilitySeeded(t *testing.T) {
	const n = 60
	b := faults.Error(faults.HTTPStatus(503)).Probability(0.5)
	run := func(seed int64) []int {
		srv := newHTTPServer(t, pathHandler)
		p := newHTTPProxy(t, srv.addr(), faults.WithSeed(seed))
		c, _ := newHTTPClient(t, 10*time.Second)
		mustSet(t, p, b)
		var faulted []int
		for i := range n {
			resp, body := mustFetch(t, c, "GET", fmt.Sprintf("http://%s/p/%d", p.Addr(), i))
			switch {
			case resp.StatusCode == 503 && body == injected503:
				faulted = append(faulted, i)
			case resp.StatusCode != 200:
				t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
			}
		}
		st := p.Stats()
		if st.Injected != int64(len(faulted)) || st.Requests != n || st.ConnsTotal != 1 {
			t.Errorf("seed %d: Stats = %+v, want %d injected, %d requests, 1 connection", seed, st, len(faulted), n)
		}
		if got := srv.hits.Load(); got != int64(n-len(faulted)) {
			t.Errorf("seed %d: server handled %d requests, want %d", seed, got, n-len(faulted))
		}
		ev := p.Events()
		if len(ev) != len(faulted) {
			t.Fatalf("seed %d: %d events for %d faults", seed, len(ev), len(faulted))
		}
		for i, e := range ev {
			if want := fmt.Sprintf("GET /p/%d", faulted[i]); e.Request != want || e.Behavior != "Error(HTTPStatus(503)).Probability(0.5)" || e.Conn != 1 {
				t.Errorf("seed %d: event %d = %+v, want request %q", seed, i, e, want)
			}
		}
		return faulted
	}
	a, b2, other := run(7), run(7), run(8)
	if !slices.Equal(a, b2) {
		t.Errorf("same seed, different faults:\n%v\n%v", a, b2)
	}
	if len(a) < n/5 || len(a) > n*4/5 {
		t.Errorf("%d of %d requests faulted at probability 0.5", len(a), n)
	}
	if slices.Equal(a, other) {
		t.Errorf("seeds 7 and 8 faulted the same requests %v", a)
	}
}

// arrivals is a handler that notes when each request arrives.
type arrivals struct {
	mu    sync.Mutex
	times map[string]time.Time
}

func (a *arrivals) handler(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	if a.times == nil {
		a.times = map[string]time.Time{}
	}
	a.times[r.URL.Path] = time.Now()
	a.mu.Unlock()
	pathHandler(w, r)
}

func (a *arrivals) at(path string) time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.times[path]
}

// TestHTTPDelays: DelayRequest holds the request before the server sees it;
// DelayResponse lets the server see it at once and holds the answer.
func TestHTTPDelays(t *testing.T) {
	const d = 200 * time.Millisecond
	var arr arrivals
	srv := newHTTPServer(t, arr.handler)
	p := newHTTPProxy(t, srv.addr())
	c, _ := newHTTPClient(t, 10*time.Second)
	mustSet(t, p,
		faults.DelayRequest(d).When(faults.Path("/req")),
		faults.DelayResponse(d).When(faults.Path("/resp")),
	)
	for _, path := range []string{"/none", "/req", "/resp"} {
		start := time.Now()
		resp, body := mustFetch(t, c, "GET", "http://"+p.Addr()+path)
		latency := time.Since(start)
		reached := arr.at(path).Sub(start)
		t.Logf("%s: latency %v, reached the server after %v", path, latency, reached)
		if resp.StatusCode != 200 || body != "GET "+path {
			t.Errorf("%s: %d %q", path, resp.StatusCode, body)
		}
		switch path {
		case "/none":
			if latency >= d {
				t.Errorf("%s: latency %v without a delay", path, latency)
			}
		case "/req":
			if reached < d || latency < d || latency > d+2*time.Second {
				t.Errorf("%s: reached the server after %v, latency %v; want both >= %v", path, reached, latency, d)
			}
		case "/resp":
			if reached >= d || latency < d || latency > d+2*time.Second {
				t.Errorf("%s: reached the server after %v (want < %v), latency %v (want >= %v)", path, reached, d, latency, d)
			}
		}
	}
	if st := p.Stats(); st.Injected != 2 || st.ConnsTotal != 1 {
		t.Errorf("Stats = %+v, want 2 injected on 1 connection", st)
	}
}

// TestHTTPDropResponse: the server handles the request, the client waits
// until its own timeout; a client without a timeout is released by Close.
func TestHTTPDropResponse(t *testing.T) {
	srv := newHTTPServer(t, pathHandler)
	p := newHTTPProxy(t, srv.addr())
	mustSet(t, p, faults.DropResponse())

	c, _ := newHTTPClient(t, 300*time.Millisecond)
	start := time.Now()
	_, _, err := fetch(c, newRequest(t, "GET", "http://"+p.Addr()+"/drop", nil))
	elapsed := time.Since(start)
	if !isTimeout(err) {
		t.Fatalf("got %v, want the client's timeout", err)
	}
	if elapsed < 300*time.Millisecond || elapsed > 3*time.Second {
		t.Errorf("the client gave up after %v, want about its 300ms timeout", elapsed)
	}
	waitUntil(t, 5*time.Second, "the server to handle the request", func() bool { return srv.hits.Load() == 1 })

	// No timeout: Close releases the client.
	c2, _ := newHTTPClient(t, 0)
	errc := make(chan error, 1)
	go func() {
		_, _, err := fetch(c2, newRequest(t, "GET", "http://"+p.Addr()+"/forever", nil))
		errc <- err
	}()
	waitUntil(t, 5*time.Second, "the server to handle the second request", func() bool { return srv.hits.Load() == 2 })
	select {
	case err := <-errc:
		t.Fatalf("the client got an answer before Close: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	closed := time.Now()
	p.Close()
	select {
	case err := <-errc:
		if err == nil {
			t.Errorf("the client got a response after Close")
		}
		t.Logf("after Close (%v): %v", time.Since(closed), err)
	case <-time.After(3 * time.Second):
		t.Fatal("the client is still blocked 3s after Close")
	}
	if st := p.Stats(); st.Injected != 2 {
		t.Errorf("Injected = %d, want 2", st.Injected)
	}
}

// isConnBroken reports whether err is what a client sees when the
// connection ends before the response: EOF or a reset.
func isConnBroken(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		err != nil && strings.Contains(err.Error(), "server closed connection")
}

// TestHTTPAbort: the request reaches the server, the client gets an error,
// and net/http does not retry a POST.
func TestHTTPAbort(t *testing.T) {
	var hl hitLog
	srv := newHTTPServer(t, hl.handler)
	p := newHTTPProxy(t, srv.addr())
	c, _ := newHTTPClient(t, 10*time.Second)
	base := "http://" + p.Addr()
	mustSet(t, p, faults.Abort().When(faults.Path("/abort/*")))

	// A POST on a reused connection: not replayable, so not retried.
	mustFetch(t, c, "GET", base+"/warm")
	_, _, err := fetch(c, newRequest(t, "POST", base+"/abort/post", strings.NewReader("payload")))
	if !isConnBroken(err) {
		t.Errorf("POST: got %v, want EOF or reset", err)
	}
	waitUntil(t, 5*time.Second, "the server to handle the POST", func() bool { return hl.count("/abort/post") >= 1 })
	time.Sleep(50 * time.Millisecond)
	if got := hl.count("/abort/post"); got != 1 {
		t.Errorf("the server handled the POST %d times, want 1 (net/http must not retry it)", got)
	}

	// A GET on a reused connection: net/http's Transport retries an
	// idempotent request once, on a new connection, when a reused
	// connection fails before any byte of the response
	// (transportReadFromServerError). Abort fires again on the retry, and
	// an error on a fresh connection is not retried: the server handles
	// the GET twice and the client gets the error.
	mustFetch(t, c, "GET", base+"/warm")
	_, _, err = fetch(c, newRequest(t, "GET", base+"/abort/get", nil))
	if !isConnBroken(err) {
		t.Errorf("GET: got %v, want EOF or reset", err)
	}
	waitUntil(t, 5*time.Second, "the server to handle the GET", func() bool { return hl.count("/abort/get") >= 2 })
	time.Sleep(50 * time.Millisecond)
	if got := hl.count("/abort/get"); got != 2 {
		t.Errorf("the server handled the GET %d times, want 2 (the request and net/http's one retry)", got)
	}
	if st := p.Stats(); st.Injected != 3 {
		t.Errorf("Injected = %d, want 3 (POST, GET, its retry)", st.Injected)
	}

	// With Times(1), net/http's retry of the GET succeeds: the client sees
	// no error at all, though the server handled the request twice.
	mustSet(t, p, faults.Abort().When(faults.Path("/abort/*")).Times(1))
	mustFetch(t, c, "GET", base+"/warm")
	resp, body := mustFetch(t, c, "GET", base+"/abort/once")
	if resp.StatusCode != 200 || body != "GET /abort/once" {
		t.Errorf("GET with one abort: %d %q", resp.StatusCode, body)
	}
	// The aborted request may reach the handler after the retry did.
	waitUntil(t, 5*time.Second, "the server to handle the GET twice", func() bool { return hl.count("/abort/once") >= 2 })
	time.Sleep(50 * time.Millisecond)
	if got := hl.count("/abort/once"); got != 2 {
		t.Errorf("the server handled the retried GET %d times, want 2", got)
	}

	// A raw client sees the request go through and no byte come back,
	// however fast the server answers.
	mustSet(t, p, faults.Abort())
	const rounds = 50
	for i := range rounds {
		rc := dial(t, p.Addr())
		io.WriteString(rc, "GET /abort/raw HTTP/1.1\r\nHost: x\r\n\r\n")
		got, err := readUntilEnd(t, rc, 5*time.Second)
		if len(got) != 0 || err != io.EOF {
			t.Errorf("raw client %d: %q, %v; want nothing then EOF", i, got, err)
		}
		rc.Close()
	}
	waitUntil(t, 5*time.Second, "the server to handle the raw requests", func() bool { return hl.count("/abort/raw") == rounds })
}

// TestHTTPAbortInPipeline: aborting the second of three pipelined
// requests still delivers the answer owed to the first; then the
// connection ends, and the third request never reaches the server.
func TestHTTPAbortInPipeline(t *testing.T) {
	var hl hitLog
	srv := newSlowFirstServer(t, &hl)
	p := newHTTPProxy(t, srv.addr())
	mustSet(t, p, faults.Abort().When(faults.Path("/n/2")))
	c, br := pipeline(t, p.Addr(), "/n/1", "/n/2", "/n/3")
	resps := readResponses(t, c, br, []string{"GET"}, 5*time.Second)
	if body := bodyOf(resps[0]); resps[0].StatusCode != 200 || body != "GET /n/1" {
		t.Errorf("response 1: %d %q", resps[0].StatusCode, body)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if rest, err := io.ReadAll(br); len(rest) > 0 || err != nil && !isReset(err) {
		t.Errorf("after response 1: %q, %v; want the connection to end", rest, err)
	}
	waitUntil(t, 5*time.Second, "the server to handle the aborted request", func() bool { return hl.count("/n/2") == 1 })
	time.Sleep(20 * time.Millisecond)
	if got, want := hl.get(), []string{"/n/1", "/n/2"}; !slices.Equal(got, want) {
		t.Errorf("server saw %v, want %v", got, want)
	}

	// Behind a downstream Latency, the answer owed to the first request
	// is still on its way through the stream layer when the abort comes:
	// it arrives whole, and then the connection ends.
	mustSet(t, p, faults.Abort().When(faults.Path("/l/2")), faults.Latency(300*time.Millisecond).Downstream())
	c, br = pipeline(t, p.Addr(), "/l/1", "/l/2")
	resps = readResponses(t, c, br, []string{"GET"}, 5*time.Second)
	if body := bodyOf(resps[0]); resps[0].StatusCode != 200 || body != "GET /l/1" {
		t.Errorf("delayed response 1: %d %q", resps[0].StatusCode, body)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if rest, err := io.ReadAll(br); len(rest) > 0 || err != nil && !isReset(err) {
		t.Errorf("after delayed response 1: %q, %v; want the connection to end", rest, err)
	}

	// Behind a dropped response, nothing more is owed: the abort closes
	// at once.
	mustSet(t, p, faults.DropResponse().When(faults.Path("/d/1")), faults.Abort().When(faults.Path("/d/2")))
	c, _ = pipeline(t, p.Addr(), "/d/1", "/d/2")
	start := time.Now()
	got, err := readUntilEnd(t, c, 5*time.Second)
	if len(got) > 0 || err != io.EOF && !isReset(err) || time.Since(start) > 2*time.Second {
		t.Errorf("drop then abort: %q, %v after %v; want the connection to end at once", got, err, time.Since(start))
	}
}

// TestHTTPTruncateResponse: the client reads part of the response, then the
// connection ends: an unexpected EOF in the body, or a failed response if
// the head is cut.
func TestHTTPTruncateResponse(t *testing.T) {
	payload := strings.Repeat("0123456789", 100)
	srv := newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("chunked") == "" {
			w.Header().Set("Content-Length", strconv.Itoa(len(payload)))
		}
		io.WriteString(w, payload[:500])
		w.(http.Flusher).Flush()
		io.WriteString(w, payload[500:])
	})
	p := newHTTPProxy(t, srv.addr())
	url := "http://" + p.Addr() + "/t"

	for _, q := range []string{"", "?chunked=1"} {
		mustSet(t, p, faults.TruncateResponse(300).Times(1))
		c, _ := newHTTPClient(t, 10*time.Second)
		resp, err := c.Get(url + q)
		if err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !errors.Is(err, io.ErrUnexpectedEOF) || len(body) == 0 || len(body) >= 300 || payload[:len(body)] != string(body) {
			t.Errorf("%q: %d, read %d bytes then %v; want a prefix and an unexpected EOF", q, resp.StatusCode, len(body), err)
		}
	}

	// Cut inside the head: no response at all.
	mustSet(t, p, faults.TruncateResponse(10).Times(1))
	c, _ := newHTTPClient(t, 10*time.Second)
	if _, _, err := fetch(c, newRequest(t, "GET", url, nil)); err == nil {
		t.Errorf("head cut: got a response")
	} else {
		t.Logf("head cut: %v", err)
	}

	// Exactly n bytes, then EOF.
	for _, n := range []int{0, 10, 150} {
		mustSet(t, p, faults.TruncateResponse(int64(n)))
		rc := dial(t, p.Addr())
		io.WriteString(rc, "GET /t HTTP/1.1\r\nHost: x\r\n\r\n")
		got, err := readUntilEnd(t, rc, 5*time.Second)
		if len(got) != n || err != io.EOF || !strings.HasPrefix(string(got), "HTTP/1.1 200 OK\r\n"[:min(n, 17)]) {
			t.Errorf("TruncateResponse(%d): %d bytes %q, %v; want %d bytes then EOF", n, len(got), got, err, n)
		}
	}
	// Larger than the response: all of it passes, and the connection
	// stays open.
	mustSet(t, p, faults.TruncateResponse(1<<20))
	c, _ = newHTTPClient(t, 10*time.Second)
	for range 2 {
		resp, body := mustFetch(t, c, "GET", url)
		if resp.StatusCode != 200 || body != payload {
			t.Errorf("TruncateResponse(1 MiB): %d, %d bytes", resp.StatusCode, len(body))
		}
	}
}

// TestHTTPSlowResponse: the body arrives at the given rate, within 20%.
func TestHTTPSlowResponse(t *testing.T) {
	const rate, size = 200_000, 100_000
	payload := randomBytes(50, size)
	srv := newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		w.Write(payload)
	})
	p := newHTTPProxy(t, srv.addr())
	c, _ := newHTTPClient(t, 10*time.Second)
	url := "http://" + p.Addr() + "/slow"

	// Unpaced first: the same response is quick.
	start := time.Now()
	mustFetch(t, c, "GET", url)
	if fast := time.Since(start); fast > 200*time.Millisecond {
		t.Logf("unpaced response took %v", fast)
	}

	mustSet(t, p, faults.SlowResponse(rate))
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 64<<10)
	var first, last time.Time
	var n, firstN int
	for {
		m, err := resp.Body.Read(buf)
		if m > 0 {
			if first.IsZero() {
				first, firstN = time.Now(), m
			}
			last = time.Now()
			n += m
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if n != size {
		t.Fatalf("read %d bytes, want %d", n, size)
	}
	measured := float64(n-firstN) / last.Sub(first).Seconds()
	t.Logf("SlowResponse(%d): body at %.0f B/s over %v", rate, measured, last.Sub(first))
	if measured < rate*0.8 || measured > rate*1.2 {
		t.Errorf("body rate %.0f B/s, want %d ± 20%%", measured, rate)
	}
}

// TestHTTPSetErrors: behaviors that do not fit are refused with the right
// error.
func TestHTTPSetErrors(t *testing.T) {
	srv := newHTTPServer(t, pathHandler)
	hp := newHTTPProxy(t, srv.addr())
	tp, err := faults.NewProxy(srv.addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tp.Close() })

	for _, tc := range []struct {
		name string
		p    *faults.Proxy
		b    faults.Behavior
		want error
	}{
		{"When on stream on http", hp, faults.Latency(time.Millisecond).When(faults.Path("/")), faults.ErrInvalid},
		{"status 101", hp, faults.Error(faults.HTTPStatus(101)), faults.ErrInvalid},
		{"status 42", hp, faults.Error(faults.HTTPStatus(42)), faults.ErrInvalid},
		{"status 1000", hp, faults.Error(faults.HTTPStatus(1000)), faults.ErrInvalid},
		// A 1xx is interim: a client would take it as such and wait on.
		{"status 100", hp, faults.Error(faults.HTTPStatus(100)), faults.ErrInvalid},
		{"status 103", hp, faults.Error(faults.HTTPStatus(103)), faults.ErrInvalid},
		{"content-length header", hp, faults.Error(faults.HTTPStatus(503).Header("Content-Length", "1")), faults.ErrInvalid},
		{"header with CRLF", hp, faults.Error(faults.HTTPStatus(503).Header("X-A", "b\r\nX-Injected: 1")), faults.ErrInvalid},
		{"nil reply", hp, faults.Error(nil), faults.ErrInvalid},
		{"negative delay", hp, faults.DelayRequest(-1), faults.ErrInvalid},
		{"zero rate", hp, faults.SlowResponse(0), faults.ErrInvalid},
		{"negative truncate", hp, faults.TruncateResponse(-1), faults.ErrInvalid},
		{"direction on request", hp, faults.DelayResponse(time.Millisecond).Downstream(), faults.ErrInvalid},
		{"nil matcher", hp, faults.Abort().When(nil), faults.ErrInvalid},
		{"When on stream", tp, faults.Latency(time.Millisecond).When(faults.Path("/")), faults.ErrInvalid},
		{"When on connection", hp, faults.Hang().When(faults.Path("/")), faults.ErrInvalid},
		{"Error on tcp", tp, faults.Error(faults.HTTPStatus(503)), faults.ErrUnsupported},
		{"DelayRequest on tcp", tp, faults.DelayRequest(time.Millisecond), faults.ErrUnsupported},
		{"DropResponse on tcp", tp, faults.DropResponse(), faults.ErrUnsupported},
		{"Abort on tcp", tp, faults.Abort(), faults.ErrUnsupported},
		{"TruncateResponse on tcp", tp, faults.TruncateResponse(1), faults.ErrUnsupported},
		{"SlowResponse on tcp", tp, faults.SlowResponse(1), faults.ErrUnsupported},
	} {
		err := tc.p.Set(tc.b)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: Set(%v) = %v, want %v", tc.name, tc.b, err, tc.want)
		}
	}
	// Nothing was installed: both still pass traffic.
	c, _ := newHTTPClient(t, 5*time.Second)
	if resp, body := mustFetch(t, c, "GET", "http://"+hp.Addr()+"/ok"); resp.StatusCode != 200 || body != "GET /ok" {
		t.Errorf("after refused Sets: %d %q", resp.StatusCode, body)
	}
	if len(hp.Behaviors()) != 0 || len(tp.Behaviors()) != 0 {
		t.Errorf("a refused Set installed behaviors: %v %v", hp.Behaviors(), tp.Behaviors())
	}
	// Connection and timer behaviors are fine on HTTP.
	if err := hp.Set(faults.ConnectDelay(time.Millisecond), faults.Timeout(time.Hour)); err != nil {
		t.Errorf("connection behaviors on HTTP: %v", err)
	}
	if _, err := faults.NewProxy(srv.addr(), faults.WithProtocol(faults.HTTP()), faults.WithFaultHeader("")); !errors.Is(err, faults.ErrInvalid) {
		t.Errorf("WithFaultHeader(\"\"): %v, want ErrInvalid", err)
	}
}

// TestHTTPTruncateResponseBehindLatency: behind a downstream Latency, the
// bytes TruncateResponse lets through are still in the stream layer when
// the cut comes; they arrive, then the connection ends with a FIN.
func TestHTTPTruncateResponseBehindLatency(t *testing.T) {
	srv := newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("0123456789", 100))
	})
	p := newHTTPProxy(t, srv.addr())
	mustSet(t, p, faults.TruncateResponse(150), faults.Latency(300*time.Millisecond).Downstream())
	rc := dial(t, p.Addr())
	io.WriteString(rc, "GET /t HTTP/1.1\r\nHost: x\r\n\r\n")
	got, err := readUntilEnd(t, rc, 5*time.Second)
	if len(got) != 150 || err != io.EOF || !strings.HasPrefix(string(got), "HTTP/1.1 200 OK\r\n") {
		t.Errorf("got %d bytes %q, %v; want the first 150 bytes of the response, then EOF", len(got), got, err)
	}
}

// TestHTTPAbortAfterInterimBehindLatency: the server sends an interim
// response (103 Early Hints) to the aborted request while the answer owed
// to the one before it is still held by a downstream Latency. Whether the
// interim response gets into the stream layer before the close or is
// dropped, the owed answer arrives whole and the connection ends with a
// FIN, not a reset.
func TestHTTPAbortAfterInterimBehindLatency(t *testing.T) {
	srv := newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/e/2" {
			w.Header().Set("Link", "</s.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			select { // the proxy's close of the upstream connection ends it
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}
		io.WriteString(w, "ok "+r.URL.Path)
	})
	p := newHTTPProxy(t, srv.addr())
	mustSet(t, p, faults.Abort().When(faults.Path("/e/2")), faults.Latency(300*time.Millisecond).Downstream())
	for range 3 {
		c, br := pipeline(t, p.Addr(), "/e/1", "/e/2")
		resps := readResponses(t, c, br, []string{"GET"}, 5*time.Second)
		if body := bodyOf(resps[0]); resps[0].StatusCode != 200 || body != "ok /e/1" {
			t.Errorf("response 1: %d %q", resps[0].StatusCode, body)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		rest, err := io.ReadAll(br)
		if err != nil || len(rest) > 0 && !strings.HasPrefix(string(rest), "HTTP/1.1 103 ") {
			t.Errorf("after response 1: %q, %v; want at most the interim response, then EOF", rest, err)
		}
	}
}
