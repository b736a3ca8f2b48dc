package resp

import (
	"bytes"
	"strings"
	"testing"
)

// BenchmarkFramePipeline frames a pipeline of 100 SET commands as a
// client sends them (about 4 KiB), read in one go: PeekCommand,
// StartCommand and Frame for each, then one Take, as the relay does.
func BenchmarkFramePipeline(b *testing.B) {
	var pipeline []byte
	for range 100 {
		pipeline = append(pipeline, "*3\r\n$3\r\nSET\r\n$8\r\nkey:0042\r\n$10\r\nvalue:0042\r\n"...)
	}
	src := bytes.NewReader(pipeline)
	rr := NewReader(src)
	b.SetBytes(int64(len(pipeline)))
	b.ReportAllocs()
	for b.Loop() {
		src.Reset(pipeline)
		if err := rr.Fill(); err != nil || len(rr.Unframed()) != len(pipeline) {
			b.Fatalf("fill: %v, %d bytes", err, len(rr.Unframed()))
		}
		for n := 0; n < 100; n++ {
			cmd, err := rr.PeekCommand()
			if err != nil || len(cmd.Key) != 8 {
				b.Fatalf("command %d: %+v, %v", n, cmd, err)
			}
			rr.StartCommand(cmd)
			if whole, err := rr.Frame(); !whole || err != nil {
				b.Fatalf("command %d: frame %v, %v", n, whole, err)
			}
		}
		if got := rr.Take(); len(got) != len(pipeline) {
			b.Fatalf("took %d bytes, want %d", len(got), len(pipeline))
		}
	}
}

// BenchmarkFrameLargeReply frames a 1 MiB bulk reply whose payload holds
// CRLFs and RESP headers, read in the Reader's own buffer-sized reads,
// taking what is framed after each: the memory used stays that of the
// buffer, whatever the reply's size.
func BenchmarkFrameLargeReply(b *testing.B) {
	const size = 1 << 20
	payload := strings.Repeat("big\r\n*3\r\n$-1\r\n:7\r\n", size/18+1)[:size]
	reply := []byte("$1048576\r\n" + payload + "\r\n")
	src := bytes.NewReader(reply)
	rr := NewReader(src)
	b.SetBytes(int64(len(reply)))
	b.ReportAllocs()
	for b.Loop() {
		src.Reset(reply)
		n := 0
		for {
			whole, err := rr.Frame()
			if err != nil {
				b.Fatal(err)
			}
			n += len(rr.Take())
			if whole {
				break
			}
			if err := rr.Fill(); err != nil {
				b.Fatalf("fill after %d bytes: %v", n, err)
			}
		}
		if n != len(reply) {
			b.Fatalf("framed %d bytes, want %d", n, len(reply))
		}
	}
}
