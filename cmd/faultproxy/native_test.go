package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// httpBackend answers every request with 200 and "ok".
func httpBackend(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// get sends GET path to addr on a new connection and returns the status.
func get(t *testing.T, addr, path string) int {
	t.Helper()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Timeout: 5 * time.Second, Transport: tr}
	resp, err := c.Get("http://" + addr + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// A proxy with a protocol takes behaviors as expressions: an HTTP proxy
// answers 503 twice on chosen requests, and its events and stats say so.
func TestNativeBehaviorsOnAnHTTPProxy(t *testing.T) {
	d := startDaemon(t)
	var px proxyJSON
	d.must("POST", "/proxies", `{"name":"web","listen":"127.0.0.1:0","upstream":"`+httpBackend(t)+`","protocol":"http"}`, 201, &px)
	require.Equal(t, "http", px.Protocol)

	var bs []string
	d.must("PUT", "/proxies/web/behaviors", `["Error(HTTPStatus(503)).Times(2)"]`, 200, &bs)
	require.Equal(t, []string{"Error(HTTPStatus(503)).Times(2)"}, bs)
	require.Equal(t, []int{503, 503, 200}, []int{get(t, px.Listen, "/a"), get(t, px.Listen, "/b"), get(t, px.Listen, "/c")})

	var events []eventJSON
	d.must("GET", "/proxies/web/events", "", 200, &events)
	require.Len(t, events, 2)
	require.Equal(t, "GET /a", events[0].Request)
	require.Equal(t, "Error(HTTPStatus(503)).Times(2)", events[0].Behavior)
	require.EqualValues(t, 1, events[0].Conn)
	require.WithinDuration(t, time.Now(), events[0].Time, time.Minute)

	var st statsJSON
	d.must("GET", "/proxies/web/stats", "", 200, &st)
	require.EqualValues(t, 3, st.Requests)
	require.EqualValues(t, 2, st.Faults)
	require.EqualValues(t, 3, st.ConnectionsTotal)
	require.NotZero(t, st.BytesDownstream)

	// A behavior the protocol cannot carry out, or an expression that does
	// not parse, is a 400 naming it, and nothing changes.
	status, _, b := d.do("PUT", "/proxies/web/behaviors", `["Latency(1ms)","Error(HTTPStatus(503)).When(Query(\"^UPDATE\"))"]`)
	requireError(t, 400, `faults: Error(HTTPStatus(503)).When(Query("^UPDATE")) on a http proxy: Query("^UPDATE") never matches a http request; its matchers are Method, Path and Header`, status, b)
	status, _, b = d.do("PUT", "/proxies/web/behaviors", `["Latency(1ms)", "Latency(oops"]`)
	requireError(t, 400, `behavior 2: faults: parse "Latency(oops": at 8: expected a duration such as 100ms, found "oops"`, status, b)
	status, _, b = d.do("PUT", "/proxies/web/behaviors", `["Latency(-1s)"]`)
	requireError(t, 400, `behavior 1: faults: parse "Latency(-1s)": at 0: Latency(-1s): latency must not be negative`, status, b)
	status, _, b = d.do("PUT", "/proxies/web/behaviors", `"Latency(1ms)"`)
	requireError(t, 400, "bad request body: json: cannot unmarshal string into Go value of type []string", status, b)
	d.must("GET", "/proxies/web/behaviors", "", 200, &bs)
	require.Equal(t, []string{"Error(HTTPStatus(503)).Times(2)"}, bs)

	d.must("DELETE", "/proxies/web/behaviors", "", 204, nil)
	d.must("GET", "/proxies/web/behaviors", "", 200, &bs)
	require.Empty(t, bs)
	require.NotNil(t, bs, "an empty array, not null")
}

// Toxics are behaviors too: GET lists them, PUT and DELETE replace them;
// a disabled proxy shows its Refuse and stays disabled through a PUT.
func TestBehaviorsAndToxicsAreOneSet(t *testing.T) {
	d := startDaemon(t)
	var px proxyJSON
	d.must("POST", "/proxies", `{"name":"p","listen":"127.0.0.1:0","upstream":"`+echoBackend(t)+`","behaviors":["Latency(100ms).Upstream()"]}`, 201, &px)
	var bs []string
	d.must("GET", "/proxies/p/behaviors", "", 200, &bs)
	require.Equal(t, []string{"Latency(100ms).Upstream()"}, bs, "created with its behaviors")

	d.must("POST", "/proxies/p/toxics", `{"type":"latency","attributes":{"latency":50,"jitter":5},"toxicity":0.5}`, 200, nil)
	d.must("GET", "/proxies/p/behaviors", "", 200, &bs)
	require.Equal(t, []string{"Latency(100ms).Upstream()", "Latency(50ms).Jitter(5ms).Downstream().Probability(0.5)"}, bs)

	d.must("PATCH", "/proxies/p", `{"enabled":false}`, 200, nil)
	d.must("GET", "/proxies/p/behaviors", "", 200, &bs)
	require.Equal(t, []string{"Latency(100ms).Upstream()", "Latency(50ms).Jitter(5ms).Downstream().Probability(0.5)", "Refuse()", "Timeout(1ns)"}, bs)

	d.must("PUT", "/proxies/p/behaviors", `["Stall()"]`, 200, &bs)
	require.Equal(t, []string{"Stall()", "Refuse()", "Timeout(1ns)"}, bs, "still disabled")
	requireRefused(t, px.Listen)
	var toxics []toxicJSON
	d.must("GET", "/proxies/p/toxics", "", 200, &toxics)
	require.Empty(t, toxics, "PUT replaced the toxics")

	d.must("PATCH", "/proxies/p", `{"enabled":true}`, 200, nil)
	d.must("GET", "/proxies/p/behaviors", "", 200, &bs)
	require.Equal(t, []string{"Stall()"}, bs)
	c := dial(t, px.Listen)
	c.Write([]byte("x"))
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	n, _ := c.Read(make([]byte, 1))
	require.Zero(t, n, "stalled")
}

// Stats and events keep counting across a proxy's restarts (an update of
// its upstream), and go with it when it is deleted.
func TestStatsSurviveAnUpdate(t *testing.T) {
	d := startDaemon(t)
	echo := echoBackend(t)
	var px proxyJSON
	d.must("POST", "/proxies", `{"name":"p","listen":"127.0.0.1:0","upstream":"`+echo+`"}`, 201, &px)
	d.must("PUT", "/proxies/p/behaviors", `["Latency(1ms)"]`, 200, nil)
	roundTrip(t, dial(t, px.Listen), "one")
	d.must("PATCH", "/proxies/p", fmt.Sprintf(`{"upstream":%q}`, echoBackend(t)), 200, &px)
	roundTrip(t, dial(t, px.Listen), "two")
	var st statsJSON
	d.must("GET", "/proxies/p/stats", "", 200, &st)
	require.EqualValues(t, 2, st.ConnectionsTotal)
	require.EqualValues(t, 2, st.Faults, "one Latency per connection")
	var events []json.RawMessage
	d.must("GET", "/proxies/p/events", "", 200, &events)
	require.Len(t, events, 2)
}
