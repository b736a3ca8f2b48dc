package faults_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofaults/faults"
)

// The helpers below are shared by the HTTP tests (http_*_test.go).

// httpServer is an httptest server that counts the requests its handler
// saw and the connections it accepted.
type httpServer struct {
	*httptest.Server
	hits  atomic.Int64
	conns atomic.Int64
}

// newHTTPServer starts an httptest server running h, closed at cleanup.
func newHTTPServer(t testing.TB, h http.HandlerFunc) *httpServer {
	t.Helper()
	s := &httpServer{}
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		h(w, r)
	}))
	ts.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.Start()
	s.Server = ts
	t.Cleanup(ts.Close)
	return s
}

func (s *httpServer) addr() string { return s.Listener.Addr().String() }

// pathHandler answers every request with its method and path.
func pathHandler(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	io.WriteString(w, r.Method+" "+r.URL.Path)
}

// newHTTPProxy starts an HTTP proxy in front of target, closed at cleanup.
func newHTTPProxy(t testing.TB, target string, opts ...faults.Option) *faults.Proxy {
	t.Helper()
	p, err := faults.NewProxy(target, append([]faults.Option{faults.WithProtocol(faults.HTTP())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// newHTTPClient returns a client with a transport of its own (no proxy from
// the environment, no compression), whose idle connections are closed at
// cleanup. timeout 0 means none.
func newHTTPClient(t testing.TB, timeout time.Duration) (*http.Client, *http.Transport) {
	t.Helper()
	tr := &http.Transport{
		Proxy:                 nil,
		DisableCompression:    true,
		MaxIdleConnsPerHost:   4,
		ExpectContinueTimeout: 5 * time.Second,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: timeout}, tr
}

// fetch sends req and reads the whole response body.
func fetch(c *http.Client, req *http.Request) (*http.Response, string, error) {
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, string(body), err
}

// mustFetch is fetch of a request without body, failing the test on error.
func mustFetch(t testing.TB, c *http.Client, method, url string, header ...string) (*http.Response, string) {
	t.Helper()
	resp, body, err := fetch(c, newRequest(t, method, url, nil, header...))
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return resp, body
}

// newRequest makes a request with header given as name, value pairs.
func newRequest(t testing.TB, method, url string, body io.Reader, header ...string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return req
}

// readResponses reads n responses from br, to requests made with methods.
func readResponses(t testing.TB, c net.Conn, br *bufio.Reader, methods []string, d time.Duration) []*http.Response {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	defer c.SetReadDeadline(time.Time{})
	var out []*http.Response
	for i, m := range methods {
		resp, err := http.ReadResponse(br, &http.Request{Method: m})
		if err != nil {
			t.Fatalf("response %d: %v", i+1, err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("response %d body: %v", i+1, err)
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		out = append(out, resp)
	}
	return out
}

func bodyOf(r *http.Response) string {
	b, _ := io.ReadAll(r.Body)
	return string(b)
}

// TestHTTPKeepAlive: many sequential requests of a net/http client go over
// one client connection and one server connection, and each is counted.
func TestHTTPKeepAlive(t *testing.T) {
	var mu sync.Mutex
	remotes := map[string]bool{}
	srv := newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		remotes[r.RemoteAddr] = true
		mu.Unlock()
		pathHandler(w, r)
	})
	p := newHTTPProxy(t, srv.addr())
	c, _ := newHTTPClient(t, 10*time.Second)
	const n = 50
	var clientConns atomic.Int64
	for i := range n {
		req := newRequest(t, "GET", fmt.Sprintf("http://%s/k/%d", p.Addr(), i), nil)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(info httptrace.GotConnInfo) {
				if !info.Reused {
					clientConns.Add(1)
				}
			},
		}))
		resp, body, err := fetch(c, req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if want := fmt.Sprintf("GET /k/%d", i); resp.StatusCode != 200 || body != want {
			t.Fatalf("request %d: %d %q, want 200 %q", i, resp.StatusCode, body, want)
		}
	}
	mu.Lock()
	nRemotes := len(remotes)
	mu.Unlock()
	if got := srv.conns.Load(); got != 1 || nRemotes != 1 {
		t.Errorf("server saw %d connections from %d addresses, want 1", got, nRemotes)
	}
	if got := clientConns.Load(); got != 1 {
		t.Errorf("client opened %d connections, want 1", got)
	}
	st := p.Stats()
	if st.ConnsTotal != 1 || st.Requests != n || st.Injected != 0 {
		t.Errorf("Stats = %+v, want 1 connection, %d requests, 0 injected", st, n)
	}
}

// TestHTTPBodies: request and response bodies, framed by Content-Length or
// chunked, arrive byte for byte, and the connection is reused across all of
// them.
func TestHTTPBodies(t *testing.T) {
	srv := newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("X-Req-TE", strings.Join(r.TransferEncoding, ","))
		w.Header().Set("X-Req-CL", strconv.FormatInt(r.ContentLength, 10))
		w.Header().Set("X-Req-Sum", fmt.Sprintf("%x", sha256.Sum256(body)))
		if r.URL.Query().Get("resp") == "length" {
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.Write(body)
			return
		}
		// Several flushed writes: chunked, in odd-sized chunks.
		f := w.(http.Flusher)
		for len(body) > 0 {
			n := min(len(body), 7919)
			w.Write(body[:n])
			f.Flush()
			body = body[n:]
		}
	})
	p := newHTTPProxy(t, srv.addr())
	c, _ := newHTTPClient(t, 20*time.Second)
	const size = 1<<20 + 13
	seed := uint64(10)
	for _, reqKind := range []string{"length", "chunked"} {
		for _, respKind := range []string{"length", "chunked"} {
			t.Run(reqKind+"-"+respKind, func(t *testing.T) {
				seed++
				data := randomBytes(seed, size)
				var body io.Reader = bytes.NewReader(data)
				if reqKind == "chunked" {
					body = io.MultiReader(body) // hides the length: sent chunked
				}
				req := newRequest(t, "POST", "http://"+p.Addr()+"/echo?resp="+respKind, body)
				resp, got, err := fetch(c, req)
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != 200 {
					t.Fatalf("status %d: %s", resp.StatusCode, got)
				}
				wantTE, wantCL := "", strconv.Itoa(size)
				if reqKind == "chunked" {
					wantTE, wantCL = "chunked", "-1"
				}
				if te, cl := resp.Header.Get("X-Req-TE"), resp.Header.Get("X-Req-CL"); te != wantTE || cl != wantCL {
					t.Errorf("server read the request as TE %q, CL %s; want %q, %s", te, cl, wantTE, wantCL)
				}
				if sum := fmt.Sprintf("%x", sha256.Sum256(data)); resp.Header.Get("X-Req-Sum") != sum {
					t.Errorf("the server received a different request body")
				}
				respChunked := len(resp.TransferEncoding) > 0 && resp.TransferEncoding[0] == "chunked"
				if respChunked != (respKind == "chunked") {
					t.Errorf("response transfer encoding %v, content length %d; want %s", resp.TransferEncoding, resp.ContentLength, respKind)
				}
				if !bytes.Equal([]byte(got), data) {
					t.Errorf("response body: %d bytes differing from the %d sent (first difference at %d)", len(got), len(data), firstDiff([]byte(got), data))
				}
			})
		}
	}
	if got := srv.conns.Load(); got != 1 {
		t.Errorf("server saw %d connections, want 1", got)
	}
	if st := p.Stats(); st.ConnsTotal != 1 || st.Requests != 4 {
		t.Errorf("Stats = %+v, want 1 connection and 4 requests", st)
	}
}

// TestHTTPRawBytes: what a raw client and a raw server send each other
// through the proxy arrives exactly as sent: odd header spacing, chunk
// extensions, leading zeros in chunk sizes, trailers, CRLFs inside a
// Content-Length body, lower-case names, an HTTP/1.0 response read until
// close.
func TestHTTPRawBytes(t *testing.T) {
	binary := string(randomBytes(20, 3000)) + "\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"
	old := string(randomBytes(21, 100<<10))
	exchanges := []struct{ req, resp string }{
		{
			"POST /raw?a=1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nX-Odd:   spaced  \r\n\r\n" +
				"5;ext=1\r\nhello\r\n0000000A\r\n0123456789\r\n0\r\nTrailer-A: 1\r\n\r\n",
			"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nx-lower: yes\r\n\r\n3;a=b\r\nxyz\r\n0\r\nT: 2\r\n\r\n",
		},
		{
			"PUT /raw2 HTTP/1.1\r\nHost: x\r\ncontent-length: " + strconv.Itoa(len(binary)) + "\r\n\r\n" + binary,
			"HTTP/1.1 201 Created\r\nContent-Length: " + strconv.Itoa(len(binary)) + "\r\nX-Weird:\tvalue\r\n\r\n" + binary,
		},
		{
			"GET /old HTTP/1.0\r\nHost: x\r\n\r\n",
			"HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n" + old,
		},
	}
	for _, pipelined := range []bool{false, true} {
		t.Run(fmt.Sprintf("pipelined=%v", pipelined), func(t *testing.T) {
			serverErr := make(chan error, 1)
			b := newBackend(t, func(c net.Conn) {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				for i, x := range exchanges {
					got := make([]byte, len(x.req))
					if _, err := io.ReadFull(c, got); err != nil {
						serverErr <- fmt.Errorf("server reading request %d: %v", i+1, err)
						return
					}
					if string(got) != x.req {
						serverErr <- fmt.Errorf("server received request %d as %q, want %q", i+1, got, x.req)
						return
					}
					if _, err := io.WriteString(c, x.resp); err != nil {
						serverErr <- err
						return
					}
				}
				// The last response is read until close.
				c.(*net.TCPConn).CloseWrite()
				rest, err := io.ReadAll(c)
				if err == nil && len(rest) > 0 {
					err = fmt.Errorf("server received %d unexpected bytes", len(rest))
				}
				serverErr <- err
			})
			p := newHTTPProxy(t, b.addr())
			c := dial(t, p.Addr())
			c.SetDeadline(time.Now().Add(10 * time.Second))
			var want strings.Builder
			if pipelined {
				var all strings.Builder
				for _, x := range exchanges {
					all.WriteString(x.req)
					want.WriteString(x.resp)
				}
				if _, err := io.WriteString(c, all.String()); err != nil {
					t.Fatal(err)
				}
			} else {
				for i, x := range exchanges[:len(exchanges)-1] {
					io.WriteString(c, x.req)
					got := make([]byte, len(x.resp))
					if _, err := io.ReadFull(c, got); err != nil {
						t.Fatalf("response %d: %v", i+1, err)
					}
					if string(got) != x.resp {
						t.Fatalf("response %d arrived as %q, want %q", i+1, got, x.resp)
					}
				}
				last := exchanges[len(exchanges)-1]
				io.WriteString(c, last.req)
				want.WriteString(last.resp)
			}
			got, err := readUntilEnd(t, c, 10*time.Second)
			if err != io.EOF {
				t.Fatalf("client read ended with %v, want EOF (after %d bytes)", err, len(got))
			}
			if string(got) != want.String() {
				t.Errorf("client received %d bytes differing from the %d the server sent (first difference at %d)", len(got), want.Len(), firstDiff(got, []byte(want.String())))
			}
			c.CloseWrite()
			if err := <-serverErr; err != nil {
				t.Fatal(err)
			}
			if st := p.Stats(); st.Requests != int64(len(exchanges)) {
				t.Errorf("Stats.Requests = %d, want %d", st.Requests, len(exchanges))
			}
		})
	}
}

// TestHTTPLargeBody streams a large body each way (upload with
// Content-Length, download chunked with a trailer), generated on the fly,
// and checks by hash that both arrive intact, while the process's heap
// stays far below the body size.
func TestHTTPLargeBody(t *testing.T) {
	size := int64(64 << 20)
	if testing.Short() {
		size = 8 << 20
	}
	srv := newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("X-Got-Bytes", strconv.FormatInt(n, 10))
		w.Header().Set("X-Got-Sha256", hex.EncodeToString(h.Sum(nil)))
		w.Header().Set("Trailer", "X-Sent-Sha256")
		sent := sha256.New()
		if _, err := io.Copy(io.MultiWriter(w, sent), io.LimitReader(streamFor(31), size)); err != nil {
			return
		}
		w.Header().Set("X-Sent-Sha256", hex.EncodeToString(sent.Sum(nil)))
	})
	p := newHTTPProxy(t, srv.addr())
	c, _ := newHTTPClient(t, 120*time.Second)

	// Warm up (first connection, buffers, goroutines), then measure.
	mustFetch(t, c, "GET", "http://"+p.Addr()+"/warm")
	stop := sampleHeap()
	up := sha256.New()
	req := newRequest(t, "PUT", "http://"+p.Addr()+"/large", io.TeeReader(io.LimitReader(streamFor(30), size), up))
	req.ContentLength = size
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		stop()
		t.Fatal(err)
	}
	down := sha256.New()
	n, err := io.Copy(down, resp.Body)
	resp.Body.Close()
	elapsed := time.Since(start)
	base, top := stop()
	if err != nil {
		t.Fatalf("download after %d bytes: %v", n, err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if got := resp.Header.Get("X-Got-Bytes"); got != strconv.FormatInt(size, 10) {
		t.Errorf("server received %s bytes, want %d", got, size)
	}
	if resp.Header.Get("X-Got-Sha256") != hex.EncodeToString(up.Sum(nil)) {
		t.Errorf("the server received a different upload")
	}
	if n != size || resp.Trailer.Get("X-Sent-Sha256") != hex.EncodeToString(down.Sum(nil)) {
		t.Errorf("the client received a different download: %d bytes, trailer %q", n, resp.Trailer.Get("X-Sent-Sha256"))
	}
	growth := int64(top) - int64(base)
	t.Logf("%d MiB each way in %v: %.0f MiB/s; heap in use %d MiB before, peak %d MiB (growth %.1f MiB)",
		size>>20, elapsed.Round(time.Millisecond), float64(2*size)/(1<<20)/elapsed.Seconds(),
		base>>20, top>>20, float64(growth)/(1<<20))
	if limit := int64(32 << 20); growth > limit {
		t.Errorf("heap in use grew by %d MiB while %d MiB went each way; want < %d MiB", growth>>20, size>>20, limit>>20)
	}
	if st := p.Stats(); st.BytesUpstream < size || st.BytesDownstream < size {
		t.Errorf("Stats = %+v, want at least %d bytes each way", st, size)
	}
}

// sampleHeap samples HeapInuse every few milliseconds until the function
// it returns is called, which returns the value before sampling started
// and the peak.
func sampleHeap() (stop func() (base, top uint64)) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	peak := new(atomic.Uint64)
	peak.Store(base)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
		}
	}()
	var once sync.Once
	return func() (uint64, uint64) {
		once.Do(func() { close(done); <-finished })
		return base, peak.Load()
	}
}

// TestHTTPExpectContinue: the server's 100 Continue reaches a client that
// waits for it, which then sends its body.
func TestHTTPExpectContinue(t *testing.T) {
	srv := newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s|%d|%x", r.Header.Get("Expect"), len(body), sha256.Sum256(body))
	})
	p := newHTTPProxy(t, srv.addr())
	c, tr := newHTTPClient(t, 20*time.Second)
	tr.ExpectContinueTimeout = 10 * time.Second // far longer than the test allows
	data := randomBytes(40, 200<<10)
	for i := range 2 {
		var got100 atomic.Bool
		req := newRequest(t, "POST", "http://"+p.Addr()+"/upload", bytes.NewReader(data), "Expect", "100-continue")
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			Got100Continue: func() { got100.Store(true) },
		}))
		start := time.Now()
		resp, body, err := fetch(c, req)
		elapsed := time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("100-continue|%d|%x", len(data), sha256.Sum256(data))
		if resp.StatusCode != 200 || body != want {
			t.Fatalf("request %d: %d %q, want 200 %q", i, resp.StatusCode, body, want)
		}
		if !got100.Load() || elapsed > 5*time.Second {
			t.Errorf("request %d: got 100 Continue: %v, took %v: the body waited for the client's timeout", i, got100.Load(), elapsed)
		}
	}
	if got := srv.conns.Load(); got != 1 {
		t.Errorf("server saw %d connections, want 1", got)
	}

	// An injected answer to a request waiting for 100 Continue: the body
	// never comes, so the proxy answers at once and closes the connection.
	mustSet(t, p, faults.Error(faults.HTTPStatus(503)).Times(1))
	hits := srv.hits.Load()
	start := time.Now()
	resp, body, err := fetch(c, newRequest(t, "POST", "http://"+p.Addr()+"/upload", bytes.NewReader(data), "Expect", "100-continue"))
	if err != nil || resp.StatusCode != 503 || !resp.Close || time.Since(start) > 5*time.Second {
		t.Fatalf("injected answer to Expect: 100-continue: %v %v after %v", err, resp, time.Since(start))
	}
	if srv.hits.Load() != hits {
		t.Errorf("the request reached the server")
	}
	waitUntil(t, 5*time.Second, "the proxy to close the connection", func() bool { return p.Stats().ConnsOpen == 0 })
	resp, body, err = fetch(c, newRequest(t, "POST", "http://"+p.Addr()+"/upload", bytes.NewReader(data), "Expect", "100-continue"))
	if err != nil || resp.StatusCode != 200 || !strings.HasPrefix(body, "100-continue|") {
		t.Errorf("next request: %v %v %q", err, resp, body)
	}

	// Abort lets the 100 Continue through, so that the body is sent and
	// the whole request reaches the server, and withholds the answer.
	mustSet(t, p, faults.Abort().Times(1))
	hits = srv.hits.Load()
	start = time.Now()
	_, _, err = fetch(c, newRequest(t, "POST", "http://"+p.Addr()+"/upload", bytes.NewReader(data), "Expect", "100-continue"))
	if !isConnBroken(err) || time.Since(start) > 5*time.Second {
		t.Errorf("aborted request waiting for 100 Continue: %v after %v", err, time.Since(start))
	}
	waitUntil(t, 5*time.Second, "the server to handle the aborted request", func() bool { return srv.hits.Load() == hits+1 })
}

// TestHTTPInterimResponses: 1xx responses other than 101 pass through
// ahead of the final one, which is still owed.
func TestHTTPInterimResponses(t *testing.T) {
	srv := newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(103)
		w.WriteHeader(103)
		w.Header().Del("Link")
		pathHandler(w, r)
	})
	p := newHTTPProxy(t, srv.addr())
	c, _ := newHTTPClient(t, 10*time.Second)
	for i := range 3 {
		var interim atomic.Int64
		path := fmt.Sprintf("/hint/%d", i)
		req := newRequest(t, "GET", "http://"+p.Addr()+path, nil)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
				if code == 103 && h.Get("Link") != "" {
					interim.Add(1)
				}
				return nil
			},
		}))
		resp, body, err := fetch(c, req)
		if err != nil || resp.StatusCode != 200 || body != "GET "+path || interim.Load() != 2 {
			t.Errorf("request %d: %v %v %q, %d interim responses", i, err, resp, body, interim.Load())
		}
	}
	if st := p.Stats(); st.ConnsTotal != 1 || st.Requests != 3 {
		t.Errorf("Stats = %+v, want 3 requests on 1 connection", st)
	}

	// DelayResponse holds the answer once, not once per interim response.
	const d = 300 * time.Millisecond
	mustSet(t, p, faults.DelayResponse(d))
	start := time.Now()
	resp, body := mustFetch(t, c, "GET", "http://"+p.Addr()+"/delayed")
	if elapsed := time.Since(start); resp.StatusCode != 200 || body != "GET /delayed" || elapsed < d || elapsed >= 2*d {
		t.Errorf("DelayResponse(%v) with two interim responses: %d %q after %v, want [%v, %v)", d, resp.StatusCode, body, elapsed, d, 2*d)
	}
}

// TestHTTPServerCloses: a server that closes after a response
// (Connection: close) has its close passed on; the client moves to a new
// connection and every connection ends.
func TestHTTPServerCloses(t *testing.T) {
	srv := newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close")
		}
		pathHandler(w, r)
	})
	p := newHTTPProxy(t, srv.addr())
	c, _ := newHTTPClient(t, 10*time.Second)
	for _, path := range []string{"/a", "/close", "/b", "/close", "/c"} {
		resp, body := mustFetch(t, c, "GET", "http://"+p.Addr()+path)
		if resp.StatusCode != 200 || body != "GET "+path || resp.Close != (path == "/close") {
			t.Errorf("%s: %d %q close %v", path, resp.StatusCode, body, resp.Close)
		}
	}
	if st := p.Stats(); st.ConnsTotal != 3 || srv.conns.Load() != 3 {
		t.Errorf("Stats = %+v, server connections %d; want 3 each", st, srv.conns.Load())
	}
	waitUntil(t, 5*time.Second, "two connections to end", func() bool { return p.Stats().ConnsOpen == 1 })
}

// TestHTTPNoBodyResponses: responses to HEAD, 204 and 304 have no body
// whatever their headers say, and the connection goes on to the next
// request.
func TestHTTPNoBodyResponses(t *testing.T) {
	srv := newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/head":
			w.Header().Set("Content-Length", "1234")
			if r.Method != "HEAD" {
				w.Write(make([]byte, 1234))
			}
		case "/204":
			w.WriteHeader(204)
		case "/304":
			w.Header().Set("ETag", `"v1"`)
			w.WriteHeader(304)
		default:
			pathHandler(w, r)
		}
	})
	p := newHTTPProxy(t, srv.addr())
	c, _ := newHTTPClient(t, 10*time.Second)
	base := "http://" + p.Addr()
	for _, x := range []struct {
		method, path string
		status       int
		length       int64
	}{
		{"HEAD", "/head", 200, 1234},
		{"GET", "/204", 204, 0},
		{"GET", "/304", 304, -1},
		{"HEAD", "/head", 200, 1234},
	} {
		resp, body := mustFetch(t, c, x.method, base+x.path)
		if resp.StatusCode != x.status || body != "" {
			t.Errorf("%s %s: %d with %d body bytes, want %d and none", x.method, x.path, resp.StatusCode, len(body), x.status)
		}
		if x.length >= 0 && resp.ContentLength != x.length {
			t.Errorf("%s %s: Content-Length %d, want %d", x.method, x.path, resp.ContentLength, x.length)
		}
		resp, body = mustFetch(t, c, "GET", base+"/after")
		if resp.StatusCode != 200 || body != "GET /after" {
			t.Errorf("after %s %s: %d %q", x.method, x.path, resp.StatusCode, body)
		}
	}
	if got := srv.conns.Load(); got != 1 {
		t.Errorf("server saw %d connections, want 1", got)
	}
	if st := p.Stats(); st.ConnsTotal != 1 || st.Requests != 8 {
		t.Errorf("Stats = %+v, want 1 connection and 8 requests", st)
	}
}

// TestHTTPPipelined: a raw client writes five requests at once (with and
// without bodies, HEAD, a chunked response); the answers come back in
// order.
func TestHTTPPipelined(t *testing.T) {
	srv := newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		msg := r.Method + " " + r.URL.Path + " " + string(body)
		if r.URL.Query().Get("chunked") != "" {
			for _, part := range strings.SplitAfter(msg, " ") {
				io.WriteString(w, part)
				w.(http.Flusher).Flush()
			}
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(msg)))
		if r.Method != "HEAD" {
			io.WriteString(w, msg)
		}
	})
	p := newHTTPProxy(t, srv.addr())
	c := dial(t, p.Addr())
	reqs := "GET /p/1 HTTP/1.1\r\nHost: x\r\n\r\n" +
		"POST /p/2 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" +
		"HEAD /p/3 HTTP/1.1\r\nHost: x\r\n\r\n" +
		"GET /p/4?chunked=1 HTTP/1.1\r\nHost: x\r\n\r\n" +
		"POST /p/5 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nbye\r\n0\r\n\r\n"
	if _, err := io.WriteString(c, reqs); err != nil {
		t.Fatal(err)
	}
	methods := []string{"GET", "POST", "HEAD", "GET", "POST"}
	resps := readResponses(t, c, bufio.NewReader(c), methods, 10*time.Second)
	want := []string{"GET /p/1 ", "POST /p/2 hello", "", "GET /p/4 ", "POST /p/5 bye"}
	for i, r := range resps {
		if body := bodyOf(r); r.StatusCode != 200 || body != want[i] {
			t.Errorf("response %d: %d %q, want 200 %q", i+1, r.StatusCode, body, want[i])
		}
	}
	if resps[3].TransferEncoding == nil {
		t.Errorf("response 4 was not chunked")
	}
	if got := srv.hits.Load(); got != 5 {
		t.Errorf("server handled %d requests, want 5", got)
	}
	if st := p.Stats(); st.Requests != 5 || st.ConnsTotal != 1 {
		t.Errorf("Stats = %+v, want 5 requests on 1 connection", st)
	}
}
