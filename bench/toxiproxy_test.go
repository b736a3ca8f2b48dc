package bench

import (
	"bytes"
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"fmt"
	"go/build"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// envToxiproxyBin overrides where the Toxiproxy server binary is looked for.
const envToxiproxyBin = "FAULTS_TOXIPROXY_BIN"

// errNoToxiproxy is returned (wrapped) when the Toxiproxy binary is absent;
// the Toxiproxy rows are then skipped.
var errNoToxiproxy = errors.New("Toxiproxy server binary not found; install it with " +
	"`go install github.com/Shopify/toxiproxy/v2/cmd/server@v2.12.0` or set " + envToxiproxyBin)

// toxiproxyBin returns the path of the Toxiproxy server binary: $FAULTS_TOXIPROXY_BIN,
// else `server` in $GOBIN, else in the first $GOPATH/bin (where go install puts it).
func toxiproxyBin() (string, error) {
	var path string
	switch {
	case os.Getenv(envToxiproxyBin) != "":
		path = os.Getenv(envToxiproxyBin)
	case os.Getenv("GOBIN") != "":
		path = filepath.Join(os.Getenv("GOBIN"), "server")
	default:
		gopath := filepath.SplitList(build.Default.GOPATH)
		if len(gopath) == 0 {
			return "", errNoToxiproxy
		}
		path = filepath.Join(gopath[0], "bin", "server")
	}
	if fi, err := os.Stat(path); err != nil || fi.IsDir() {
		return "", fmt.Errorf("%w (looked at %s)", errNoToxiproxy, path)
	}
	return path, nil
}

// toxiproxy is a Toxiproxy server process with one proxy in front of a
// target, driven over its HTTP API with plain net/http (no toxiproxy Go
// module). Its log level is set to error so that per-connection info logs do
// not count against its CPU.
type toxiproxy struct {
	cmd     *exec.Cmd
	api     string // http://127.0.0.1:PORT
	http    *http.Client
	addr    string // the proxy's listen address
	version string
	output  *capWriter
	exited  chan struct{}
}

// startToxiproxy starts the server on a free loopback port, waits until GET
// /version answers, creates a proxy listening on 127.0.0.1:0 in front of
// target and, if latency0, adds a latency toxic of 0 ms on each stream
// (upstream and downstream) so that every byte goes through a toxic.
func startToxiproxy(target string, latency0 bool) (*toxiproxy, error) {
	bin, err := toxiproxyBin()
	if err != nil {
		return nil, err
	}
	var last error
	for range 3 { // the free port can be taken between probe and bind
		tp, err := launchToxiproxy(bin)
		if err != nil {
			last = err
			continue
		}
		if err := tp.setup(target, latency0); err != nil {
			tp.Close()
			return nil, err
		}
		return tp, nil
	}
	return nil, last
}

func launchToxiproxy(bin string) (*toxiproxy, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	tp := &toxiproxy{
		api:    "http://127.0.0.1:" + strconv.Itoa(port),
		http:   &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}},
		output: &capWriter{max: 64 << 10},
		exited: make(chan struct{}),
	}
	tp.version = binaryVersion(bin)
	tp.cmd = exec.Command(bin, "-host", "127.0.0.1", "-port", strconv.Itoa(port))
	tp.cmd.Env = append(os.Environ(), "LOG_LEVEL=error")
	tp.cmd.Stdout = tp.output
	tp.cmd.Stderr = tp.output
	dieWithParent(tp.cmd)
	if err := tp.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		tp.cmd.Wait()
		close(tp.exited)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var v struct{ Version string }
		if err := tp.call("GET", "/version", nil, http.StatusOK, &v); err == nil {
			if tp.version == "" {
				tp.version = v.Version
			}
			return tp, nil
		}
		select {
		case <-tp.exited:
			return nil, fmt.Errorf("toxiproxy exited at start: %s", tp.output)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tp.Close()
			return nil, fmt.Errorf("toxiproxy did not answer GET /version within 10 s: %s", tp.output)
		}
	}
}

func (tp *toxiproxy) setup(target string, latency0 bool) error {
	var created struct{ Listen string }
	err := tp.call("POST", "/proxies", map[string]any{
		"name": "bench", "listen": "127.0.0.1:0", "upstream": target, "enabled": true,
	}, http.StatusCreated, &created)
	if err != nil {
		return err
	}
	tp.addr = created.Listen
	if !latency0 {
		return nil
	}
	for _, stream := range []string{"upstream", "downstream"} {
		err := tp.call("POST", "/proxies/bench/toxics", map[string]any{
			"name": "latency0_" + stream, "type": "latency", "stream": stream,
			"attributes": map[string]any{"latency": 0},
		}, http.StatusOK, nil)
		if err != nil {
			return err
		}
	}
	return nil
}

// call sends one API request with a JSON body and decodes a JSON answer.
func (tp *toxiproxy) call(method, path string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, tp.api+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := tp.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != want {
		return fmt.Errorf("toxiproxy %s %s: %s: %s", method, path, resp.Status, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func (tp *toxiproxy) Addr() string { return tp.addr }
func (tp *toxiproxy) PID() int     { return tp.cmd.Process.Pid }

// Close kills the server and waits for it to exit.
func (tp *toxiproxy) Close() error {
	tp.cmd.Process.Kill()
	<-tp.exited
	return nil
}

// binaryVersion returns the main module version recorded in a Go binary
// ("v2.12.0" for `go install …@v2.12.0`; GET /version says "git" then).
func binaryVersion(bin string) string {
	bi, err := buildinfo.ReadFile(bin)
	if err != nil || bi.Main.Version == "" || bi.Main.Version == "(devel)" {
		return ""
	}
	return bi.Main.Version
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
