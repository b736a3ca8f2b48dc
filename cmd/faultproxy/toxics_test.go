package main

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	"github.com/stretchr/testify/require"
)

// proxyTo creates a proxy to upstream with the toxic given, if any, through
// the Toxiproxy client.
func proxyTo(t *testing.T, d *proc, upstream string, toxics ...toxiproxy.Toxic) *toxiproxy.Proxy {
	t.Helper()
	px, err := d.client().CreateProxy(strings.ReplaceAll(t.Name(), "/", "."), "127.0.0.1:0", upstream)
	require.NoError(t, err)
	for _, tx := range toxics {
		_, err := px.AddToxic(tx.Name, tx.Type, tx.Stream, tx.Toxicity, tx.Attributes)
		require.NoError(t, err)
	}
	return px
}

func wantToxic(typ, stream string, attrs toxiproxy.Attributes) toxiproxy.Toxic {
	return toxiproxy.Toxic{Type: typ, Stream: stream, Toxicity: 1, Attributes: attrs}
}

// Each toxic, measured through the proxy.
func TestToxics(t *testing.T) {
	d := startServer(t)

	t.Run("latency adds its delay", func(t *testing.T) {
		px := proxyTo(t, d, echoBackend(t), wantToxic("latency", "downstream", toxiproxy.Attributes{"latency": 300}))
		c := dial(t, px.Listen)
		for range 3 {
			took := roundTrip(t, c, "ping")
			require.GreaterOrEqual(t, took, 300*time.Millisecond)
			require.Less(t, took, 3*time.Second)
		}
	})

	t.Run("bandwidth bounds throughput", func(t *testing.T) {
		data := bytes.Repeat([]byte("b"), 150_000)
		px := proxyTo(t, d, sendBackend(t, data), wantToxic("bandwidth", "downstream", toxiproxy.Attributes{"rate": 100}))
		start := time.Now()
		got, err, end := readAll(dial(t, px.Listen), 20*time.Second)
		require.NoError(t, err)
		require.Equal(t, data, got)
		// 150 kB at 100 kB/s: 1.5 s, less a burst of a few kB.
		require.GreaterOrEqual(t, end.Sub(start), 1200*time.Millisecond)
		require.Less(t, end.Sub(start), 10*time.Second)
	})

	t.Run("limit_data cuts at N bytes", func(t *testing.T) {
		data := bytes.Repeat([]byte("0123456789"), 500)
		px := proxyTo(t, d, sendBackend(t, data), wantToxic("limit_data", "downstream", toxiproxy.Attributes{"bytes": 1000}))
		got, err, _ := readAll(dial(t, px.Listen), 10*time.Second)
		require.NoError(t, err, "a clean close")
		require.Equal(t, data[:1000], got)
	})

	t.Run("reset_peer resets", func(t *testing.T) {
		px := proxyTo(t, d, sendBackend(t, []byte("greeting")), wantToxic("reset_peer", "downstream", toxiproxy.Attributes{"timeout": 0}))
		err := readFrom(px.Listen)
		require.True(t, errors.Is(err, syscall.ECONNRESET), "want a reset, got %v", err)
	})

	t.Run("reset_peer with a timeout resets after it", func(t *testing.T) {
		px := proxyTo(t, d, echoBackend(t), wantToxic("reset_peer", "upstream", toxiproxy.Attributes{"timeout": 500}))
		start := time.Now()
		c := dial(t, px.Listen)
		_, err := c.Write([]byte("hello"))
		require.NoError(t, err)
		got, err, end := readAll(c, 10*time.Second)
		require.True(t, errors.Is(err, syscall.ECONNRESET), "want a reset, got %v", err)
		require.Empty(t, got, "nothing passes the toxic's direction")
		require.GreaterOrEqual(t, end.Sub(start), 500*time.Millisecond)
	})

	t.Run("timeout holds then closes", func(t *testing.T) {
		px := proxyTo(t, d, echoBackend(t), wantToxic("timeout", "downstream", toxiproxy.Attributes{"timeout": 500}))
		start := time.Now()
		c := dial(t, px.Listen)
		_, err := c.Write([]byte("hello"))
		require.NoError(t, err)
		got, err, end := readAll(c, 10*time.Second)
		require.NoError(t, err, "a clean close")
		require.Empty(t, got, "the reply is held")
		require.GreaterOrEqual(t, end.Sub(start), 500*time.Millisecond)
		require.Less(t, end.Sub(start), 5*time.Second)
	})

	t.Run("slicer slices", func(t *testing.T) {
		data := bytes.Repeat([]byte("s"), 1000)
		px := proxyTo(t, d, sendBackend(t, data), wantToxic("slicer", "downstream",
			toxiproxy.Attributes{"average_size": 100, "size_variation": 0, "delay": 20_000}))
		c := dial(t, px.Listen)
		start := time.Now()
		reads, total := 0, 0
		buf := make([]byte, 4096)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			n, err := c.Read(buf)
			if n > 0 {
				reads++
				total += n
			}
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
		}
		require.Equal(t, len(data), total)
		require.GreaterOrEqual(t, reads, 5, "the data came in pieces")
		// Ten slices, 20 ms apart.
		require.GreaterOrEqual(t, time.Since(start), 9*20*time.Millisecond)
	})

	t.Run("timeout with toxicity stalls and closes the same connections", func(t *testing.T) {
		tx := wantToxic("timeout", "downstream", toxiproxy.Attributes{"timeout": 300})
		tx.Toxicity = 0.5
		px := proxyTo(t, d, echoBackend(t), tx)
		const conns = 16
		type outcome struct{ echoed, closed bool }
		outcomes := make([]outcome, conns)
		var wg sync.WaitGroup
		for i := range conns {
			c := dial(t, px.Listen)
			wg.Go(func() {
				c.SetDeadline(time.Now().Add(1500 * time.Millisecond))
				c.Write([]byte("ping"))
				buf := make([]byte, 4)
				_, err := io.ReadFull(c, buf)
				outcomes[i].echoed = err == nil
				// The toxic closes at 300 ms; a connection it spared
				// stays open until the deadline.
				_, err = c.Read(buf)
				outcomes[i].closed = err == io.EOF
			})
		}
		wg.Wait()
		toxic := 0
		for i, o := range outcomes {
			require.NotEqual(t, o.echoed, o.closed, "connection %d: echoed %v, closed by the toxic %v: half a toxic", i, o.echoed, o.closed)
			if o.closed {
				toxic++
			}
		}
		require.Greater(t, toxic, 0, "toxicity 0.5 acted on none of %d connections", conns)
		require.Less(t, toxic, conns, "toxicity 0.5 acted on every one of %d connections", conns)
	})

	t.Run("slicer varies its slices", func(t *testing.T) {
		data := bytes.Repeat([]byte("v"), 2000)
		px := proxyTo(t, d, sendBackend(t, data), wantToxic("slicer", "downstream",
			toxiproxy.Attributes{"average_size": 100, "size_variation": 40, "delay": 30_000}))
		c := dial(t, px.Listen)
		sizes := map[int]bool{}
		total := 0
		buf := make([]byte, 4096)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			n, err := c.Read(buf)
			if n > 0 {
				total += n
				sizes[n] = true
				require.LessOrEqual(t, n, 140, "a slice of at most average_size + size_variation")
			}
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
		}
		require.Equal(t, len(data), total)
		require.GreaterOrEqual(t, len(sizes), 3, "slices of several sizes: %v", sizes)
	})

	t.Run("slow_close delays the close", func(t *testing.T) {
		px := proxyTo(t, d, sendBackend(t, []byte("bye")), wantToxic("slow_close", "downstream", toxiproxy.Attributes{"delay": 500}))
		start := time.Now()
		got, err, end := readAll(dial(t, px.Listen), 10*time.Second)
		require.NoError(t, err)
		require.Equal(t, "bye", string(got))
		require.GreaterOrEqual(t, end.Sub(start), 500*time.Millisecond)
	})

	t.Run("noop passes", func(t *testing.T) {
		px := proxyTo(t, d, echoBackend(t), wantToxic("noop", "upstream", nil))
		roundTrip(t, dial(t, px.Listen), "through")
	})
}

// A timeout toxic with timeout 0 holds the bytes until it is removed, and
// then delivers them (Toxiproxy drops them and closes the connection).
func TestTimeoutZeroHoldsUntilRemoved(t *testing.T) {
	d := startDaemon(t)
	px := proxyTo(t, d, echoBackend(t))
	c := dial(t, px.Listen)
	roundTrip(t, c, "first")
	_, err := px.AddToxic("hold", "timeout", "downstream", 1, toxiproxy.Attributes{"timeout": 0})
	require.NoError(t, err)
	_, err = c.Write([]byte("held"))
	require.NoError(t, err)
	c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	n, err := c.Read(make([]byte, 4))
	require.Zero(t, n)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	require.True(t, ne.Timeout(), "nothing comes while the toxic holds: %v", err)

	require.NoError(t, px.RemoveToxic("hold"))
	buf := make([]byte, 4)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = io.ReadFull(c, buf)
	require.NoError(t, err)
	require.Equal(t, "held", string(buf))
	roundTrip(t, c, "after")
}
