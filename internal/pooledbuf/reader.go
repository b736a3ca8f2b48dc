// Package pooledbuf is a buffered reader for connections that spend most of
// their life idle: it holds a large buffer only while bytes are buffered,
// and takes it from a pool shared by every connection.
//
// A bufio.Reader keeps its buffer for its whole life, so a proxy holding
// thousands of kept-alive connections, each read through two 64 KiB
// buffers, pays for buffers that carry nothing. A [Reader] parks in a read
// with a small buffer, grows it when a message needs more (a long head,
// or a read that filled what it had), and gives the buffer back to the
// pool at its next read from the source once every buffered byte has been
// consumed.
package pooledbuf

import (
	"bufio"
	"io"
	"math/bits"
	"sync"
)

// Buffer sizes come in powers of two from minSize to maxPooled, one pool
// each; other sizes are allocated and left to the garbage collector.
const (
	minShift  = 12 // 4 KiB: what an idle read holds
	maxShift  = 17 // 128 KiB
	minSize   = 1 << minShift
	maxPooled = 1 << maxShift
)

var pools [maxShift - minShift + 1]sync.Pool

// Get returns a buffer of exactly size bytes, from a pool when size is a
// power of two from 4 KiB to 128 KiB. Its contents are undefined.
func Get(size int) []byte {
	if i, ok := class(size); ok {
		if b, ok := pools[i].Get().(*[]byte); ok {
			return *b
		}
	}
	return make([]byte, size)
}

// Put gives b, which Get returned, back to its pool, if it has one. The
// caller must not use b after.
func Put(b []byte) {
	if i, ok := class(len(b)); ok {
		pools[i].Put(&b)
	}
}

// class returns the pool of buffers of size bytes.
func class(size int) (int, bool) {
	if size < minSize || size > maxPooled || size&(size-1) != 0 {
		return 0, false
	}
	return bits.TrailingZeros(uint(size)) - minShift, true
}

// sizeFor returns the size of buffer to read into when need bytes must
// fit: the smallest power of two from minSize that holds them (pooled up
// to maxPooled), at most limit. Doubling past maxPooled too keeps a head
// that grows read by read (a long line) from being copied into a buffer a
// few bytes larger at each read.
func sizeFor(need, limit int) int {
	size := minSize
	for size < need && size < limit {
		size <<= 1
	}
	return min(size, limit)
}

// Reader reads from a source through a buffer of at most Size bytes,
// taken from a pool only while bytes are buffered. Its methods behave as
// [bufio.Reader]'s of the same names, with one difference that matters:
// a slice returned by Peek or Next is valid only until the next call that
// reads from the source (Peek or Next beyond the buffered bytes, Read,
// Discard beyond the buffered bytes); consuming buffered bytes with
// Discard leaves it intact.
//
// A Reader is not safe for use by several goroutines at once.
type Reader struct {
	src   io.Reader
	limit int
	buf   []byte // nil while nothing is buffered and no read is under way
	r, w  int    // buf[r:w] are buffered
	err   error  // the source's error, returned once the buffered bytes are consumed
	flood bool   // the last read filled its buffer: more is likely waiting
}

// NewReader returns a Reader of src whose buffer grows to at most size
// bytes (at least 16).
func NewReader(src io.Reader, size int) *Reader {
	return &Reader{src: src, limit: max(size, 16)}
}

// Size returns the most bytes the Reader buffers: the longest Peek it can
// satisfy.
func (b *Reader) Size() int { return b.limit }

// Buffered returns how many bytes can be read without reading from the
// source.
func (b *Reader) Buffered() int { return b.w - b.r }

// Held returns the size of the buffer the Reader holds now, 0 if none:
// what it costs while it waits.
func (b *Reader) Held() int { return len(b.buf) }

// fill reads from the source once (retrying reads that return nothing),
// with room for need bytes buffered in all. Before reading, a buffer
// whose bytes are all consumed goes back to the pool: an idle reader
// holds only the small buffer of the read it is parked in.
func (b *Reader) fill(need int) {
	size := sizeFor(need, b.limit)
	if b.flood {
		// More is likely waiting: read it in a large buffer, from a pool
		// (a larger one would be allocated and cleared for each read),
		// whether or not bytes are still buffered (a message read in
		// part).
		size = max(size, sizeFor(min(b.limit, maxPooled), b.limit))
	}
	switch {
	case b.r == b.w:
		if b.buf != nil {
			Put(b.buf)
		}
		b.buf, b.r, b.w = Get(size), 0, 0
	case size > len(b.buf):
		grown := Get(size)
		b.w = copy(grown, b.buf[b.r:b.w])
		b.r = 0
		Put(b.buf)
		b.buf = grown
	case need > len(b.buf)-b.r:
		b.w = copy(b.buf, b.buf[b.r:b.w])
		b.r = 0
	}
	for range 100 {
		n, err := b.src.Read(b.buf[b.w:])
		if n < 0 || n > len(b.buf)-b.w {
			panic("pooledbuf: source returned an impossible count")
		}
		b.w += n
		if err != nil {
			b.err = err
			break
		}
		if n > 0 {
			b.flood = b.w == len(b.buf)
			return
		}
	}
	if b.err == nil {
		b.err = io.ErrNoProgress
	}
	b.flood = false
	if b.r == b.w {
		Put(b.buf)
		b.buf, b.r, b.w = nil, 0, 0
	}
}

// readErr returns the pending error and forgets it.
func (b *Reader) readErr() error {
	err := b.err
	b.err = nil
	return err
}

// Peek returns the next n bytes without consuming them, reading from the
// source as needed. With fewer than n bytes it also returns an error: the
// source's, or [bufio.ErrBufferFull] if n is more than Size.
func (b *Reader) Peek(n int) ([]byte, error) {
	if n < 0 {
		return nil, bufio.ErrNegativeCount
	}
	for b.w-b.r < n && b.w-b.r < b.limit && b.err == nil {
		b.fill(min(n, b.limit))
	}
	var err error
	if avail := b.w - b.r; avail < n {
		n = avail
		if err = b.readErr(); err == nil {
			err = bufio.ErrBufferFull
		}
	}
	if b.buf == nil {
		return nil, err
	}
	return b.buf[b.r : b.r+n], err
}

// Discard skips the next n bytes, reading from the source if fewer are
// buffered, and returns how many it skipped: fewer than n only with an
// error.
func (b *Reader) Discard(n int) (int, error) {
	if n < 0 {
		return 0, bufio.ErrNegativeCount
	}
	done := 0
	for {
		skip := min(b.w-b.r, n-done)
		b.r += skip
		done += skip
		if done == n {
			return done, nil
		}
		if b.err != nil {
			return done, b.readErr()
		}
		b.fill(1)
	}
}

// Read reads into p: the buffered bytes first; with none, one read of the
// source straight into p.
func (b *Reader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		if b.Buffered() > 0 {
			return 0, nil
		}
		return 0, b.readErr()
	}
	if b.r == b.w {
		if b.err != nil {
			return 0, b.readErr()
		}
		if b.buf != nil {
			Put(b.buf)
			b.buf, b.r, b.w = nil, 0, 0
		}
		n, err := b.src.Read(p)
		if n < 0 || n > len(p) {
			panic("pooledbuf: source returned an impossible count")
		}
		b.flood = n == len(p)
		return n, err
	}
	n := copy(p, b.buf[b.r:b.w])
	b.r += n
	return n, nil
}

// Next returns the buffered bytes, reading from the source once if there
// are none, and consumes them. With no bytes it returns the source's
// error. The slice is valid until the next call that reads from the source.
func (b *Reader) Next() ([]byte, error) {
	if b.r == b.w {
		if b.err == nil {
			b.fill(1)
		}
		if b.r == b.w {
			return nil, b.readErr()
		}
	}
	p := b.buf[b.r:b.w]
	b.r = b.w
	return p, nil
}

// WriteTo writes the buffered bytes and then the rest of the source to w,
// until the source's EOF, which it does not return.
func (b *Reader) WriteTo(w io.Writer) (int64, error) {
	var written int64
	if b.r < b.w {
		n, err := w.Write(b.buf[b.r:b.w])
		b.r += n
		written += int64(n)
		if err != nil {
			return written, err
		}
	}
	if b.err != nil {
		err := b.readErr()
		if err == io.EOF {
			err = nil
		}
		return written, err
	}
	if b.buf != nil {
		Put(b.buf)
		b.buf, b.r, b.w = nil, 0, 0
	}
	n, err := io.Copy(w, b.src)
	return written + n, err
}
