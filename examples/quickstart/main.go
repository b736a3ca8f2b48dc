// Command quickstart shows what a client sees when the service behind a
// faults proxy misbehaves. It runs an HTTP service in-process, puts a proxy
// in front of it, and sends one request per fault. It needs no external
// service and exits by itself within a few seconds:
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/gofaults/faults"
)

func main() {
	if err := run(os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run prints to w what the client sees under each fault.
func run(w io.Writer) error {
	service, stop, err := startService()
	if err != nil {
		return err
	}
	defer stop()

	proxy, err := faults.NewProxy(service)
	if err != nil {
		return err
	}
	defer proxy.Close()

	// The client under test: a 500ms timeout, no connection reuse, so that
	// each request shows what a fresh connection meets.
	client := &http.Client{
		Timeout:   500 * time.Millisecond,
		Transport: &http.Transport{DisableKeepAlives: true},
	}
	url := "http://" + proxy.Addr()
	fmt.Fprintf(w, "service on %s, proxy on %s, client timeout %v\n\n", service, proxy.Addr(), client.Timeout)

	steps := []struct {
		what string
		b    []faults.Behavior
		path string
	}{
		{"no fault", nil, "/hello"},
		{"Latency(150ms).Downstream()", []faults.Behavior{faults.Latency(150 * time.Millisecond).Downstream()}, "/hello"},
		{"Latency(150ms) both ways", []faults.Behavior{faults.Latency(150 * time.Millisecond)}, "/hello"},
		{"Bandwidth(256 KiB/s)", []faults.Behavior{faults.Bandwidth(256 << 10)}, "/bytes/65536"},
		{"Hang()", []faults.Behavior{faults.Hang()}, "/hello"},
		{"Refuse()", []faults.Behavior{faults.Refuse()}, "/hello"},
		{"Blackout()", []faults.Behavior{faults.Blackout()}, "/hello"},
		{"ResetAfterBytes(1000).Downstream()", []faults.Behavior{faults.ResetAfterBytes(1000).Downstream()}, "/bytes/4096"},
		{"CloseAfterBytes(1000).Downstream()", []faults.Behavior{faults.CloseAfterBytes(1000).Downstream()}, "/bytes/4096"},
		{"Stall()", []faults.Behavior{faults.Stall()}, "/hello"},
		{"Blackout().Probability(0.5), seed below", []faults.Behavior{faults.Blackout().Probability(0.5)}, "/hello"},
		{"no fault again", nil, "/hello"},
	}
	for _, s := range steps {
		if err := proxy.Set(s.b...); err != nil {
			return err
		}
		fmt.Fprintf(w, "%-42s %s\n", s.what, get(client, url+s.path))
	}

	// A restart in the middle of traffic: refused for a while, then back.
	if err := proxy.Set(faults.Restart(700 * time.Millisecond)); err != nil {
		return err
	}
	start := time.Now()
	fmt.Fprintf(w, "%-42s %s\n", "Restart(700ms), right away", get(client, url+"/hello"))
	for time.Since(start) < 3*time.Second {
		if r := get(client, url+"/hello"); strings.HasPrefix(r, "200") {
			fmt.Fprintf(w, "%-42s %s\n", fmt.Sprintf("Restart(700ms), after %v", time.Since(start).Round(10*time.Millisecond)), r)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}

	st := proxy.Stats()
	fmt.Fprintf(w, "\nproxy: %d connections, %d faults fired, seed %d\n\n", st.ConnsTotal, st.Injected, proxy.Seed())
	return httpAware(w, service)
}

// httpAware shows request faults: a proxy that speaks HTTP answers chosen
// requests itself, in order, and the service never sees them.
func httpAware(w io.Writer, service string) error {
	proxy, err := faults.NewProxy(service, faults.WithProtocol(faults.HTTP()))
	if err != nil {
		return err
	}
	defer proxy.Close()
	client := &http.Client{Timeout: 500 * time.Millisecond}
	defer client.CloseIdleConnections()
	url := "http://" + proxy.Addr()

	err = proxy.Set(
		faults.Error(faults.HTTPStatus(503).Header("Retry-After", "1")).When(faults.Path("/hello")).Times(2),
		faults.DelayResponse(200*time.Millisecond).When(faults.Path("/bytes/*")),
	)
	if err != nil {
		return err
	}
	for _, path := range []string{"/hello", "/hello", "/hello", "/bytes/10"} {
		fmt.Fprintf(w, "%-42s %s\n", "HTTP-aware proxy: GET "+path, get(client, url+path))
	}
	st := proxy.Stats()
	fmt.Fprintf(w, "\nHTTP-aware proxy: %d requests on %d connection(s), %d faults fired\n", st.Requests, st.ConnsTotal, st.Injected)
	for _, e := range proxy.Events() {
		fmt.Fprintf(w, "  %s  %s\n", e.Request, e.Behavior)
	}
	return nil
}

// get requests url and describes what the client saw.
func get(client *http.Client, url string) string {
	start := time.Now()
	resp, err := client.Get(url)
	if err == nil {
		var body []byte
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			return fmt.Sprintf("%s, %d bytes in %v", resp.Status, len(body), since(start))
		}
	}
	return fmt.Sprintf("error after %v: %s", since(start), describe(err))
}

func describe(err error) string {
	var netErr net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by peer"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected EOF (body cut short)"
	case errors.Is(err, io.EOF), strings.Contains(err.Error(), "server closed idle connection"):
		return "EOF (server closed the connection)"
	case errors.As(err, &netErr) && netErr.Timeout(), errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	}
	return err.Error()
}

func since(t time.Time) time.Duration {
	return time.Since(t).Round(time.Millisecond)
}

// startService serves "/hello" and "/bytes/N" on a loopback port and
// returns its address and a function that stops it.
func startService() (addr string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello\n")
	})
	mux.HandleFunc("/bytes/{n}", func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmt.Sscan(r.PathValue("n"), &n)
		w.Header().Set("Content-Length", fmt.Sprint(n))
		w.Write([]byte(strings.Repeat("x", n)))
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	return ln.Addr().String(), func() { srv.Close() }, nil
}
