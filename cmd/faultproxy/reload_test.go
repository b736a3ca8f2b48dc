package main

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Toxiproxy's config, as testcontainers writes it, starts its proxies.
func TestToxiproxyConfigFile(t *testing.T) {
	echo := echoBackend(t)
	addr := closedAddr(t)
	file := filepath.Join(t.TempDir(), "tc-toxiproxy.json")
	require.NoError(t, os.WriteFile(file, []byte(`[{"name":"db","listen":"`+addr+`","upstream":"`+echo+`","enabled":true}]`), 0o600))
	d := startDaemon(t, "-config", file)
	roundTrip(t, dial(t, addr), "configured")
	px, err := d.client().Proxy("db")
	require.NoError(t, err)
	require.Equal(t, addr, px.Listen)
}

// The native YAML config carries protocols, seeds, dial timeouts and
// behaviors; SIGHUP reloads it: new proxies are created, changed ones
// replaced, and untouched ones keep their connections. A broken file is
// logged and changes nothing.
func TestNativeConfigAndReload(t *testing.T) {
	echo, web := echoBackend(t), httpBackend(t)
	aAddr, webAddr := closedAddr(t), closedAddr(t)
	file := filepath.Join(t.TempDir(), "faultproxy.yaml")
	write := func(s string) { require.NoError(t, os.WriteFile(file, []byte(s), 0o600)) }
	// config writes the file: proxies a, web (with one behavior) and off
	// (enabled or not), then extra.
	config := func(webBehavior string, offEnabled bool, extra string) {
		write(fmt.Sprintf(`
proxies:
  - name: a
    listen: %s
    upstream: %s
  - name: web
    listen: %s
    upstream: %s
    protocol: http
    seed: 42
    dial_timeout: 1s
    behaviors:
      - %s
  - name: off
    listen: 127.0.0.1:0
    upstream: %s
    enabled: %v
%s`, aAddr, echo, webAddr, web, webBehavior, echo, offEnabled, extra))
	}
	config("Error(HTTPStatus(503)).Times(1)", false, "")
	d := startDaemon(t, "-config", file)

	require.Equal(t, 503, get(t, webAddr, "/"))
	require.Equal(t, 200, get(t, webAddr, "/"))
	var st statsJSON
	d.must("GET", "/proxies/web/stats", "", 200, &st)
	require.EqualValues(t, 42, st.Seed)
	var off proxyJSON
	d.must("GET", "/proxies/off", "", 200, &off)
	require.False(t, off.Enabled)
	requireRefused(t, off.Listen)

	kept := dial(t, aAddr)
	roundTrip(t, kept, "before the reload")
	d.must("POST", "/proxies/a/toxics", `{"name":"slow","type":"latency","attributes":{"latency":1}}`, 200, nil)

	// a unchanged; web gets a new behavior; off is enabled; b is new.
	bAddr := closedAddr(t)
	config("Error(HTTPStatus(429)).Times(1)", true, fmt.Sprintf("  - name: b\n    listen: %s\n    upstream: %s\n", bAddr, echo))
	require.NoError(t, d.cmd.Process.Signal(syscall.SIGHUP))
	d.waitCount("config loaded", 2, 10*time.Second)
	roundTrip(t, kept, "after the reload: the connection survived")
	var a proxyJSON
	d.must("GET", "/proxies/a", "", 200, &a)
	require.Len(t, a.Toxics, 1, "its toxics too")
	require.Equal(t, 429, get(t, webAddr, "/"))
	roundTrip(t, dial(t, bAddr), "new")
	roundTrip(t, dial(t, off.Listen), "enabled")

	write("proxies:\n  - name: a\n    upstreem: x\n")
	require.NoError(t, d.cmd.Process.Signal(syscall.SIGHUP))
	line := d.waitLog("config not reloaded", 10*time.Second)
	require.Contains(t, line["err"], "field upstreem not found")
	roundTrip(t, kept, "still there")
}

// A broken config file stops the daemon at start, saying why.
func TestBrokenConfigFailsAtStart(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(file, []byte("proxies:\n  - name: a\n    upstream: 127.0.0.1:1\n    behaviors: [\"Nope()\"]\n"), 0o600))
	code, _, stderr := runBinary(t, nil, "-config", file, "-api", "")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "behavior 1: ")
	code, _, stderr = runBinary(t, nil, "-config", filepath.Join(t.TempDir(), "missing.yaml"), "-api", "")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "no such file or directory")
}
