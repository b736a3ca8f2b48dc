package faults_test

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"
)

// A response cut short by the server's FIN reaches the client as it came,
// then a clean EOF, as it does directly or through a TCP proxy: not a reset.
func TestHTTPResponseCutByFINPassesOn(t *testing.T) {
	const cut = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc"
	b := newBackend(t, func(c net.Conn) {
		defer c.Close()
		bufio.NewReader(c).ReadString('\n')
		c.Write([]byte(cut))
		c.(*net.TCPConn).CloseWrite()
		io.Copy(io.Discard, c)
	})
	for _, via := range []struct {
		name string
		addr func() string
	}{
		{"direct", b.addr},
		{"http proxy", func() string { return newHTTPProxy(t, b.addr()).Addr() }},
	} {
		t.Run(via.name, func(t *testing.T) {
			c := dial(t, via.addr())
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			got, err := readUntilEnd(t, c, 5*time.Second)
			if string(got) != cut || err != io.EOF {
				t.Fatalf("read %q, %v; want %q and a clean EOF", got, err, cut)
			}
		})
	}
}

// A client that half-closes in the middle of a request body gets the
// server's answer to what it sent: the proxy passes the cut body and the
// FIN on, and the answer back.
func TestHTTPRequestCutByFINPassesOn(t *testing.T) {
	const head = "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
	const answer = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
	received := make(chan string, 1)
	b := newBackend(t, func(c net.Conn) {
		defer c.Close()
		got, _ := io.ReadAll(c)
		received <- string(got)
		c.Write([]byte(answer))
	})
	p := newHTTPProxy(t, b.addr())
	c := dial(t, p.Addr())
	io.WriteString(c, head+"abc")
	c.CloseWrite()
	got, err := readUntilEnd(t, c, 5*time.Second)
	if string(got) != answer || err != io.EOF {
		t.Fatalf("client read %q, %v; want the server's 400 and EOF", got, err)
	}
	if s := <-received; s != head+"abc" {
		t.Fatalf("server received %q, want the cut request", s)
	}
}
