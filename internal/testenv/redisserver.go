package testenv

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// StartRedisServer starts a private redis-server for the test, on a free
// port of 127.0.0.1, with no persistence, its directory in t.TempDir(), and
// args (such as "--maxmemory", "1") after the defaults, so that they win.
// It returns the server's address once it answers PING (any reply will do:
// with --requirepass it answers NOAUTH), and kills it at cleanup.
//
// It skips the test if redis-server is not on PATH, or fails it under
// FAULTS_REQUIRE_SERVICES=1 (see RequireCommand).
func StartRedisServer(t testing.TB, args ...string) string {
	t.Helper()
	path := RequireCommand(t, "redis-server")
	dir := t.TempDir()
	var failures []string
	// The free port may be taken between its choice and the server's
	// bind: try a few.
	for attempt := 0; attempt < 4; attempt++ {
		addr, stop, err := tryRedisServer(path, dir, args)
		if err == nil {
			t.Cleanup(stop)
			return addr
		}
		failures = append(failures, err.Error())
	}
	t.Fatalf("redis-server %q did not start:\n%s", args, strings.Join(failures, "\n"))
	return ""
}

// tryRedisServer starts one redis-server on a port free a moment ago and
// waits, at most 10 s, for it to answer PING. On success it returns stop,
// which kills the server and waits for it; on failure the server is gone.
func tryRedisServer(path, dir string, args []string) (addr string, stop func(), err error) {
	return tryServer(path, func(port string) []string {
		return append([]string{"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir}, args...)
	}, pingRedis)
}

// tryServer starts the server at path on a port of 127.0.0.1 free a
// moment ago, with the arguments args gives for that port, and waits, at
// most 10 s, until ready says it answers at its address. On success it
// returns stop, which kills the server and waits for it; on failure the
// server is gone, and the error holds what it printed.
func tryServer(path string, args func(port string) []string, ready func(addr string) bool) (addr string, stop func(), err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	addr = net.JoinHostPort("127.0.0.1", port)

	cmd := exec.Command(path, args(port)...)
	var out bytes.Buffer // read only once the process has been waited for
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stop = func() {
		cmd.Process.Kill()
		<-exited
	}

	name := filepath.Base(path)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return "", nil, fmt.Errorf("port %s: %s exited (%v):\n%s", port, name, cmd.ProcessState, out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if ready(addr) {
			return addr, stop, nil
		}
	}
	stop()
	return "", nil, fmt.Errorf("port %s: %s not answering within 10 s:\n%s", port, name, out.String())
}

// pingRedis reports whether a server at addr answers PING with a RESP
// line, whatever it says.
func pingRedis(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && len(line) > 0 && (line[0] == '+' || line[0] == '-')
}
