package faults_test

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gofaults/faults"
)

// GSSENCRequest, like SSLRequest, is refused by the proxy with 'N' (the
// server here would answer 'G'), and the client goes on in clear on the
// same connection.
func TestPostgresGSSENCRequestRefused(t *testing.T) {
	p := newPostgresProxy(t)
	c := dial(t, p.Addr())
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("\x00\x00\x00\x08\x04\xd2\x16\x30")); err != nil {
		t.Fatal(err)
	}
	answer := make([]byte, 1)
	if _, err := io.ReadFull(c, answer); err != nil || answer[0] != 'N' {
		t.Fatalf("answer to GSSENCRequest: %q, %v; want N", answer, err)
	}
	startup := []byte("\x00\x00\x00\x25\x00\x03\x00\x00user\x00postgres\x00database\x00test\x00\x00")
	if _, err := c.Write(startup); err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 9)
	if _, err := io.ReadFull(c, head); err != nil || !bytes.Equal(head, []byte("R\x00\x00\x00\x08\x00\x00\x00\x00")) {
		t.Fatalf("answer to the StartupMessage: %q, %v; want AuthenticationOk", head, err)
	}
}

// A connection that starts with a TLS handshake (PostgreSQL 17's direct
// TLS) cannot be framed: it passes through raw, both ways.
func TestPostgresDirectTLSPassesRaw(t *testing.T) {
	hello := []byte("\x16\x03\x01\x00\x05hello")
	received := make(chan []byte, 1)
	b := newBackend(t, func(c net.Conn) {
		defer c.Close()
		got := make([]byte, len(hello))
		io.ReadFull(c, got)
		received <- got
		c.Write([]byte("\x16\x03\x03server"))
	})
	p := newProxy(t, b.addr(), faults.WithProtocol(faults.Postgres()))
	c := dial(t, p.Addr())
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write(hello)
	answer := make([]byte, 9)
	if _, err := io.ReadFull(c, answer); err != nil || string(answer) != "\x16\x03\x03server" {
		t.Fatalf("client read %q, %v", answer, err)
	}
	if got := <-received; !bytes.Equal(got, hello) {
		t.Fatalf("server read %q, want %q", got, hello)
	}
}
