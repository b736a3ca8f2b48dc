package bench

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Mode bytes: the first byte a client sends picks what the backend does with
// the connection.
const (
	modeUpload   = 'U' // sink: 8-byte session id, then data to discard
	modeDownload = 'D' // source: write until the client goes away
	modeConnect  = 'C' // echo this one byte, then close first
	// any other first byte: echo, that byte included
)

// backend is the in-process server every row reaches, directly or through a
// proxy. One loopback port serves an echo server, a sink and a source, so
// that each proxy needs a single upstream:
//
//   - sink ('U'): reads an 8-byte session id, then reads and discards
//     everything until EOF, counting the bytes per session. The uploader, in
//     the same process, waits until the count reaches what it sent: that
//     does not rely on half-close, which Toxiproxy turns into a full close.
//   - source ('D'): writes 256 KiB chunks until the peer closes or resets.
//   - connect ('C'): writes the 'C' back and closes at once. The server
//     closing first leaves TIME_WAIT on the server side of each socket pair,
//     so thousands of sequential connections do not use up the client's (or
//     a proxy's) ephemeral ports.
//   - echo (anything else): writes back every byte it reads, the first one
//     included, and half-closes after EOF.
type backend struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}

	sessions sync.Map     // upload session id → *atomic.Int64 bytes received
	nextID   atomic.Int64 // last session id handed out
}

// startBackend listens on a free loopback port and serves until Close.
func startBackend() (*backend, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &backend{ln: ln, conns: make(map[net.Conn]struct{})}
	b.wg.Add(1)
	go b.accept()
	return b, nil
}

// Addr is the backend's host:port.
func (b *backend) Addr() string { return b.ln.Addr().String() }

// Close stops accepting, closes every connection and waits for every
// goroutine the backend started.
func (b *backend) Close() error {
	err := b.ln.Close()
	b.mu.Lock()
	for c := range b.conns {
		c.Close()
	}
	b.conns = nil
	b.mu.Unlock()
	b.wg.Wait()
	return err
}

func (b *backend) accept() {
	defer b.wg.Done()
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.mu.Lock()
		if b.conns == nil { // closed meanwhile
			b.mu.Unlock()
			c.Close()
			return
		}
		b.conns[c] = struct{}{}
		b.wg.Add(1)
		b.mu.Unlock()
		go b.serve(c)
	}
}

func (b *backend) serve(c net.Conn) {
	defer b.wg.Done()
	defer func() {
		c.Close()
		b.mu.Lock()
		if b.conns != nil {
			delete(b.conns, c)
		}
		b.mu.Unlock()
	}()
	buf := make([]byte, 256<<10)
	n, err := c.Read(buf)
	if n == 0 {
		return
	}
	switch buf[0] {
	case modeUpload:
		for n < 9 && err == nil {
			var m int
			m, err = c.Read(buf[n:])
			n += m
		}
		if n < 9 {
			return
		}
		id := int64(binary.BigEndian.Uint64(buf[1:9]))
		count := b.session(id)
		count.Add(int64(n - 9))
		sink(c, buf, count, err)
	case modeDownload:
		b.source(c, buf)
	case modeConnect:
		c.Write(buf[:1])
	default:
		echo(c, buf, n, err)
	}
}

// sink counts and discards bytes until EOF or an error.
func sink(c net.Conn, buf []byte, count *atomic.Int64, err error) {
	for err == nil {
		var n int
		n, err = c.Read(buf)
		count.Add(int64(n))
	}
}

// newSession returns a fresh upload session id.
func (b *backend) newSession() int64 { return b.nextID.Add(1) }

func (b *backend) session(id int64) *atomic.Int64 {
	v, _ := b.sessions.LoadOrStore(id, new(atomic.Int64))
	return v.(*atomic.Int64)
}

// waitUploaded waits until session id has received want bytes, polling
// every 100 µs, for at most timeout; it returns what was received.
func (b *backend) waitUploaded(id, want int64, timeout time.Duration) int64 {
	count := b.session(id)
	deadline := time.Now().Add(timeout)
	for count.Load() < want && time.Now().Before(deadline) {
		time.Sleep(100 * time.Microsecond)
	}
	b.sessions.Delete(id)
	return count.Load()
}

// source writes until a write fails; a reader goroutine closes the
// connection as soon as the peer half-closes or resets, which ends the
// writes.
func (b *backend) source(c net.Conn, buf []byte) {
	for i := range buf {
		buf[i] = byte(i)
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		var small [512]byte
		for {
			if _, err := c.Read(small[:]); err != nil {
				c.Close()
				return
			}
		}
	}()
	for {
		if _, err := c.Write(buf); err != nil {
			return
		}
	}
}

// echo writes back what it reads; on EOF it half-closes.
func echo(c net.Conn, buf []byte, n int, err error) {
	for {
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			break
		}
		n, err = c.Read(buf)
	}
	if errors.Is(err, io.EOF) {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
	}
}
