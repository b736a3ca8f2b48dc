package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// toxiproxyCLI returns the path of toxiproxy-cli v2.12.0: on PATH, or in
// $(go env GOPATH)/bin, where `go install
// github.com/Shopify/toxiproxy/v2/cmd/cli@v2.12.0` puts it (named cli).
// Without it the test skips, or fails under FAULTS_REQUIRE_SERVICES=1.
func toxiproxyCLI(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("toxiproxy-cli"); err == nil {
		return p
	}
	if gopath, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		bin := filepath.Join(strings.TrimSpace(string(gopath)), "bin")
		for _, name := range []string{"toxiproxy-cli", "cli"} {
			p := filepath.Join(bin, name)
			if out, err := exec.Command(p, "--version").Output(); err == nil && strings.HasPrefix(string(out), "toxiproxy-cli") {
				return p
			}
		}
	}
	msg := "no toxiproxy-cli on PATH or in $(go env GOPATH)/bin: go install github.com/Shopify/toxiproxy/v2/cmd/cli@v2.12.0"
	if os.Getenv("FAULTS_REQUIRE_SERVICES") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// toxiproxy-cli v2.12.0, unchanged, creates, lists, inspects, toggles and
// deletes proxies and adds, updates and removes toxics.
func TestToxiproxyCLI(t *testing.T) {
	cli := toxiproxyCLI(t)
	d := startDaemon(t)
	echo := echoBackend(t)
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(cli, append([]string{"--host", "http://" + d.api}, args...)...)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "toxiproxy-cli %s: %s", strings.Join(args, " "), out)
		return string(out)
	}
	var px proxyJSON

	require.Contains(t, run("create", "-l", "127.0.0.1:0", "-u", echo, "db"), "Created new proxy db")
	d.must("GET", "/proxies/db", "", 200, &px)
	require.Contains(t, run("list"), "db\t"+px.Listen+"\t"+echo+"\tenabled")

	require.Contains(t, run("toxic", "add", "-t", "latency", "-a", "latency=200", "db"),
		"Added downstream latency toxic 'latency_downstream' on proxy 'db'")
	took := roundTrip(t, dial(t, px.Listen), "slow")
	require.GreaterOrEqual(t, took, 200*time.Millisecond)

	require.Contains(t, run("toxic", "update", "-n", "latency_downstream", "-a", "jitter=10", "db"), "Updated toxic")
	require.Contains(t, run("inspect", "db"), "latency_downstream\ttype=latency\tstream=downstream\ttoxicity=1.00\tattributes=[\tjitter=10\tlatency=200\t]")

	require.Contains(t, run("toxic", "add", "-t", "bandwidth", "-u", "--tox", "0.5", "-a", "rate=100", "-n", "bw", "db"), "Added upstream bandwidth toxic 'bw'")
	d.must("GET", "/proxies/db", "", 200, &px)
	require.Len(t, px.Toxics, 2)
	require.Equal(t, "bw", px.Toxics[0].Name, "upstream toxics first")
	require.Equal(t, "upstream", px.Toxics[0].Stream)
	require.EqualValues(t, 0.5, px.Toxics[0].Toxicity)

	require.Contains(t, run("toggle", "db"), "Proxy db is now disabled")
	requireRefused(t, px.Listen)
	require.Contains(t, run("toggle", "db"), "Proxy db is now enabled")
	roundTrip(t, dial(t, px.Listen), "again")

	require.Contains(t, run("toxic", "remove", "-n", "latency_downstream", "db"), "Removed toxic 'latency_downstream' on proxy 'db'")
	require.Contains(t, run("toxic", "delete", "-n", "bw", "db"), "Removed toxic 'bw'")
	d.must("GET", "/proxies/db/toxics", "", 200, &px.Toxics)
	require.Empty(t, px.Toxics)

	out, err := exec.Command(cli, "--host", "http://"+d.api, "toxic", "add", "-t", "slicer", "-a", "average_size=0", "db").CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "HTTP 400: invalid attribute average_size of slicer toxic")

	require.Contains(t, run("delete", "db"), "Deleted proxy db")
	d.must("GET", "/proxies/db", "", 404, nil)
}
