package main

import (
	"net/http"

	"github.com/gofaults/faults"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics serves /metrics: each proxy's counters, read from the library
// at scrape time, the faults fired by behavior, counted as they fire, and
// the Go runtime and process collectors.
type metrics struct {
	reg    *prometheus.Registry
	faults *prometheus.CounterVec
}

var (
	descOpened = prometheus.NewDesc("faultproxy_connections_opened_total",
		"Connections the proxy accepted.", []string{"proxy"}, nil)
	descOpen = prometheus.NewDesc("faultproxy_connections_open",
		"Connections open through the proxy now.", []string{"proxy"}, nil)
	descBytes = prometheus.NewDesc("faultproxy_bytes_total",
		"Bytes forwarded, upstream (client to server) and downstream (server to client).", []string{"proxy", "direction"}, nil)
	descRequests = prometheus.NewDesc("faultproxy_requests_total",
		"Requests a protocol-aware proxy framed (zero on tcp).", []string{"proxy"}, nil)
	descDialFailures = prometheus.NewDesc("faultproxy_dial_failures_total",
		"Upstream dials that failed or timed out; each client was reset.", []string{"proxy"}, nil)
)

func newMetrics() *metrics {
	mt := &metrics{
		reg: prometheus.NewRegistry(),
		faults: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "faultproxy_faults_total",
			Help: "Faults fired, by proxy and behavior (in the syntax of the behaviors API).",
		}, []string{"proxy", "behavior"}),
	}
	mt.reg.MustRegister(
		mt.faults,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return mt
}

// watch adds d's proxies' counters to what is served.
func (mt *metrics) watch(d *daemon) { mt.reg.MustRegister(proxyCollector{d}) }

// onFault returns the library hook that counts the faults of the proxy
// called name.
func (mt *metrics) onFault(name string) func(faults.Event) {
	return func(e faults.Event) { mt.faults.WithLabelValues(name, e.Behavior).Inc() }
}

// forget drops a deleted proxy's fault counters.
func (mt *metrics) forget(name string) {
	mt.faults.DeletePartialMatch(prometheus.Labels{"proxy": name})
}

func (mt *metrics) handler() http.Handler {
	return promhttp.HandlerFor(mt.reg, promhttp.HandlerOpts{})
}

// proxyCollector reads each proxy's library counters when scraped.
type proxyCollector struct{ d *daemon }

func (c proxyCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descOpened, descOpen, descBytes, descRequests, descDialFailures} {
		ch <- d
	}
}

func (c proxyCollector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c.d.list() {
		m.mu.Lock()
		s := m.stats()
		m.mu.Unlock()
		counter := func(d *prometheus.Desc, v int64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), append([]string{m.name}, labels...)...)
		}
		counter(descOpened, s.ConnsTotal)
		ch <- prometheus.MustNewConstMetric(descOpen, prometheus.GaugeValue, float64(s.ConnsOpen), m.name)
		counter(descBytes, s.BytesUpstream, "upstream")
		counter(descBytes, s.BytesDownstream, "downstream")
		counter(descRequests, s.Requests)
		counter(descDialFailures, s.DialFailures)
	}
}
