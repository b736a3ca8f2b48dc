package faults_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gofaults/faults"
)

// An HTTP-aware proxy answers chosen requests itself: here the first two
// POSTs under /orders/ get a 503, which the server never sees, while
// every other request passes through.
func ExampleHTTP() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok "+r.URL.Path)
	}))
	defer api.Close()
	p, err := faults.NewProxy(api.Listener.Addr().String(), faults.WithProtocol(faults.HTTP()))
	if err != nil {
		panic(err)
	}
	defer p.Close()
	p.Set(faults.Error(faults.HTTPStatus(503)).When(faults.Method("POST"), faults.Path("/orders/*")).Times(2))

	client := api.Client()
	defer client.CloseIdleConnections()
	for _, r := range []struct{ method, path string }{
		{"POST", "/orders/1"}, {"POST", "/orders/2"}, {"GET", "/health"}, {"POST", "/orders/3"},
	} {
		req, _ := http.NewRequest(r.method, "http://"+p.Addr()+r.path, strings.NewReader("{}"))
		resp, err := client.Do(req)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%-4s %-9s -> %s: %s\n", r.method, r.path, resp.Status, strings.TrimSpace(string(body)))
	}
	for _, e := range p.Events() {
		fmt.Println("fired:", e.Request)
	}
	// Output:
	// POST /orders/1 -> 503 Service Unavailable: 503 Service Unavailable (injected by faults)
	// POST /orders/2 -> 503 Service Unavailable: 503 Service Unavailable (injected by faults)
	// GET  /health   -> 200 OK: ok /health
	// POST /orders/3 -> 200 OK: ok /orders/3
	// fired: POST /orders/1
	// fired: POST /orders/2
}
