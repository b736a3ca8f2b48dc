package main

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// backend serves each connection with handle, on loopback, until the
// test's cleanup, which closes the listener and every connection and waits
// for the handlers.
func backend(t *testing.T, handle func(c *net.TCPConn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				handle(c.(*net.TCPConn))
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// echoBackend echoes what it reads, and half-closes when the client does.
func echoBackend(t *testing.T) string {
	return backend(t, func(c *net.TCPConn) {
		io.Copy(c, c)
		c.CloseWrite()
	})
}

// sendBackend writes data on each connection and closes it.
func sendBackend(t *testing.T, data []byte) string {
	return backend(t, func(c *net.TCPConn) {
		c.Write(data)
	})
}

// dial connects to addr, closing the connection at cleanup.
func dial(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// roundTrip writes msg on c and reads as many bytes back, returning how
// long it took.
func roundTrip(t *testing.T, c net.Conn, msg string) time.Duration {
	t.Helper()
	start := time.Now()
	_, err := c.Write([]byte(msg))
	require.NoError(t, err)
	buf := make([]byte, len(msg))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.ReadFull(c, buf)
	require.NoError(t, err)
	require.Equal(t, msg, string(buf))
	return time.Since(start)
}

// readAll reads c to its end, within d, and returns what it read, the
// error that ended it (nil for EOF), and when it ended.
func readAll(c net.Conn, d time.Duration) ([]byte, error, time.Time) {
	c.SetReadDeadline(time.Now().Add(d))
	b, err := io.ReadAll(c)
	return b, err, time.Now()
}

// readFrom dials addr and reads to the end; it returns the error that
// ended it, nil for EOF, whether the dial or a read met it (a reset can
// come before the dial returns).
func readFrom(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err, _ = readAll(c, 10*time.Second)
	return err
}
