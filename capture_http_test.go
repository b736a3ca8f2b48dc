package faults_test

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/gofaults/faults"
	"github.com/gofaults/faults/internal/tcpcap"
	"github.com/gofaults/faults/internal/testenv"
)

// TestCaptureHTTP: tshark's HTTP dissector finds every request and every
// response of a capture, among them a 1 MiB chunked body, an 8 MiB body
// of known length (which the relay splices), a POST and an answer of the
// proxy's own, which carries the fault's comment; each message is a
// segment of its own, and the TCP analysis flags nothing.
func TestCaptureHTTP(t *testing.T) {
	longBody := bytes.Repeat([]byte("0123456789abcdef"), 1<<19)
	srv := newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			w.Write(bytes.Repeat([]byte("x"), 1<<20)) // chunked: no length given
			return
		case "/long":
			w.Header().Set("Content-Length", strconv.Itoa(len(longBody)))
			w.Write(longBody) // spliced past what the relay buffered
			return
		}
		pathHandler(w, r)
	})
	cf := newCaptureFile(t)
	p := newHTTPProxy(t, srv.addr(), faults.WithCapture(cf.f))
	mustSet(t, p, faults.Error(faults.HTTPStatus(503)).When(faults.Path("/fail")))
	client, _ := newHTTPClient(t, 0)
	base := "http://" + p.Addr()
	want := []string{"GET /a", "POST /orders", "GET /big", "GET /long", "GET /fail", "GET /b"}
	codes := []string{"200", "200", "200", "200", "503", "200"}
	for i, w := range want {
		method, path, _ := strings.Cut(w, " ")
		var body *strings.Reader
		if method == "POST" {
			body = strings.NewReader(`{"item":7}`)
		} else {
			body = strings.NewReader("")
		}
		resp, got, err := fetch(client, newRequest(t, method, base+path, body))
		if err != nil {
			t.Fatal(err)
		}
		if path == "/long" && got != string(longBody) {
			t.Fatalf("%s: a body of %d bytes, want the %d sent", w, len(got), len(longBody))
		}
		if got := strconv.Itoa(resp.StatusCode); got != codes[i] {
			t.Fatalf("%s: %s", w, got)
		}
	}
	client.CloseIdleConnections()
	cf.finish(t, p)

	port := srv.addr()[strings.LastIndex(srv.addr(), ":")+1:]
	decode := []string{"-d", "tcp.port==" + port + ",http"}
	requireCleanAnalysis(t, cf.path, decode...)
	reqs := testenv.Tshark(t, cf.path, append(decode, "-Y", "http.request", "-T", "fields", "-e", "http.request.method", "-e", "http.request.uri")...)
	if got := strings.Join(reqs, "|"); got != strings.ReplaceAll(strings.Join(want, "|"), " ", "\t") {
		t.Errorf("tshark's requests: %q, want %q", reqs, want)
	}
	resps := testenv.Tshark(t, cf.path, append(decode, "-Y", "http.response", "-T", "fields", "-e", "http.response.code")...)
	if got := strings.Join(resps, ","); got != strings.Join(codes, ",") {
		t.Errorf("tshark's responses: %s, want %s", got, strings.Join(codes, ","))
	}
	marked := testenv.Tshark(t, cf.path, append(decode, "-Y", "frame.comment", "-T", "fields", "-e", "http.response.code", "-e", "frame.comment")...)
	if len(marked) != 1 || !strings.HasPrefix(marked[0], "503\tfaults: ") || !strings.Contains(marked[0], `"GET /fail" Error(HTTPStatus(503)).When(Path("/fail"))`) {
		t.Errorf("comments: %q, want the 503 marked with its fault", marked)
	}
	// One message per segment: each request and each response head
	// starts a segment, and none holds two. The long body is there whole.
	var fromServer []byte
	for _, c := range cf.conns(t) {
		_, down := streams(c)
		fromServer = append(fromServer, down...)
		for _, s := range c.Segments {
			if len(s.Data) == 0 {
				continue
			}
			if s.From == tcpcap.Client && !(bytes.HasPrefix(s.Data, []byte("GET ")) || bytes.HasPrefix(s.Data, []byte("POST "))) {
				t.Errorf("a client segment starts with %q", s.Data[:min(len(s.Data), 20)])
			}
			if n := bytes.Count(s.Data, []byte("HTTP/1.1 ")); n > 1 {
				t.Errorf("a segment holds %d messages", n)
			}
		}
	}
	if !bytes.Contains(fromServer, longBody) || bytes.Count(fromServer, longBody[:16]) != len(longBody)/16 {
		t.Errorf("the capture holds %d of the long body's %d pieces, or not in order", bytes.Count(fromServer, longBody[:16]), len(longBody)/16)
	}
}

// TestCaptureRedactSecrets: with RedactSecrets, the capture holds no
// credential of the Authorization, Cookie and Set-Cookie headers, and the
// rest of the messages as they were.
func TestCaptureRedactSecrets(t *testing.T) {
	srv := newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "server-secret-42"})
		pathHandler(w, r)
	})
	cf := newCaptureFile(t)
	p := newHTTPProxy(t, srv.addr(), faults.WithCapture(cf.f, faults.RedactSecrets()))
	client, _ := newHTTPClient(t, 0)
	for range 2 {
		mustFetch(t, client, "GET", "http://"+p.Addr()+"/private", "Authorization", "Bearer client-secret-17", "Cookie", "session=client-secret-99")
	}
	client.CloseIdleConnections()
	cf.finish(t, p)
	var all []byte
	for _, c := range cf.conns(t) {
		up, down := streams(c)
		all = append(append(all, up...), down...)
	}
	for _, secret := range []string{"client-secret-17", "client-secret-99", "server-secret-42"} {
		if bytes.Contains(all, []byte(secret)) {
			t.Errorf("the capture holds %q", secret)
		}
	}
	if n := bytes.Count(all, []byte("REDACTED")); n != 6 {
		t.Errorf("%d values REDACTED, want 6", n)
	}
	port := srv.addr()[strings.LastIndex(srv.addr(), ":")+1:]
	auth := testenv.Tshark(t, cf.path, "-d", "tcp.port=="+port+",http", "-Y", "http.request", "-T", "fields", "-e", "http.authorization", "-e", "http.request.uri")
	if got := strings.Join(auth, "|"); got != "REDACTED\t/private|REDACTED\t/private" {
		t.Errorf("tshark reads %q", auth)
	}
}
