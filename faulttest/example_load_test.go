package faulttest_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/gofaults/faults"
	"github.com/gofaults/faults/faulttest"
)

// testAPIUnderLoad is a test: in your package it would be
// func TestAPIUnderLoad(t *testing.T). A service answers through an
// HTTP-aware proxy at 200 requests per second for 3 seconds; for one
// second in the middle, 5% of its answers become 503s. The test checks
// that the error rate followed the fault, that the errors stopped as soon
// as the fault ended, and that latency stayed low.
func testAPIUnderLoad(t faulttest.LoadTB) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer api.Close()
	p := faulttest.NewProxy(t, api.Listener.Addr().String(), faults.WithProtocol(faults.HTTP()), faults.WithSeed(1))
	tr := &http.Transport{MaxConnsPerHost: 16}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	// The scenario, while the load runs.
	var faultOff time.Time
	scenario := make(chan struct{})
	go func() {
		defer close(scenario)
		time.Sleep(time.Second)
		p.Set(faults.Error(faults.HTTPStatus(503)).Probability(0.05))
		time.Sleep(time.Second)
		p.Reset()
		faultOff = time.Now() // Reset returns once the proxy is transparent again
	}()

	rep := faulttest.Load(t, faulttest.LoadOptions{
		Rate:     200,
		Duration: 3 * time.Second,
		Proxies:  []*faults.Proxy{p}, // its fault window goes on the timeline
	}, func(ctx context.Context) error {
		// The code under test would go here.
		req, err := http.NewRequestWithContext(ctx, "GET", "http://"+p.Addr()+"/", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /: %s", resp.Status)
		}
		return nil
	})
	<-scenario

	fault := rep.FaultWindows()[0]
	faulttest.RequireErrorRate(t, rep, fault.Window, 0.05, 0.04) // about 200 calls: 5% give or take 3 standard deviations
	faulttest.RequireRecovery(t, rep, faultOff, 100*time.Millisecond)
	faulttest.RequireLatency(t, rep, 0.99, 2*time.Second)

	fmt.Println(rep.Requests(), "requests")
	fmt.Println("fault window:", fault.Label)
}

func ExampleLoad() {
	t := &exampleT{}
	defer t.cleanup()
	testAPIUnderLoad(t) // in a test: testAPIUnderLoad(t) with the test's t
	// Output:
	// 600 requests
	// fault window: Error(HTTPStatus(503)).Probability(0.05)
}

// exampleT stands in for a *testing.T outside a test: it prints failures.
type exampleT struct {
	cleanups []func()
	failed   bool
}

func (t *exampleT) Name() string                 { return "ExampleLoad" }
func (t *exampleT) Helper()                      {}
func (t *exampleT) Cleanup(fn func())            { t.cleanups = append(t.cleanups, fn) }
func (t *exampleT) Logf(format string, a ...any) {}
func (t *exampleT) Failed() bool                 { return t.failed }
func (t *exampleT) Fatalf(format string, a ...any) {
	t.failed = true
	fmt.Printf("FAIL: "+format+"\n", a...)
}

func (t *exampleT) cleanup() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}
