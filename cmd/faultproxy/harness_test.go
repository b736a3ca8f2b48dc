package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	"github.com/stretchr/testify/require"
)

// proc is a running faultproxy (or, for comparison, toxiproxy-server)
// process.
type proc struct {
	t    *testing.T
	cmd  *exec.Cmd
	api  string // host:port of the API
	http *http.Client

	mu     sync.Mutex
	logs   bytes.Buffer
	lines  []map[string]any // its JSON log lines
	waited chan struct{}    // closed when the process has exited
	err    error            // Wait's, once waited is closed
}

// startDaemon runs the binary with args, after "-api 127.0.0.1:0
// -log-format json -log-level debug" (which args may override), waits
// until its API listens, and stops it at cleanup, failing the test if it
// does not exit 0 on SIGTERM or if the race detector spoke.
func startDaemon(t *testing.T, args ...string) *proc {
	t.Helper()
	return startDaemonEnv(t, nil, args...)
}

// startDaemonEnv is startDaemon with env added to the environment.
func startDaemonEnv(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := launchEnv(t, env, binary(t), append([]string{"-api", "127.0.0.1:0", "-log-format", "json", "-log-level", "debug"}, args...)...)
	line := p.waitLog("api listening", 20*time.Second)
	p.api = line["addr"].(string)
	t.Cleanup(func() {
		if !p.exited() {
			code := p.stop(syscall.SIGTERM, 10*time.Second)
			if code != 0 {
				t.Errorf("faultproxy exited %d on SIGTERM; its log:\n%s", code, p.log())
			}
		}
		if strings.Contains(p.log(), "DATA RACE") {
			t.Errorf("the race detector found a race in faultproxy:\n%s", p.log())
		}
	})
	return p
}

// startServer starts the server the Toxiproxy-compatibility tests run
// against: faultproxy, or the toxiproxy-server binary that
// $FAULTPROXY_COMPARE_TOXIPROXY names, to show which of them fail there.
func startServer(t *testing.T, args ...string) *proc {
	t.Helper()
	bin := os.Getenv("FAULTPROXY_COMPARE_TOXIPROXY")
	if bin == "" {
		return startDaemon(t, args...)
	}
	port := freePort(t)
	p := launch(t, bin, "-host", "127.0.0.1", "-port", port)
	p.api = "127.0.0.1:" + port
	deadline := time.Now().Add(10 * time.Second)
	for {
		if st, _, _ := p.tryDo("GET", "/version", ""); st == http.StatusOK {
			break
		}
		require.True(t, time.Now().Before(deadline), "toxiproxy-server did not answer: %s", p.log())
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(func() { p.stop(syscall.SIGTERM, 10*time.Second) })
	return p
}

func launch(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	return launchEnv(t, nil, bin, args...)
}

func launchEnv(t *testing.T, env []string, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{
		t:      t,
		cmd:    exec.Command(bin, args...),
		http:   &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}},
		waited: make(chan struct{}),
	}
	p.cmd.Env = append(os.Environ(), env...)
	stderr, err := p.cmd.StderrPipe()
	require.NoError(t, err)
	p.cmd.Stdout = lockedWriter{p}
	require.NoError(t, p.cmd.Start())
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.addLine(sc.Bytes())
		}
		p.err = p.cmd.Wait()
		close(p.waited)
	}()
	t.Cleanup(func() {
		p.http.CloseIdleConnections()
		if !p.exited() {
			p.cmd.Process.Kill()
			<-p.waited
		}
	})
	return p
}

type lockedWriter struct{ p *proc }

func (w lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.logs.Write(b)
}

func (p *proc) addLine(b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.logs.Write(b)
	p.logs.WriteByte('\n')
	var m map[string]any
	if json.Unmarshal(b, &m) == nil {
		p.lines = append(p.lines, m)
	}
}

// log returns what the process wrote so far.
func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// findLog returns the first JSON log line whose msg is msg, if any.
func (p *proc) findLog(msg string) map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.lines {
		if l["msg"] == msg {
			return l
		}
	}
	return nil
}

// countLog counts the JSON log lines whose msg is msg.
func (p *proc) countLog(msg string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, l := range p.lines {
		if l["msg"] == msg {
			n++
		}
	}
	return n
}

// waitCount waits up to d for n log lines whose msg is msg.
func (p *proc) waitCount(msg string, n int, d time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(d)
	for p.countLog(msg) < n {
		if p.exited() || time.Now().After(deadline) {
			p.t.Fatalf("fewer than %d %q in the log within %v:\n%s", n, msg, d, p.log())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runBinary runs the binary to its end, within 20 s, and returns its exit
// code, standard output and standard error.
func runBinary(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("faultproxy %v still running after 20 s", args)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

// waitLog waits up to d for a log line whose msg is msg.
func (p *proc) waitLog(msg string, d time.Duration) map[string]any {
	p.t.Helper()
	deadline := time.Now().Add(d)
	for {
		if l := p.findLog(msg); l != nil {
			return l
		}
		if p.exited() || time.Now().After(deadline) {
			p.t.Fatalf("no %q in the log within %v (exited: %v):\n%s", msg, d, p.exited(), p.log())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (p *proc) exited() bool {
	select {
	case <-p.waited:
		return true
	default:
		return false
	}
}

// stop sends sig and waits up to d for the exit; it returns the exit code
// (-1 if it had to be killed).
func (p *proc) stop(sig os.Signal, d time.Duration) int {
	p.cmd.Process.Signal(sig)
	select {
	case <-p.waited:
	case <-time.After(d):
		p.cmd.Process.Kill()
		<-p.waited
		return -1
	}
	return p.exitCode()
}

// wait waits up to d for the process to exit by itself and returns its
// exit code.
func (p *proc) wait(d time.Duration) int {
	p.t.Helper()
	select {
	case <-p.waited:
		return p.exitCode()
	case <-time.After(d):
		p.t.Fatalf("still running after %v:\n%s", d, p.log())
		return -1
	}
}

func (p *proc) exitCode() int {
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		return -1
	}
	return 0
}

// client returns a Toxiproxy Go client for the process.
func (p *proc) client() *toxiproxy.Client { return toxiproxy.NewClient(p.api) }

// tryDo sends one request to the API and returns the status, headers and
// body.
func (p *proc) tryDo(method, path, body string, headers ...string) (int, http.Header, []byte) {
	req, err := http.NewRequest(method, "http://"+p.api+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, []byte(err.Error())
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return 0, nil, []byte(err.Error())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// do is tryDo that fails the test on a transport error.
func (p *proc) do(method, path, body string, headers ...string) (int, http.Header, []byte) {
	p.t.Helper()
	st, h, b := p.tryDo(method, path, body, headers...)
	require.NotZero(p.t, st, "%s %s: %s", method, path, b)
	return st, h, b
}

// must sends a request that must get status want, and decodes the reply
// into out unless out is nil.
func (p *proc) must(method, path, body string, want int, out any) {
	p.t.Helper()
	st, _, b := p.do(method, path, body)
	require.Equal(p.t, want, st, "%s %s %s: %s", method, path, body, b)
	if out != nil {
		require.NoError(p.t, json.Unmarshal(b, out), "%s", b)
	}
}

// freePort returns a port nothing listens on right now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// closedAddr returns a loopback address where nothing listens.
func closedAddr(t *testing.T) string { return "127.0.0.1:" + freePort(t) }
