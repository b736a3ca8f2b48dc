package mysqlwire

import (
	"bufio"
	"bytes"
	"fmt"
	"testing"
)

// benchResultSet returns a text result set of n rows of three columns as
// on the wire, in a CLIENT_DEPRECATE_EOF session, with the sequence ids of
// an answer to a command.
func benchResultSet(n int) []byte {
	var rows []mp
	for i := range n {
		rows = append(rows, textRow(str(fmt.Sprint(i)), str("name"), nil))
	}
	var out []byte
	for i, p := range resultSet(true, nil, rows, 2, "id", "name", "note") {
		out = AppendPacket(out, byte(i+1), p.head)
	}
	return out
}

// BenchmarkFollowResultSet follows a result set of 1000 rows packet by
// packet from a buffered reader, as a relay does: header, payload start,
// follower, payload skipped.
func BenchmarkFollowResultSet(b *testing.B) {
	answer := benchResultSet(1000)
	src := bytes.NewReader(answer)
	br := bufio.NewReaderSize(src, 16<<10)
	b.SetBytes(int64(len(answer)))
	b.ReportAllocs()
	for b.Loop() {
		src.Reset(answer)
		br.Reset(src)
		f := NewFollower(ResponseResult, sessDeprecate)
		for !f.Done() {
			p, err := ReadHeader(br)
			if err != nil {
				b.Fatal(err)
			}
			head, err := PeekPayload(br, p, HeadLen)
			if err != nil {
				b.Fatal(err)
			}
			if err := f.Server(head, p.Length); err != nil {
				b.Fatal(err)
			}
			br.Discard(p.Length)
		}
	}
}

// BenchmarkPeekHeader peeks and skips the headers of a stream of small
// packets.
func BenchmarkPeekHeader(b *testing.B) {
	var stream []byte
	for i := range 1000 {
		stream = AppendPacket(stream, byte(i), []byte("0123456789"))
	}
	src := bytes.NewReader(stream)
	br := bufio.NewReaderSize(src, 64<<10)
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		src.Reset(stream)
		br.Reset(src)
		for range 1000 {
			p, err := PeekHeader(br)
			if err != nil {
				b.Fatal(err)
			}
			br.Discard(HeaderLen + p.Length)
		}
	}
}
