package bench

import (
	"errors"
	"testing"
	"time"
)

// The Benchmark functions run the same workloads as TestCompare under
// `go test -bench`, one sub-benchmark per row (BenchmarkUpload/plain, …), so
// that benchstat can compare runs. Besides ns/op and MB/s they report the
// proxy process's CPU (proxy-cpu-…) read from /proc; the direct row has none.

// BenchmarkUpload measures 64 KiB writes into the backend's sink.
func BenchmarkUpload(b *testing.B) {
	forEachRow(b, func(b *testing.B, be *backend, ep *endpoint) {
		u, err := dialUpload(ep.addr, be)
		if err != nil {
			b.Fatal(err)
		}
		cpu := startCPU(ep)
		b.SetBytes(chunkSize)
		for b.Loop() {
			if err := u.step(); err != nil {
				u.abort()
				b.Fatal(err)
			}
		}
		if err := u.finish(); err != nil {
			b.Fatal(err)
		}
		reportThroughput(b, ep, cpu, u.sent)
	})
}

// BenchmarkDownload measures 64 KiB reads from the backend's source.
func BenchmarkDownload(b *testing.B) {
	forEachRow(b, func(b *testing.B, _ *backend, ep *endpoint) {
		d, err := dialDownload(ep.addr)
		if err != nil {
			b.Fatal(err)
		}
		defer d.Close()
		cpu := startCPU(ep)
		b.SetBytes(chunkSize)
		for b.Loop() {
			if err := d.step(); err != nil {
				b.Fatal(err)
			}
		}
		reportThroughput(b, ep, cpu, d.got)
	})
}

// BenchmarkRoundTrip measures 64-byte echo round trips on one connection
// and reports their median as p50-µs.
func BenchmarkRoundTrip(b *testing.B) {
	forEachRow(b, func(b *testing.B, _ *backend, ep *endpoint) {
		p, err := dialPing(ep.addr)
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		samples := make([]time.Duration, 0, 1<<16)
		cpu := startCPU(ep)
		for b.Loop() {
			t0 := time.Now()
			if err := p.step(); err != nil {
				b.Fatal(err)
			}
			if len(samples) < maxRTTs {
				samples = append(samples, time.Since(t0))
			}
		}
		b.ReportMetric(us(percentile(samples, 50)), "p50-µs")
		if c, ok := cpu.since(); ok {
			b.ReportMetric(us(c)/float64(p.ops), "proxy-cpu-µs/op")
		}
	})
}

// BenchmarkConnect measures sequential connections: connect, echo one byte,
// close.
func BenchmarkConnect(b *testing.B) {
	forEachRow(b, func(b *testing.B, _ *backend, ep *endpoint) {
		n := 0
		cpu := startCPU(ep)
		for b.Loop() {
			if n >= maxConnects {
				b.Fatalf("more than %d connections in one run: lower -benchtime", maxConnects)
			}
			if err := connectOnce(ep.addr); err != nil {
				b.Fatal(err)
			}
			n++
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "conns/s")
		if c, ok := cpu.since(); ok {
			b.ReportMetric(us(c)/float64(n), "proxy-cpu-µs/op")
		}
	})
}

// forEachRow starts one backend and runs fn as a sub-benchmark for each row,
// each with its own freshly started proxy; Toxiproxy rows skip when its
// binary is absent.
func forEachRow(b *testing.B, fn func(*testing.B, *backend, *endpoint)) {
	be, err := startBackend()
	if err != nil {
		b.Fatal(err)
	}
	defer be.Close()
	for _, r := range rows {
		b.Run(r.name, func(b *testing.B) {
			ep, err := r.start(be.Addr())
			if errors.Is(err, errNoToxiproxy) {
				b.Skip(err)
			}
			if err != nil {
				b.Fatal(err)
			}
			defer func() {
				if err := ep.Close(); err != nil {
					b.Error(err)
				}
			}()
			fn(b, be, ep)
		})
	}
}

// cpuMark is a reading of a proxy's CPU time at the start of a benchmark.
type cpuMark struct {
	ep    *endpoint
	start time.Duration
	ok    bool
}

func startCPU(ep *endpoint) cpuMark {
	if ep.pid == 0 {
		return cpuMark{}
	}
	c, err := procCPU(ep.pid)
	return cpuMark{ep: ep, start: c, ok: err == nil}
}

// since returns the proxy CPU spent since the mark, after a short settle.
func (m cpuMark) since() (time.Duration, bool) {
	if !m.ok {
		return 0, false
	}
	time.Sleep(settle)
	c, err := procCPU(m.ep.pid)
	if err != nil {
		return 0, false
	}
	return c - m.start, true
}

func reportThroughput(b *testing.B, ep *endpoint, cpu cpuMark, bytes int64) {
	b.ReportMetric(float64(bytes)/mib/b.Elapsed().Seconds(), "MiB/s")
	if c, ok := cpu.since(); ok && bytes > 0 {
		b.ReportMetric(ms(c)/(float64(bytes)/mib), "proxy-cpu-ms/MiB")
	}
}
