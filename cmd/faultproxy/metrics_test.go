package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

// scrape reads /metrics and parses it as Prometheus does.
func scrape(t *testing.T, d *proc) map[string]*dto.MetricFamily {
	t.Helper()
	st, h, b := d.do("GET", "/metrics", "")
	require.Equal(t, 200, st)
	require.True(t, strings.HasPrefix(h.Get("Content-Type"), "text/plain; version=0.0.4"), h.Get("Content-Type"))
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(b))
	require.NoError(t, err)
	return fams
}

// value returns the value of the sample of fam whose labels are labels
// (name, value pairs), failing if there is none.
func value(t *testing.T, fams map[string]*dto.MetricFamily, fam string, labels ...string) float64 {
	t.Helper()
	f := fams[fam]
	require.NotNil(t, f, "no metric %s", fam)
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		}
	}
	t.Fatalf("no sample of %s with labels %v", fam, labels)
	return 0
}

// /metrics counts, per proxy, connections, bytes, requests, faults by
// behavior and dial failures, live, beside the Go runtime's metrics.
func TestMetrics(t *testing.T) {
	d := startDaemon(t)
	var tcp, web, dead proxyJSON
	d.must("POST", "/proxies", `{"name":"tcp","listen":"127.0.0.1:0","upstream":"`+echoBackend(t)+`"}`, 201, &tcp)
	d.must("POST", "/proxies", `{"name":"web","listen":"127.0.0.1:0","upstream":"`+httpBackend(t)+`","protocol":"http"}`, 201, &web)
	d.must("POST", "/proxies", `{"name":"dead","listen":"127.0.0.1:0","upstream":"`+closedAddr(t)+`"}`, 201, &dead)
	d.must("POST", "/proxies/tcp/toxics", `{"type":"latency","attributes":{"latency":1}}`, 200, nil)

	open := dial(t, tcp.Listen)
	roundTrip(t, open, "y")
	closed := dial(t, tcp.Listen)
	roundTrip(t, closed, strings.Repeat("x", 1000))
	closed.Close()
	d.must("PUT", "/proxies/web/behaviors", `["Error(HTTPStatus(503)).Times(1)"]`, 200, nil)
	get(t, web.Listen, "/")
	get(t, web.Listen, "/")
	readFrom(dead.Listen)

	// The closed connection's end is counted once the proxy has seen it.
	var fams map[string]*dto.MetricFamily
	deadline := time.Now().Add(5 * time.Second)
	for {
		fams = scrape(t, d)
		if value(t, fams, "faultproxy_connections_open", "proxy", "tcp") == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.EqualValues(t, 1, value(t, fams, "faultproxy_connections_open", "proxy", "tcp"))
	require.EqualValues(t, 2, value(t, fams, "faultproxy_connections_opened_total", "proxy", "tcp"))
	// The open connection's byte is counted by the end of its chunk
	// (see faults.Stats); the closed one's thousand are.
	require.InDelta(t, 1000, value(t, fams, "faultproxy_bytes_total", "proxy", "tcp", "direction", "upstream"), 1)
	require.InDelta(t, 1000, value(t, fams, "faultproxy_bytes_total", "proxy", "tcp", "direction", "downstream"), 1)
	require.EqualValues(t, 2, value(t, fams, "faultproxy_faults_total", "proxy", "tcp", "behavior", "Latency(1ms).Downstream()"))
	require.EqualValues(t, 2, value(t, fams, "faultproxy_requests_total", "proxy", "web"))
	require.EqualValues(t, 1, value(t, fams, "faultproxy_faults_total", "proxy", "web", "behavior", "Error(HTTPStatus(503)).Times(1)"))
	require.EqualValues(t, 1, value(t, fams, "faultproxy_dial_failures_total", "proxy", "dead"))
	require.NotZero(t, value(t, fams, "go_goroutines"))
	require.NotNil(t, fams["process_resident_memory_bytes"])

	d.must("DELETE", "/proxies/tcp", "", 204, nil)
	fams = scrape(t, d)
	for _, name := range []string{"faultproxy_connections_opened_total", "faultproxy_faults_total"} {
		for _, m := range fams[name].GetMetric() {
			for _, l := range m.Label {
				require.False(t, l.GetName() == "proxy" && l.GetValue() == "tcp", "%s of a deleted proxy", name)
			}
		}
	}
}
