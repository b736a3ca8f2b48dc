package faults

import (
	"io"
	"log/slog"
	"net/netip"
	"os"
	"testing"

	"github.com/gofaults/faults/internal/tcpcap"
)

// BenchmarkCaptureWriter measures the capture alone: a long HTTP response
// in 64 KiB reads, recorded, cut into segments and written to a file (to
// io.Discard with CAPTURE_DISCARD=1), until the capture is closed; its
// buffer holds all of it, so that nothing is left out.
func BenchmarkCaptureWriter(b *testing.B) {
	var w io.Writer = io.Discard
	if os.Getenv("CAPTURE_DISCARD") == "" {
		f, err := os.CreateTemp(b.TempDir(), "bench-*.pcapng")
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		w = f
	}
	chunk := make([]byte, 64<<10)
	var stats counters
	c := startCapture(&captureConfig{w: w, buffer: (b.N + 16) * (len(chunk) + 2*itemCost)}, HTTP(), "127.0.0.1:80", slog.New(slog.NewTextHandler(io.Discard, nil)), &stats)
	cs := c.open(1, netip.MustParseAddrPort("127.0.0.1:40000"))
	c.data(cs, tcpcap.Client, []byte("GET /big HTTP/1.1\r\nHost: x\r\n\r\n"))
	c.data(cs, tcpcap.Server, []byte("HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n"))
	b.SetBytes(int64(len(chunk)))
	b.ResetTimer()
	for range b.N {
		c.data(cs, tcpcap.Server, chunk)
	}
	c.end(cs, capClose, tcpcap.Server)
	if err := c.close(); err != nil {
		b.Fatal(err)
	}
	if d := stats.captureDropped.Load(); d > 0 {
		b.Fatalf("%d bytes dropped", d)
	}
}
