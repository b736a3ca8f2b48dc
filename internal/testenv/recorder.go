package testenv

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Recorder is a TCP relay in front of a server that records what each
// side of each connection sent, for tests that check a codec against real
// bytes and for tools that capture fixtures. It knows no protocol; a hook
// may rewrite the start of the server's stream (a greeting) on the way.
type Recorder struct {
	ln     net.Listener
	target string
	first  func(server *bufio.Reader, client io.Writer)

	mu    sync.Mutex
	conns []*Recording
	open  []net.Conn
	wg    sync.WaitGroup
	once  sync.Once
}

// Recording is what the two sides of one connection sent, the server's
// bytes as the client received them (after the hook). It is safe to read
// while the connection is live.
type Recording struct {
	mu             sync.Mutex
	client, server bytes.Buffer
	chunks         []Chunk
}

// Chunk is one write through the relay: what one read from a side
// returned, forwarded to the other.
type Chunk struct {
	FromClient bool
	Data       []byte
}

// NewRecorder starts a recorder listening on 127.0.0.1 that relays each
// connection to target. If first is not nil, it is called once per
// connection, before anything else of the server's is forwarded, with the
// server's side and a writer to the client (which records what it
// writes): it forwards, rewritten or not, as much of the server's start as
// it reads; the rest follows as it is. The recorder is closed at the end
// of the test, if Close was not called before.
func NewRecorder(t testing.TB, target string, first func(server *bufio.Reader, client io.Writer)) *Recorder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &Recorder{ln: ln, target: target, first: first}
	r.wg.Add(1)
	go r.accept()
	t.Cleanup(r.Close)
	return r
}

// Addr returns the address clients dial, host:port.
func (r *Recorder) Addr() string { return r.ln.Addr().String() }

// Close stops the recorder once the connections have ended (the client's
// last bytes, such as a goodbye command, are then recorded), or after 5
// seconds, closing those still open. It returns when every goroutine of
// the recorder has ended. It may be called more than once.
func (r *Recorder) Close() {
	r.once.Do(func() {
		r.ln.Close()
		ended := make(chan struct{})
		go func() {
			r.wg.Wait()
			close(ended)
		}()
		select {
		case <-ended:
			return
		case <-time.After(5 * time.Second):
		}
		r.mu.Lock()
		for _, c := range r.open {
			c.Close()
		}
		r.mu.Unlock()
		<-ended
	})
}

// Recordings returns the recordings of the connections so far, in the
// order they were accepted.
func (r *Recorder) Recordings() []*Recording {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*Recording(nil), r.conns...)
}

// Streams returns copies of what the client and the server sent.
func (r *Recording) Streams() (client, server []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.client.Bytes()), bytes.Clone(r.server.Bytes())
}

// Chunks returns copies of the writes through the relay, both ways, in the
// order they were forwarded: a chunk is recorded before it is forwarded,
// so a reply caused by a chunk comes after it.
func (r *Recording) Chunks() []Chunk {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Chunk, len(r.chunks))
	for i, c := range r.chunks {
		out[i] = Chunk{c.FromClient, bytes.Clone(c.Data)}
	}
	return out
}

// tee records what it forwards to w.
type tee struct {
	r          *Recording
	fromClient bool
	w          io.Writer
}

func (t tee) Write(p []byte) (int, error) {
	t.r.mu.Lock()
	if t.fromClient {
		t.r.client.Write(p)
	} else {
		t.r.server.Write(p)
	}
	t.r.chunks = append(t.r.chunks, Chunk{t.fromClient, bytes.Clone(p)})
	t.r.mu.Unlock()
	return t.w.Write(p)
}

func (r *Recorder) accept() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", r.target)
		if err != nil {
			c.Close()
			continue
		}
		rec := &Recording{}
		r.mu.Lock()
		r.conns = append(r.conns, rec)
		r.open = append(r.open, c, s)
		r.mu.Unlock()
		r.wg.Add(2)
		go func() {
			defer r.wg.Done()
			io.Copy(tee{rec, true, s}, c)
			s.(*net.TCPConn).CloseWrite()
		}()
		go func() {
			defer r.wg.Done()
			defer c.Close()
			defer s.Close()
			br := bufio.NewReaderSize(s, 64<<10)
			w := tee{rec, false, c}
			if r.first != nil {
				r.first(br, w)
			}
			br.WriteTo(w)
		}()
	}
}
