package pcapng

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

// sample writes a capture of three packets, the second with comments, and
// a statistics block.
func sample(t testing.TB) []byte {
	var buf bytes.Buffer
	w := NewWriter(&buf, LinkTypeRaw, "faults test")
	t0 := time.Unix(1700000000, 123456789)
	if err := w.WritePacket(t0, nil, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if err := w.WritePacket(t0.Add(time.Millisecond), []string{"first comment", "second, longer comment"}, []byte("head"), []byte("-body")); err != nil {
		t.Fatal(err)
	}
	if err := w.WritePacket(t0.Add(time.Second), nil, make([]byte, 65535)); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteStats(t0, t0.Add(time.Second), 3, 7, "7 dropped"); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readAll(t testing.TB, b []byte) []Packet {
	r, err := NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var out []Packet
	for {
		p, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		p.Data = bytes.Clone(p.Data)
		out = append(out, p)
	}
}

func TestRoundTrip(t *testing.T) {
	got := readAll(t, sample(t))
	if len(got) != 3 {
		t.Fatalf("%d packets, want 3", len(got))
	}
	t0 := time.Unix(1700000000, 123456789)
	want := []Packet{
		{LinkType: LinkTypeRaw, Time: t0, Data: []byte{1, 2, 3}, OrigLen: 3},
		{LinkType: LinkTypeRaw, Time: t0.Add(time.Millisecond), Data: []byte("head-body"), OrigLen: 9, Comments: []string{"first comment", "second, longer comment"}},
		{LinkType: LinkTypeRaw, Time: t0.Add(time.Second), Data: make([]byte, 65535), OrigLen: 65535},
	}
	for i := range want {
		if !got[i].Time.Equal(want[i].Time) {
			t.Errorf("packet %d: time %v, want %v", i, got[i].Time, want[i].Time)
		}
		got[i].Time = want[i].Time
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("packet %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestBigEndianMicroseconds reads a hand-made big-endian section whose
// interface counts microseconds (no if_tsresol), as other tools write.
func TestBigEndianMicroseconds(t *testing.T) {
	be := binary.BigEndian
	var b []byte
	block := func(typ uint32, body []byte) {
		n := uint32(12 + len(body))
		b = be.AppendUint32(b, typ)
		b = be.AppendUint32(b, n)
		b = append(b, body...)
		b = be.AppendUint32(b, n)
	}
	shb := be.AppendUint32(nil, byteOrderMagic)
	shb = be.AppendUint16(shb, 1)
	shb = be.AppendUint16(shb, 0)
	shb = be.AppendUint64(shb, ^uint64(0))
	block(blockSectionHeader, shb)
	idb := be.AppendUint16(nil, LinkTypeEthernet)
	idb = be.AppendUint16(idb, 0)
	idb = be.AppendUint32(idb, 0)
	block(blockInterface, idb)
	ticks := uint64(1700000000)*1_000_000 + 250
	epb := be.AppendUint32(nil, 0)
	epb = be.AppendUint32(epb, uint32(ticks>>32))
	epb = be.AppendUint32(epb, uint32(ticks))
	epb = be.AppendUint32(epb, 2)
	epb = be.AppendUint32(epb, 60)
	epb = append(epb, 0xab, 0xcd, 0, 0)
	block(blockEnhancedPacket, epb)
	got := readAll(t, b)
	if len(got) != 1 {
		t.Fatalf("%d packets, want 1", len(got))
	}
	p := got[0]
	if !p.Time.Equal(time.Unix(1700000000, 250_000)) || p.LinkType != LinkTypeEthernet || !bytes.Equal(p.Data, []byte{0xab, 0xcd}) || p.OrigLen != 60 {
		t.Fatalf("got %+v", p)
	}
}

func TestBadCaptures(t *testing.T) {
	good := sample(t)
	cases := []struct {
		name   string
		b      []byte
		reason string
		is     error
	}{
		{"empty", nil, "too short", ErrNotPcapng},
		{"text", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), "not a section header", ErrNotPcapng},
		{"classic pcap", []byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0}, "libpcap's classic format", ErrNotPcapng},
		{"cut in a block", good[:len(good)-10], "cut short", io.ErrUnexpectedEOF},
		{"bad length", corrupt(good, 48+4, 0xff), "block length", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := readErr(c.b)
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v (%T), want a *FormatError", err, err)
			}
			if !strings.Contains(err.Error(), c.reason) {
				t.Errorf("error %q does not say %q", err, c.reason)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error %q is not %v", err, c.is)
			}
		})
	}
}

// corrupt returns a copy of b with the byte at i set to v.
func corrupt(b []byte, i int, v byte) []byte {
	b = bytes.Clone(b)
	b[i] = v
	return b
}

// readErr reads b to its end and returns the error that stopped it, nil
// at a clean end.
func readErr(b []byte) error {
	r, err := NewReader(bytes.NewReader(b))
	if err != nil {
		return err
	}
	for {
		if _, err := r.Next(); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

// FuzzReader reads arbitrary bytes as a capture: it must never panic, and
// every error about the bytes must be a *FormatError.
func FuzzReader(f *testing.F) {
	good := sample(f)
	f.Add(good)
	f.Add(good[:100])
	f.Add(good[:len(good)/2])
	f.Fuzz(func(t *testing.T, b []byte) {
		err := readErr(b)
		var fe *FormatError
		if err != nil && !errors.As(err, &fe) {
			t.Fatalf("error %v (%T) is not a *FormatError", err, err)
		}
	})
}

func BenchmarkWritePacket(b *testing.B) {
	w := NewWriter(io.Discard, LinkTypeRaw, "bench")
	hdr := make([]byte, 40)
	payload := make([]byte, 1400)
	t0 := time.Now()
	b.SetBytes(int64(len(hdr) + len(payload)))
	for b.Loop() {
		w.WritePacket(t0, nil, hdr, payload)
	}
}
