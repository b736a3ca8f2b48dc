package faulttest_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/gofaults/faults"
	"github.com/gofaults/faults/faulttest"
)

// The examples below call the helpers with an exampleT where a test would
// pass its own t (see ExampleLoad); exampleT.cleanup plays the end of the
// test.

// startOrdersAPI starts an HTTP service for the examples that answers "ok"
// to every request.
func startOrdersAPI() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
}

// get sends GET path through the proxy at addr on a new connection, and
// says how it went: the status, or what went wrong.
func get(addr, path string, timeout time.Duration) string {
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: timeout}
	resp, err := client.Get("http://" + addr + path)
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case err != nil:
		return err.Error()
	}
	resp.Body.Close()
	return resp.Status
}

func ExampleSet() {
	api := startOrdersAPI()
	defer api.Close()
	t := &exampleT{} // in a test: the test's t

	p := faulttest.NewProxy(t, api.Listener.Addr().String(), faults.WithProtocol(faults.HTTP()))
	faulttest.Set(t, p, faults.Error(faults.HTTPStatus(503)).When(faults.Path("/orders/*")))
	fmt.Println("GET /orders/7:", get(p.Addr(), "/orders/7", time.Second))
	fmt.Println("GET /health:  ", get(p.Addr(), "/health", time.Second))
	fmt.Println("behaviors during the test:", p.Behaviors())

	t.cleanup() // the test ends: the 503s are removed, then the proxy is closed
	fmt.Println("behaviors after the test:", p.Behaviors())
	// Output:
	// GET /orders/7: 503 Service Unavailable
	// GET /health:   200 OK
	// behaviors during the test: [Error(HTTPStatus(503)).When(Path("/orders/*"))]
	// behaviors after the test: []
}

func ExampleWithBehavior() {
	api := startOrdersAPI()
	defer api.Close()
	t := &exampleT{} // in a test: the test's t
	defer t.cleanup()

	p := faulttest.NewProxy(t, api.Listener.Addr().String())
	faulttest.WithBehavior(t, p, faults.Latency(300*time.Millisecond), func() {
		// The code under test must give up within its 150ms budget.
		fmt.Println("slow network:", get(p.Addr(), "/orders/7", 150*time.Millisecond))
	})
	fmt.Println("afterwards:  ", get(p.Addr(), "/orders/7", 150*time.Millisecond))
	// Output:
	// slow network: timeout
	// afterwards:   200 OK
}

// Run needs a *testing.T, so ExampleRun is compiled but not run; this test
// runs its scenarios.
func TestExampleRun(t *testing.T) {
	testOrdersScenarios(t)
}
