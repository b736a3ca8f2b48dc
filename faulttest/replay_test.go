package faulttest_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofaults/faults"
	"github.com/gofaults/faults/faulttest"
)

// captured runs traffic through a proxy of protocol to target that
// captures it, and returns the capture.
func captured(t *testing.T, target string, proto faults.Protocol, setup func(p *faults.Proxy), traffic func(addr string)) []byte {
	t.Helper()
	var capture bytes.Buffer
	p, err := faults.NewProxy(target, faults.WithProtocol(proto), faults.WithCapture(&capture))
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(p)
	}
	traffic(p.Addr())
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	return capture.Bytes()
}

// countingServer is an HTTP server that counts the requests of each path.
type countingServer struct {
	*httptest.Server
	hits atomic.Int64
}

func newCountingServer(t *testing.T) *countingServer {
	s := new(countingServer)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "%s %s", r.Method, r.URL.Path)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *countingServer) addr() string { return s.Listener.Addr().String() }

// TestReplayHTTP: an HTTP capture of 24 requests over two connections,
// spread over 1.2 s, replays at 4× in about a quarter of that, every
// request reaching the server; the mismatches are exactly the requests the
// proxy answered with 503 at capture, which the server answers with 200.
// Replayed through a proxy that fails another path, those fail too, and
// the report's fault window shows the proxy's behavior.
func TestReplayHTTP(t *testing.T) {
	srv := newCountingServer(t)
	var recordedSpan time.Duration
	capture := captured(t, srv.addr(), faults.HTTP(), func(p *faults.Proxy) {
		if err := p.Set(faults.Error(faults.HTTPStatus(503)).When(faults.Path("/fail/*"))); err != nil {
			t.Fatal(err)
		}
	}, func(addr string) {
		start := time.Now()
		done := make(chan struct{})
		for c := range 2 {
			go func() {
				defer func() { done <- struct{}{} }()
				client := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
				defer client.CloseIdleConnections()
				for i := range 12 {
					path := fmt.Sprintf("/ok/%d/%d", c, i)
					if i%4 == 3 {
						path = fmt.Sprintf("/fail/%d/%d", c, i)
					}
					resp, err := client.Get("http://" + addr + path)
					if err != nil {
						t.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					time.Sleep(100 * time.Millisecond)
				}
			}()
		}
		<-done
		<-done
		recordedSpan = time.Since(start)
	})
	before := srv.hits.Load()
	if before != 18 {
		t.Fatalf("the server saw %d requests during the capture, want 18 (6 were answered 503 by the proxy)", before)
	}

	start := time.Now()
	rep := faulttest.Replay(t, bytes.NewReader(capture), srv.addr(), faulttest.ReplayOptions{Speed: 4, Protocol: faults.HTTP()})
	took := time.Since(start)
	t.Logf("recorded in %v, replayed at 4× in %v (%.2f of it)", recordedSpan, took, took.Seconds()/recordedSpan.Seconds())
	if got := srv.hits.Load() - before; got != 24 {
		t.Errorf("the server saw %d requests of the replay, want 24", got)
	}
	if ratio := took.Seconds() / recordedSpan.Seconds(); ratio < 0.15 || ratio > 0.5 {
		t.Errorf("the replay took %.2f of the recorded time, want about 0.25", ratio)
	}
	if rep.Requests() != 24 || rep.Errors() != 0 {
		t.Errorf("report: %v", rep)
	}
	mm := rep.Mismatches()
	if len(mm) != 6 {
		t.Fatalf("%d mismatches, want the 6 requests answered 503 at capture: %v", len(mm), mm)
	}
	for _, m := range mm {
		if !strings.HasPrefix(m.Request, "GET /fail/") || m.Recorded != "503" || m.Replayed != "200" {
			t.Errorf("mismatch %v", m)
		}
	}

	// Through a proxy that fails /ok/1/*: those six mismatch too.
	p, err := faults.NewProxy(srv.addr(), faults.WithProtocol(faults.HTTP()), faults.WithName("api"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Set(faults.Error(faults.HTTPStatus(500)).When(faults.Path("/ok/1/*"))); err != nil {
		t.Fatal(err)
	}
	rep = faulttest.Replay(t, bytes.NewReader(capture), p.Addr(), faulttest.ReplayOptions{Speed: 8, Protocol: faults.HTTP(), Proxies: []*faults.Proxy{p}})
	mm = rep.Mismatches()
	var failed, injected int
	for _, m := range mm {
		switch {
		case strings.HasPrefix(m.Request, "GET /fail/") && m.Replayed == "200":
			failed++
		case strings.HasPrefix(m.Request, "GET /ok/1/") && m.Recorded == "200" && m.Replayed == "500":
			injected++
		default:
			t.Errorf("unexpected mismatch %v", m)
		}
	}
	if failed != 6 || injected != 9 {
		t.Errorf("%d mismatches of capture faults (want 6), %d of replay faults (want 9)", failed, injected)
	}
	if fw := rep.FaultWindows(); len(fw) != 1 || fw[0].Proxy != "api" {
		t.Errorf("fault windows %v, want the proxy's", fw)
	}
	if rep.FaultsFired() != 9 {
		t.Errorf("%d faults fired, want 9", rep.FaultsFired())
	}
}

// TestReplayLoopAndCopies: Loop and Copies multiply the requests the
// server sees.
func TestReplayLoopAndCopies(t *testing.T) {
	srv := newCountingServer(t)
	capture := captured(t, srv.addr(), faults.HTTP(), nil, func(addr string) {
		client := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
		defer client.CloseIdleConnections()
		for i := range 5 {
			resp, err := client.Get(fmt.Sprintf("http://%s/x/%d", addr, i))
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	before := srv.hits.Load()
	rep := faulttest.Replay(t, bytes.NewReader(capture), srv.addr(), faulttest.ReplayOptions{Protocol: faults.HTTP(), Loop: 3, Copies: 4})
	if got := srv.hits.Load() - before; got != 5*3*4 {
		t.Errorf("the server saw %d requests, want 60", got)
	}
	if rep.Requests() != 60 || len(rep.Mismatches()) != 0 || rep.Errors() != 0 {
		t.Errorf("report %v, mismatches %v", rep, rep.Mismatches())
	}
}

// TestReplayBadCaptures: captures that cannot be replayed fail the test
// with an error that says why, and never panic.
func TestReplayBadCaptures(t *testing.T) {
	srv := newCountingServer(t)
	good := captured(t, srv.addr(), faults.HTTP(), nil, func(addr string) {
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		http.DefaultClient.CloseIdleConnections()
	})
	cases := []struct {
		name, want string
		b          []byte
	}{
		{"not pcapng", "not a pcapng capture", []byte("GET / HTTP/1.1\r\n\r\n")},
		{"truncated", "cut short", good[:len(good)*2/3]},
		{"empty", "too short", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ft := &fatalT{name: t.Name()}
			func() {
				defer func() { recover() }() // fatalT's FailNow
				faulttest.Replay(ft, bytes.NewReader(c.b), srv.addr(), faulttest.ReplayOptions{Protocol: faults.HTTP()})
			}()
			if !strings.Contains(ft.msg, c.want) {
				t.Errorf("Replay failed with %q, want it to say %q", ft.msg, c.want)
			}
		})
	}
	if _, err := faulttest.ReplayCapture(t.Context(), bytes.NewReader(good), "no port", faulttest.ReplayOptions{}); err == nil {
		t.Error("a target without a port is accepted")
	}
	if _, err := faulttest.ReplayCapture(t.Context(), bytes.NewReader(good), srv.addr(), faulttest.ReplayOptions{Speed: -1}); err == nil {
		t.Error("a negative speed is accepted")
	}
}

// fatalT records the message of Fatalf and stops there.
type fatalT struct {
	name string
	msg  string
}

func (f *fatalT) Helper()             {}
func (f *fatalT) Cleanup(func())      {}
func (f *fatalT) Logf(string, ...any) {}
func (f *fatalT) Failed() bool        { return f.msg != "" }
func (f *fatalT) Name() string        { return f.name }
func (f *fatalT) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(f)
}

// TestReplayReportText: a replay's text and HTML reports say what was
// played and list its mismatches.
func TestReplayReportText(t *testing.T) {
	srv := newCountingServer(t)
	capture := captured(t, srv.addr(), faults.HTTP(), func(p *faults.Proxy) {
		p.Set(faults.Error(faults.HTTPStatus(429)))
	}, func(addr string) {
		resp, err := http.Get("http://" + addr + "/limited")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		http.DefaultClient.CloseIdleConnections()
	})
	rep := faulttest.Replay(t, bytes.NewReader(capture), srv.addr(), faulttest.ReplayOptions{Protocol: faults.HTTP(), Name: "text"})
	var b strings.Builder
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"text\n", "replay of 1 http connections (1 requests) at 1×", "mismatches", `"GET /limited": recorded 429, replayed 200`, "p99"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the text report does not say %q:\n%s", want, b.String())
		}
	}
	var page strings.Builder
	if err := rep.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(page.String(), "replay of 1 http connections") || !strings.Contains(page.String(), "recorded 429, replayed 200") {
		t.Error("the HTML report does not say what was replayed and what mismatched")
	}
}

// TestReplayTCP: without a protocol, the client's bytes go in the chunks
// captured, and each connection is a call of the report.
func TestReplayTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var received atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				n, _ := io.Copy(c, c) // echo, until the client's FIN
				received.Add(n)
			}()
		}
	}()
	capture := captured(t, ln.Addr().String(), faults.TCP(), nil, func(addr string) {
		for i := range 3 {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			msg := strings.Repeat(fmt.Sprint(i), 1000)
			c.Write([]byte(msg))
			c.(*net.TCPConn).CloseWrite()
			io.ReadAll(c)
			c.Close()
		}
	})
	before := received.Load()
	rep := faulttest.Replay(t, bytes.NewReader(capture), ln.Addr().String(), faulttest.ReplayOptions{Speed: 2})
	if rep.Requests() != 3 || rep.Errors() != 0 || len(rep.Mismatches()) != 0 {
		t.Errorf("report %v, samples %q", rep, rep.ErrorSamples())
	}
	deadline := time.Now().Add(5 * time.Second)
	for received.Load()-before < 3000 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := received.Load() - before; got != 3000 {
		t.Errorf("the server received %d bytes of the replay, want 3000", got)
	}
}
