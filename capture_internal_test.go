package faults

import (
	"io"
	"net"
	"testing"
	"time"
)

// TestCaptureKeepsTheSplice: without a capture, a connection's client
// socket is the *net.TCPConn itself, which a TCP proxy splices; with one,
// it is the capture's tap, which a TCP proxy splices too where tee(2) is
// (Linux), recording what passes through the tap.
func TestCaptureKeepsTheSplice(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	for _, capture := range []bool{false, true} {
		var opts []Option
		if capture {
			opts = append(opts, WithCapture(io.Discard))
		}
		p, err := NewProxy(ln.Addr().String(), opts...)
		if err != nil {
			t.Fatal(err)
		}
		c, err := net.Dial("tcp", p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("x"))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		c.Read(make([]byte, 1))
		p.mu.Lock()
		var client net.Conn
		for _, pc := range p.conns {
			client = pc.client
		}
		p.mu.Unlock()
		_, tcp := client.(*net.TCPConn)
		_, tapped := client.(*capturedConn)
		if tcp == capture || tapped != capture {
			t.Errorf("capture %v: the client's socket is a %T", capture, client)
		}
		h := (&conn{client: client, p: p}).newHalf(Upstream, client, client, nil)
		if splices := h.srcTCP != nil; splices != (!capture || teeSplices) {
			t.Errorf("capture %v: the half splices: %v", capture, splices)
		}
		if tapped := h.tap != nil; tapped != (capture && teeSplices) {
			t.Errorf("capture %v: the half's splice records: %v", capture, tapped)
		}
		c.Close()
		p.Close()
	}
}
