package faults_test

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gofaults/faults"
)

// TestRedisUnsupported: behaviors that cannot act on Redis, and Redis
// replies on other protocols, are refused by Set; bad Redis replies are
// invalid, and nothing refused is installed.
func TestRedisUnsupported(t *testing.T) {
	rp := newProxy(t, "127.0.0.1:9", faults.WithProtocol(faults.Redis()))
	web := newProxy(t, "127.0.0.1:9", faults.WithProtocol(faults.HTTP()))
	my := newProxy(t, "127.0.0.1:9", faults.WithProtocol(faults.MySQL()))
	tcp := newProxy(t, "127.0.0.1:9")
	for _, tc := range []struct {
		p *faults.Proxy
		b faults.Behavior
	}{
		{rp, faults.TruncateRows(1)},
		{rp, faults.Error(faults.HTTPStatus(503))},
		{rp, faults.Error(faults.MySQLDeadlock)},
		{web, faults.Error(faults.RedisLoading)},
		{my, faults.Error(faults.RedisReadOnly)},
		{tcp, faults.Error(faults.RedisOOM)},
		{tcp, faults.DelayResponse(time.Millisecond).When(faults.Command("GET"))},
	} {
		checkUnsupported(t, tc.b.String(), tc.p.Set(tc.b))
	}
	for _, tc := range []struct {
		name  string
		reply faults.RedisReply
	}{
		{"empty", faults.RedisError("")},
		{"CRLF", faults.RedisError("ERR a\r\nb")},
		{"LF", faults.RedisError("ERR a\nb")},
		{"not UTF-8", faults.RedisError("ERR \xff")},
		{"MOVED slot -1", faults.RedisMoved(-1, "127.0.0.1:7000")},
		{"MOVED slot 16384", faults.RedisMoved(16384, "127.0.0.1:7000")},
		{"MOVED no port", faults.RedisMoved(1, "127.0.0.1")},
		{"ASK empty address", faults.RedisAsk(1, "")},
		{"ASK address with space", faults.RedisAsk(1, "a b:1")},
		{"MOVED by hand", faults.RedisError("MOVED 99999 x:1")},
	} {
		checkInvalid(t, tc.name, rp.Set(faults.Error(tc.reply)))
	}
	if bs := rp.Behaviors(); len(bs) != 0 {
		t.Errorf("refused behaviors installed: %v", bs)
	}
	// Strings name what made them.
	for reply, want := range map[faults.RedisReply]string{
		faults.RedisLoading:                       "RedisLoading",
		faults.RedisError(faults.RedisOOM.Text()): "RedisOOM",
		faults.RedisMoved(3999, "127.0.0.1:6381"): `RedisMoved(3999, "127.0.0.1:6381")`,
		faults.RedisAsk(7, "h:1"):                 `RedisAsk(7, "h:1")`,
		faults.RedisError("ERR custom"):           `RedisError("ERR custom")`,
	} {
		if got := reply.String(); got != want {
			t.Errorf("String() = %s, want %s", got, want)
		}
	}
}

// TestRedisMalformedCommandPassesThrough: bytes from the client that are
// not RESP end the framing; they reach the server as sent, its own
// protocol error comes back, and the proxy goes on serving other clients.
func TestRedisMalformedCommandPassesThrough(t *testing.T) {
	p := newRedisProxy(t)
	mustSetRedis(t, p, faults.Error(faults.RedisLoading).When(faults.Command("GET")).After(1))
	c, err := net.DialTimeout("tcp", p.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	// A well-formed GET (passed), then a multibulk whose length is not a
	// number.
	io.WriteString(c, "*2\r\n$3\r\nGET\r\n$18\r\nfaults:test:absent\r\n*x\r\n")
	got, _ := io.ReadAll(bufio.NewReader(c))
	if want := "$-1\r\n-ERR Protocol error: invalid multibulk length\r\n"; string(got) != want {
		t.Fatalf("client read %q, want %q (the server's own answers)", got, want)
	}
	// Another client is served, framed: its GET meets the rule.
	c2, err := net.DialTimeout("tcp", p.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c2, "GET faults:test:absent\r\n")
	line, err := bufio.NewReader(c2).ReadString('\n')
	if err != nil || line != "-"+faults.RedisLoading.Text()+"\r\n" {
		t.Fatalf("second client read %q, %v", line, err)
	}
}

// TestRedisUnrequestedReplyPassesThrough: a server that speaks first (a
// Redis at maxclients says so and closes) is passed on as it is.
func TestRedisUnrequestedReplyPassesThrough(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	served := make(chan struct{})
	go func() {
		defer close(served)
		s, err := ln.Accept()
		if err != nil {
			return
		}
		io.WriteString(s, "-ERR max number of clients reached\r\n")
		s.Close()
	}()
	p := newProxy(t, ln.Addr().String(), faults.WithProtocol(faults.Redis()))
	c, err := net.DialTimeout("tcp", p.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	got, _ := io.ReadAll(c)
	if !strings.HasPrefix(string(got), "-ERR max number of clients reached\r\n") {
		t.Fatalf("client read %q", got)
	}
	<-served
}
