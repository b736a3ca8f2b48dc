package faults_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gofaults/faults"
)

// The helpers below are shared by the core-semantics tests (transparency,
// lifecycle, switch, seed, bad input, conformance).

// copyPath is one of the proxy's copy paths, selected by what is installed:
// nothing (spliced), a behavior that must see the bytes but never slows or
// alters them (inspecting), or a near-zero latency, which sends every chunk
// through a delay line and its writer goroutine (delayed).
type copyPath struct {
	name string
	set  []faults.Behavior
}

var copyPaths = []copyPath{
	{"spliced", nil},
	{"inspecting", []faults.Behavior{faults.Bandwidth(1 << 50)}},
	{"delayed", []faults.Behavior{faults.Latency(time.Nanosecond)}},
}

// newPathProxy starts a proxy in front of target with path's behaviors
// installed, closed at cleanup.
func newPathProxy(t testing.TB, target string, path copyPath, opts ...faults.Option) *faults.Proxy {
	t.Helper()
	p, err := faults.NewProxy(target, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	mustSet(t, p, path.set...)
	return p
}

// randomBytes returns n pseudo-random bytes, the same for the same seed.
func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	streamFor(seed).Read(b)
	return b
}

// streamFor returns a deterministic byte stream: reading it in any chunk
// sizes yields the same sequence.
func streamFor(seed uint64) *rand.ChaCha8 {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	return rand.NewChaCha8(s)
}

// isReset reports whether err is a TCP reset seen by the local socket.
func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }

// readUntilEnd reads c until it fails or reaches EOF, for at most d, and
// returns what it read and the error that ended it (io.EOF for a clean end).
// It fails the test if d passes first.
func readUntilEnd(t testing.TB, c net.Conn, d time.Duration) ([]byte, error) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	defer c.SetReadDeadline(time.Time{})
	var got bytes.Buffer
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			if isTimeout(err) {
				t.Fatalf("connection still open after %v (read %d bytes)", d, got.Len())
			}
			return got.Bytes(), err
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// waitUntil polls cond until it holds, failing the test if it does not
// within d.
func waitUntil(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// echoes writes msg to c and checks that the same bytes come back within
// d.
func echoes(t testing.TB, c net.Conn, msg string, d time.Duration) {
	t.Helper()
	if err := tryEcho(c, msg, d); err != nil {
		t.Fatal(err)
	}
}

// tryEcho is echoes for goroutines: it returns the failure.
func tryEcho(c net.Conn, msg string, d time.Duration) error {
	c.SetDeadline(time.Now().Add(d))
	defer c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, msg); err != nil {
		return err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if string(got) != msg {
		return errors.New("echo mismatch: got " + string(got) + ", want " + msg)
	}
	return nil
}

// TestTransparencyBulkBothWays sends several MiB of random bytes each way
// at once, the client uploading while the server sends its own stream, and
// checks that each side receives exactly what the other sent, then EOF, on
// both copy paths.
func TestTransparencyBulkBothWays(t *testing.T) {
	const size = 8 << 20
	for _, path := range copyPaths {
		t.Run(path.name, func(t *testing.T) {
			up := randomBytes(1, size)
			down := randomBytes(2, size)
			type result struct {
				got []byte
				err error
			}
			results := make(chan result, 1)
			b := newBackend(t, func(c net.Conn) {
				defer c.Close()
				var werr error
				var wg sync.WaitGroup
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, werr = c.Write(down); werr == nil {
						werr = c.(*net.TCPConn).CloseWrite()
					}
				}()
				got, rerr := io.ReadAll(c)
				wg.Wait()
				results <- result{got, errors.Join(rerr, werr)}
			})
			p := newPathProxy(t, b.addr(), path)
			c := dial(t, p.Addr())
			c.SetDeadline(time.Now().Add(60 * time.Second))

			werr := make(chan error, 1)
			go func() {
				_, err := c.Write(up)
				if err == nil {
					err = c.CloseWrite()
				}
				werr <- err
			}()
			got, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("client read: %v (after %d bytes)", err, len(got))
			}
			if err := <-werr; err != nil {
				t.Fatalf("client write: %v", err)
			}
			if !bytes.Equal(got, down) {
				t.Errorf("client received %d bytes that differ from the %d the server sent (first difference at %d)", len(got), len(down), firstDiff(got, down))
			}
			var r result
			select {
			case r = <-results:
			case <-time.After(30 * time.Second):
				t.Fatal("server never saw the client's EOF")
			}
			if r.err != nil {
				t.Fatalf("server: %v", r.err)
			}
			if !bytes.Equal(r.got, up) {
				t.Errorf("server received %d bytes that differ from the %d the client sent (first difference at %d)", len(r.got), len(up), firstDiff(r.got, up))
			}
			// Each side has seen the other's EOF, so the proxy has counted
			// every byte it passed on.
			st := p.Stats()
			if st.BytesUpstream != size || st.BytesDownstream != size {
				t.Errorf("Stats bytes up/down = %d/%d, want %d/%d", st.BytesUpstream, st.BytesDownstream, size, size)
			}
			// A behavior taking hold of a connection counts as a firing.
			if st.ConnsTotal != 1 || st.Injected != int64(len(path.set)) {
				t.Errorf("Stats = %+v, want one connection and %d firings", st, len(path.set))
			}
			c.Close()
			waitUntil(t, 5*time.Second, "ConnsOpen to drop to 0", func() bool { return p.Stats().ConnsOpen == 0 })
		})
	}
}

// TestTransparencyManyConnections: concurrent connections, each carrying
// its own data, never see each other's bytes (no shared or recycled buffer
// leaks between them).
func TestTransparencyManyConnections(t *testing.T) {
	const conns, size = 24, 256 << 10
	for _, path := range copyPaths {
		t.Run(path.name, func(t *testing.T) {
			b := newBackend(t, echo)
			p := newPathProxy(t, b.addr(), path)
			var wg sync.WaitGroup
			for i := range conns {
				c := dial(t, p.Addr())
				wg.Go(func() {
					data := randomBytes(uint64(1000+i), size)
					c.SetDeadline(time.Now().Add(30 * time.Second))
					go func() {
						c.Write(data)
						c.CloseWrite()
					}()
					got, err := io.ReadAll(c)
					if err != nil {
						t.Errorf("conn %d: %v", i, err)
						return
					}
					if !bytes.Equal(got, data) {
						t.Errorf("conn %d: got %d bytes back, want its own %d (first difference at %d)", i, len(got), len(data), firstDiff(got, data))
					}
				})
			}
			wg.Wait()
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestTransparencyClientHalfClose: the client sends a request and shuts
// down its writing side; the server reads to EOF, and only then sends a
// large reply, which must reach the client in full, followed by EOF.
// (Toxiproxy closes the whole connection at the client's FIN and loses the
// reply.)
func TestTransparencyClientHalfClose(t *testing.T) {
	for _, path := range copyPaths {
		t.Run(path.name, func(t *testing.T) {
			req := randomBytes(3, 1<<20)
			sawEOF := make(chan error, 1)
			b := newBackend(t, func(c net.Conn) {
				defer c.Close()
				got, err := io.ReadAll(c) // returns at the client's FIN
				if err == nil && !bytes.Equal(got, req) {
					err = errors.New("server received a different request")
				}
				sawEOF <- err
				if err != nil {
					return
				}
				sum := sha256.Sum256(got)
				c.Write(sum[:])
				c.Write(randomBytes(4, 2<<20))
			})
			p := newPathProxy(t, b.addr(), path)
			c := dial(t, p.Addr())
			c.SetDeadline(time.Now().Add(30 * time.Second))
			go func() {
				c.Write(req)
				c.CloseWrite()
			}()
			reply, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("client read: %v after %d bytes; want the whole reply, then EOF", err, len(reply))
			}
			if err := <-sawEOF; err != nil {
				t.Fatalf("server: %v", err)
			}
			sum := sha256.Sum256(req)
			want := append(sum[:], randomBytes(4, 2<<20)...)
			if !bytes.Equal(reply, want) {
				t.Fatalf("client got a %d-byte reply, want %d bytes (first difference at %d)", len(reply), len(want), firstDiff(reply, want))
			}
		})
	}
}

// TestTransparencyServerHalfClose: the server sends a greeting and shuts
// down its writing side; the client reads the greeting and EOF while its
// own side stays open, then sends data that must still reach the server.
func TestTransparencyServerHalfClose(t *testing.T) {
	for _, path := range copyPaths {
		t.Run(path.name, func(t *testing.T) {
			data := randomBytes(5, 512<<10)
			got := make(chan []byte, 1)
			b := newBackend(t, func(c net.Conn) {
				defer c.Close()
				io.WriteString(c, "hello")
				c.(*net.TCPConn).CloseWrite()
				all, _ := io.ReadAll(c)
				got <- all
			})
			p := newPathProxy(t, b.addr(), path)
			c := dial(t, p.Addr())
			greeting, err := readUntilEnd(t, c, 10*time.Second)
			if err != io.EOF || string(greeting) != "hello" {
				t.Fatalf("client read %q, %v; want \"hello\", EOF", greeting, err)
			}
			c.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if _, err := c.Write(data); err != nil {
				t.Fatalf("client write after the server's FIN: %v", err)
			}
			c.CloseWrite()
			select {
			case all := <-got:
				if !bytes.Equal(all, data) {
					t.Fatalf("server received %d bytes, want the %d the client sent after the server's FIN", len(all), len(data))
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the client's bytes and FIN never reached the server")
			}
		})
	}
}

// resetClose closes c with an RST instead of a FIN.
func resetClose(c net.Conn) {
	c.(*net.TCPConn).SetLinger(0)
	c.Close()
}

// TestTransparencyClientReset: a client that resets its connection makes
// the server see ECONNRESET, not a clean EOF.
func TestTransparencyClientReset(t *testing.T) {
	for _, path := range copyPaths {
		t.Run(path.name, func(t *testing.T) {
			srvErr := make(chan error, 1)
			b := newBackend(t, func(c net.Conn) {
				defer c.Close()
				buf := make([]byte, 4)
				if _, err := io.ReadFull(c, buf); err != nil {
					srvErr <- err
					return
				}
				c.Write(buf)
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				_, err := c.Read(buf)
				srvErr <- err
			})
			p := newPathProxy(t, b.addr(), path)
			c := dial(t, p.Addr())
			echoes(t, c, "ping", 5*time.Second)
			resetClose(c)
			select {
			case err := <-srvErr:
				if !isReset(err) {
					t.Fatalf("server read after the client's reset: %v; want ECONNRESET", err)
				}
			case <-time.After(15 * time.Second):
				t.Fatal("server never saw the reset")
			}
		})
	}
}

// TestTransparencyServerReset: a server that resets its connection makes
// the client see ECONNRESET, not a clean EOF.
func TestTransparencyServerReset(t *testing.T) {
	for _, path := range copyPaths {
		t.Run(path.name, func(t *testing.T) {
			b := newBackend(t, func(c net.Conn) {
				buf := make([]byte, 4)
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, err := io.ReadFull(c, buf); err != nil {
					c.Close()
					return
				}
				c.Write(buf)
				io.ReadFull(c, buf) // the client's go-ahead
				resetClose(c)
			})
			p := newPathProxy(t, b.addr(), path)
			c := dial(t, p.Addr())
			echoes(t, c, "ping", 5*time.Second)
			io.WriteString(c, "rst!")
			got, err := readUntilEnd(t, c, 10*time.Second)
			if !isReset(err) {
				t.Fatalf("client read after the server's reset: %q, %v; want ECONNRESET", got, err)
			}
		})
	}
}
