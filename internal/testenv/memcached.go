package testenv

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The memcached server of the contract.
const (
	EnvMemcachedAddr     = "FAULTS_MEMCACHED_ADDR" // the memcached server, host:port
	DefaultMemcachedAddr = "127.0.0.1:11211"
)

// MemcachedAddrFromEnv returns the address of the tests' memcached
// server, FAULTS_MEMCACHED_ADDR or 127.0.0.1:11211, without checking it.
// For code that has no testing.TB (a TestMain); tests use MemcachedAddr.
func MemcachedAddrFromEnv() string {
	return fromEnv(EnvMemcachedAddr, DefaultMemcachedAddr)
}

// MemcachedAddr returns the address of the memcached server the tests use,
// FAULTS_MEMCACHED_ADDR or 127.0.0.1:11211, after checking that it answers
// "version" as memcached does. If nothing accepts a connection there, the
// test is skipped, or fails under FAULTS_REQUIRE_SERVICES=1; if something
// answers that is not memcached's text protocol, the test fails.
func MemcachedAddr(t testing.TB) string {
	t.Helper()
	addr := MemcachedAddrFromEnv()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		Unavailable(t, fmt.Sprintf("no memcached server at %s (set %s to host:port): %v", addr, EnvMemcachedAddr, err))
	}
	defer c.Close()
	if v, err := memcachedVersion(c); err != nil {
		t.Fatalf("server at %s (%s) does not answer as memcached: %q, %v", addr, EnvMemcachedAddr, v, err)
	}
	return addr
}

// memcachedVersion sends "version" on c and returns the answer's line,
// which must be VERSION and a version.
func memcachedVersion(c net.Conn) (string, error) {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("version\r\n")); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return line, err
	}
	v, ok := strings.CutPrefix(line, "VERSION ")
	if !ok || !strings.HasSuffix(v, "\r\n") {
		return line, fmt.Errorf("not a VERSION line")
	}
	return strings.TrimSuffix(v, "\r\n"), nil
}

// StartMemcached starts a private memcached for the test, on a free port of
// 127.0.0.1, TCP only, with args (such as "-m", "2" or "-I", "1m") after
// the defaults. It returns the server's address once it answers "version",
// and kills it at cleanup. As root, memcached runs as nobody (it refuses
// to run as root).
//
// It skips the test if memcached is not on PATH, or fails it under
// FAULTS_REQUIRE_SERVICES=1 (see RequireCommand).
func StartMemcached(t testing.TB, args ...string) string {
	t.Helper()
	path := RequireCommand(t, "memcached")
	var failures []string
	// The free port may be taken between its choice and the server's
	// bind: try a few.
	for attempt := 0; attempt < 4; attempt++ {
		addr, stop, err := tryMemcached(path, args)
		if err == nil {
			t.Cleanup(stop)
			return addr
		}
		failures = append(failures, err.Error())
	}
	t.Fatalf("memcached %q did not start:\n%s", args, strings.Join(failures, "\n"))
	return ""
}

// tryMemcached starts one memcached on a port free a moment ago and waits,
// at most 10 s, for it to answer "version" (see tryServer).
func tryMemcached(path string, args []string) (addr string, stop func(), err error) {
	return tryServer(path, func(port string) []string {
		all := []string{"-p", port, "-l", "127.0.0.1", "-U", "0"}
		if os.Geteuid() == 0 {
			all = append(all, "-u", "nobody")
		}
		return append(all, args...)
	}, func(addr string) bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		defer c.Close()
		_, err = memcachedVersion(c)
		return err == nil
	})
}

// MemcachedStep is one step of the memcached session the codec's tests
// keep in their testdata: what the client sent and what the server
// answered.
type MemcachedStep struct {
	Name           string
	Client, Server []byte
}

// ReadMemcachedSession returns the steps of the session recorded in dir
// (the memcached codec's testdata): session.client and session.server cut
// as session.steps says, one step a line, its name and its byte counts on
// each side.
func ReadMemcachedSession(tb testing.TB, dir string) []MemcachedStep {
	tb.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			tb.Fatal(err)
		}
		return b
	}
	client, server := read("session.client"), read("session.server")
	var steps []MemcachedStep
	for _, line := range strings.Split(strings.TrimSpace(string(read("session.steps"))), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			tb.Fatalf("session.steps: %q", line)
		}
		cl, err1 := strconv.Atoi(f[1])
		sl, err2 := strconv.Atoi(f[2])
		if err1 != nil || err2 != nil || cl > len(client) || sl > len(server) {
			tb.Fatalf("session.steps: %q", line)
		}
		steps = append(steps, MemcachedStep{f[0], client[:cl], server[:sl]})
		client, server = client[cl:], server[sl:]
	}
	if len(client) != 0 || len(server) != 0 {
		tb.Fatalf("session.steps leaves %d client and %d server bytes", len(client), len(server))
	}
	return steps
}
