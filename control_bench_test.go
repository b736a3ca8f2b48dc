package faults_test

import (
	"io"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gofaults/faults"
)

// BenchmarkControlUnderTraffic measures what a control call costs its
// caller while 8 connections stream as fast as they can through the proxy:
// each op is one Add or Remove of a named latency on the streams, which
// returns only once every streaming copy has taken the change up: half the
// ops take spliced floods off the splice, half put them back.
//
//	go test -run '^$' -bench ControlUnderTraffic -benchtime 200x .
func BenchmarkControlUnderTraffic(b *testing.B) {
	const streams = 8
	p, _ := newProxyToSink(b)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range streams {
		c := dial(b, p.Addr())
		wg.Go(func() { flood(c, stop) })
	}
	defer wg.Wait()
	defer close(stop)
	time.Sleep(50 * time.Millisecond) // let the floods reach full speed

	var adds, removes []time.Duration
	before, start := p.Stats().BytesUpstream, time.Now()
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		if i%2 == 0 {
			if err := p.Add("toggle", faults.Latency(time.Millisecond).Upstream()); err != nil {
				b.Fatal(err)
			}
			adds = append(adds, time.Since(start))
		} else {
			if err := p.Remove("toggle"); err != nil {
				b.Fatal(err)
			}
			removes = append(removes, time.Since(start))
		}
	}
	b.ReportMetric(float64(p.Stats().BytesUpstream-before)/(1<<20)/time.Since(start).Seconds(), "MiB/s")
	reportQuantiles(b, "add", adds)
	reportQuantiles(b, "remove", removes)
}

// reportQuantiles reports the median, 99th percentile and maximum of took,
// in microseconds, as metrics named after what.
func reportQuantiles(b *testing.B, what string, took []time.Duration) {
	if len(took) == 0 {
		return
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds()), what+"-p50-µs")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), what+"-p99-µs")
	b.ReportMetric(float64(took[len(took)-1].Microseconds()), what+"-max-µs")
}

// newProxyToSink starts a backend that reads and drops everything, and a
// proxy in front of it.
func newProxyToSink(tb testing.TB) (*faults.Proxy, *backend) {
	tb.Helper()
	sink := newBackend(tb, func(c net.Conn) {
		defer c.Close()
		io.Copy(io.Discard, c)
	})
	p, err := faults.NewProxy(sink.addr())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Close() })
	return p, sink
}

// flood writes to c until stop is closed, then closes c.
func flood(c net.Conn, stop <-chan struct{}) {
	defer c.Close()
	buf := make([]byte, 256<<10)
	for {
		select {
		case <-stop:
			return
		default:
		}
		c.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := c.Write(buf); err != nil {
			return
		}
	}
}
