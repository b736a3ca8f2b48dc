package pooledbuf

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"
)

// chunked reads src in chunks of the given sizes, in turn.
type chunked struct {
	src   []byte
	sizes []int
	i     int
}

func (c *chunked) Read(p []byte) (int, error) {
	if len(c.src) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(c.src), max(c.sizes[c.i%len(c.sizes)], 1))
	c.i++
	copy(p, c.src[:n])
	c.src = c.src[n:]
	return n, nil
}

// consume reads all of r with a mix of Peek, Discard, Read and Next chosen
// by seed, and returns the bytes in the order they were consumed.
func consume(t testing.TB, r *Reader, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	var out []byte
	for range 100000 {
		switch rng.IntN(4) {
		case 0:
			n := rng.IntN(r.Size() + 8)
			p, err := r.Peek(n)
			if err == nil && len(p) != n {
				t.Fatalf("Peek(%d) returned %d bytes and no error", n, len(p))
			}
			if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
				t.Fatalf("Peek: %v", err)
			}
			if errors.Is(err, bufio.ErrBufferFull) && n <= r.Size() {
				t.Fatalf("Peek(%d) of at most %d: buffer full", n, r.Size())
			}
			k := rng.IntN(len(p) + 1)
			out = append(out, p[:k]...)
			if m, err := r.Discard(k); m != k || err != nil {
				t.Fatalf("Discard(%d) of buffered bytes: %d, %v", k, m, err)
			}
			if err != nil && errors.Is(err, io.EOF) && len(p) == 0 {
				return out
			}
		case 1:
			p := make([]byte, rng.IntN(3*r.Size())+1)
			n, err := r.Read(p)
			out = append(out, p[:n]...)
			if err == io.EOF {
				return out
			}
		case 2:
			p, err := r.Next()
			out = append(out, p...)
			if err == io.EOF {
				return out
			}
		case 3:
			// Discard past the buffered bytes: they are read and dropped,
			// so peek at them first to keep the record.
			n := rng.IntN(2 * r.Size())
			p, _ := r.Peek(min(n, r.Size()))
			before := append([]byte(nil), p...)
			m, err := r.Discard(len(before))
			out = append(out, before[:m]...)
			if err == io.EOF {
				return out
			}
		}
	}
	t.Fatal("consume did not reach EOF")
	return nil
}

func TestReaderDeliversEveryByteInOrder(t *testing.T) {
	src := make([]byte, 1<<20)
	for i := range src {
		src[i] = byte(i * 7)
	}
	for seed := range uint64(20) {
		sizes := []int{1, 3, 4096, 100, 70000, 17}
		r := NewReader(&chunked{src: src, sizes: sizes[seed%3:]}, 64<<10)
		got := consume(t, r, seed)
		if !bytes.Equal(got, src) {
			t.Fatalf("seed %d: got %d bytes, want %d (equal prefix %d)", seed, len(got), len(src), prefixLen(got, src))
		}
	}
}

func prefixLen(a, b []byte) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

func TestReaderPeekBeyondSize(t *testing.T) {
	r := NewReader(bytes.NewReader(make([]byte, 100)), 32)
	p, err := r.Peek(33)
	if !errors.Is(err, bufio.ErrBufferFull) || len(p) != 32 {
		t.Fatalf("Peek(33) of a 32-byte reader: %d bytes, %v; want 32 and ErrBufferFull", len(p), err)
	}
}

func TestReaderReturnsSourceErrorAfterBufferedBytes(t *testing.T) {
	boom := errors.New("boom")
	r := NewReader(io.MultiReader(bytes.NewReader([]byte("abc")), iotest.ErrReader(boom)), 64)
	p, err := r.Peek(5)
	if string(p) != "abc" || !errors.Is(err, boom) {
		t.Fatalf("Peek(5): %q, %v; want \"abc\" and the source's error", p, err)
	}
	if p, err := r.Next(); string(p) != "abc" || err != nil {
		t.Fatalf("Next: %q, %v; want the buffered bytes first", p, err)
	}
	if _, err := r.Next(); !errors.Is(err, boom) {
		t.Fatalf("Next after the bytes: %v, want the source's error", err)
	}
}

// A reader parked in a read holds only a small buffer, whatever it held
// for the message before.
func TestReaderIdleHoldsSmallBuffer(t *testing.T) {
	head := bytes.Repeat([]byte("h"), 40<<10)
	pr, pw := io.Pipe()
	r := NewReader(pr, 64<<10)
	go func() {
		pw.Write(head)
		pw.Write([]byte("next"))
		pw.Close()
	}()
	p, err := r.Peek(len(head))
	if err != nil || len(p) != len(head) {
		t.Fatalf("Peek(%d): %d bytes, %v", len(head), len(p), err)
	}
	if r.Held() < len(head) {
		t.Fatalf("holds %d bytes while a %d-byte head is buffered", r.Held(), len(head))
	}
	r.Discard(len(head))
	if string(p[:4]) != "hhhh" {
		t.Fatal("Discard of buffered bytes changed what Peek returned")
	}
	p, err = r.Peek(4)
	if string(p) != "next" || err != nil {
		t.Fatalf("Peek(4): %q, %v", p, err)
	}
	if r.Held() > minSize {
		t.Fatalf("holds %d bytes for a 4-byte message; want at most %d", r.Held(), minSize)
	}
	r.Discard(4)
	if _, err := r.Peek(1); err != io.EOF {
		t.Fatalf("Peek at the end: %v, want EOF", err)
	}
	if r.Held() != 0 {
		t.Fatalf("holds %d bytes after EOF with nothing buffered", r.Held())
	}
}

// A head longer than the pooled sizes, read a little at a time, grows the
// buffer by doubling, not by what each read brought: its reads stay few,
// and so do the copies.
func TestReaderLongHeadGrowsByDoubling(t *testing.T) {
	head := bytes.Repeat([]byte("k"), 600<<10)
	src := &chunked{src: append(head, '\n'), sizes: []int{1000}}
	r := NewReader(src, 1<<20)
	// As a framer looks for the end of a line: peek one byte more than
	// is buffered until the buffered bytes hold it.
	for n := 1; ; n = r.Buffered() + 1 {
		if _, err := r.Peek(n); err != nil {
			t.Fatalf("Peek(%d): %v", n, err)
		}
		if p, _ := r.Peek(r.Buffered()); bytes.IndexByte(p, '\n') >= 0 {
			break
		}
	}
	if src.i > len(head)/1000+10 {
		t.Fatalf("%d reads for %d bytes in reads of 1000", src.i, len(head))
	}
	if r.Held() != 1<<20 {
		t.Fatalf("holds %d bytes for a %d-byte head; want the power of two above it", r.Held(), len(head))
	}
}

// A flood read with a message in part still buffered goes on in a large
// buffer, not in the small one the message began in.
func TestReaderFloodGrowsWithBytesBuffered(t *testing.T) {
	src := &chunked{src: bytes.Repeat([]byte("x"), 1<<20), sizes: []int{1 << 20}}
	r := NewReader(src, 1<<20)
	if _, err := r.Peek(1); err != nil {
		t.Fatal(err)
	}
	// The first read filled the idle buffer: a flood. Consume all but a
	// byte, as a framer holding a message in part does, and read on.
	r.Discard(r.Buffered() - 1)
	if _, err := r.Peek(2); err != nil {
		t.Fatal(err)
	}
	if r.Held() != maxPooled || r.Buffered() != maxPooled {
		t.Fatalf("holds %d bytes, %d buffered; want the flood's %d, full", r.Held(), r.Buffered(), maxPooled)
	}
}

func TestReaderWriteTo(t *testing.T) {
	src := bytes.Repeat([]byte("0123456789"), 10000)
	r := NewReader(&chunked{src: src, sizes: []int{7, 5000}}, 4096)
	p, _ := r.Peek(10)
	if string(p) != "0123456789" {
		t.Fatalf("Peek: %q", p)
	}
	var out bytes.Buffer
	n, err := r.WriteTo(&out)
	if err != nil || n != int64(len(src)) || !bytes.Equal(out.Bytes(), src) {
		t.Fatalf("WriteTo: %d, %v; equal: %v", n, err, bytes.Equal(out.Bytes(), src))
	}
}

func TestSizeClasses(t *testing.T) {
	for _, c := range []struct{ need, limit, want int }{
		{1, 64 << 10, 4 << 10},
		{5000, 64 << 10, 8 << 10},
		{64 << 10, 64 << 10, 64 << 10},
		{70000, 70000, 70000},
		{10, 16, 16},
		{200 << 10, 1 << 20, 256 << 10},
		{200 << 10, 210 << 10, 210 << 10},
	} {
		if got := sizeFor(c.need, c.limit); got != c.want {
			t.Errorf("sizeFor(%d, %d) = %d, want %d", c.need, c.limit, got, c.want)
		}
	}
	b := Get(8 << 10)
	Put(b)
	if got := Get(8 << 10); len(got) != 8<<10 {
		t.Fatalf("Get(8 KiB) returned %d bytes", len(got))
	}
}

func FuzzReader(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"), uint64(1), uint8(3), uint8(16))
	f.Add(bytes.Repeat([]byte{1}, 9000), uint64(2), uint8(200), uint8(64))
	f.Fuzz(func(t *testing.T, src []byte, seed uint64, chunk, size uint8) {
		r := NewReader(&chunked{src: src, sizes: []int{int(chunk), 1, int(chunk) * 97}}, int(size)*64)
		got := consume(t, r, seed)
		if !bytes.Equal(got, src) {
			t.Fatalf("got %d bytes, want %d (equal prefix %d)", len(got), len(src), prefixLen(got, src))
		}
	})
}
