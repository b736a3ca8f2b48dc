package memcache

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"testing"
)

// BenchmarkFrameGetPipeline frames a pipeline of 100 gets of three keys
// each as a client sends them, and the replies (two hits of 32 bytes and
// a miss each), read through a 4 KiB buffer: PeekCommand and CopyCommand
// per command, then CopyReply per reply, as a relay does.
func BenchmarkFrameGetPipeline(b *testing.B) {
	var cmds, replies []byte
	for i := range 100 {
		cmds = fmt.Appendf(cmds, "get key:%04d key:%04d miss:%04d\r\n", i, i+1, i)
		for _, k := range []int{i, i + 1} {
			replies = fmt.Appendf(replies, "VALUE key:%04d 0 32\r\n%032d\r\n", k, k)
		}
		replies = append(replies, "END\r\n"...)
	}
	csrc, rsrc := bytes.NewReader(cmds), bytes.NewReader(replies)
	cr, rr := bufio.NewReaderSize(csrc, 4096), bufio.NewReaderSize(rsrc, 4096)
	var c Command
	var shapes [100]Shape
	b.SetBytes(int64(len(cmds) + len(replies)))
	b.ReportAllocs()
	for b.Loop() {
		csrc.Reset(cmds)
		rsrc.Reset(replies)
		cr.Reset(csrc)
		rr.Reset(rsrc)
		for i := range 100 {
			if err := PeekCommand(cr, &c); err != nil || len(c.Keys) != 3 {
				b.Fatalf("command %d: %+v, %v", i, c, err)
			}
			shapes[i] = c.Reply
			if _, err := CopyCommand(io.Discard, cr, &c); err != nil {
				b.Fatal(err)
			}
		}
		for i := range 100 {
			if _, err := CopyReply(io.Discard, rr, shapes[i]); err != nil {
				b.Fatalf("reply %d: %v", i, err)
			}
		}
	}
}

// BenchmarkFrameLargeValue frames a set of a 1 MiB value whose bytes hold
// CRLFs and reply lines, and the get's reply holding it, through a 4 KiB
// buffer: the memory used stays the buffer's, whatever the value's size.
func BenchmarkFrameLargeValue(b *testing.B) {
	const size = 1 << 20
	unit := []byte("big\r\nEND\r\nVALUE k 0 3\r\nVA 2 \r\nMN\r\n")
	value := bytes.Repeat(unit, size/len(unit)+1)[:size]
	cmd := append(fmt.Appendf(nil, "set big 0 0 %d\r\n", size), value...)
	cmd = append(cmd, "\r\n"...)
	reply := append(fmt.Appendf(nil, "VALUE big 0 %d\r\n", size), value...)
	reply = append(reply, "\r\nEND\r\n"...)
	csrc, rsrc := bytes.NewReader(cmd), bytes.NewReader(reply)
	cr, rr := bufio.NewReaderSize(csrc, 4096), bufio.NewReaderSize(rsrc, 4096)
	var c Command
	b.SetBytes(int64(len(cmd) + len(reply)))
	b.ReportAllocs()
	for b.Loop() {
		csrc.Reset(cmd)
		rsrc.Reset(reply)
		cr.Reset(csrc)
		rr.Reset(rsrc)
		if err := PeekCommand(cr, &c); err != nil {
			b.Fatal(err)
		}
		if n, err := CopyCommand(io.Discard, cr, &c); err != nil || n != int64(len(cmd)) {
			b.Fatalf("command: %d, %v", n, err)
		}
		if n, err := CopyReply(io.Discard, rr, ShapeValues); err != nil || n != int64(len(reply)) {
			b.Fatalf("reply: %d, %v", n, err)
		}
	}
}
