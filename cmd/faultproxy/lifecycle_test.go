package main

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestVersionAndBadCommandLines(t *testing.T) {
	code, stdout, _ := runBinary(t, nil, "-version")
	require.Equal(t, 0, code)
	require.Regexp(t, `^faultproxy \S+ \(Toxiproxy API 2\.12\.0\)\n$`, stdout)

	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"-log-format", "xml"}, `-log-format "xml": want text or json`},
		{[]string{"-log-level", "loud"}, `log level "loud"`},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"-listen", "127.0.0.1:0"}, "one-proxy mode needs both -listen and -target"},
		{[]string{"-behavior", "Stall()"}, "-protocol, -behavior and -capture apply to the one-proxy mode"},
		{[]string{"-seed", "x"}, `-seed "x": want an integer`},
		{[]string{"-nope"}, "flag provided but not defined: -nope"},
	} {
		code, _, stderr := runBinary(t, nil, c.args...)
		require.Equal(t, 2, code, "%v: %s", c.args, stderr)
		require.Contains(t, stderr, c.msg)
	}
	code, _, stderr := runBinary(t, nil, "-listen", "127.0.0.1:0", "-target", "127.0.0.1:9", "-behavior", "Latency(", "-api", "")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "behavior 1: ")
}

// SIGTERM and SIGINT close every proxy, and their connections, and exit 0
// within a few seconds, while clients stream through.
func TestSignalsStopCleanly(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		d := startDaemon(t)
		var px proxyJSON
		d.must("POST", "/proxies", `{"name":"p","listen":"127.0.0.1:0","upstream":"`+echoBackend(t)+`"}`, 201, &px)
		d.must("POST", "/proxies/p/toxics", `{"type":"latency","attributes":{"latency":10}}`, 200, nil)
		c := dial(t, px.Listen)
		roundTrip(t, c, "streaming")
		go func() { // keeps writing until the proxy closes
			for {
				if _, err := c.Write([]byte(strings.Repeat("z", 4096))); err != nil {
					return
				}
			}
		}()
		start := time.Now()
		require.Equal(t, 0, d.stop(sig, 5*time.Second), "%v: %s", sig, d.log())
		require.Less(t, time.Since(start), 3*time.Second)
		_, err, _ := readAll(c, 5*time.Second)
		require.NotContains(t, d.log(), "DATA RACE")
		_ = err // closed, with an EOF or a reset depending on what was unread
		requireRefused(t, px.Listen)
	}
}

// -listen and -target run one proxy, with a protocol and behaviors from
// the command line, named "default" in the API.
func TestOneProxyMode(t *testing.T) {
	addr := closedAddr(t)
	d := startDaemon(t, "-listen", addr, "-target", httpBackend(t), "-protocol", "http",
		"-behavior", "Error(HTTPStatus(503)).Times(1)", "-behavior", "Latency(100ms).Downstream()")
	var px proxyJSON
	d.must("GET", "/proxies/default", "", 200, &px)
	require.Equal(t, addr, px.Listen)
	require.Equal(t, "http", px.Protocol)
	start := time.Now()
	require.Equal(t, 503, get(t, addr, "/"))
	require.Equal(t, 200, get(t, addr, "/"))
	require.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)

	code, _, stderr := runBinary(t, nil, "-listen", "127.0.0.1:0", "-target", "127.0.0.1:9", "-protocol", "smtp", "-api", "")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, `unknown protocol \"smtp\"`)
}
