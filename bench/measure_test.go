package bench

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"net"
	"slices"
	"time"
)

// The workloads, shared by TestCompare and the Benchmark functions. Each
// client operation is guarded by a deadline, so a stuck proxy fails the run
// instead of hanging it.
const (
	chunkSize = 64 << 10         // one upload write / download read
	rttSize   = 64               // one round-trip message
	guard     = 10 * time.Second // longest any single operation may stall
)

func dial(addr string) (*net.TCPConn, error) {
	c, err := net.DialTimeout("tcp", addr, guard)
	if err != nil {
		return nil, err
	}
	return c.(*net.TCPConn), nil
}

// uploader streams 64 KiB writes into the backend's sink. finish waits until
// the sink has received every byte, so a run's time includes draining
// whatever the proxy and the kernel still buffered.
type uploader struct {
	be   *backend
	id   int64
	c    *net.TCPConn
	buf  []byte
	sent int64
	ops  int
}

// dialUpload opens an upload session to be's sink through addr (be's own
// address, or a proxy in front of it).
func dialUpload(addr string, be *backend) (*uploader, error) {
	c, err := dial(addr)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(guard))
	id := be.newSession()
	var head [9]byte
	head[0] = modeUpload
	binary.BigEndian.PutUint64(head[1:], uint64(id))
	if _, err := c.Write(head[:]); err != nil {
		c.Close()
		return nil, err
	}
	buf := make([]byte, chunkSize)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	return &uploader{be: be, id: id, c: c, buf: buf}, nil
}

func (u *uploader) step() error {
	if u.ops%64 == 0 {
		u.c.SetDeadline(time.Now().Add(guard))
	}
	u.ops++
	n, err := u.c.Write(u.buf)
	u.sent += int64(n)
	return err
}

// finish waits until the sink has every byte sent, then closes.
func (u *uploader) finish() error {
	defer u.c.Close()
	if got := u.be.waitUploaded(u.id, u.sent, guard); got != u.sent {
		return fmt.Errorf("upload: sent %d bytes, the sink received %d", u.sent, got)
	}
	return nil
}

// abort closes the connection without waiting.
func (u *uploader) abort() {
	u.c.Close()
	u.be.sessions.Delete(u.id)
}

// downloader reads 64 KiB at a time from the backend's source.
type downloader struct {
	c   *net.TCPConn
	buf []byte
	got int64
	ops int
}

func dialDownload(addr string) (*downloader, error) {
	c, err := dial(addr)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(guard))
	if _, err := c.Write([]byte{modeDownload}); err != nil {
		c.Close()
		return nil, err
	}
	return &downloader{c: c, buf: make([]byte, chunkSize)}, nil
}

func (d *downloader) step() error {
	if d.ops%64 == 0 {
		d.c.SetDeadline(time.Now().Add(guard))
	}
	d.ops++
	n, err := io.ReadFull(d.c, d.buf)
	d.got += int64(n)
	return err
}

func (d *downloader) Close() error { return d.c.Close() }

// pinger sends 64 bytes to the echo backend and waits for them to come back.
type pinger struct {
	c       *net.TCPConn
	out, in []byte
	ops     int
}

func dialPing(addr string) (*pinger, error) {
	c, err := dial(addr)
	if err != nil {
		return nil, err
	}
	out := make([]byte, rttSize)
	for i := range out {
		out[i] = 'a' + byte(i%26) // never a mode byte
	}
	return &pinger{c: c, out: out, in: make([]byte, rttSize)}, nil
}

func (p *pinger) step() error {
	if p.ops%64 == 0 {
		p.c.SetDeadline(time.Now().Add(guard))
	}
	p.ops++
	if _, err := p.c.Write(p.out); err != nil {
		return err
	}
	if _, err := io.ReadFull(p.c, p.in); err != nil {
		return err
	}
	if !bytes.Equal(p.in, p.out) {
		return fmt.Errorf("round trip: sent %q, got back %q", p.out, p.in)
	}
	return nil
}

func (p *pinger) Close() error { return p.c.Close() }

// connectOnce opens a connection, echoes one byte through it, waits for
// the server to close (propagated by the proxy) and closes it.
func connectOnce(addr string) error {
	c, err := dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(guard))
	if _, err := c.Write([]byte{modeConnect}); err != nil {
		return err
	}
	var b [2]byte
	n, err := io.ReadAtLeast(c, b[:], 1)
	if err != nil {
		return err
	}
	if b[0] != modeConnect {
		return fmt.Errorf("connect: sent %q, got %q", modeConnect, b[0])
	}
	if n == 1 {
		n, err = c.Read(b[:])
	}
	if n != 0 || err != io.EOF {
		return fmt.Errorf("connect: want EOF after the echo, got %d more bytes, %v", n, err)
	}
	return nil
}

func echoByte(c net.Conn) error {
	c.SetDeadline(time.Now().Add(guard))
	if _, err := c.Write([]byte{'x'}); err != nil {
		return err
	}
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return err
	}
	if b[0] != 'x' {
		return fmt.Errorf("echo: sent 'x', got %q", b[0])
	}
	return c.SetDeadline(time.Time{})
}

// openIdle opens n connections, echoes one byte through each (so that the
// proxy has dialed upstream and set up both directions) and leaves them
// open and idle. On error it closes what it opened.
func openIdle(addr string, n int) ([]net.Conn, error) {
	conns := make([]net.Conn, 0, n)
	for range n {
		c, err := dial(addr)
		if err == nil {
			err = echoByte(c)
			conns = append(conns, c)
		}
		if err != nil {
			closeAll(conns)
			return nil, err
		}
	}
	return conns, nil
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		c.Close()
	}
}

// runFor calls step until d has passed or it has been called max times,
// whichever comes first, and returns the calls made and the time taken.
func runFor(d time.Duration, max int, step func() error) (n int, elapsed time.Duration, err error) {
	start := time.Now()
	for n < max && time.Since(start) < d {
		if err := step(); err != nil {
			return n, time.Since(start), err
		}
		n++
	}
	return n, time.Since(start), nil
}

// percentile returns the p-th percentile (0 < p <= 100) of samples, which it
// sorts.
func percentile(samples []time.Duration, p float64) time.Duration {
	if len(samples) == 0 {
		return 0
	}
	slices.Sort(samples)
	i := int(float64(len(samples))*p/100+0.5) - 1
	return samples[min(max(i, 0), len(samples)-1)]
}

// addProxyCPU runs fn under ep.proxyCPU and adds the proxy's CPU to total;
// noCPU becomes true when no reading could be made.
func addProxyCPU(ep *endpoint, total *time.Duration, noCPU *bool, fn func() error) error {
	cpu, ok, err := ep.proxyCPU(fn)
	*total += cpu
	*noCPU = *noCPU || !ok
	return err
}

// repeatFor calls step at least twice and until d has passed, and returns
// the time taken.
func repeatFor(d time.Duration, step func() error) (time.Duration, error) {
	t0 := time.Now()
	for i := 0; i < 2 || time.Since(t0) < d; i++ {
		if err := step(); err != nil {
			return time.Since(t0), err
		}
	}
	return time.Since(t0), nil
}

// cpuPer is cpu divided by n, or NaN when there is no CPU reading or no work.
func cpuPer(noCPU bool, cpu, n float64) float64 {
	if noCPU || n == 0 {
		return math.NaN()
	}
	return cpu / n
}
