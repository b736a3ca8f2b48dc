package pgwire

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"testing"
)

// benchRows returns a result as a server sends it: RowDescription, n
// DataRows of three columns, CommandComplete, ReadyForQuery.
func benchRows(n int) []byte {
	out := msg(TypeRowDescription, int16(3), "id\x00", string(make([]byte, 18)), "name\x00", string(make([]byte, 18)), "note\x00", string(make([]byte, 18)))
	for i := range n {
		id := fmt.Sprint(i)
		out = append(out, msg(TypeDataRow, int16(3), int32(len(id)), id, int32(4), "name", int32(-1))...)
	}
	out = append(out, msg(TypeCommandComplete, fmt.Sprintf("SELECT %d\x00", n))...)
	return AppendReadyForQuery(out, StatusIdle)
}

// BenchmarkFrameDataRows frames a result of 1000 rows message by message
// from a buffered reader, as a relay's replies side does: header, type
// checked, message copied on.
func BenchmarkFrameDataRows(b *testing.B) {
	stream := benchRows(1000)
	src := bytes.NewReader(stream)
	br := bufio.NewReaderSize(src, 16<<10)
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		src.Reset(stream)
		br.Reset(src)
		for {
			h, err := PeekHeader(br)
			if err != nil {
				b.Fatal(err)
			}
			if IsAsync(h.Type) {
				b.Fatal("async")
			}
			if _, err := CopyMessage(io.Discard, br, h); err != nil {
				b.Fatal(err)
			}
			if h.Type == TypeReadyForQuery {
				break
			}
		}
	}
}

// BenchmarkParseDataRow checks one DataRow's layout.
func BenchmarkParseDataRow(b *testing.B) {
	payload := msg(TypeDataRow, int16(3), int32(3), "123", int32(4), "name", int32(-1))[HeaderLen:]
	b.ReportAllocs()
	for b.Loop() {
		if n, err := ParseDataRow(payload); n != 3 || err != nil {
			b.Fatal(n, err)
		}
	}
}

// BenchmarkParseQuery peeks a Query's header and whole payload from a
// buffered reader and reads its text, as a relay's requests side does
// before matching it.
func BenchmarkParseQuery(b *testing.B) {
	q := AppendQuery(nil, "SELECT id, name, note FROM accounts WHERE id = 42 AND note IS NOT NULL")
	src := bytes.NewReader(q)
	br := bufio.NewReaderSize(src, 4096)
	b.SetBytes(int64(len(q)))
	b.ReportAllocs()
	for b.Loop() {
		src.Reset(q)
		br.Reset(src)
		h, err := PeekHeader(br)
		if err != nil {
			b.Fatal(err)
		}
		payload, err := PeekPayload(br, h, h.PayloadLen())
		if err != nil {
			b.Fatal(err)
		}
		sql, err := ParseQuery(payload)
		if err != nil || len(sql) == 0 {
			b.Fatal(err)
		}
		br.Discard(h.Size())
	}
}

// BenchmarkAppendErrorResponse encodes a deadlock error into a reused
// buffer.
func BenchmarkAppendErrorResponse(b *testing.B) {
	e := ErrorFields{Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: "40P01", Message: "deadlock detected",
		Detail: "Process 1 waits for ShareLock on transaction 2; blocked by process 3.", Hint: "See server log for query details."}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendReadyForQuery(AppendErrorResponse(buf[:0], e), StatusIdle)
	}
}
