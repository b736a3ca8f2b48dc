package faults_test

// Captures of what proxies carry (WithCapture), read back by tshark, a
// reader nobody here wrote, and by the capture reader of internal/tcpcap.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofaults/faults"
	"github.com/gofaults/faults/internal/tcpcap"
	"github.com/gofaults/faults/internal/testenv"
)

// captureFile is a capture being written to a file, read once the proxy
// is closed.
type captureFile struct {
	path string
	f    *os.File
}

func newCaptureFile(t testing.TB) *captureFile {
	t.Helper()
	path := filepath.Join(t.TempDir(), "capture.pcapng")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &captureFile{path: path, f: f}
}

// finish closes p, which writes the rest of the capture, and the file.
func (cf *captureFile) finish(t testing.TB, p *faults.Proxy) {
	t.Helper()
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := cf.f.Close(); err != nil {
		t.Fatal(err)
	}
}

// conns reads the capture's connections.
func (cf *captureFile) conns(t testing.TB) []*tcpcap.Conn {
	t.Helper()
	conns, err := tcpcap.Read(bytes.NewReader(readFile(t, cf.path)))
	if err != nil {
		t.Fatal(err)
	}
	return conns
}

// streams returns what each side of a captured connection sent.
func streams(c *tcpcap.Conn) (client, server []byte) {
	for _, s := range c.Segments {
		if s.From == tcpcap.Client {
			client = append(client, s.Data...)
		} else {
			server = append(server, s.Data...)
		}
	}
	return client, server
}

// requireCleanAnalysis fails the test if tshark's TCP analysis flags any
// packet of the capture (a lost, repeated or out-of-order segment, a full
// window, a duplicate ACK) or finds a checksum wrong.
func requireCleanAnalysis(t testing.TB, path string, decode ...string) {
	t.Helper()
	args := append([]string{"-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE"}, decode...)
	bad := testenv.Tshark(t, path, append(args, "-Y", "tcp.analysis.flags || tcp.checksum.status == 0 || ip.checksum.status == 0")...)
	if len(bad) > 0 {
		t.Fatalf("tshark flags %d packets, first ones:\n%s", len(bad), strings.Join(bad[:min(len(bad), 10)], "\n"))
	}
}

// TestCaptureTCP: a TCP proxy's capture holds every connection as a
// stream from the client's address to the target's, each side's bytes
// whole and in order (a flood of 3 MiB among them), the FINs, and the
// reset a fault sent, marked with the fault's comment.
func TestCaptureTCP(t *testing.T) {
	cf := newCaptureFile(t)
	p, b := newEchoProxy(t, faults.WithCapture(cf.f))
	big := bytes.Repeat([]byte("0123456789abcdef"), 3<<16)
	var clients []string
	for i := range 3 {
		c := dial(t, p.Addr())
		clients = append(clients, c.LocalAddr().String())
		msg := []byte(fmt.Sprintf("hello %d", i))
		if i == 1 {
			msg = big
		}
		go c.Write(msg)
		got := make([]byte, len(msg))
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("conn %d: echo %v", i, err)
		}
		c.CloseWrite()
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("conn %d: %v after the echo, want EOF", i, err)
		}
		c.Close()
	}
	mustSet(t, p, faults.ResetAfterBytes(3).Downstream())
	c := dial(t, p.Addr())
	c.Write([]byte("reset me"))
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.ReadAll(c)
	cf.finish(t, p)

	conns := cf.conns(t)
	if len(conns) != 4 {
		t.Fatalf("%d connections captured, want 4", len(conns))
	}
	for i, cn := range conns[:3] {
		if cn.Client.String() != clients[i] || cn.Server.String() != b.addr() {
			t.Errorf("conn %d: %v → %v, want %s → %s", i, cn.Client, cn.Server, clients[i], b.addr())
		}
		up, down := streams(cn)
		if !bytes.Equal(up, down) || len(up) == 0 {
			t.Errorf("conn %d: client sent %d bytes, received %d", i, len(up), len(down))
		}
		if i == 1 && !bytes.Equal(up, big) {
			t.Errorf("conn 1: the flood is not whole: %d bytes", len(up))
		}
	}
	last := conns[3]
	var reset *tcpcap.Segment
	for i := range last.Segments {
		if last.Segments[i].Reset {
			reset = &last.Segments[i]
		}
	}
	if reset == nil || reset.From != tcpcap.Server {
		t.Fatalf("the faulted connection has no reset from the server: %+v", last.Segments)
	}
	requireCleanAnalysis(t, cf.path)
	if dst := os.Getenv("FAULTS_KEEP_CAPTURE"); dst != "" {
		b, _ := os.ReadFile(cf.path)
		os.WriteFile(dst, b, 0o644)
	}
	comments := testenv.Tshark(t, cf.path, "-Y", "frame.comment", "-T", "fields", "-e", "frame.comment")
	if len(comments) != 1 || !strings.Contains(comments[0], "conn 4 ResetAfterBytes(3).Downstream()") {
		t.Errorf("comments %q, want one naming the fault", comments)
	}
}

// TestCaptureThroughReplans: a captured connection that floods both ways
// while its plan keeps changing between the spliced path (nothing set) and
// the copying one (Bandwidth) loses no byte, in the echo or in the
// capture, and tshark's TCP analysis finds the stream whole.
func TestCaptureThroughReplans(t *testing.T) {
	cf := newCaptureFile(t)
	// A buffer for all of it: the race detector slows the writer, and
	// what it would leave out is not what this test is about.
	p, _ := newEchoProxy(t, faults.WithCapture(cf.f, faults.CaptureBuffer(64<<20)))
	payload := make([]byte, 16<<20)
	for i := range payload {
		payload[i] = byte(i / 4093)
	}
	c := dial(t, p.Addr())
	c.SetDeadline(time.Now().Add(60 * time.Second))
	sent := make(chan error, 1)
	go func() {
		for b := payload; len(b) > 0; {
			n, err := c.Write(b[:min(len(b), 256<<10)])
			if err != nil {
				sent <- err
				return
			}
			b = b[n:]
			time.Sleep(time.Millisecond) // a flood in steps, so that replans land inside it
		}
		sent <- c.CloseWrite()
	}()
	stop := make(chan struct{})
	replans := make(chan int, 1)
	go func() {
		n := 0
		defer func() { replans <- n }()
		for deadline := time.Now().Add(30 * time.Second); n < 400 && time.Now().Before(deadline); n++ {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			if n%2 == 0 {
				mustSet(t, p, faults.Bandwidth(1<<40))
			} else {
				p.Reset()
			}
		}
	}()
	got, err := io.ReadAll(c)
	close(stop)
	t.Logf("%d replans during the echo", <-replans)
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("echo: %d of %d bytes, %v", len(got), len(payload), err)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	c.Close()
	cf.finish(t, p)
	conns := cf.conns(t)
	if len(conns) != 1 {
		t.Fatalf("%d connections captured, want 1", len(conns))
	}
	up, down := streams(conns[0])
	if !bytes.Equal(up, payload) || !bytes.Equal(down, payload) {
		t.Errorf("captured %d bytes up and %d down, want the %d sent, whole", len(up), len(down), len(payload))
	}
	requireCleanAnalysis(t, cf.path)
}

// TestCaptureClientReset: a client that resets its connection, while the
// proxy splices it, shows in the capture as a reset from the client, after
// the bytes it sent.
func TestCaptureClientReset(t *testing.T) {
	cf := newCaptureFile(t)
	p, _ := newEchoProxy(t, faults.WithCapture(cf.f))
	c := dial(t, p.Addr())
	c.Write([]byte("ping"))
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, make([]byte, 4)); err != nil {
		t.Fatal(err)
	}
	c.SetLinger(0)
	c.Close()
	waitUntil(t, 5*time.Second, "the connection to end", func() bool { return p.Stats().ConnsOpen == 0 })
	cf.finish(t, p)
	conns := cf.conns(t)
	if len(conns) != 1 {
		t.Fatalf("%d connections captured, want 1", len(conns))
	}
	segs := conns[0].Segments
	var resetBy []tcpcap.Side
	for _, s := range segs {
		if s.Reset {
			resetBy = append(resetBy, s.From)
		}
	}
	if len(resetBy) != 1 || resetBy[0] != tcpcap.Client {
		t.Errorf("resets from %v, want one from the client; segments: %+v", resetBy, segs)
	}
	if up, down := streams(conns[0]); string(up) != "ping" || string(down) != "ping" {
		t.Errorf("captured %q up and %q down, want ping both ways", up, down)
	}
}

// TestCaptureWriteError: a writer that fails makes Close return its
// error, once, and the proxy logs it once; traffic is not held back.
func TestCaptureWriteError(t *testing.T) {
	w := &failingWriter{after: 100}
	var logs lockedBuffer
	p, _ := newEchoProxy(t, faults.WithCapture(w), faults.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	for range 3 {
		c := dial(t, p.Addr())
		c.Write([]byte("some bytes to capture"))
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Read(make([]byte, 64))
		c.Close()
	}
	err := p.Close()
	if !errors.Is(err, errDiskFull) {
		t.Fatalf("Close: %v, want the writer's error", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v, want nil", err)
	}
	if n := strings.Count(logs.String(), "writing the capture failed"); n != 1 || !strings.Contains(logs.String(), "disk full") {
		t.Errorf("logged the write error %d times, want once:\n%s", n, logs.String())
	}
}

var errDiskFull = errors.New("disk full")

// failingWriter takes after bytes, then fails.
type failingWriter struct {
	mu    sync.Mutex
	after int
}

func (w *failingWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(b) > w.after {
		n := w.after
		w.after = 0
		return n, errDiskFull
	}
	w.after -= len(b)
	return len(b), nil
}

// blockedWriter blocks every write until released, then takes it.
type blockedWriter struct {
	release chan struct{}
	mu      sync.Mutex
	buf     bytes.Buffer
}

func (w *blockedWriter) Write(b []byte) (int, error) {
	<-w.release
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(b)
}

// TestCaptureFallsBehind: a capture whose writer is stuck never holds the
// traffic back: 8 MiB go through a proxy whose capture buffer holds 256
// KiB; what did not fit is counted, logged once, and marked in the
// capture, as a comment and as a gap tshark sees.
func TestCaptureFallsBehind(t *testing.T) {
	w := &blockedWriter{release: make(chan struct{})}
	var logs lockedBuffer
	p, _ := newEchoProxy(t, faults.WithCapture(w, faults.CaptureBuffer(256<<10)), faults.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	c := dial(t, p.Addr())
	payload := bytes.Repeat([]byte("z"), 8<<20)
	start := time.Now()
	go c.Write(payload)
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadFull(c, make([]byte, len(payload))); err != nil {
		t.Fatalf("the echo of 8 MiB: %v after %v", err, time.Since(start))
	}
	t.Logf("8 MiB echoed in %v with the capture's writer stuck", time.Since(start))
	dropped := p.Stats().CaptureDropped
	if dropped < 8<<20 { // both ways: 16 MiB, less what fit
		t.Errorf("Stats.CaptureDropped = %d, want most of 16 MiB", dropped)
	}
	c.Close()
	close(w.release)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logs.String(), "falls behind"); n != 1 {
		t.Errorf("logged %d times that the capture falls behind, want once:\n%s", n, logs.String())
	}
	path := filepath.Join(t.TempDir(), "behind.pcapng")
	if err := os.WriteFile(path, w.buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	lost := testenv.Tshark(t, path, "-Y", "tcp.analysis.lost_segment", "-T", "fields", "-e", "frame.comment")
	if len(lost) == 0 || !strings.Contains(lost[0], "were left out of the capture here") {
		t.Errorf("the gap tshark sees: %q, want it marked", lost)
	}
	if _, err := tcpcap.Read(bytes.NewReader(w.buf.Bytes())); err == nil || !strings.Contains(err.Error(), "a gap") {
		t.Errorf("reading the capture back: %v, want an error naming the gap", err)
	}
}

// lockedBuffer is a bytes.Buffer safe for concurrent writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// readFile returns the contents of path.
func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
