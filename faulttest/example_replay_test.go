package faulttest_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/gofaults/faults"
	"github.com/gofaults/faults/faulttest"
)

// testReplayOrders is a test: in your package it would be
// func TestReplayOrders(t *testing.T). Traffic is captured through an
// HTTP-aware proxy while it answers one request in place of the server;
// then the capture is replayed, four times as fast, against the server
// itself: every request reaches it, and the one the proxy answered at
// capture shows as a mismatch.
func testReplayOrders(t faulttest.LoadTB) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer api.Close()

	// Capture: the code under test talks to the proxy.
	var capture bytes.Buffer
	p, err := faults.NewProxy(api.Listener.Addr().String(), faults.WithProtocol(faults.HTTP()), faults.WithCapture(&capture))
	if err != nil {
		t.Fatalf("%v", err)
	}
	p.Set(faults.Error(faults.HTTPStatus(503)).When(faults.Path("/orders/7")))
	client := &http.Client{Transport: &http.Transport{}}
	for _, path := range []string{"/orders/6", "/orders/7", "/orders/8"} {
		resp, err := client.Get("http://" + p.Addr() + path)
		if err != nil {
			t.Fatalf("%v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	client.CloseIdleConnections()
	if err := p.Close(); err != nil { // writes the rest of the capture
		t.Fatalf("%v", err)
	}

	// Replay: the same connections, against the server.
	rep := faulttest.Replay(t, &capture, api.Listener.Addr().String(), faulttest.ReplayOptions{
		Speed:    4,
		Protocol: faults.HTTP(),
	})
	fmt.Println(rep.Requests(), "requests,", rep.Errors(), "errors")
	for _, m := range rep.Mismatches() {
		fmt.Printf("%s: recorded %s, replayed %s\n", m.Request, m.Recorded, m.Replayed)
	}
}

func ExampleReplay() {
	t := &exampleT{}
	defer t.cleanup()
	testReplayOrders(t) // in a test: testReplayOrders(t) with the test's t
	// Output:
	// 3 requests, 0 errors
	// GET /orders/7: recorded 503, replayed 200
}
