package faults

import "sync"

// The inspecting copy path reads into small buffers while a stream trickles
// and into large ones while it floods: a read that fills its buffer asks for
// a large one next, any other read a small one. An idle connection, parked
// in a read, so holds only a small buffer per direction.
const (
	smallBuffer = 4 << 10
	largeBuffer = 128 << 10
)

var (
	smallBuffers = sync.Pool{New: func() any { b := make([]byte, smallBuffer); return &b }}
	largeBuffers = sync.Pool{New: func() any { b := make([]byte, largeBuffer); return &b }}
)

// getBuffer returns a small buffer, or a large one if large is set.
func getBuffer(large bool) *[]byte {
	if large {
		return largeBuffers.Get().(*[]byte)
	}
	return smallBuffers.Get().(*[]byte)
}

// putBuffer returns b to its pool.
func putBuffer(b *[]byte) {
	if len(*b) == largeBuffer {
		largeBuffers.Put(b)
	} else {
		smallBuffers.Put(b)
	}
}
