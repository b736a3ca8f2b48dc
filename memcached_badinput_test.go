package faults_test

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gofaults/faults"
)

// TestMemcachedUnsupported: behaviors that cannot act on memcached, and
// memcached replies on other protocols, are refused by Set; bad memcached
// replies are invalid; nothing refused is installed.
func TestMemcachedUnsupported(t *testing.T) {
	mc := newProxy(t, "127.0.0.1:9", faults.WithProtocol(faults.Memcached()))
	rp := newProxy(t, "127.0.0.1:9", faults.WithProtocol(faults.Redis()))
	web := newProxy(t, "127.0.0.1:9", faults.WithProtocol(faults.HTTP()))
	tcp := newProxy(t, "127.0.0.1:9")
	for _, tc := range []struct {
		p *faults.Proxy
		b faults.Behavior
	}{
		{mc, faults.TruncateRows(1)},
		{mc, faults.Error(faults.RedisLoading)},
		{mc, faults.Error(faults.HTTPStatus(503))},
		{mc, faults.Error(faults.MemcachedTooManyConnections).When(faults.Command("get"))},
		{mc, faults.DelayResponse(time.Millisecond).When(faults.Query("^SELECT"))},
		{rp, faults.Error(faults.MemcachedOutOfMemory)},
		{web, faults.Error(faults.MemcachedError)},
		{tcp, faults.Error(faults.MemcachedServerError("x"))},
	} {
		checkUnsupported(t, tc.b.String(), tc.p.Set(tc.b))
	}
	for _, tc := range []struct {
		name  string
		reply faults.MemcachedReply
	}{
		{"zero", faults.MemcachedReply{}},
		{"empty server error", faults.MemcachedServerError("")},
		{"empty client error", faults.MemcachedClientError("")},
		{"CRLF", faults.MemcachedServerError("a\r\nb")},
		{"LF", faults.MemcachedClientError("a\nb")},
		{"too long", faults.MemcachedServerError(strings.Repeat("x", 1025))},
	} {
		checkInvalid(t, tc.name, mc.Set(faults.Error(tc.reply)))
	}
	if bs := mc.Behaviors(); len(bs) != 0 {
		t.Errorf("refused behaviors installed: %v", bs)
	}
	for reply, want := range map[faults.MemcachedReply]string{
		faults.MemcachedOutOfMemory:                               "MemcachedOutOfMemory",
		faults.MemcachedServerError("object too large for cache"): "MemcachedTooLarge",
		faults.MemcachedServerError("busy"):                       `MemcachedServerError("busy")`,
		faults.MemcachedClientError("bad command line format"):    "MemcachedBadFormat",
		faults.MemcachedClientError("x"):                          `MemcachedClientError("x")`,
		faults.MemcachedTooManyConnections:                        "MemcachedTooManyConnections",
		faults.MemcachedError:                                     "MemcachedError",
	} {
		if got := reply.String(); got != want {
			t.Errorf("String() = %s, want %s", got, want)
		}
	}
	if got := faults.MemcachedTooManyConnections.Line(); got != "ERROR Too many open connections" {
		t.Errorf("Line() = %q", got)
	}
}

// TestMemcachedTooManyConnections: the proxy refuses a connection as
// memcached at its limit does: the line at once, then the close, before
// the server hears of a command.
func TestMemcachedTooManyConnections(t *testing.T) {
	p := newMemcachedProxy(t, "")
	mustSet(t, p, faults.Error(faults.MemcachedTooManyConnections).Times(1))
	c := rtDial(t, p.Addr())
	c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(c.r)
	if err != nil || string(got) != "ERROR Too many open connections\r\n" {
		t.Fatalf("read %q, %v", got, err)
	}
	// The next connection is served.
	if got := rtDial(t, p.Addr()).exchange("version\r\n"); !strings.HasPrefix(got, "VERSION ") {
		t.Fatalf("next connection: %q", got)
	}
	// Through a downstream latency too: the line is not lost with the
	// pump that holds it.
	mustSet(t, p, faults.Error(faults.MemcachedTooManyConnections), faults.Latency(50*time.Millisecond).Downstream())
	c = rtDial(t, p.Addr())
	c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if got, err := io.ReadAll(c.r); err != nil || string(got) != "ERROR Too many open connections\r\n" {
		t.Fatalf("through latency: read %q, %v", got, err)
	}
	if n := p.Stats().Requests; n != 2 {
		t.Errorf("Stats().Requests = %d, want 2: the refused connection had none", n)
	}
}

// TestMemcachedGarbageFromClient: bytes from the client that are not the
// text protocol as the codec reads it (control characters in a line) end
// the framing: they reach the server as sent, its own
// answer comes back, and the proxy goes on serving other clients, framed.
func TestMemcachedGarbageFromClient(t *testing.T) {
	k := mcKeys(t, 1)
	p := newMemcachedProxy(t, "")
	mustSet(t, p, faults.Error(faults.MemcachedServerError("faulted")).When(faults.Command("version")))
	for _, garbage := range []string{"get a\x01b\r\n", "\x00\x01\x02\r\n", "set k\t0 0 1\r\nx\r\n"} {
		script := "version\r\n" + garbage + "version\r\nset " + k[0] + " 0 0 1\r\nx\r\n"
		direct, proxied := rtDial(t, memcachedAddr(t)), rtDial(t, p.Addr())
		direct.send(script)
		proxied.send(script)
		// The first version is framed, and faulted.
		if direct.line(); proxied.line() != "SERVER_ERROR faulted\r\n" {
			t.Fatal("the first command was not framed")
		}
		for i := 1; i < 4; i++ {
			if want, got := direct.line(), proxied.line(); got != want {
				t.Fatalf("%q, reply %d: %q, want the server's own %q, unframed", garbage, i, got, want)
			}
		}
	}
	c := rtDial(t, p.Addr())
	if got := c.exchange("version\r\n"); got != "SERVER_ERROR faulted\r\n" {
		t.Fatalf("another client: %q, want the fault: it is framed", got)
	}
}

// TestMemcachedGarbageFromServer: bytes from the server that are no reply
// pass through unframed, as do those it sends unasked (a server at its
// limit says so at once); if the proxy still owes the client a reply of
// its own, the connection closes instead.
func TestMemcachedGarbageFromServer(t *testing.T) {
	for _, tc := range []struct {
		name    string
		server  string // what the server writes once it has read a line
		miss    bool   // a Miss of key "missed" is installed
		want    string
		unasked bool // the server writes before reading
	}{
		{"not a reply", "HELLO\x00there\r\nmore", false, "HELLO\x00there\r\nmore", false},
		{"a VALUE line with no size", "VALUE k 0 x\r\n", false, "VALUE k 0 x\r\n", false},
		{"unasked", "ERROR Too many open connections\r\n", false, "ERROR Too many open connections\r\n", true},
		{"a reply of the proxy's owed", "HELLO\x00\r\n", true, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t, func(c net.Conn) {
				defer c.Close()
				if !tc.unasked {
					buf := make([]byte, 64)
					if _, err := c.Read(buf); err != nil {
						return
					}
				}
				io.WriteString(c, tc.server)
			})
			p := newMemcachedProxy(t, b.addr())
			if tc.miss {
				mustSet(t, p, faults.Miss().When(faults.Key("missed")))
			}
			c := rtDial(t, p.Addr())
			if !tc.unasked {
				// The miss is queued before the get reaches the server.
				c.send("get k\r\nget missed\r\n")
			}
			c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
			got, err := io.ReadAll(c.r)
			if err != nil && !isReset(err) || string(got) != tc.want {
				t.Fatalf("read %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
