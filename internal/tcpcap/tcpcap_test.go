package tcpcap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gofaults/faults/internal/pcapng"
	"github.com/gofaults/faults/internal/testenv"
)

var (
	t0      = time.Unix(1700000000, 0)
	client4 = netip.MustParseAddrPort("127.0.0.1:50000")
	server4 = netip.MustParseAddrPort("127.0.0.1:3306")
	client6 = netip.MustParseAddrPort("[::1]:50001")
	server6 = netip.MustParseAddrPort("[::1]:6379")
)

// writeSample writes two connections: an IPv4 one with an exchange, a
// large reply (split, acknowledged), comments and FINs both ways; an IPv6
// one that the server resets.
func writeSample(t testing.TB) []byte {
	var buf bytes.Buffer
	w := NewWriter(&buf, "tcpcap test")
	s, err := w.Open(t0, client4, server4, []string{"opened"})
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 100_000) // 1.6 MB: split, and acknowledged past ackEvery
	must(t, s.Data(t0.Add(1*time.Millisecond), Client, []byte("hello"), nil))
	must(t, s.Data(t0.Add(2*time.Millisecond), Server, []byte("world"), []string{"a fault"}))
	must(t, s.Data(t0.Add(3*time.Millisecond), Server, big, nil))
	must(t, s.Data(t0.Add(4*time.Millisecond), Client, []byte{0xff}, nil)) // odd length
	must(t, s.Fin(t0.Add(5*time.Millisecond), Client, nil))
	must(t, s.Data(t0.Add(6*time.Millisecond), Server, []byte("bye"), nil))
	must(t, s.Fin(t0.Add(7*time.Millisecond), Server, []string{"closing"}))
	if !s.Ended() {
		t.Fatal("not ended after both FINs")
	}
	s6, err := w.Open(t0.Add(time.Second), client6, server6, nil)
	must(t, err)
	must(t, s6.Data(t0.Add(time.Second), Client, []byte("*1\r\n$4\r\nPING\r\n"), nil))
	must(t, s6.Reset(t0.Add(time.Second+time.Millisecond), Server, []string{"Restart(1s)"}))
	must(t, s6.Data(t0.Add(2*time.Second), Client, []byte("late"), nil)) // after the reset: nothing
	must(t, w.Flush())
	return buf.Bytes()
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestRoundTrip(t *testing.T) {
	conns, err := Read(bytes.NewReader(writeSample(t)))
	if err != nil {
		t.Fatal(err)
	}
	if len(conns) != 2 {
		t.Fatalf("%d connections, want 2", len(conns))
	}
	c := conns[0]
	if c.Client != client4 || c.Server != server4 || !c.Start.Equal(t0) || !reflect.DeepEqual(c.Comments, []string{"opened"}) {
		t.Errorf("first connection %v → %v at %v, comments %q", c.Client, c.Server, c.Start, c.Comments)
	}
	var up, down bytes.Buffer
	var fins []Side
	var comments []string
	for _, s := range c.Segments {
		if s.From == Client {
			up.Write(s.Data)
		} else {
			down.Write(s.Data)
		}
		if len(s.Data) > MaxSegment {
			t.Errorf("a segment of %d bytes", len(s.Data))
		}
		if s.Fin {
			fins = append(fins, s.From)
		}
		comments = append(comments, s.Comments...)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 100_000)
	if up.String() != "hello\xff" || down.String() != "world"+string(big)+"bye" {
		t.Errorf("client sent %d bytes, server %d", up.Len(), down.Len())
	}
	if !reflect.DeepEqual(fins, []Side{Client, Server}) || !reflect.DeepEqual(comments, []string{"a fault", "closing"}) {
		t.Errorf("FINs from %v, comments %q", fins, comments)
	}
	c6 := conns[1]
	if c6.Client != client6 || c6.Server != server6 || len(c6.Segments) != 2 || !c6.Segments[1].Reset || c6.Segments[1].From != Server {
		t.Errorf("second connection: %+v", c6)
	}
}

// TestTshark has tshark read a capture: every checksum is right, its TCP
// analysis flags nothing, and it reassembles both streams whole.
func TestTshark(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sample.pcapng")
	if err := os.WriteFile(path, writeSample(t), 0o644); err != nil {
		t.Fatal(err)
	}
	checks := []string{"-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE"}
	if bad := testenv.Tshark(t, path, append(checks, "-Y", "tcp.analysis.flags || tcp.checksum.status == 0 || ip.checksum.status == 0")...); len(bad) > 0 {
		t.Errorf("tshark flags %d packets:\n%s", len(bad), strings.Join(bad, "\n"))
	}
	streams := testenv.Tshark(t, path, "-q", "-z", "conv,tcp")
	if got := strings.Join(streams, "\n"); !strings.Contains(got, "127.0.0.1:50000") || !strings.Contains(got, "::1:50001") {
		t.Errorf("conversations:\n%s", got)
	}
	comments := testenv.Tshark(t, path, "-Y", "frame.comment", "-T", "fields", "-e", "frame.comment")
	if got := strings.Join(comments, "|"); got != "opened|a fault|closing|Restart(1s)" {
		t.Errorf("comments %q", got)
	}
	// The follow of the first stream holds the reply whole.
	follow := testenv.Tshark(t, path, "-q", "-z", "follow,tcp,raw,0")
	n := 0
	for _, l := range follow {
		if strings.HasPrefix(strings.TrimSpace(l), "3031323334") {
			n++
		}
	}
	if n == 0 {
		t.Errorf("tshark's follow of stream 0 has no line of the reply")
	}
}

func TestBadCaptures(t *testing.T) {
	good := writeSample(t)
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"not pcapng", []byte("hello, this is not a capture at all"), "not a pcapng capture"},
		{"truncated", good[:len(good)/2], "cut short"},
		{"gap", dropPacket(t, good, 6), "a gap"},
		{"no handshake", withoutSYNs(t, good), "no TCP connection"},
		{"another link type", withLinkType(t, good, 105), "link type 105 is not supported"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(c.b))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one saying %q", err, c.want)
			}
		})
	}
	_, err := Read(bytes.NewReader(dropPacket(t, good, 6)))
	var se *StreamError
	if !errors.As(err, &se) || se.Client != client4 {
		t.Errorf("gap: %v (%T), want a *StreamError on %v", err, err, client4)
	}
}

// rewrite reads capture b and writes it again through edit, which may
// change a packet's bytes or return nil to leave it out; linkType sets the
// interface's.
func rewrite(t testing.TB, b []byte, linkType uint16, edit func(n int, p []byte) []byte) []byte {
	r, err := pcapng.NewReader(bytes.NewReader(b))
	must(t, err)
	var out bytes.Buffer
	w := pcapng.NewWriter(&out, linkType, "rewritten")
	for n := 1; ; n++ {
		p, err := r.Next()
		if err != nil {
			break
		}
		if data := edit(n, p.Data); data != nil {
			must(t, w.WritePacket(p.Time, p.Comments, data))
		}
	}
	must(t, w.Flush())
	return out.Bytes()
}

func dropPacket(t testing.TB, b []byte, drop int) []byte {
	return rewrite(t, b, pcapng.LinkTypeRaw, func(n int, p []byte) []byte {
		if n == drop {
			return nil
		}
		return p
	})
}

func withoutSYNs(t testing.TB, b []byte) []byte {
	return rewrite(t, b, pcapng.LinkTypeRaw, func(_ int, p []byte) []byte {
		tcp := 20
		if p[0]>>4 == 6 {
			tcp = 40
		}
		if p[tcp+13]&flagSYN != 0 {
			return nil
		}
		return p
	})
}

func withLinkType(t testing.TB, b []byte, lt uint16) []byte {
	return rewrite(t, b, lt, func(_ int, p []byte) []byte { return p })
}

// TestLinkTypes reads the same connections framed as Ethernet, Linux
// cooked (v1 and v2) and BSD loopback captures frame them.
func TestLinkTypes(t *testing.T) {
	good := writeSample(t)
	want, err := Read(bytes.NewReader(good))
	must(t, err)
	family := func(p []byte) (eth uint16, bsd uint32) {
		if p[0]>>4 == 6 {
			return 0x86dd, 30
		}
		return 0x0800, 2
	}
	framings := map[uint16]func(p []byte) []byte{
		pcapng.LinkTypeEthernet: func(p []byte) []byte {
			eth, _ := family(p)
			h := make([]byte, 12, 18)
			h = binary.BigEndian.AppendUint16(h, 0x8100) // a VLAN tag
			h = append(h, 0, 7)
			h = binary.BigEndian.AppendUint16(h, eth)
			return append(h, p...)
		},
		pcapng.LinkTypeLinuxSLL: func(p []byte) []byte {
			eth, _ := family(p)
			h := make([]byte, 14, 16)
			return append(binary.BigEndian.AppendUint16(h, eth), p...)
		},
		pcapng.LinkTypeLinuxSLL2: func(p []byte) []byte {
			eth, _ := family(p)
			h := binary.BigEndian.AppendUint16(nil, eth)
			return append(append(h, make([]byte, 18)...), p...)
		},
		pcapng.LinkTypeNull: func(p []byte) []byte {
			_, bsd := family(p)
			return append(binary.LittleEndian.AppendUint32(nil, bsd), p...)
		},
	}
	for lt, frame := range framings {
		got, err := Read(bytes.NewReader(rewrite(t, good, lt, func(_ int, p []byte) []byte { return frame(p) })))
		if err != nil {
			t.Errorf("link type %d: %v", lt, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("link type %d: connections differ", lt)
		}
	}
}

// TestChecksum compares the checksum with the definition, a 16-bit word
// at a time, on lengths around the unrolled loops' steps.
func TestChecksum(t *testing.T) {
	b := make([]byte, 200)
	for i := range b {
		b[i] = byte(i*37 + 11)
	}
	for n := range len(b) {
		var ref uint32
		for i := 0; i+1 < n; i += 2 {
			ref += uint32(b[i])<<8 | uint32(b[i+1])
		}
		if n%2 == 1 {
			ref += uint32(b[n-1]) << 8
		}
		for ref > 0xffff {
			ref = ref>>16 + ref&0xffff
		}
		if got, want := fold(checksum(0, b[:n])), ^uint16(ref); got != want {
			t.Fatalf("length %d: %#04x, want %#04x", n, got, want)
		}
	}
}

// FuzzRead reads arbitrary bytes as a capture: no panic, and an error
// for what cannot be read.
func FuzzRead(f *testing.F) {
	good := writeSample(f)
	f.Add(good[:3000])
	f.Add(dropPacket(f, good[:3000], 6))
	f.Fuzz(func(t *testing.T, b []byte) {
		conns, err := Read(bytes.NewReader(b))
		if err == nil && len(conns) == 0 {
			t.Fatal("no error and no connection")
		}
	})
}

func BenchmarkData(b *testing.B) {
	w := NewWriter(discard{}, "bench")
	s, err := w.Open(t0, client4, server4, nil)
	must(b, err)
	payload := make([]byte, 16<<10)
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		s.Data(t0, Server, payload, nil)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
