package faults_test

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gofaults/faults"
	"github.com/gofaults/faults/internal/testenv"
)

// provokeMemcached sends cmd on c and returns the first line of the reply.
func provokeMemcached(c *rtConn, cmd string) string {
	c.t.Helper()
	c.send(cmd)
	return c.line()
}

// TestMemcachedCatalogFromServer provokes each error of the catalog from a
// real memcached and compares its bytes with the proxy's: a value over
// the item size limit, a full memory with eviction off, a data block
// longer than its line said, a length that is no number, an unknown
// command, and a server at its connection limit.
func TestMemcachedCatalogFromServer(t *testing.T) {
	// 2 MiB of memory, no eviction, items of at most 1 MiB.
	small := testenv.StartMemcached(t, "-m", "2", "-M", "-I", "1m")
	c := rtDial(t, small)
	big := strings.Repeat("x", 2<<20)
	check := func(reply faults.MemcachedReply, got string) {
		t.Helper()
		if want := string(faultsEncode(t, reply)); got != want {
			t.Errorf("%s: memcached sent %q, the proxy sends %q", reply, got, want)
		}
	}
	check(faults.MemcachedTooLarge, provokeMemcached(c, fmt.Sprintf("set big 0 0 %d\r\n%s\r\n", len(big), big)))
	check(faults.MemcachedBadDataChunk, provokeMemcached(c, "set k 0 0 1\r\nxx\r\n"))
	c.line() // ERROR, for the line after the block
	check(faults.MemcachedBadFormat, provokeMemcached(c, "set k 0 0 x\r\n"))
	check(faults.MemcachedError, provokeMemcached(c, "bogus\r\n"))
	// Fill the memory with 100 KiB values until memcached refuses one.
	value := strings.Repeat("v", 100<<10)
	oom := ""
	for i := 0; i < 200 && oom == ""; i++ {
		if line := provokeMemcached(c, fmt.Sprintf("set fill%d 0 0 %d\r\n%s\r\n", i, len(value), value)); line != "STORED\r\n" {
			oom = line
		}
	}
	check(faults.MemcachedOutOfMemory, oom)

	// A server at its connection limit (-c 20, one worker thread, so
	// that the limit is reached within a few connections).
	crowded := testenv.StartMemcached(t, "-c", "20", "-t", "1")
	refused := ""
	for i := 0; i < 40 && refused == ""; i++ {
		cc := rtDial(t, crowded)
		cc.c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if line, err := cc.r.ReadString('\n'); err == nil {
			refused = line
		}
	}
	check(faults.MemcachedTooManyConnections, refused)
}

// faultsEncode returns the bytes the proxy writes for reply, read from a
// proxy that answers every command with it (a connection for the greeting
// one).
func faultsEncode(t *testing.T, reply faults.MemcachedReply) []byte {
	t.Helper()
	p := newMemcachedProxy(t, memcachedAddr(t))
	mustSet(t, p, faults.Error(reply))
	c := rtDial(t, p.Addr())
	c.send("version\r\n")
	return []byte(c.line())
}

// TestMemcachedErrorsLeaveTheServerAsMemcachedDoes: a set or an ms that
// memcached refuses for lack of room removes the key's old value (so that
// no stale value outlives a failed write), an append refused so does not;
// the proxy's injected refusals leave the server in the same state.
func TestMemcachedErrorsLeaveTheServerAsMemcachedDoes(t *testing.T) {
	real := testenv.StartMemcached(t, "-I", "1m")
	big := strings.Repeat("x", 2<<20)
	for _, tc := range []struct {
		name    string
		command func(key, value string) string // the command storing value under key
		match   string                         // its name, for Command
	}{
		{"set", func(k, v string) string { return fmt.Sprintf("set %s 0 0 %d\r\n%s\r\n", k, len(v), v) }, "set"},
		{"set noreply", func(k, v string) string { return fmt.Sprintf("set %s 0 0 %d noreply\r\n%s\r\n", k, len(v), v) }, "set"},
		{"ms", func(k, v string) string { return fmt.Sprintf("ms %s %d\r\n%s\r\n", k, len(v), v) }, "ms"},
		{"ms quiet, base64 key", func(k, v string) string {
			return fmt.Sprintf("ms %s %d q b\r\n%s\r\n", base64.StdEncoding.EncodeToString([]byte(k)), len(v), v)
		}, "ms"},
		{"append", func(k, v string) string { return fmt.Sprintf("append %s 0 0 %d\r\n%s\r\n", k, len(v), v) }, "append"},
		{"add", func(k, v string) string { return fmt.Sprintf("add %s 0 0 %d\r\n%s\r\n", k, len(v), v) }, "add"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// memcached's own refusal.
			c := rtDial(t, real)
			const key = "k"
			c.exchange("set " + key + " 0 0 3 noreply\r\nold\r\n")
			realReply := c.exchange(tc.command(key, big))
			realAfter := c.exchange("get " + key + "\r\n")
			// The proxy's, on the tests' server.
			k := mcKeys(t, 1)
			p := newMemcachedProxy(t, "")
			mustSet(t, p, faults.Error(faults.MemcachedTooLarge).When(faults.Command(tc.match)))
			pc := rtDial(t, p.Addr())
			pc.exchange("set " + k[0] + " 0 0 3 noreply\r\nold\r\n")
			proxyReply := pc.exchange(tc.command(k[0], "new"))
			proxyAfter := strings.ReplaceAll(pc.exchange("get "+k[0]+"\r\n"), k[0], key)
			if proxyReply != realReply || proxyAfter != realAfter {
				t.Fatalf("memcached answered %q and then held %q; through the proxy %q, then %q", realReply, realAfter, proxyReply, proxyAfter)
			}
		})
	}
}
