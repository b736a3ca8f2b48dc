package pgwire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestPeekHeader(t *testing.T) {
	in := []byte("Z\x00\x00\x00\x05IQ\x00\x00\x00\x04")
	br := bufio.NewReader(bytes.NewReader(in))
	h, err := PeekHeader(br)
	if err != nil || h != (Header{'Z', 5}) || h.PayloadLen() != 1 || h.Size() != 6 {
		t.Fatalf("%v %v", h, err)
	}
	if br.Buffered() != len(in) {
		t.Fatal("PeekHeader consumed")
	}
	if b := h.Bytes(); !bytes.Equal(b[:], in[:5]) || h.String() != `message('Z', length 5)` {
		t.Errorf("% x %s", b, h)
	}
	if err := DiscardMessage(br, h); err != nil {
		t.Fatal(err)
	}
	// An empty payload is a valid message.
	if h, err = PeekHeader(br); err != nil || h != (Header{'Q', 4}) {
		t.Fatalf("%v %v", h, err)
	}
	if p, err := PeekPayload(br, h, 100); p != nil || err != nil {
		t.Errorf("empty payload: %q %v", p, err)
	}
	br.Discard(5)
	if _, err := PeekHeader(br); err != io.EOF {
		t.Errorf("at the end: %v", err)
	}
}

func TestPeekHeaderMalformed(t *testing.T) {
	for name, in := range map[string]string{
		"length 3":        "Q\x00\x00\x00\x03",
		"length 0":        "S\x00\x00\x00\x00",
		"negative length": "D\xff\xff\xff\xfe",
		"over 1 GiB":      "D\x40\x00\x00\x01",
	} {
		br := bufio.NewReader(strings.NewReader(in))
		if _, err := PeekHeader(br); !errors.Is(err, ErrMalformed) || errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%s: %v", name, err)
		}
		if br.Buffered() != 5 {
			t.Errorf("%s: consumed", name)
		}
		if _, _, _, err := SplitMessage([]byte(in)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: SplitMessage: %v", name, err)
		}
	}
	if _, err := PeekHeader(bufio.NewReader(strings.NewReader("D\x40\x00\x00\x00"))); err != nil {
		t.Errorf("1 GiB: %v", err)
	}
	for cut := 1; cut < 5; cut++ {
		_, err := PeekHeader(bufio.NewReader(strings.NewReader("Z\x00\x00\x00\x05"[:cut])))
		if !errors.Is(err, ErrMalformed) || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("cut at %d: %v", cut, err)
		}
	}
	boom := errors.New("boom")
	if _, err := PeekHeader(bufio.NewReader(iotest.ErrReader(boom))); err != boom {
		t.Errorf("error source: %v", err)
	}
}

func TestPeekPayload(t *testing.T) {
	m := msg(TypeQuery, "SELECT 1\x00")
	br := bufio.NewReaderSize(iotest.OneByteReader(bytes.NewReader(m)), 16)
	h, _ := PeekHeader(br)
	if p, err := PeekPayload(br, h, 3); string(p) != "SEL" || err != nil {
		t.Errorf("head: %q %v", p, err)
	}
	// Capped by the payload and by the buffer.
	if p, err := PeekPayload(br, h, 100); string(p) != "SELECT 1\x00" || err != nil {
		t.Errorf("whole: %q %v", p, err)
	}
	long := msg(TypeQuery, strings.Repeat("x", 40)+"\x00")
	br = bufio.NewReaderSize(bytes.NewReader(long), 16)
	h, _ = PeekHeader(br)
	if p, err := PeekPayload(br, h, 100); len(p) != 11 || err != nil {
		t.Errorf("beyond the buffer: %q %v", p, err)
	}
	// A stream that ends inside the payload.
	br = bufio.NewReader(bytes.NewReader(m[:8]))
	h, _ = PeekHeader(br)
	if _, err := PeekPayload(br, h, 100); !errors.Is(err, ErrMalformed) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("cut: %v", err)
	}
}

// shortWriter takes at most n bytes, then fails.
type shortWriter struct {
	n   int
	got []byte
}

func (w *shortWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		p = p[:w.n]
		w.got = append(w.got, p...)
		w.n = 0
		return len(p), io.ErrClosedPipe
	}
	w.n -= len(p)
	w.got = append(w.got, p...)
	return len(p), nil
}

func TestCopyMessage(t *testing.T) {
	stream := append(msg(TypeDataRow, int16(1), int32(3), "abc"), AppendReadyForQuery(nil, 'I')...)
	br := bufio.NewReaderSize(iotest.HalfReader(bytes.NewReader(stream)), 16)
	var out bytes.Buffer
	for {
		h, err := PeekHeader(br)
		if err == io.EOF {
			break
		}
		if n, err := CopyMessage(&out, br, h); err != nil || n != int64(h.Size()) {
			t.Fatalf("%d %v", n, err)
		}
	}
	if !bytes.Equal(out.Bytes(), stream) {
		t.Errorf("copied %q", out.Bytes())
	}
	// A writer that fails: what it took is consumed, the rest is not.
	br = bufio.NewReader(bytes.NewReader(stream))
	h, _ := PeekHeader(br)
	w := &shortWriter{n: 7}
	if n, err := CopyMessage(w, br, h); n != 7 || err != io.ErrClosedPipe {
		t.Errorf("short write: %d %v", n, err)
	}
	if rest, _ := io.ReadAll(br); !bytes.Equal(rest, stream[7:]) {
		t.Errorf("after a short write %d bytes left", len(rest))
	}
	// A stream that ends inside the message.
	br = bufio.NewReader(bytes.NewReader(stream[:9]))
	h, _ = PeekHeader(br)
	out.Reset()
	if n, err := CopyMessage(&out, br, h); n != 9 || !errors.Is(err, io.ErrUnexpectedEOF) || !errors.Is(err, ErrMalformed) {
		t.Errorf("cut: %d %v", n, err)
	}
	br = bufio.NewReader(bytes.NewReader(stream[:9]))
	h, _ = PeekHeader(br)
	if err := DiscardMessage(br, h); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("discard cut: %v", err)
	}
}

func TestReadMessage(t *testing.T) {
	m := msg(TypeParse, "s1\x00SELECT $1\x00", int16(1), int32(23))
	br := bufio.NewReaderSize(bytes.NewReader(m), 16)
	h, _ := PeekHeader(br)
	if _, err := ReadMessage(nil, br, h, 5); !errors.Is(err, ErrMalformed) || br.Buffered() == 0 {
		t.Errorf("over max: %v, %d buffered", err, br.Buffered())
	}
	raw, err := ReadMessage([]byte("prefix"), br, h, 100)
	if err != nil || string(raw) != "prefix"+string(m) {
		t.Fatalf("%q %v", raw, err)
	}
	p, err := ParseParse(raw[len("prefix")+HeaderLen:])
	if err != nil || string(p.Name) != "s1" || string(p.Query) != "SELECT $1" || p.ParamTypes != 1 {
		t.Errorf("%+v %v", p, err)
	}
	br = bufio.NewReader(bytes.NewReader(m[:10]))
	h, _ = PeekHeader(br)
	if raw, err := ReadMessage(nil, br, h, 100); !errors.Is(err, io.ErrUnexpectedEOF) || !bytes.Equal(raw, m[:10]) {
		t.Errorf("cut: %q %v", raw, err)
	}
}

func TestSplitMessage(t *testing.T) {
	stream := append(AppendQuery(nil, "SELECT 1"), AppendSync(nil)...)
	h, payload, rest, err := SplitMessage(stream)
	if err != nil || h.Type != TypeQuery || string(payload) != "SELECT 1\x00" || !bytes.Equal(rest, AppendSync(nil)) {
		t.Fatalf("%v %q %q %v", h, payload, rest, err)
	}
	for cut := range len(stream) - 5 {
		if _, _, rest, err := SplitMessage(stream[:cut]); err != ErrIncomplete || len(rest) != cut {
			t.Errorf("cut at %d: %v", cut, err)
		}
	}
}

func TestTypes(t *testing.T) {
	for _, c := range "BCdcfDEHFPpQSX" {
		if !IsFrontendType(byte(c)) {
			t.Errorf("%c not a client's type", c)
		}
	}
	for _, c := range "RK23CGHWDIEVvnNAtS1sZTdc" {
		if !IsBackendType(byte(c)) {
			t.Errorf("%c not a server's type", c)
		}
	}
	for _, c := range "aYz\x00!" {
		if IsFrontendType(byte(c)) || IsBackendType(byte(c)) {
			t.Errorf("%q is a type", c)
		}
	}
	for c := range 256 {
		want := c == 'N' || c == 'A' || c == 'S'
		if IsAsync(byte(c)) != want {
			t.Errorf("IsAsync(%q) = %v", byte(c), !want)
		}
	}
}
