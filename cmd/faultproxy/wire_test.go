package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// requireError checks a reply in Toxiproxy's error shape.
func requireError(t *testing.T, status int, msg string, gotStatus int, body []byte) {
	t.Helper()
	require.Equal(t, status, gotStatus, "%s", body)
	require.Equal(t, fmt.Sprintf(`{"error":%q,"status":%d}`+"\n", msg, status), string(body))
}

// The replies Toxiproxy's clients read, byte for byte where 2.12's are
// fixed, as recorded from 2.12 on the wire.
func TestWireMatchesToxiproxy(t *testing.T) {
	d := startDaemon(t)

	st, h, b := d.do("GET", "/version", "")
	require.Equal(t, 200, st)
	require.Equal(t, "application/json;charset=utf-8", h.Get("Content-Type"))
	require.Equal(t, "{\"version\": \"2.12.0\"}\n", string(b))

	st, h, b = d.do("POST", "/proxies", `{"name":"p1","listen":"127.0.0.1:0","upstream":"127.0.0.1:9"}`)
	require.Equal(t, 201, st)
	require.Equal(t, "application/json", h.Get("Content-Type"))
	var px proxyJSON
	require.NoError(t, json.Unmarshal(b, &px))
	require.Equal(t, `{"name":"p1","listen":"`+px.Listen+`","upstream":"127.0.0.1:9","enabled":true,"protocol":"tcp","toxics":[]}`, string(b))

	st, _, b = d.do("POST", "/proxies", `{"name":"p1","listen":"127.0.0.1:0","upstream":"127.0.0.1:9"}`)
	requireError(t, 409, "proxy already exists", st, b)
	st, _, b = d.do("POST", "/proxies", `{"listen":"127.0.0.1:0","upstream":"127.0.0.1:9"}`)
	requireError(t, 400, "missing required field: name", st, b)
	st, _, b = d.do("POST", "/proxies", `{"name":"p2"}`)
	requireError(t, 400, "missing required field: upstream", st, b)
	st, _, b = d.do("POST", "/proxies", ``)
	requireError(t, 400, "bad request body: EOF", st, b)

	// Ruby's client sends "enabled":null: enabled.
	d.must("POST", "/proxies", `{"name":"ruby","listen":"127.0.0.1:0","upstream":"127.0.0.1:9","enabled":null}`, 201, &px)
	require.True(t, px.Enabled)
	// Created disabled: refuses.
	d.must("POST", "/proxies", `{"name":"off","listen":"127.0.0.1:0","upstream":"127.0.0.1:9","enabled":false}`, 201, &px)
	require.False(t, px.Enabled)
	requireRefused(t, px.Listen)

	st, _, b = d.do("POST", "/proxies/p1/toxics", `{"type":"latency","attributes":{"latency":100}}`)
	require.Equal(t, 200, st, "Toxiproxy answers 200, not 201")
	require.Equal(t, `{"attributes":{"latency":100,"jitter":0},"name":"latency_downstream","type":"latency","stream":"downstream","toxicity":1}`, string(b))
	st, _, b = d.do("PATCH", "/proxies/p1/toxics/latency_downstream", `{"attributes":{"jitter":5}}`)
	require.Equal(t, 200, st)
	require.Equal(t, `{"attributes":{"latency":100,"jitter":5},"name":"latency_downstream","type":"latency","stream":"downstream","toxicity":1}`, string(b))
	st, _, b = d.do("POST", "/proxies/p1/toxics/latency_downstream", `{"toxicity":0.25}`)
	require.Equal(t, 200, st, "POST updates too")
	require.Contains(t, string(b), `"toxicity":0.25`)
	st, _, b = d.do("GET", "/proxies/p1/toxics/nope", "")
	requireError(t, 404, "toxic not found", st, b)
	st, _, b = d.do("GET", "/proxies/nope/toxics", "")
	requireError(t, 404, "proxy not found", st, b)

	st, _, b = d.do("PATCH", "/proxies/p1", `{"enabled":false}`)
	require.Equal(t, 200, st)
	require.Contains(t, string(b), `"enabled":false`)
	requireRefused(t, px.Listen)

	st, h, b = d.do("POST", "/reset", "")
	require.Equal(t, 204, st)
	require.Empty(t, b)
	require.Empty(t, h.Get("Content-Type"))
	d.must("GET", "/proxies/p1", "", 200, &px)
	require.True(t, px.Enabled, "reset enables")
	require.Empty(t, px.Toxics, "reset removes toxics")

	st, _, b = d.do("DELETE", "/proxies/p1", "")
	require.Equal(t, 204, st)
	require.Empty(t, b)
	st, _, b = d.do("DELETE", "/proxies/p1", "")
	requireError(t, 404, "proxy not found", st, b)

	var index map[string]proxyJSON
	d.must("GET", "/proxies", "", 200, &index)
	require.Len(t, index, 2)
	require.Contains(t, index, "ruby")
}

// Every toxic type answers every one of its attributes, as integers, in
// Toxiproxy's order (its Java client reads each with getAsLong).
func TestToxicAttributesAlwaysPresent(t *testing.T) {
	d := startDaemon(t)
	d.must("POST", "/proxies", `{"name":"p","listen":"127.0.0.1:0","upstream":"127.0.0.1:9"}`, 201, nil)
	want := map[string]string{
		"latency":    `{"latency":0,"jitter":0}`,
		"bandwidth":  `{"rate":0}`,
		"slow_close": `{"delay":0}`,
		"timeout":    `{"timeout":0}`,
		"reset_peer": `{"timeout":0}`,
		"slicer":     `{"average_size":1,"size_variation":0,"delay":0}`,
		"limit_data": `{"bytes":0}`,
		"noop":       `{}`,
	}
	for typ, attrs := range want {
		body := fmt.Sprintf(`{"type":%q}`, typ)
		if typ == "slicer" {
			body = `{"type":"slicer","attributes":{"average_size":1}}`
		}
		st, _, b := d.do("POST", "/proxies/p/toxics", body)
		require.Equal(t, 200, st, "%s: %s", typ, b)
		require.Equal(t, `{"attributes":`+attrs+`,"name":"`+typ+`_downstream","type":"`+typ+`","stream":"downstream","toxicity":1}`, string(b))
	}
}

// Toxiproxy's checks on toxics, in its order, and the ones it lacks:
// attributes are validated (2.12 crashes on a slicer with average_size 0),
// toxicity must be a probability, and a bad update changes nothing.
func TestToxicRequestsAreChecked(t *testing.T) {
	d := startDaemon(t)
	d.must("POST", "/proxies", `{"name":"p","listen":"127.0.0.1:0","upstream":"127.0.0.1:9"}`, 201, nil)
	for _, c := range []struct {
		body   string
		status int
		msg    string
	}{
		{`{"type":"latency","stream":"sideways"}`, 400, "stream was invalid, can be either upstream or downstream"},
		{`{"type":"latency","stream":""}`, 400, "stream was invalid, can be either upstream or downstream"},
		{`{"type":"nonsense"}`, 400, "invalid toxic type"},
		{`{}`, 400, "invalid toxic type"},
		{`{"type":"latency","attributes":{"latency":"x"}}`, 400, `bad request body: attribute latency of latency: want an integer, got "x"`},
		{`{"type":"latency","attributes":{"latency":1.5}}`, 400, `bad request body: attribute latency of latency: want an integer, got 1.5`},
		{`{"type":"latency","attributes":{"latency":-1}}`, 400, `invalid attribute latency of latency toxic "latency_downstream": -1: must not be negative`},
		{`{"type":"slicer"}`, 400, `invalid attribute average_size of slicer toxic "slicer_downstream": 0: must be positive`},
		{`{"type":"slicer","attributes":{"average_size":10,"size_variation":10}}`, 400, `invalid attribute size_variation of slicer toxic "slicer_downstream": 10: must be less than average_size`},
		{`{"type":"latency","toxicity":5}`, 400, `invalid toxicity 5 of toxic "latency_downstream": must be in [0, 1]`},
		{`{"type":"latency","toxicity":-1}`, 400, `invalid toxicity -1 of toxic "latency_downstream": must be in [0, 1]`},
		{`{"type":"latency","attributes":[1]}`, 400, `bad request body: attributes: json: cannot unmarshal array into Go value of type map[string]json.RawMessage`},
		{`{"type":"latency","toxicity":"x"}`, 400, `bad request body: json: cannot unmarshal string into Go struct field toxicRequest.toxicity of type float32`},
	} {
		st, _, b := d.do("POST", "/proxies/p/toxics", c.body)
		requireError(t, c.status, c.msg, st, b)
	}
	d.must("GET", "/proxies/p/toxics", "", 200, nil)

	// Stream names are case-insensitive, echoed as sent, and name the toxic.
	st, _, b := d.do("POST", "/proxies/p/toxics", `{"type":"bandwidth","stream":"UPSTREAM","attributes":{"rate":1}}`)
	require.Equal(t, 200, st, "%s", b)
	require.Equal(t, `{"attributes":{"rate":1},"name":"bandwidth_UPSTREAM","type":"bandwidth","stream":"UPSTREAM","toxicity":1}`, string(b))
	// Names are unique across both streams.
	st, _, b = d.do("POST", "/proxies/p/toxics", `{"name":"bandwidth_UPSTREAM","type":"latency","stream":"downstream"}`)
	requireError(t, 409, "toxic already exists", st, b)

	st, _, b = d.do("PATCH", "/proxies/p/toxics/bandwidth_UPSTREAM", `{"attributes":{"rate":5,"nope":"x"},"toxicity":2}`)
	requireError(t, 400, `invalid toxicity 2 of toxic "bandwidth_UPSTREAM": must be in [0, 1]`, st, b)
	st, _, b = d.do("PATCH", "/proxies/p/toxics/bandwidth_UPSTREAM", `{"attributes":{"rate":"fast"}}`)
	require.Equal(t, 400, st, "%s", b)
	st, _, b = d.do("PATCH", "/proxies/p/toxics/bandwidth_UPSTREAM", ``)
	requireError(t, 400, "bad request body: EOF", st, b)
	d.must("GET", "/proxies/p/toxics/bandwidth_UPSTREAM", "", 200, nil)
	_, _, b = d.do("GET", "/proxies/p/toxics/bandwidth_UPSTREAM", "")
	require.Equal(t, `{"attributes":{"rate":1},"name":"bandwidth_UPSTREAM","type":"bandwidth","stream":"UPSTREAM","toxicity":1}`, string(b), "failed updates changed nothing")

	st, _, b = d.do("DELETE", "/proxies/p/toxics/bandwidth_UPSTREAM", "")
	require.Equal(t, 204, st)
	require.Empty(t, b)
	st, _, b = d.do("DELETE", "/proxies/p/toxics/bandwidth_UPSTREAM", "")
	requireError(t, 404, "toxic not found", st, b)
}

// Unknown paths and methods answer in the JSON error shape, browsers are
// refused as Toxiproxy refuses them, and bodies are bounded.
func TestRoutesAndRefusals(t *testing.T) {
	d := startDaemon(t)
	st, _, b := d.do("GET", "/nope", "")
	requireError(t, 404, "no such endpoint: /nope", st, b)
	st, _, b = d.do("GET", "/proxies/", "")
	requireError(t, 404, "no such endpoint: /proxies/", st, b)
	st, h, b := d.do("PUT", "/proxies", "")
	requireError(t, 405, "method PUT not allowed on /proxies (allowed: GET, POST)", st, b)
	require.Equal(t, "GET, POST", h.Get("Allow"))
	st, _, b = d.do("GET", "/reset", "")
	requireError(t, 405, "method GET not allowed on /reset (allowed: POST)", st, b)

	st, h, b = d.do("GET", "/proxies", "", "User-Agent", "Mozilla/5.0 (X11; Linux x86_64)")
	require.Equal(t, 403, st)
	require.Equal(t, "text/plain; charset=utf-8", h.Get("Content-Type"))
	require.Equal(t, "User agent not allowed\n", string(b))
	st, _, _ = d.do("GET", "/proxies", "", "User-Agent", "mozilla/5.0")
	require.Equal(t, 200, st, "only the exact prefix, as in Toxiproxy")

	big := `{"name":"` + strings.Repeat("x", 2<<20) + `"}`
	st, _, b = d.do("POST", "/proxies", big)
	requireError(t, 413, "bad request body: larger than 1048576 bytes", st, b)
	st, _, b = d.do("POST", "/proxies", `{"name":1}`)
	requireError(t, 400, "bad request body: json: cannot unmarshal number into Go struct field proxyConfig.name of type string", st, b)
	st, _, b = d.do("POST", "/proxies", `{"name":"x","upstream":"127.0.0.1:9"`)
	requireError(t, 400, "bad request body: truncated JSON", st, b)
	st, _, b = d.do("POST", "/proxies", `{"name":"x","upstream":"nowhere"}`)
	require.Equal(t, 400, st, "%s", b)
	require.Contains(t, string(b), "missing port in address")
	st, _, b = d.do("POST", "/proxies", `{"name":"x","upstream":"127.0.0.1:9","listen":"127.0.0.1:0","protocol":"smtp"}`)
	requireError(t, 400, `unknown protocol "smtp": want one of tcp, http, mysql, redis, postgres, memcached`, st, b)
}

// Populate creates or updates in order, answers an array even when empty,
// changes nothing on a bad element, and leaves an unchanged proxy (and its
// toxics and connections) alone.
func TestPopulate(t *testing.T) {
	d := startDaemon(t)
	echo := echoBackend(t)
	st, h, b := d.do("POST", "/populate", `[]`)
	require.Equal(t, 201, st)
	require.Equal(t, "application/json", h.Get("Content-Type"))
	require.Equal(t, `{"proxies":[]}`, string(b), "Toxiproxy answers null, which breaks its Ruby client")

	st, _, b = d.do("POST", "/populate", `{"name":"a"}`)
	require.Equal(t, 400, st)
	require.Equal(t, `{"error":"bad request body: json: cannot unmarshal object into Go value of type []main.proxyConfig","status":400,"proxies":[]}`, string(b))
	st, _, b = d.do("POST", "/populate", `[{"name":"a","upstream":"`+echo+`"},{"upstream":"`+echo+`"}]`)
	require.Equal(t, 400, st)
	require.Equal(t, `{"error":"missing required field: name at proxy 2","status":400,"proxies":[]}`, string(b))
	d.must("GET", "/proxies/a", "", 404, nil)

	var out struct{ Proxies []proxyJSON }
	d.must("POST", "/populate", `[{"name":"a","listen":"127.0.0.1:0","upstream":"`+echo+`"},{"name":"b","listen":"127.0.0.1:0","upstream":"`+echo+`","enabled":false}]`, 201, &out)
	require.Len(t, out.Proxies, 2)
	require.Equal(t, "a", out.Proxies[0].Name)
	require.True(t, out.Proxies[0].Enabled)
	require.False(t, out.Proxies[1].Enabled)
	a := out.Proxies[0]
	d.must("POST", "/proxies/a/toxics", `{"type":"latency","attributes":{"latency":1}}`, 200, nil)
	c := dial(t, a.Listen)
	roundTrip(t, c, "before")

	// The same proxy again (port 0 asks for any port, so the bound one
	// does): untouched. A new upstream for b: replaced.
	d.must("POST", "/populate", `[{"name":"a","listen":"127.0.0.1:0","upstream":"`+echo+`"},{"name":"b","listen":"127.0.0.1:0","upstream":"`+closedAddr(t)+`"}]`, 201, &out)
	require.Equal(t, a.Listen, out.Proxies[0].Listen)
	require.Len(t, out.Proxies[0].Toxics, 1)
	require.True(t, out.Proxies[1].Enabled, "b was replaced by a new proxy, enabled by default")
	roundTrip(t, c, "after: the connection survived")

	// Failure midway: the error, and what was done before it.
	st, _, b = d.do("POST", "/populate", `[{"name":"c","listen":"127.0.0.1:0","upstream":"`+echo+`"},{"name":"d","listen":"`+a.Listen+`","upstream":"`+echo+`"}]`)
	require.Equal(t, 500, st, "%s", b)
	var failed populateReply
	require.NoError(t, json.Unmarshal(b, &failed))
	require.Contains(t, failed.Error, "address already in use")
	require.Equal(t, 500, failed.Status)
	require.Len(t, failed.Proxies, 1)
	require.Equal(t, "c", failed.Proxies[0].Name)
}

// An update with a new address moves the proxy, keeping its toxics; one
// that cannot be bound changes nothing.
func TestProxyUpdate(t *testing.T) {
	d := startDaemon(t)
	echo := echoBackend(t)
	var px, other proxyJSON
	d.must("POST", "/proxies", `{"name":"p","listen":"127.0.0.1:0","upstream":"`+echo+`"}`, 201, &px)
	d.must("POST", "/proxies", `{"name":"q","listen":"127.0.0.1:0","upstream":"`+echo+`"}`, 201, &other)
	d.must("POST", "/proxies/p/toxics", `{"type":"latency","attributes":{"latency":100}}`, 200, nil)

	st, _, b := d.do("PATCH", "/proxies/p", `{"listen":"`+other.Listen+`"}`)
	require.Equal(t, 500, st)
	require.Contains(t, string(b), "address already in use")
	var now proxyJSON
	d.must("GET", "/proxies/p", "", 200, &now)
	require.Equal(t, px.Listen, now.Listen, "nothing changed")
	roundTrip(t, dial(t, px.Listen), "still there")

	newAddr := closedAddr(t)
	d.must("POST", "/proxies/p", `{"name":"ignored","listen":"`+newAddr+`"}`, 200, &now)
	require.Equal(t, "p", now.Name)
	require.Equal(t, newAddr, now.Listen)
	require.Len(t, now.Toxics, 1)
	took := roundTrip(t, dial(t, newAddr), "moved")
	require.GreaterOrEqual(t, took.Milliseconds(), int64(100), "with its toxic")
	requireRefused(t, px.Listen)

	d.must("PATCH", "/proxies/p", `{"upstream":"`+closedAddr(t)+`","enabled":false}`, 200, &now)
	require.False(t, now.Enabled)
	requireRefused(t, newAddr)
}
