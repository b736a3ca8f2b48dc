package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// countingServer serves HTTP on loopback, answering every request with
// status and counting them.
func countingServer(t *testing.T, status int) (string, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(status)
		io.WriteString(w, r.URL.Path)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), &n
}

// The one-proxy mode's -capture records what passed, written out on
// SIGTERM: tshark reads every request of it, and faultproxy replay plays
// it at 4× against the server, every request reaching it with its
// recorded outcome (exit 0), or against a server that answers otherwise,
// every request a mismatch (exit 1).
func TestCaptureAndReplay(t *testing.T) {
	target, served := countingServer(t, http.StatusOK)
	capture := filepath.Join(t.TempDir(), "http.pcapng")
	addr := closedAddr(t)
	d := startDaemon(t, "-listen", addr, "-target", target, "-protocol", "http", "-capture", capture)
	var px proxyJSON
	d.must("GET", "/proxies/default", "", 200, &px)
	require.Equal(t, capture, px.Capture)

	const requests = 12
	tr := &http.Transport{}
	c := &http.Client{Timeout: 5 * time.Second, Transport: tr}
	start := time.Now()
	for i := range requests {
		if i == requests/2 {
			tr.CloseIdleConnections() // a second connection
		}
		resp, err := c.Get(fmt.Sprintf("http://%s/orders/%d", addr, i))
		require.NoError(t, err)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		time.Sleep(40 * time.Millisecond)
	}
	recorded := time.Since(start)
	tr.CloseIdleConnections()
	require.Equal(t, 0, d.stop(syscall.SIGTERM, 10*time.Second), d.log())
	written := d.findLog("capture written")
	require.NotNil(t, written, d.log())
	require.Equal(t, capture, written["file"])
	require.EqualValues(t, 0, written["dropped_bytes"])
	require.EqualValues(t, requests, served.Load())

	if tshark, err := exec.LookPath("tshark"); err == nil {
		_, port, _ := net.SplitHostPort(target)
		fields := func(filter, field string) []string {
			cmd := exec.Command(tshark, "-r", capture, "-d", "tcp.port=="+port+",http", "-Y", filter, "-T", "fields", "-e", field)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			require.NoError(t, err, "tshark: %s", stderr.String())
			return strings.Fields(string(out))
		}
		uris := fields("http.request", "http.request.uri")
		require.Len(t, uris, requests, "tshark found %q", uris)
		require.Equal(t, "/orders/0", uris[0])
		require.Len(t, fields("http.response.code == 200", "http.response.code"), requests)
		require.Empty(t, fields("tcp.analysis.flags && !tcp.analysis.window_update", "frame.number"), "tshark's TCP analysis flags packets")
	} else {
		t.Log("no tshark on PATH: the capture is checked by the replay only")
	}

	served.Store(0)
	replayStart := time.Now()
	code, stdout, stderr := runBinary(t, nil, "replay", "-speed", "4", "-protocol", "http", "-target", target, capture)
	took := time.Since(replayStart)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	require.EqualValues(t, requests, served.Load())
	require.Contains(t, stdout, "replay of http.pcapng")
	require.Contains(t, stdout, "replay of 2 http connections (12 requests) at 4×")
	require.Regexp(t, fmt.Sprintf(`(?m)^\s*requests\s+%d\b`, requests), stdout)
	require.Regexp(t, `(?m)^\s*mismatches\s+0\b`, stdout)
	t.Logf("recorded over %v, replayed at 4x in %v (the process's start included)", recorded.Round(time.Millisecond), took.Round(time.Millisecond))

	failing, failed := countingServer(t, http.StatusInternalServerError)
	page := filepath.Join(t.TempDir(), "report.html")
	code, stdout, stderr = runBinary(t, nil, "replay", "-speed", "4", "-protocol", "http", "-html", page, "-target", failing, capture)
	require.Equal(t, 1, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	require.EqualValues(t, requests, failed.Load())
	require.Regexp(t, fmt.Sprintf(`(?m)^\s*mismatches\s+%d\b`, requests), stdout)
	html, err := os.ReadFile(page)
	require.NoError(t, err)
	require.Contains(t, string(html), "<html")
}

// A capture that is not one, or is cut short, is a clear error and exit
// 3; a bad command line exit 2; neither dials the target.
func TestReplayBadInput(t *testing.T) {
	target, served := countingServer(t, http.StatusOK)
	dir := t.TempDir()
	notPcap := filepath.Join(dir, "not.pcapng")
	require.NoError(t, os.WriteFile(notPcap, []byte("GET / HTTP/1.1\r\n\r\n"), 0o600))
	code, _, stderr := runBinary(t, nil, "replay", "-target", target, notPcap)
	require.Equal(t, 3, code, stderr)
	require.Contains(t, stderr, "not a pcapng capture")

	code, _, stderr = runBinary(t, nil, "replay", "-target", target, filepath.Join(dir, "absent"))
	require.Equal(t, 3, code, stderr)
	require.Contains(t, stderr, "no such file")

	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{notPcap}, "-target is required"},
		{[]string{"-target", target}, "want one capture FILE"},
		{[]string{"-speed", "0", "-target", target, notPcap}, "-speed 0: want more than 0"},
		{[]string{"-protocol", "smtp", "-target", target, notPcap}, `unknown protocol "smtp"`},
		{[]string{"-loop", "0", "-target", target, notPcap}, "-loop 0 -copies 1: want each at least 1"},
	} {
		code, _, stderr := runBinary(t, nil, append([]string{"replay"}, c.args...)...)
		require.Equal(t, 2, code, "%v: %s", c.args, stderr)
		require.Contains(t, stderr, c.msg)
	}
	require.Zero(t, served.Load())
}

// The native config's capture: a reload or an API populate that keeps the
// proxy keeps its capture; a changed capture file replaces the proxy,
// writing the old file out; a proxy replaced for another reason with the
// same file appends to it, so that it holds both proxies' traffic.
func TestConfigCaptureAndReload(t *testing.T) {
	target, _ := countingServer(t, http.StatusOK)
	dir := t.TempDir()
	first, second := filepath.Join(dir, "first.pcapng"), filepath.Join(dir, "second.pcapng")
	file := filepath.Join(dir, "faultproxy.yaml")
	config := func(listen, capture, behavior string) {
		require.NoError(t, os.WriteFile(file, fmt.Appendf(nil, `
proxies:
  - name: web
    listen: %s
    upstream: %s
    protocol: http
    capture: %s
    behaviors: [%s]
`, listen, target, capture, behavior), 0o600))
	}
	addr := closedAddr(t)
	config(addr, first, "")
	d := startDaemon(t, "-config", file)
	reload := func(n int) {
		t.Helper()
		require.NoError(t, d.cmd.Process.Signal(syscall.SIGHUP))
		d.waitCount("config loaded", n, 10*time.Second)
	}
	require.Equal(t, 200, get(t, addr, "/first/1"))

	config(addr, first, `"Latency(1ms)"`)
	reload(2)
	d.must("POST", "/populate", `[{"name":"web","listen":"`+addr+`","upstream":"`+target+`","protocol":"http"}]`, 201, nil)
	var px proxyJSON
	d.must("GET", "/proxies/web", "", 200, &px)
	require.Equal(t, first, px.Capture)
	require.Zero(t, d.countLog("capture written"), "kept: %s", d.log())
	require.Zero(t, d.countLog("proxy replaced"))
	require.Equal(t, 200, get(t, addr, "/first/2"))

	config(addr, second, `"Latency(1ms)"`)
	reload(3)
	d.waitCount("capture written", 1, 10*time.Second)
	require.Equal(t, first, d.findLog("capture written")["file"])
	require.Equal(t, 200, get(t, addr, "/second/1"))

	moved := closedAddr(t)
	config(moved, second, `"Latency(1ms)"`)
	reload(4)
	d.waitCount("capture written", 2, 10*time.Second)
	require.Equal(t, 200, get(t, moved, "/second/2"))
	require.Equal(t, 0, d.stop(syscall.SIGTERM, 10*time.Second), d.log())
	require.Equal(t, 3, d.countLog("capture written"), d.log())

	for capture, want := range map[string]string{first: "2 http connections (2 requests)", second: "2 http connections (2 requests)"} {
		code, stdout, stderr := runBinary(t, nil, "replay", "-speed", "100", "-protocol", "http", "-target", target, capture)
		require.Equal(t, 0, code, "%s: %s%s", capture, stdout, stderr)
		require.Contains(t, stdout, want, capture)
	}
}
