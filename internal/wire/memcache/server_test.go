package memcache

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/gofaults/faults/internal/testenv"
)

// startMemcached starts a private memcached on a free port of 127.0.0.1
// (TCP only) for the test and returns its address; it is stopped when the
// test ends. Without a memcached binary on PATH the test is skipped; one
// that does not start fails it under FAULTS_REQUIRE_SERVICES=1 and skips
// it otherwise.
func startMemcached(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("memcached")
	if err != nil {
		t.Skipf("no memcached on PATH: %v", err)
	}
	for attempt := 0; ; attempt++ {
		addr, stop, err := tryMemcached(path)
		if err == nil {
			t.Cleanup(stop)
			return addr
		}
		if attempt == 2 {
			testenv.Unavailable(t, fmt.Sprintf("memcached (%s) does not start: %v", path, err))
		}
	}
}

// tryMemcached starts memcached on a port that was free a moment ago and
// waits until it accepts connections.
func tryMemcached(path string) (addr string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	args := []string{"-p", strconv.Itoa(port), "-l", "127.0.0.1", "-U", "0"}
	if os.Geteuid() == 0 {
		args = append(args, "-u", "nobody")
	}
	cmd := exec.Command(path, args...)
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop = func() {
		cmd.Process.Kill()
		<-exited
	}
	addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			exited <- err
			stop()
			return "", nil, fmt.Errorf("memcached exited: %v", err)
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return addr, stop, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	return "", nil, fmt.Errorf("memcached on %s not accepting connections after 5s", addr)
}
