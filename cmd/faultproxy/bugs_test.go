package main

import (
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	"github.com/stretchr/testify/require"
)

// Each test here fails on Toxiproxy 2.12 (run them against it with
// FAULTPROXY_COMPARE_TOXIPROXY=path/to/toxiproxy-server).

// A reset_peer toxic with toxicity 0 never fires: connections close with a
// FIN. Toxiproxy sets SO_LINGER 0 for any reset_peer on the chain, so every
// close becomes a reset (Toxiproxy issue 603).
func TestToxicityZeroNeverFires(t *testing.T) {
	d := startServer(t)
	px := proxyTo(t, d, sendBackend(t, []byte("bye")))
	_, err := px.AddToxic("never", "reset_peer", "downstream", 0, toxiproxy.Attributes{"timeout": 0})
	require.NoError(t, err)
	for range 5 {
		got, err, _ := readAll(dial(t, px.Listen), 10*time.Second)
		require.NoError(t, err, "a clean close, not a reset")
		require.Equal(t, "bye", string(got))
	}
}

// A connection's toxicity roll is never re-rolled: adding and removing
// another toxic leaves every open connection's outcome as it was.
// Toxiproxy rolls a toxic again on every open connection when the toxic
// after it in the chain is added or removed.
func TestToxicityIsNotRerolled(t *testing.T) {
	d := startServer(t, "-seed", "7")
	px := proxyTo(t, d, echoBackend(t))
	_, err := px.AddToxic("slow", "latency", "downstream", 0.5, toxiproxy.Attributes{"latency": 300})
	require.NoError(t, err)
	const n = 16
	conns := make([]net.Conn, n)
	for i := range conns {
		conns[i] = dial(t, px.Listen)
	}
	slow := func() []bool {
		out := make([]bool, n)
		for i, c := range conns {
			out[i] = roundTrip(t, c, "x") >= 150*time.Millisecond
		}
		return out
	}
	before := slow()
	require.Contains(t, before, true, "toxicity 0.5 on 16 connections")
	require.Contains(t, before, false, "toxicity 0.5 on 16 connections")
	for range 3 {
		_, err := px.AddToxic("neighbour", "latency", "downstream", 1, toxiproxy.Attributes{"latency": 0})
		require.NoError(t, err)
		require.NoError(t, px.RemoveToxic("neighbour"))
	}
	require.Equal(t, before, slow(), "which connections are slow did not change")
}

// A client that half-closes still gets the reply: the FIN is passed on
// and the other direction keeps flowing, with a toxic on the path or
// without. Toxiproxy closes both directions on the first EOF, and the
// reply is lost (Toxiproxy issue 199).
func TestHalfCloseKeepsTheReply(t *testing.T) {
	d := startServer(t)
	replier := backend(t, func(c *net.TCPConn) {
		req, _ := io.ReadAll(c) // until the client's FIN
		time.Sleep(50 * time.Millisecond)
		c.Write(append([]byte("reply:"), req...))
	})
	for _, tx := range [][]toxiproxy.Toxic{nil, {wantToxic("latency", "downstream", toxiproxy.Attributes{"latency": 20})}} {
		px := proxyTo(t, d, replier, tx...)
		c := dial(t, px.Listen)
		_, err := c.Write([]byte("hello"))
		require.NoError(t, err)
		require.NoError(t, c.CloseWrite())
		got, err, _ := readAll(c, 10*time.Second)
		require.NoError(t, err)
		require.Equal(t, "reply:hello", string(got), "toxics: %v", tx)
		require.NoError(t, px.Delete())
	}
}

// A client whose upstream cannot be dialed is reset, as a refused dial
// would be, not closed with an EOF that looks like a server hanging up
// (Toxiproxy issue 265).
func TestDialFailureIsAReset(t *testing.T) {
	d := startServer(t)
	px := proxyTo(t, d, closedAddr(t))
	err := readFrom(px.Listen)
	require.True(t, errors.Is(err, syscall.ECONNRESET), "want a reset, got %v", err)
}
