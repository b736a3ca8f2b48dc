package faults_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/gofaults/faults"
	"github.com/gofaults/faults/internal/testenv"
)

// The tests of this file prove that a memcached proxy with no fault
// installed is transparent: what clients get through it is what the
// server sent, byte for byte, whatever the commands, their pipelining and
// how their bytes are cut.

// memcachedAddr returns the address of the tests' memcached server, or
// skips or fails the test: see testenv.MemcachedAddr.
func memcachedAddr(t testing.TB) string {
	t.Helper()
	return testenv.MemcachedAddr(t)
}

// newMemcachedProxy starts a memcached-aware proxy to target (the tests'
// server if ""), closed at cleanup (see guardedProxy).
func newMemcachedProxy(t testing.TB, target string, opts ...faults.Option) *faults.Proxy {
	t.Helper()
	if target == "" {
		target = memcachedAddr(t)
	}
	return guardedProxy(t, target, append([]faults.Option{faults.WithProtocol(faults.Memcached())}, opts...)...)
}

// newMemcacheClient returns a gomemcache client of addr with a 5 s timeout,
// closed at cleanup.
func newMemcacheClient(t testing.TB, addr string) *memcache.Client {
	t.Helper()
	c := memcache.New(addr)
	c.Timeout = 5 * time.Second
	t.Cleanup(func() { c.Close() })
	return c
}

var mcKeySerial atomic.Int64

// mcKeys returns n keys unique to the test run, deleted from the tests'
// server at cleanup.
func mcKeys(t testing.TB, n int) []string {
	t.Helper()
	prefix := fmt.Sprintf("faults:test:%d:%d:%d:", os.Getpid(), time.Now().UnixNano()%1e9, mcKeySerial.Add(1))
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("%sk%d", prefix, i)
	}
	direct := newMemcacheClient(t, memcachedAddr(t))
	t.Cleanup(func() {
		for _, k := range keys {
			direct.Delete(k)
		}
	})
	return keys
}

// line reads one line, CRLF included.
func (c *rtConn) line() string {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	l, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read after %q: %v", l, err)
	}
	return l
}

// untilMN reads until n replies to mn have come (lines MN alone), and
// returns what it read, the last MN included.
func (c *rtConn) untilMN(n int) string {
	c.t.Helper()
	var b strings.Builder
	for range 1 << 20 {
		l := c.line()
		b.WriteString(l)
		if l == "MN\r\n" {
			if n--; n == 0 {
				return b.String()
			}
		}
	}
	c.t.Fatalf("not enough MN in %d bytes", b.Len())
	return ""
}

// exchange sends s followed by mn and returns what came back before that
// mn's MN.
func (c *rtConn) exchange(s string) string {
	c.t.Helper()
	c.send(s + "mn\r\n")
	return strings.TrimSuffix(c.untilMN(strings.Count(s, "mn\r\n")+1), "MN\r\n")
}

// bigValue is a value of n bytes that holds what a framer could mistake
// for protocol: CRLFs, an END line, a VALUE line, an EN.
func bigValue(n int) string {
	chunk := "END\r\nVALUE x 0 1\r\nEN\r\nSTORED\r\n\n\r"
	return strings.Repeat(chunk, n/len(chunk)+1)[:n]
}

// memcachedScript is one command of every family memcached's text
// protocol has, on the keys k: storage commands with and without noreply,
// a 256 KiB value holding protocol lines, multi-key gets, cas, incr and
// decr, touch, gat and gats, delete, the meta commands with their flags
// and quiet mode, stats, version, verbosity, and what memcached refuses (an
// unknown command, a bad data chunk, a length that is no number, an empty
// line). Each entry is one command; run in order they end where mn is
// answered.
func memcachedScript(k []string) []string {
	big := bigValue(256 << 10)
	return []string{
		"set " + k[0] + " 5 0 5\r\nhello\r\n",
		fmt.Sprintf("set %s 0 0 %d\r\n%s\r\n", k[1], len(big), big),
		"add " + k[0] + " 0 0 1\r\nx\r\n",
		"replace " + k[2] + " 0 0 1\r\nx\r\n",
		"append " + k[0] + " 0 0 3\r\n!!!\r\n",
		"prepend " + k[0] + " 0 0 2\r\n>>\r\n",
		"set " + k[3] + " 0 0 1 noreply\r\n7\r\n",
		"get " + k[0] + " " + k[1] + " " + k[2] + " " + k[3] + "\r\n",
		"gets " + k[0] + "\r\n",
		"incr " + k[3] + " 5\r\n",
		"decr " + k[3] + " 2 noreply\r\n",
		"decr " + k[3] + " 1\r\n",
		"incr " + k[2] + " 1\r\n",
		"incr " + k[0] + " 1\r\n",
		"touch " + k[0] + " 100\r\n",
		"gat 100 " + k[0] + " " + k[2] + "\r\n",
		"gats 100 " + k[3] + "\r\n",
		"cas " + k[0] + " 0 0 1 1\r\nz\r\n",
		"cas " + k[2] + " 0 0 1 1\r\nz\r\n",
		"delete " + k[2] + "\r\n",
		"delete " + k[3] + " noreply\r\n",
		"ms " + k[4] + " 2 T0 F3 O11\r\nhi\r\n",
		"ms " + k[4] + " 2 q\r\nho\r\n",
		"mg " + k[4] + " v k f t s O12\r\n",
		"mg " + k[5] + " v q\r\n",
		"mg " + k[5] + " v O13 k\r\n",
		"mg " + k[4] + " v q k\r\n",
		"ma " + k[6] + " N0 J5 v\r\n",
		"ma " + k[6] + " q\r\n",
		"ma " + k[6] + " v\r\n",
		"md " + k[4] + " q\r\n",
		"md " + k[4] + "\r\n",
		"mn\r\n",
		"stats\r\n",
		"stats slabs\r\n",
		"stats settings\r\n",
		"version\r\n",
		"verbosity 0\r\n",
		"bogus command\r\n",
		"GET " + k[0] + "\r\n",
		"set " + k[5] + " 0 0 3\r\nabcde\r\n",
		"set " + k[5] + " 0 0 x\r\nabc\r\n",
		"\r\n",
		"get " + k[0] + "\n",
		"delete " + k[0] + "\r\n",
		"delete " + k[1] + "\r\n",
	}
}

// TestMemcachedTransparent runs memcachedScript through a memcached proxy
// in front of a recorder of what crosses to the server: the server must
// read exactly what the client wrote, and the client exactly what the
// server wrote, whether the script is written in one piece (a pipeline),
// command by command with each reply read (stats differ between runs,
// so the two are compared with the recording of their own run), or a few
// bytes at a time.
func TestMemcachedTransparent(t *testing.T) {
	for _, mode := range []string{"pipelined", "one by one", "dribbled"} {
		t.Run(mode, func(t *testing.T) {
			k := mcKeys(t, 7)
			rec := testenv.NewRecorder(t, memcachedAddr(t), nil)
			p := newMemcachedProxy(t, rec.Addr())
			c := rtDial(t, p.Addr())
			script := memcachedScript(k)
			var sent, got strings.Builder
			switch mode {
			case "pipelined":
				all := strings.Join(script, "")
				sent.WriteString(all + "mn\r\n")
				got.WriteString(c.exchange(all) + "MN\r\n")
			case "one by one":
				for _, cmd := range script {
					sent.WriteString(cmd + "mn\r\n")
					got.WriteString(c.exchange(cmd) + "MN\r\n")
				}
			case "dribbled":
				all := strings.Join(script, "") + "mn\r\n"
				sent.WriteString(all)
				go func() {
					for i := 0; i < len(all); i += 7 {
						c.c.Write([]byte(all[i:min(i+7, len(all))]))
					}
				}()
				got.WriteString(c.untilMN(strings.Count(all, "mn\r\n")))
			}
			c.c.Close()
			rec.Close()
			recs := rec.Recordings()
			if len(recs) != 1 {
				t.Fatalf("%d connections reached the server, want 1", len(recs))
			}
			toServer, fromServer := recs[0].Streams()
			if string(toServer) != sent.String() {
				t.Errorf("the server read %d bytes, not the %d the client sent%s", len(toServer), sent.Len(), whereParted(string(toServer), sent.String()))
			}
			if string(fromServer) != got.String() {
				t.Errorf("the client read %d bytes, not the %d the server sent%s", got.Len(), len(fromServer), whereParted(got.String(), string(fromServer)))
			}
			if !strings.Contains(got.String(), "VALUE "+k[1]+" 0 262144\r\n"+bigValue(256<<10)+"\r\n") {
				t.Error("the 256 KiB value did not come back whole")
			}
		})
	}
}

// sentToServer returns what the recorder's server read, all connections
// in the order they were accepted. Call it once the recorder is closed.
func sentToServer(rec *testenv.Recorder) string {
	var sent strings.Builder
	for _, r := range rec.Recordings() {
		toServer, _ := r.Streams()
		sent.Write(toServer)
	}
	return sent.String()
}

// whereParted shows where a and b part.
func whereParted(a, b string) string {
	i := firstDiff([]byte(a), []byte(b))
	return fmt.Sprintf(": they part at byte %d: %q vs %q", i, a[i:min(i+60, len(a))], b[i:min(i+60, len(b))])
}

// TestMemcachedGomemcache runs every call of gomemcache through the proxy
// and checks each result against what the server holds, read directly.
func TestMemcachedGomemcache(t *testing.T) {
	k := mcKeys(t, 5)
	p := newMemcachedProxy(t, "")
	c := newMemcacheClient(t, p.Addr())
	direct := newMemcacheClient(t, memcachedAddr(t))
	check := func(what string, err, want error) {
		t.Helper()
		if !errors.Is(err, want) && !(want == nil && err == nil) {
			t.Fatalf("%s: %v, want %v", what, err, want)
		}
	}
	check("Ping", c.Ping(), nil)
	check("Set", c.Set(&memcache.Item{Key: k[0], Value: []byte("v0"), Flags: 42}), nil)
	check("Add existing", c.Add(&memcache.Item{Key: k[0], Value: []byte("x")}), memcache.ErrNotStored)
	check("Add", c.Add(&memcache.Item{Key: k[1], Value: []byte("10")}), nil)
	check("Replace absent", c.Replace(&memcache.Item{Key: k[2], Value: []byte("x")}), memcache.ErrNotStored)
	check("Append", c.Append(&memcache.Item{Key: k[0], Value: []byte("+a")}), nil)
	check("Prepend", c.Prepend(&memcache.Item{Key: k[0], Value: []byte("p+")}), nil)
	it, err := c.Get(k[0])
	if err != nil || string(it.Value) != "p+v0+a" || it.Flags != 42 {
		t.Fatalf("Get: %+v, %v", it, err)
	}
	_, err = c.Get(k[2])
	check("Get absent", err, memcache.ErrCacheMiss)
	it.Value = []byte("cas1")
	check("CompareAndSwap", c.CompareAndSwap(it), nil)
	check("CompareAndSwap stale", c.CompareAndSwap(it), memcache.ErrCASConflict)
	n, err := c.Increment(k[1], 5)
	check("Increment", err, nil)
	if n != 15 {
		t.Fatalf("Increment: %d, want 15", n)
	}
	n, err = c.Decrement(k[1], 20)
	check("Decrement", err, nil)
	if n != 0 {
		t.Fatalf("Decrement below zero: %d, want 0 (stored as \"0 \": memcached keeps the length)", n)
	}
	_, err = c.Increment(k[2], 1)
	check("Increment absent", err, memcache.ErrCacheMiss)
	check("Touch", c.Touch(k[0], 100), nil)
	it, err = c.GetAndTouch(k[0], 100)
	if err != nil || string(it.Value) != "cas1" {
		t.Fatalf("GetAndTouch: %+v, %v", it, err)
	}
	big := bytes.Repeat([]byte("0123456789\r\n"), 80<<10/12)
	check("Set big", c.Set(&memcache.Item{Key: k[3], Value: big}), nil)
	many, err := c.GetMulti([]string{k[0], k[1], k[2], k[3]})
	if err != nil || len(many) != 3 || many[k[3]] == nil || !bytes.Equal(many[k[3]].Value, big) || many[k[1]] == nil || string(many[k[1]].Value) != "0 " {
		t.Fatalf("GetMulti: %d items (%v), %v", len(many), many[k[1]], err)
	}
	check("Delete", c.Delete(k[3]), nil)
	check("Delete absent", c.Delete(k[3]), memcache.ErrCacheMiss)
	if it, err := direct.Get(k[0]); err != nil || string(it.Value) != "cas1" {
		t.Fatalf("the server holds %+v, %v", it, err)
	}
	if got := p.Stats().Requests; got < 20 {
		t.Errorf("Stats().Requests = %d, want a command each", got)
	}
}

// TestMemcachedBinaryPassesThrough: a client of the binary protocol
// (deprecated, still served by memcached) is passed through as it is.
func TestMemcachedBinaryPassesThrough(t *testing.T) {
	p := newMemcachedProxy(t, "")
	mustSet(t, p, faults.Error(faults.MemcachedError))
	// A version request: magic, opcode 0x0b, then zeros.
	req := append([]byte{0x80, 0x0b}, make([]byte, 22)...)
	var replies [2][]byte
	for i, addr := range []string{memcachedAddr(t), p.Addr()} {
		c := rtDial(t, addr)
		c.c.Write(req)
		c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		head := make([]byte, 24)
		if _, err := io.ReadFull(c.r, head); err != nil {
			t.Fatal(err)
		}
		body := make([]byte, int(head[8])<<24|int(head[9])<<16|int(head[10])<<8|int(head[11]))
		if _, err := io.ReadFull(c.r, body); err != nil {
			t.Fatal(err)
		}
		replies[i] = append(head, body...)
	}
	if !bytes.Equal(replies[0], replies[1]) || replies[1][0] != 0x81 {
		t.Fatalf("through the proxy %q, directly %q", replies[1], replies[0])
	}
	if n := p.Stats().Injected; n != 0 {
		t.Errorf("%d faults fired on a binary connection", n)
	}
}

// TestMemcachedLongGet: a get of 5,000 keys on one line (245 KB, as
// libmemcached's mget sends them) is framed: a Miss of one of its keys
// acts, and the line passes at once, not a few bytes per read.
func TestMemcachedLongGet(t *testing.T) {
	k := mcKeys(t, 2)
	mcSet(t, k[0], "a")
	mcSet(t, k[1], "b")
	p := newMemcachedProxy(t, "")
	mustSet(t, p, faults.Miss().When(faults.Key(k[1])))
	var b strings.Builder
	b.WriteString("get " + k[0])
	for i := range 5000 {
		fmt.Fprintf(&b, " faults:test:absent:%030d", i)
	}
	b.WriteString(" " + k[1] + "\r\n")
	c := rtDial(t, p.Addr())
	start := time.Now()
	got := c.exchange(b.String())
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("a get of %d bytes took %v", b.Len(), took)
	}
	if want := "VALUE " + k[0] + " 0 1\r\na\r\nEND\r\n"; got != want {
		t.Fatalf("read %q, want %q", got, want)
	}
	if n := p.Stats().Injected; n != 1 {
		t.Fatalf("%d faults fired, want the miss of %s", n, k[1])
	}
}
