package main

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	"github.com/stretchr/testify/require"
)

// The Toxiproxy Go client, unchanged, drives every endpoint it has.
func TestToxiproxyClientDrivesEveryEndpoint(t *testing.T) {
	d := startDaemon(t)
	c := d.client()
	echo := echoBackend(t)

	v, err := c.Version()
	require.NoError(t, err)
	require.Equal(t, "{\"version\": \"2.12.0\"}\n", string(v))

	px, err := c.CreateProxy("db", "127.0.0.1:0", echo)
	require.NoError(t, err)
	require.NotEqual(t, "127.0.0.1:0", px.Listen, "listen is the bound address")
	require.True(t, px.Enabled)
	roundTrip(t, dial(t, px.Listen), "through the proxy")

	_, err = c.CreateProxy("db", "127.0.0.1:0", echo)
	var apiErr *toxiproxy.ApiError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, 409, apiErr.Status)
	require.Equal(t, "proxy already exists", apiErr.Message)

	lat, err := px.AddToxic("", "latency", "", 1, toxiproxy.Attributes{"latency": 100})
	require.NoError(t, err)
	require.Equal(t, "latency_downstream", lat.Name)
	require.Equal(t, "downstream", lat.Stream)
	require.Equal(t, toxiproxy.Attributes{"latency": 100.0, "jitter": 0.0}, lat.Attributes)

	_, err = px.AddToxic("bw", "bandwidth", "upstream", 0.5, toxiproxy.Attributes{"rate": 1000})
	require.NoError(t, err)
	_, err = px.AddToxic("bw", "latency", "downstream", 1, nil)
	require.ErrorContains(t, err, "toxic already exists")
	_, err = px.AddToxic("", "nonsense", "", 1, nil)
	require.ErrorContains(t, err, "invalid toxic type")

	upd, err := px.UpdateToxic("latency_downstream", -1, toxiproxy.Attributes{"jitter": 10})
	require.NoError(t, err)
	require.Equal(t, toxiproxy.Attributes{"latency": 100.0, "jitter": 10.0}, upd.Attributes, "attributes merge")
	require.EqualValues(t, 1, upd.Toxicity, "toxicity kept when not sent")

	toxics, err := px.Toxics()
	require.NoError(t, err)
	require.Len(t, toxics, 2)
	require.Equal(t, "bw", toxics[0].Name, "upstream toxics are listed first")
	require.Equal(t, "latency_downstream", toxics[1].Name)

	all, err := c.Proxies()
	require.NoError(t, err)
	require.Len(t, all["db"].ActiveToxics, 2)
	got, err := c.Proxy("db")
	require.NoError(t, err)
	require.Equal(t, px.Listen, got.Listen)

	require.NoError(t, px.RemoveToxic("bw"))
	require.ErrorContains(t, px.RemoveToxic("bw"), "toxic not found")

	require.NoError(t, px.Disable())
	require.False(t, px.Enabled)
	requireRefused(t, px.Listen)
	require.NoError(t, px.Enable())
	roundTrip(t, dial(t, px.Listen), "enabled again")

	populated, err := c.Populate([]toxiproxy.Proxy{
		{Name: "db", Listen: px.Listen, Upstream: echo, Enabled: true},
		{Name: "cache", Listen: "127.0.0.1:0", Upstream: echo, Enabled: true},
	})
	require.NoError(t, err)
	require.Len(t, populated, 2)
	got, err = c.Proxy("db")
	require.NoError(t, err)
	require.Len(t, got.ActiveToxics, 1, "an unchanged proxy keeps its toxics through populate")

	require.NoError(t, c.ResetState())
	got, err = c.Proxy("db")
	require.NoError(t, err)
	require.Empty(t, got.ActiveToxics)

	require.NoError(t, got.Delete())
	_, err = c.Proxy("db")
	require.ErrorContains(t, err, "proxy not found")
	requireRefused(t, px.Listen)
}

// A disabled proxy refuses new connections and closes the ones it had
// with a FIN, as Toxiproxy's does; enabled again, it listens on the same
// address with its toxics.
func TestDisabledProxyRefusesAndClosesItsConnections(t *testing.T) {
	d := startServer(t)
	px, err := d.client().CreateProxy("p", "127.0.0.1:0", echoBackend(t))
	require.NoError(t, err)
	_, err = px.AddToxic("lat", "latency", "downstream", 1, toxiproxy.Attributes{"latency": 50})
	require.NoError(t, err)
	open := dial(t, px.Listen)
	roundTrip(t, open, "before")

	require.NoError(t, px.Disable())
	b, err, _ := readAll(open, 5*time.Second)
	require.NoError(t, err, "the open connection ends with a FIN, not a reset")
	require.Empty(t, b)
	requireRefused(t, px.Listen)

	require.NoError(t, px.Enable())
	took := roundTrip(t, dial(t, px.Listen), "after")
	require.GreaterOrEqual(t, took, 50*time.Millisecond, "the toxic is still there")
}

// requireRefused checks that a dial to addr is refused.
func requireRefused(t *testing.T, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		c.Close()
	}
	require.True(t, errors.Is(err, syscall.ECONNREFUSED), "dial %s: want connection refused, got %v", addr, err)
}
