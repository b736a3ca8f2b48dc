package faults_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/gofaults/faults"
	"github.com/gofaults/faults/internal/testenv"
)

// mcSet stores value under key on the tests' server, directly.
func mcSet(t testing.TB, key, value string) {
	t.Helper()
	if err := newMemcacheClient(t, memcachedAddr(t)).Set(&memcache.Item{Key: key, Value: []byte(value)}); err != nil {
		t.Fatal(err)
	}
}

// mcHeld returns what the tests' server holds under key, read directly,
// and whether it holds anything.
func mcHeld(t testing.TB, key string) (string, bool) {
	t.Helper()
	it, err := newMemcacheClient(t, memcachedAddr(t)).Get(key)
	if errors.Is(err, memcache.ErrCacheMiss) {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(it.Value), true
}

// TestMemcachedErrorOnSet: an error injected on a set reaches gomemcache as
// the server's own would, and the server never stores the value; the
// errors memcached sends for lack of room remove the old value, as
// memcached does (TestMemcachedCatalogFromServer compares with the real
// ones), and only on set and ms.
func TestMemcachedErrorOnSet(t *testing.T) {
	p := newMemcachedProxy(t, "")
	c := newMemcacheClient(t, p.Addr())
	for _, tc := range []struct {
		reply   faults.MemcachedReply
		command string
		kept    bool // the old value stays
	}{
		{faults.MemcachedServerError("temporary failure"), "set", true},
		{faults.MemcachedOutOfMemory, "set", false},
		{faults.MemcachedTooLarge, "set", false},
		{faults.MemcachedOutOfMemory, "append", true},
		{faults.MemcachedClientError("bad command line format"), "add", true},
	} {
		t.Run(tc.reply.String()+" on "+tc.command, func(t *testing.T) {
			k := mcKeys(t, 2)
			mcSet(t, k[0], "old")
			mustSet(t, p, faults.Error(tc.reply).When(faults.Command(tc.command), faults.Key(k[0])))
			before := len(p.Events())
			item := &memcache.Item{Key: k[0], Value: []byte("new")}
			var err error
			switch tc.command {
			case "set":
				err = c.Set(item)
			case "append":
				err = c.Append(item)
			case "add":
				err = c.Add(item)
			}
			if err == nil || !strings.Contains(err.Error(), tc.reply.Line()) {
				t.Fatalf("%s: %v, want the error line %q", tc.command, err, tc.reply.Line())
			}
			v, ok := mcHeld(t, k[0])
			switch {
			case tc.kept && v != "old":
				t.Fatalf("the server holds %q, %v; want the old value, untouched", v, ok)
			case !tc.kept && ok:
				t.Fatalf("the server holds %q; want the old value gone, as after memcached's own %s", v, tc.reply.Line())
			}
			// Other keys pass.
			if err := c.Set(&memcache.Item{Key: k[1], Value: []byte("x")}); err != nil {
				t.Fatalf("set of another key: %v", err)
			}
			if v, _ := mcHeld(t, k[1]); v != "x" {
				t.Fatalf("the other key holds %q", v)
			}
			if ev := p.Events()[before:]; len(ev) != 1 || ev[0].Request != tc.command+" "+k[0] {
				t.Fatalf("events %v, want one naming %q", ev, tc.command+" "+k[0])
			}
		})
	}
}

// TestMemcachedUnlinkAfterQuietCommand: a set or an ms refused for lack
// of room sends a delete upstream in its place, whose reply the proxy
// replaces. After a quiet mg that missed (memcached sends it nothing), the
// delete's HD must not be taken for the mg's hit: the client reads the
// error, then the MN of its mn, as from memcached.
func TestMemcachedUnlinkAfterQuietCommand(t *testing.T) {
	for _, write := range []string{"ms %s 2 q\r\nhi\r\n", "set %s 0 0 2\r\nhi\r\n"} {
		t.Run(strings.Fields(write)[0], func(t *testing.T) {
			k := mcKeys(t, 2)
			mcSet(t, k[1], "old")
			p := newMemcachedProxy(t, "")
			mustSet(t, p, faults.Error(faults.MemcachedOutOfMemory).When(faults.Command("ms", "set")))
			c := rtDial(t, p.Addr())
			c.send("mg " + k[0] + " v q\r\n" + fmt.Sprintf(write, k[1]) + "mn\r\n")
			for _, want := range []string{"SERVER_ERROR out of memory storing object\r\n", "MN\r\n"} {
				if got := c.line(); got != want {
					t.Fatalf("read %q, want %q", got, want)
				}
			}
			if v, ok := mcHeld(t, k[1]); ok {
				t.Fatalf("the server still holds %q: the refused write did not remove the old value", v)
			}
		})
	}
}

// TestMemcachedErrorWithNoReply: memcached answers nothing to a command
// with noreply, errors included; the proxy does the same, and the server
// never sees the command (but loses the old value of a set refused for
// lack of room, as with memcached's own refusal). The next command's reply
// pairs with it.
func TestMemcachedErrorWithNoReply(t *testing.T) {
	p := newMemcachedProxy(t, "")
	for _, tc := range []struct {
		reply faults.MemcachedReply
		get   string // what the get after the set reads
	}{
		{faults.MemcachedServerError("busy"), "VALUE %s 0 3\r\nold\r\nEND\r\n"},
		{faults.MemcachedOutOfMemory, "END\r\n"},
	} {
		t.Run(tc.reply.String(), func(t *testing.T) {
			k := mcKeys(t, 1)
			mcSet(t, k[0], "old")
			mustSet(t, p, faults.Error(tc.reply).When(faults.Command("set")))
			c := rtDial(t, p.Addr())
			got := c.exchange("set " + k[0] + " 0 0 3 noreply\r\nnew\r\nget " + k[0] + "\r\n")
			if want := strings.ReplaceAll(tc.get, "%s", k[0]); got != want {
				t.Fatalf("read %q, want %q", got, want)
			}
		})
	}
}

// TestMemcachedNoReplyLastToken: memcached reads noreply from a line's
// last token even where that token stands for a required argument ("set k
// 0 0 noreply", "incr k noreply"): it refuses the line without a word. The
// proxy owes such a line nothing either: an error injected there is not
// sent, and an error the proxy answers for the next command comes in that
// command's place, not behind a reply that never comes.
func TestMemcachedNoReplyLastToken(t *testing.T) {
	k := mcKeys(t, 1)
	p := newMemcachedProxy(t, "")
	direct := rtDial(t, memcachedAddr(t))
	for _, line := range []string{
		"set " + k[0] + " 0 0 noreply\r\n",
		"cas " + k[0] + " 0 0 1 noreply\r\n",
		"incr " + k[0] + " noreply\r\n",
		"touch " + k[0] + " noreply\r\n",
		"verbosity noreply\r\n",
		"cache_memlimit noreply\r\n",
	} {
		name, _, _ := strings.Cut(line, " ")
		if got := direct.exchange(line); got != "" {
			t.Fatalf("%q: memcached answered %q, the test expects nothing", line, got)
		}
		mustSet(t, p, faults.Error(faults.MemcachedServerError("busy")).When(faults.Command(name)))
		if got := rtDial(t, p.Addr()).exchange(line); got != "" {
			t.Errorf("%q with an error injected: read %q, want nothing", line, got)
		}
		mustSet(t, p, faults.Error(faults.MemcachedServerError("busy")).When(faults.Command("get")))
		if got := rtDial(t, p.Addr()).exchange(line + "get " + k[0] + "\r\n"); got != "SERVER_ERROR busy\r\n" {
			t.Errorf("%q then a get answered with an error: read %q, want the error alone", line, got)
		}
	}
}

// TestMemcachedQuit: memcached answers quit by closing the connection,
// and reads nothing after it. Through a proxy that injects errors on every
// command, or misses every read, quit still closes the connection, and the
// commands after it get no answer, from the server or from the proxy.
func TestMemcachedQuit(t *testing.T) {
	k := mcKeys(t, 1)
	const after = "version\r\n"
	script := "quit\r\nget " + k[0] + "\r\n" + after
	readAll := func(addr string) string {
		c := rtDial(t, addr)
		c.send(script)
		c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		b, err := io.ReadAll(c.r)
		if err != nil && !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("after %q: read %q, then %v", script, b, err)
		}
		return string(b)
	}
	if got := readAll(memcachedAddr(t)); got != "" {
		t.Fatalf("memcached answered %q, the test expects nothing", got)
	}
	p := newMemcachedProxy(t, "")
	for _, b := range []faults.Behavior{faults.Error(faults.MemcachedServerError("busy")), faults.Miss()} {
		mustSet(t, p, b)
		if got := readAll(p.Addr()); got != "" {
			t.Errorf("%v: read %q after quit, want the connection closed", b, got)
		}
	}
}

// TestMemcachedBget: memcached 1.6 still answers bget, get's old name,
// with VALUE blocks and END. The proxy frames that reply whole, so that
// an error it answers for the next command comes after it.
func TestMemcachedBget(t *testing.T) {
	k := mcKeys(t, 1)
	mcSet(t, k[0], "v")
	p := newMemcachedProxy(t, "")
	mustSet(t, p, faults.Error(faults.MemcachedServerError("busy")).When(faults.Command("version")))
	got := rtDial(t, p.Addr()).exchange("bget " + k[0] + "\r\nversion\r\n")
	if want := "VALUE " + k[0] + " 0 1\r\nv\r\nEND\r\nSERVER_ERROR busy\r\n"; got != want {
		t.Fatalf("read %q, want %q", got, want)
	}
}

// TestMemcachedNumberOutOfRange: memcached reads numbers as C's strtoull
// and strtol do. It refuses a storage command whose flags or cas do not
// fit 64 bits, or whose exptime does not fit a signed 64-bit number, and
// then reads its would-be data block as a command; it takes a '+' sign,
// and keeps a length in an int32. The proxy frames each as memcached
// does, and an error it answers for the next command comes after
// memcached's replies.
func TestMemcachedNumberOutOfRange(t *testing.T) {
	k := mcKeys(t, 1)
	p := newMemcachedProxy(t, "")
	mustSet(t, p, faults.Error(faults.MemcachedServerError("busy")).When(faults.Command("version")))
	direct := rtDial(t, memcachedAddr(t))
	const refused = "CLIENT_ERROR bad command line format\r\nERROR\r\n"
	for _, tc := range []struct{ line, want string }{
		{"set " + k[0] + " 18446744073709551616 0 1\r\n", refused},
		{"set " + k[0] + " 0 9223372036854775808 1\r\n", refused},
		{"cas " + k[0] + " 0 0 1 18446744073709551616\r\n", refused},
		{"set " + k[0] + " 0 0 2147483648\r\n", refused},
		// Numbers memcached reads as C does: a '+', and a length kept in
		// an int32 (4294967297 is 1).
		{"set " + k[0] + " +1 +0 +1\r\n", "STORED\r\n"},
		{"set " + k[0] + " 0 0 4294967297\r\n", "STORED\r\n"},
	} {
		line, want := tc.line, tc.want
		if got := direct.exchange(line + "x\r\n"); got != want {
			t.Fatalf("%q: memcached answered %q, the test expects %q", line, got, want)
		}
		if got := rtDial(t, p.Addr()).exchange(line + "x\r\nversion\r\n"); got != want+"SERVER_ERROR busy\r\n" {
			t.Errorf("%q: read %q, want %q", line, got, want+"SERVER_ERROR busy\r\n")
		}
	}
}

// TestMemcachedErrorOnReadsAndMeta: an error answers a get in place of its
// values, and a quiet meta command too (memcached's quiet mode silences
// successes and misses, never errors).
func TestMemcachedErrorOnReadsAndMeta(t *testing.T) {
	k := mcKeys(t, 2)
	mcSet(t, k[0], "v")
	p := newMemcachedProxy(t, "")
	mustSet(t, p, faults.Error(faults.MemcachedServerError("out of memory writing get response")).When(faults.Key(k[0])))
	c := rtDial(t, p.Addr())
	want := "VALUE " + k[1] + " 0 1\r\nw\r\nEND\r\n" + // the get before
		"SERVER_ERROR out of memory writing get response\r\n" + // get k0 k1
		"SERVER_ERROR out of memory writing get response\r\n" + // mg k0 v q
		"VALUE " + k[1] + " 0 1\r\nw\r\nEND\r\n" // the get after
	got := c.exchange("set " + k[1] + " 0 0 1 noreply\r\nw\r\nget " + k[1] + "\r\nget " + k[0] + " " + k[1] + "\r\nmg " + k[0] + " v q\r\nget " + k[1] + "\r\n")
	if got != want {
		t.Fatalf("read %q, want %q", got, want)
	}
}

// TestMemcachedPipelinePairing: in a pipeline of incr with noreply
// commands between them, an error injected for the 3rd incr takes exactly
// its place, the server never sees that incr, and the noreply commands
// are owed nothing.
func TestMemcachedPipelinePairing(t *testing.T) {
	k := mcKeys(t, 2)
	p := newMemcachedProxy(t, "")
	mustSet(t, p, faults.Error(faults.MemcachedServerError("temporary failure")).When(faults.Command("incr")).After(2).Times(1))
	c := rtDial(t, p.Addr())
	var b strings.Builder
	b.WriteString("set " + k[0] + " 0 0 1 noreply\r\n0\r\n")
	for i := range 5 {
		fmt.Fprintf(&b, "incr %s 1\r\nset %s 0 0 1 noreply\r\n%d\r\n", k[0], k[1], i)
	}
	got := c.exchange(b.String())
	if want := "1\r\n2\r\nSERVER_ERROR temporary failure\r\n3\r\n4\r\n"; got != want {
		t.Fatalf("read %q, want %q", got, want)
	}
	if v, _ := mcHeld(t, k[0]); v != "4" {
		t.Fatalf("the counter holds %q, want 4: the server never saw the faulted incr", v)
	}
	if v, _ := mcHeld(t, k[1]); v != "4" {
		t.Fatalf("the noreply sets left %q, want 4", v)
	}
}

// TestMemcachedMiss: Miss answers the reads of matching keys as misses,
// and a get of several keys asks the server for the others only: with
// gomemcache, Get of a missed key is ErrCacheMiss, GetMulti returns the
// keys not missed, and the server reads gets lines without the missed
// keys, or nothing when all are missed. Each key is a chance of its own.
func TestMemcachedMiss(t *testing.T) {
	k := mcKeys(t, 4)
	hot := []string{k[0], k[1]} // missed
	cold := []string{k[2], k[3]}
	for _, key := range k {
		mcSet(t, key, "v:"+key)
	}
	rec := testenv.NewRecorder(t, memcachedAddr(t), nil)
	p := newMemcachedProxy(t, rec.Addr())
	mustSet(t, p, faults.Miss().When(faults.Key(hot[0]), faults.Command("gets")), faults.Miss().When(faults.Key(hot[1])))
	c := newMemcacheClient(t, p.Addr())

	if _, err := c.Get(hot[0]); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("Get of a missed key: %v, want ErrCacheMiss", err)
	}
	if it, err := c.Get(cold[0]); err != nil || string(it.Value) != "v:"+cold[0] {
		t.Fatalf("Get of another key: %v, %v", it, err)
	}
	got, err := c.GetMulti([]string{hot[0], cold[0], hot[1], cold[1]})
	if err != nil || len(got) != 2 || got[cold[0]] == nil || got[cold[1]] == nil {
		t.Fatalf("GetMulti: %v, %v; want the two keys not missed", got, err)
	}
	if got, err := c.GetMulti(hot); err != nil || len(got) != 0 {
		t.Fatalf("GetMulti of missed keys only: %v, %v", got, err)
	}
	if v, ok := mcHeld(t, hot[0]); !ok || v != "v:"+hot[0] {
		t.Fatalf("the server lost %s: %q", hot[0], v)
	}
	c.Close()
	rec.Close()
	if want, sent := "gets "+cold[0]+"\r\ngets "+cold[0]+" "+cold[1]+"\r\n", sentToServer(rec); sent != want {
		t.Fatalf("the server read %q, want %q", sent, want)
	}
	var missed []string
	for _, e := range p.Events() {
		missed = append(missed, e.Request)
	}
	if want := []string{"gets " + hot[0], "gets " + hot[0], "gets " + hot[1], "gets " + hot[0], "gets " + hot[1]}; fmt.Sprint(missed) != fmt.Sprint(want) {
		t.Fatalf("events name %q, want a miss per key: %q", missed, want)
	}
}

// TestMemcachedMissCountsKeys: Times and Probability count the keys of a
// multi-key get, each a chance of its own.
func TestMemcachedMissCountsKeys(t *testing.T) {
	k := mcKeys(t, 6)
	for _, key := range k {
		mcSet(t, key, "v")
	}
	p := newMemcachedProxy(t, "", faults.WithSeed(7))
	c := newMemcacheClient(t, p.Addr())
	mustSet(t, p, faults.Miss().Times(2))
	if got, err := c.GetMulti(k); err != nil || len(got) != 4 || got[k[0]] != nil || got[k[1]] != nil {
		t.Fatalf("GetMulti under Miss().Times(2): %d values, %v; want the first two keys missed", len(got), err)
	}
	mustSet(t, p, faults.Miss().Probability(0.5))
	total := 0
	for range 20 {
		got, err := c.GetMulti(k)
		if err != nil {
			t.Fatal(err)
		}
		total += len(got)
	}
	// 120 keys, each missed with odds 1/2: 60 ± 5σ (σ ≈ 5.5).
	if total < 32 || total > 88 {
		t.Fatalf("%d of 120 keys served under Probability(0.5)", total)
	}
}

// TestMemcachedMissMeta: the proxy's miss of an mg is what memcached sends
// for a key it does not have, byte for byte, with every flag the reply
// echoes (O, k, b), and nothing at all for a quiet mg.
func TestMemcachedMissMeta(t *testing.T) {
	k := mcKeys(t, 2)
	b64 := base64.StdEncoding.EncodeToString([]byte(k[1]))
	p := newMemcachedProxy(t, "")
	mustSet(t, p, faults.Miss())
	direct, proxied := rtDial(t, memcachedAddr(t)), rtDial(t, p.Addr())
	for _, flags := range []string{"", " v", " v k O7", " O3 k t f v", " v q", " k q O9"} {
		for _, key := range []string{k[0], b64 + " b"} {
			cmd := "mg " + key + flags + "\r\n"
			mcSet(t, k[0], "there")
			mcSet(t, k[1], "there")
			got := proxied.exchange(cmd)
			newMemcacheClient(t, memcachedAddr(t)).Delete(k[0])
			newMemcacheClient(t, memcachedAddr(t)).Delete(k[1])
			want := direct.exchange(cmd)
			if got != want || !strings.HasPrefix(want, "EN") && !strings.Contains(flags, "q") {
				t.Errorf("%q: the proxy missed with %q, memcached misses with %q", cmd, got, want)
			}
		}
	}
}

// TestMemcachedMissAfterQuietCommands: a quiet mg passed to the server may
// get no reply; a command the proxy answers after it must wait to know.
// The proxy sends mn in that command's place, and answers in place of the
// MN, so that the client reads its answers in order, whether the quiet
// command was answered (a hit) or not (a miss).
func TestMemcachedMissAfterQuietCommands(t *testing.T) {
	k := mcKeys(t, 3)
	mcSet(t, k[0], "hit")
	rec := testenv.NewRecorder(t, memcachedAddr(t), nil)
	p := newMemcachedProxy(t, rec.Addr())
	mustSet(t, p, faults.Miss().When(faults.Key(k[2])))
	c := rtDial(t, p.Addr())
	c.send("mg " + k[0] + " v q\r\nget " + k[2] + "\r\nmg " + k[1] + " v q\r\nget " + k[2] + "\r\nversion\r\n")
	for _, want := range []string{"VA 3\r\n", "hit\r\n", "END\r\n", "END\r\n"} {
		if got := c.line(); got != want {
			t.Fatalf("read %q, want %q", got, want)
		}
	}
	if got := c.line(); !strings.HasPrefix(got, "VERSION ") {
		t.Fatalf("read %q, want the version", got)
	}
	c.c.Close()
	rec.Close()
	toServer, _ := rec.Recordings()[0].Streams()
	if want := "mg " + k[0] + " v q\r\nmn\r\nmg " + k[1] + " v q\r\nmn\r\nversion\r\n"; string(toServer) != want {
		t.Fatalf("the server read %q, want %q", toServer, want)
	}
}

// TestMemcachedMissRefused: Miss acts on reads only, on Redis and memcached
// only; anything else could never fire and is refused by Set.
func TestMemcachedMissRefused(t *testing.T) {
	mc := newProxy(t, "127.0.0.1:9", faults.WithProtocol(faults.Memcached()))
	for _, tc := range []struct {
		p *faults.Proxy
		b faults.Behavior
	}{
		{mc, faults.Miss().When(faults.Command("set"))},
		{mc, faults.Miss().When(faults.Command("get", "delete"))},
		{mc, faults.Miss().When(faults.Command("ms"))},
		{newProxy(t, "127.0.0.1:9", faults.WithProtocol(faults.Redis())), faults.Miss().When(faults.Command("SET"))},
		{newProxy(t, "127.0.0.1:9", faults.WithProtocol(faults.HTTP())), faults.Miss()},
		{newProxy(t, "127.0.0.1:9", faults.WithProtocol(faults.MySQL())), faults.Miss()},
		{newProxy(t, "127.0.0.1:9", faults.WithProtocol(faults.Postgres())), faults.Miss()},
		{newProxy(t, "127.0.0.1:9"), faults.Miss()},
	} {
		checkUnsupported(t, tc.b.String(), tc.p.Set(tc.b))
	}
	for _, b := range []faults.Behavior{
		faults.Miss(),
		faults.Miss().When(faults.Command("get", "gets", "GAT", "gats", "mg"), faults.Key("k*")),
	} {
		if err := mc.Set(b); err != nil {
			t.Errorf("%s: %v, want it accepted", b, err)
		}
	}
	if err := mc.Set(faults.Miss().When(faults.Command("delete"))); err == nil || !strings.Contains(err.Error(), `"delete" is not a read`) {
		t.Errorf("the refusal does not say why: %v", err)
	}
}

// TestMemcachedRequestBehaviors: the request behaviors act on single
// commands, each with its meaning.
func TestMemcachedRequestBehaviors(t *testing.T) {
	p := newMemcachedProxy(t, "")
	t.Run("DelayRequest and DelayResponse", func(t *testing.T) {
		const d = 400 * time.Millisecond
		for _, tc := range []struct {
			b       faults.Behavior
			reached bool
		}{
			{faults.DelayRequest(d), false},
			{faults.DelayResponse(d), true},
		} {
			k := mcKeys(t, 1)
			mcSet(t, k[0], "old")
			mustSet(t, p, tc.b.When(faults.Command("set")))
			c := newMemcacheClient(t, p.Addr())
			start := time.Now()
			done := make(chan error, 1)
			go func() { done <- c.Set(&memcache.Item{Key: k[0], Value: []byte("new")}) }()
			time.Sleep(d / 2)
			v, _ := mcHeld(t, k[0])
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			if (v == "new") != tc.reached || took < d || took > d+3*time.Second {
				t.Errorf("%s: the server held %q halfway, the set took %v", tc.b, v, took)
			}
		}
	})
	t.Run("DropResponse", func(t *testing.T) {
		k := mcKeys(t, 1)
		mustSet(t, p, faults.DropResponse().When(faults.Command("set")))
		c := newMemcacheClient(t, p.Addr())
		c.Timeout = 300 * time.Millisecond
		err := c.Set(&memcache.Item{Key: k[0], Value: []byte("new")})
		if err == nil || !isTimeout(errors.Unwrap(err)) && !strings.Contains(err.Error(), "timeout") {
			t.Fatalf("set: %v, want a timeout", err)
		}
		if v, _ := mcHeld(t, k[0]); v != "new" {
			t.Fatalf("the server holds %q: the set reached it", v)
		}
	})
	t.Run("Abort", func(t *testing.T) {
		k := mcKeys(t, 1)
		mustSet(t, p, faults.Abort().When(faults.Command("set")))
		c := rtDial(t, p.Addr())
		c.send("set " + k[0] + " 0 0 3\r\nnew\r\n")
		c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if got, err := io.ReadAll(c.r); len(got) != 0 || err != nil {
			t.Fatalf("read %q, %v; want the connection closed with nothing", got, err)
		}
		if v, _ := mcHeld(t, k[0]); v != "new" {
			t.Fatalf("the server holds %q: the set reached it", v)
		}
	})
	t.Run("Abort of a noreply command", func(t *testing.T) {
		// The replies owed before it go out first.
		k := mcKeys(t, 2)
		mcSet(t, k[0], "v")
		mustSet(t, p, faults.Abort().When(faults.Command("set")))
		c := rtDial(t, p.Addr())
		c.send("get " + k[0] + "\r\nset " + k[1] + " 0 0 3 noreply\r\nnew\r\n")
		c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if got, err := io.ReadAll(c.r); string(got) != "VALUE "+k[0]+" 0 1\r\nv\r\nEND\r\n" || err != nil {
			t.Fatalf("read %q, %v; want the get's reply, then the close", got, err)
		}
		if v, _ := mcHeld(t, k[1]); v != "new" {
			t.Fatalf("the server holds %q: the set reached it", v)
		}
	})
	t.Run("TruncateResponse", func(t *testing.T) {
		k := mcKeys(t, 1)
		mcSet(t, k[0], strings.Repeat("x", 100))
		mustSet(t, p, faults.TruncateResponse(20).When(faults.Command("get")))
		c := rtDial(t, p.Addr())
		c.send("version\r\nget " + k[0] + "\r\n")
		c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, err := io.ReadAll(c.r)
		version, rest, _ := strings.Cut(string(got), "\r\n")
		if err != nil || !strings.HasPrefix(version, "VERSION ") || rest != ("VALUE " + k[0] + " 0 100\r\n")[:20] {
			t.Fatalf("read %q, %v; want the version, then 20 bytes of the get's reply", got, err)
		}
	})
	t.Run("SlowResponse", func(t *testing.T) {
		k := mcKeys(t, 1)
		mcSet(t, k[0], strings.Repeat("x", 10000))
		mustSet(t, p, faults.SlowResponse(20000).When(faults.Command("gets")))
		c := newMemcacheClient(t, p.Addr())
		start := time.Now()
		it, err := c.Get(k[0])
		if took := time.Since(start); err != nil || len(it.Value) != 10000 || took < 400*time.Millisecond {
			t.Fatalf("get took %v: %v; want the 10 KB value paced to 20 KB/s", took, err)
		}
	})
}

// TestMemcachedClosingRepliesBehindLatency: behind a downstream Latency,
// what the proxy passes on just before it closes the connection is still
// in the stream layer when the close comes; it arrives, then the
// connection ends: the replies owed to the commands pipelined before one
// that Abort acts on, and the bytes TruncateResponse lets through.
func TestMemcachedClosingRepliesBehindLatency(t *testing.T) {
	latency := faults.Latency(300 * time.Millisecond).Downstream()
	p := newMemcachedProxy(t, "")
	k := mcKeys(t, 3)
	mcSet(t, k[0], "v")
	mcSet(t, k[1], strings.Repeat("x", 100))
	readAll := func(c *rtConn) (string, error) {
		c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, err := io.ReadAll(c.r)
		return string(got), err
	}
	t.Run("Abort", func(t *testing.T) {
		mustSet(t, p, faults.Abort().When(faults.Command("set")), latency)
		c := rtDial(t, p.Addr())
		c.send("get " + k[0] + "\r\nset " + k[2] + " 0 0 3\r\nnew\r\n")
		if got, err := readAll(c); got != "VALUE "+k[0]+" 0 1\r\nv\r\nEND\r\n" || err != nil {
			t.Fatalf("read %q, %v; want the get's reply, then the close", got, err)
		}
		waitUntil(t, 5*time.Second, "the aborted set to reach the server", func() bool {
			v, _ := mcHeld(t, k[2])
			return v == "new"
		})
	})
	t.Run("TruncateResponse", func(t *testing.T) {
		mustSet(t, p, faults.TruncateResponse(20).When(faults.Command("get")), latency)
		c := rtDial(t, p.Addr())
		c.send("version\r\nget " + k[1] + "\r\n")
		got, err := readAll(c)
		version, rest, _ := strings.Cut(got, "\r\n")
		if err != nil || !strings.HasPrefix(version, "VERSION ") || rest != ("VALUE " + k[1] + " 0 100\r\n")[:20] {
			t.Fatalf("read %q, %v; want the version, then 20 bytes of the get's reply", got, err)
		}
	})
}
