package faulttest_test

import (
	"errors"
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

// testOrdersScenarios is a test: in your package it would be
// func TestOrdersScenarios(t *testing.T). An orders service answers
// through an HTTP-aware proxy, and each scenario, a subtest, installs its
// behaviors on the proxy and checks what a client with a 150ms budget
// sees.
func testOrdersScenarios(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	t.Cleanup(api.Close)
	p := faulttest.NewProxy(t, api.Listener.Addr().String(), faults.WithProtocol(faults.HTTP()))

	// The code under test would go here.
	getOrder := func() (*http.Response, error) {
		tr := &http.Transport{DisableKeepAlives: true}
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr, Timeout: 150 * time.Millisecond}
		resp, err := client.Get("http://" + p.Addr() + "/orders/7")
		if err == nil {
			resp.Body.Close()
		}
		return resp, err
	}
	expectOK := func(t *testing.T) {
		resp, err := getOrder()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("got %v, %v; want 200 OK", resp, err)
		}
	}
	expectRefused := func(t *testing.T) {
		if _, err := getOrder(); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("got %v; want connection refused", err)
		}
	}
	expectUnavailable := func(t *testing.T) {
		resp, err := getOrder()
		if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("got %v, %v; want 503", resp, err)
		}
	}
	expectTimeout := func(t *testing.T) {
		var ne net.Error
		if _, err := getOrder(); !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("got %v; want a timeout", err)
		}
	}

	faulttest.Run(t, p, []faulttest.Scenario{
		{Name: "healthy", Test: expectOK},
		{Name: "refused", Behaviors: []faults.Behavior{faults.Refuse()}, Test: expectRefused},
		{Name: "overloaded", Behaviors: []faults.Behavior{faults.Error(faults.HTTPStatus(503))}, Test: expectUnavailable},
		{Name: "hung", Behaviors: []faults.Behavior{faults.Hang()}, Test: expectTimeout},
		{Name: "slow", Behaviors: []faults.Behavior{faults.Latency(200 * time.Millisecond)}, Test: expectTimeout},
	})
}

// Run needs a *testing.T, which an example cannot make, so this one is
// compiled but not run (TestExampleRun runs testOrdersScenarios).
func ExampleRun() {
	var t *testing.T // in a test: the test's t
	testOrdersScenarios(t)
}
