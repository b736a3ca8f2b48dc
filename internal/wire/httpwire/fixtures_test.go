package httpwire

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gofaults/faults/internal/testenv"
)

// A fixture is one exchange between net/http's client and server, each on
// a connection of its own, recorded both ways: testdata/<name>.request
// holds the bytes the client sent, testdata/<name>.response those the
// server sent. TestCaptureFixtures writes them; TestFixtures frames them.
type fixture struct {
	name string
	// do makes the exchange's request with client against base, the
	// server's URL, and checks what the client got.
	do func(t *testing.T, client *http.Client, base string)

	// What the framer must find.
	method    string   // the request's method
	reqBody   BodyKind // the request's body
	reqLength int64    // for BodyLength
	responses []fixtureResponse
}

// fixtureResponse is one response head of a fixture, interim ones included.
type fixtureResponse struct {
	status int
	body   BodyKind
	length int64 // for BodyLength
}

// fixtureBody is the body the POST fixtures send.
const fixtureBody = "name=gopher&lang=go"

var fixtures = []fixture{
	{
		name:      "get",
		do:        fixtureGet("GET", "/hello", "200 hello, world\n"),
		method:    "GET",
		responses: []fixtureResponse{{200, BodyLength, int64(len("hello, world\n"))}},
	},
	{
		name: "post_length",
		do: func(t *testing.T, client *http.Client, base string) {
			fixtureDo(t, client, fixtureRequest(t, "POST", base+"/upload", strings.NewReader(fixtureBody)),
				fmt.Sprintf("200 %d bytes", len(fixtureBody)))
		},
		method: "POST", reqBody: BodyLength, reqLength: int64(len(fixtureBody)),
		responses: []fixtureResponse{{200, BodyLength, int64(len("19 bytes"))}},
	},
	{
		name: "post_chunked",
		do: func(t *testing.T, client *http.Client, base string) {
			// A reader of unknown length: the client sends it chunked.
			req := fixtureRequest(t, "POST", base+"/upload", struct{ io.Reader }{strings.NewReader(fixtureBody)})
			req.ContentLength = -1
			fixtureDo(t, client, req, fmt.Sprintf("200 %d bytes", len(fixtureBody)))
		},
		method: "POST", reqBody: BodyChunked,
		responses: []fixtureResponse{{200, BodyLength, int64(len("19 bytes"))}},
	},
	{
		name:      "head",
		do:        fixtureGet("HEAD", "/head", "200 "),
		method:    "HEAD",
		responses: []fixtureResponse{{200, BodyNone, 0}},
	},
	{
		name:      "chunked",
		do:        fixtureGet("GET", "/stream", "200 part 0\npart 1\npart 2\n"),
		method:    "GET",
		responses: []fixtureResponse{{200, BodyChunked, 0}},
	},
	{
		name:      "no_content",
		do:        fixtureGet("DELETE", "/no-content", "204 "),
		method:    "DELETE",
		responses: []fixtureResponse{{204, BodyNone, 0}},
	},
	{
		name: "not_modified",
		do: func(t *testing.T, client *http.Client, base string) {
			req := fixtureRequest(t, "GET", base+"/not-modified", nil)
			req.Header.Set("If-None-Match", `"v1"`)
			fixtureDo(t, client, req, "304 ")
		},
		method:    "GET",
		responses: []fixtureResponse{{304, BodyNone, 0}},
	},
	{
		name:      "early_hints",
		do:        fixtureGet("GET", "/early-hints", "200 hinted\n"),
		method:    "GET",
		responses: []fixtureResponse{{103, BodyNone, 0}, {200, BodyLength, int64(len("hinted\n"))}},
	},
}

// fixtureHandler is the server side of the fixtures.
func fixtureHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello, world\n")
	})
	mux.HandleFunc("/upload", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "%d bytes", n)
	})
	mux.HandleFunc("/head", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		if r.Method != http.MethodHead {
			w.Write(make([]byte, 1000))
		}
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		for i := range 3 {
			fmt.Fprintf(w, "part %d\n", i)
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/no-content", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/not-modified", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		w.WriteHeader(http.StatusNotModified)
	})
	mux.HandleFunc("/early-hints", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		io.WriteString(w, "hinted\n")
	})
	return mux
}

func fixtureRequest(t *testing.T, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// fixtureResult makes req and returns what the client got: the status
// code, a space and the body.
func fixtureResult(t *testing.T, client *http.Client, req *http.Request) string {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	return fmt.Sprint(resp.StatusCode, " ", string(b))
}

// fixtureDo makes req and checks that the client got want (see
// fixtureResult).
func fixtureDo(t *testing.T, client *http.Client, req *http.Request, want string) {
	t.Helper()
	if got := fixtureResult(t, client, req); got != want {
		t.Fatalf("%s %s: got %q, want %q", req.Method, req.URL.Path, got, want)
	}
}

// fixtureGet returns a fixture's do for a request without a body.
func fixtureGet(method, path, want string) func(*testing.T, *http.Client, string) {
	return func(t *testing.T, client *http.Client, base string) {
		fixtureDo(t, client, fixtureRequest(t, method, base+path, nil), want)
	}
}

// recordExchange runs do against srv through a recording relay
// (testenv.NewRecorder), on one connection, and returns the bytes the
// client and the server sent on it. The client's connection is closed
// after do, and the recording ends when both directions have.
func recordExchange(t *testing.T, srvAddr string, do func(*testing.T, *http.Client, string)) (requests, responses []byte) {
	relay := testenv.NewRecorder(t, srvAddr, nil)
	tr := &http.Transport{DisableCompression: true}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	do(t, client, "http://"+relay.Addr())
	tr.CloseIdleConnections()
	relay.Close()
	recs := relay.Recordings()
	if len(recs) != 1 {
		t.Fatalf("relay: %d connections, want 1", len(recs))
	}
	return recs[0].Streams()
}

// TestCaptureFixtures regenerates testdata/*.request and *.response, when
// FAULTS_CAPTURE=1, by running each fixture's exchange between net/http's
// client and server over loopback through a recording relay:
//
//	FAULTS_CAPTURE=1 go test -run '^TestCaptureFixtures$' ./internal/wire/httpwire
func TestCaptureFixtures(t *testing.T) {
	if os.Getenv("FAULTS_CAPTURE") != "1" {
		t.Skip("set FAULTS_CAPTURE=1 to regenerate testdata from net/http's client and server")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: fixtureHandler()}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		srv.Close()
		<-served
	}()
	for _, fx := range fixtures {
		requests, responses := recordExchange(t, ln.Addr().String(), fx.do)
		for ext, b := range map[string][]byte{".request": requests, ".response": responses} {
			if err := os.WriteFile(filepath.Join("testdata", fx.name+ext), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("%s: %d request bytes, %d response bytes", fx.name, len(requests), len(responses))
	}
}

// fixtureHeadEnd returns the length of the head at the start of b: up to
// and including the first empty line (net/http ends lines with CRLF).
func fixtureHeadEnd(t *testing.T, b []byte) int {
	t.Helper()
	i := bytes.Index(b, []byte("\r\n\r\n"))
	if i < 0 {
		t.Fatalf("no end of head in %q", b)
	}
	return i + 4
}

// TestFixtures frames each recorded exchange, through each way of feeding
// bytes, and checks that every head ends where its empty line does, that
// the bodies have the kinds and lengths expected, and that heads and bodies
// together are exactly the bytes recorded.
func TestFixtures(t *testing.T) {
	for _, fx := range fixtures {
		requests, err := os.ReadFile(filepath.Join("testdata", fx.name+".request"))
		if err != nil {
			t.Fatal(err)
		}
		responses, err := os.ReadFile(filepath.Join("testdata", fx.name+".response"))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range readers {
			t.Run(fx.name+"/"+r.name, func(t *testing.T) {
				br := testReader(r.wrap, string(requests))
				h, err := ReadRequestHead(br)
				if err != nil {
					t.Fatalf("request head: %v", err)
				}
				if end := fixtureHeadEnd(t, requests); !bytes.Equal(h.Raw, requests[:end]) {
					t.Errorf("request head %q, want %q", h.Raw, requests[:end])
				}
				if h.Method != fx.method || h.Body != (Body{Kind: fx.reqBody, Length: fx.reqLength}) {
					t.Errorf("request %s %+v, want %s %v %d", h.Method, h.Body, fx.method, fx.reqBody, fx.reqLength)
				}
				n, err := CopyBody(io.Discard, br, h.Body)
				if err != nil {
					t.Fatalf("request body: %v", err)
				}
				if len(h.Raw)+int(n) != len(requests) {
					t.Errorf("request framed as %d+%d bytes, recorded %d", len(h.Raw), n, len(requests))
				}
				if h.Body.Kind == BodyChunked && !bytes.Contains(requests[len(h.Raw):], []byte(fixtureBody)) {
					t.Errorf("chunked request body %q lacks %q", requests[len(h.Raw):], fixtureBody)
				}
				if _, err := ReadRequestHead(br); err != io.EOF {
					t.Errorf("after the request: %v, want io.EOF", err)
				}

				br = testReader(r.wrap, string(responses))
				pos := 0
				for i, want := range fx.responses {
					h, err := ReadResponseHead(br, fx.method)
					if err != nil {
						t.Fatalf("response head %d: %v", i+1, err)
					}
					if end := pos + fixtureHeadEnd(t, responses[pos:]); !bytes.Equal(h.Raw, responses[pos:end]) {
						t.Errorf("response head %d %q, want %q", i+1, h.Raw, responses[pos:end])
					}
					got := fixtureResponse{h.Status, h.Body.Kind, h.Body.Length}
					if got != want {
						t.Errorf("response %d %+v, want %+v", i+1, got, want)
					}
					n, err := CopyBody(io.Discard, br, h.Body)
					if err != nil {
						t.Fatalf("response body %d: %v", i+1, err)
					}
					pos += len(h.Raw) + int(n)
				}
				if pos != len(responses) {
					t.Errorf("responses framed as %d bytes, recorded %d", pos, len(responses))
				}
				if _, err := ReadResponseHead(br, fx.method); err != io.EOF {
					t.Errorf("after the responses: %v, want io.EOF", err)
				}
			})
		}
	}
}
