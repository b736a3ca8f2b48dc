package faults

import (
	"testing"
	"time"
)

// TestNextSpliceChunk: a spliced copy's chunk follows the rate of the last
// one, about spliceTick's worth, in multiples of minSpliceChunk within
// [minSpliceChunk, maxSpliceChunk].
func TestNextSpliceChunk(t *testing.T) {
	for _, c := range []struct {
		chunk int64
		took  time.Duration
		want  int64
	}{
		{minSpliceChunk, 0, 2 * minSpliceChunk},                       // no time measured: doubles
		{minSpliceChunk, spliceTick / 50, 2 * minSpliceChunk},         // 50 times faster than a tick: doubles
		{8 * minSpliceChunk, spliceTick / 3, 16 * minSpliceChunk},     // three times faster: doubles
		{8 * minSpliceChunk, spliceTick * 2 / 3, 12 * minSpliceChunk}, // 1.5 times faster: follows the rate
		{minSpliceChunk, spliceTick, minSpliceChunk},                  // a chunk a tick: stays
		{minSpliceChunk, time.Second, minSpliceChunk},                 // slower: the floor
		{maxSpliceChunk, time.Millisecond, maxSpliceChunk},            // faster than the ceiling
		{maxSpliceChunk, 10 * time.Second, minSpliceChunk},            // a flood that slowed down
		{4 * minSpliceChunk, spliceTick * 3 / 2, 2 * minSpliceChunk},  // 2.67 rounded down to 2
	} {
		if got := nextSpliceChunk(c.chunk, c.took); got != c.want {
			t.Errorf("nextSpliceChunk(%d, %v) = %d, want %d", c.chunk, c.took, got, c.want)
		}
	}
}
