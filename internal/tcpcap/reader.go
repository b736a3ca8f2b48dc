package tcpcap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/gofaults/faults/internal/pcapng"
)

// A Conn is one TCP connection read from a capture: its handshake was
// captured, and every byte of it up to where the capture of it ends.
type Conn struct {
	Client, Server netip.AddrPort
	Start          time.Time // when the client's SYN was captured
	Comments       []string  // the comments of its handshake's packets
	Segments       []Segment // what each side sent, in the order captured
}

// A Segment is what one packet of a connection carried: bytes, a FIN, a
// reset, or comments.
type Segment struct {
	From     Side
	Time     time.Time
	Data     []byte
	Fin      bool // the side closed its direction after Data
	Reset    bool
	Comments []string
}

// A StreamError reports a connection that cannot be read whole from a
// capture.
type StreamError struct {
	Packet int            // the packet at fault, numbered from 1 as Wireshark does
	Client netip.AddrPort // the connection's ends
	Server netip.AddrPort
	Reason string
}

func (e *StreamError) Error() string {
	return fmt.Sprintf("tcpcap: packet %d (%v → %v): %s", e.Packet, e.Client, e.Server, e.Reason)
}

// ErrNoConnections is returned by [Read] for a capture with no TCP
// connection whose handshake it holds.
var ErrNoConnections = errors.New("tcpcap: no TCP connection with its handshake in the capture")

// An UnsupportedError reports a packet of a link type the reader does not
// know.
type UnsupportedError struct {
	Packet   int
	LinkType uint16
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("tcpcap: packet %d: link type %d is not supported (Ethernet, raw IP, Linux cooked and BSD loopback are)", e.Packet, e.LinkType)
}

// MaxBytes bounds the bytes of all connections [Read] keeps: a larger
// capture is refused rather than read into memory.
const MaxBytes = 1 << 30

// Read reads every TCP connection of the capture r whose handshake it
// holds, in the order of their SYNs. Packets of other protocols, and of
// connections whose SYN it does not hold, are ignored. Errors: the
// capture's own ([*pcapng.FormatError]), an [*UnsupportedError] for a
// link type it does not know, a [*StreamError] for a connection with a
// gap (a segment missing), a packet cut short or a fragmented one, and
// [ErrNoConnections].
func Read(r io.Reader) ([]*Conn, error) {
	pr, err := pcapng.NewReader(r)
	if err != nil {
		return nil, err
	}
	rs := reassembler{live: make(map[connKey]*connState)}
	for n := 1; ; n++ {
		p, err := pr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		seg, ok, err := parsePacket(n, p)
		if err != nil {
			return nil, err
		}
		if ok {
			if err := rs.add(n, seg, p.Time, p.Comments); err != nil {
				return nil, err
			}
		}
	}
	if len(rs.conns) == 0 {
		return nil, ErrNoConnections
	}
	return rs.conns, nil
}

// tcpSegment is a TCP packet's parts.
type tcpSegment struct {
	src, dst netip.AddrPort
	seq, ack uint32
	flags    uint8
	payload  []byte
}

// parsePacket finds the TCP segment in packet n; ok is false for a packet
// of another protocol.
func parsePacket(n int, p pcapng.Packet) (seg tcpSegment, ok bool, err error) {
	b := p.Data
	var ipv byte // 4 or 6, or 0 if not IP
	switch p.LinkType {
	case pcapng.LinkTypeRaw:
		if len(b) > 0 {
			ipv = b[0] >> 4
		}
	case pcapng.LinkTypeIPv4:
		ipv = 4
	case pcapng.LinkTypeIPv6:
		ipv = 6
	case pcapng.LinkTypeEthernet:
		b, ipv = ethernet(b)
	case pcapng.LinkTypeLinuxSLL:
		if len(b) >= 16 {
			b, ipv = b[16:], etherIP(binary.BigEndian.Uint16(b[14:]))
		}
	case pcapng.LinkTypeLinuxSLL2:
		if len(b) >= 20 {
			b, ipv = b[20:], etherIP(binary.BigEndian.Uint16(b[0:]))
		}
	case pcapng.LinkTypeNull:
		if len(b) >= 4 {
			// The address family, in the capturing host's order: 2 is
			// IPv4; 24, 28 and 30 are IPv6 on the BSDs and macOS.
			fam := binary.LittleEndian.Uint32(b)
			if fam > 0xffff {
				fam = binary.BigEndian.Uint32(b)
			}
			switch fam {
			case 2:
				ipv = 4
			case 24, 28, 30:
				ipv = 6
			}
			b = b[4:]
		}
	default:
		return seg, false, &UnsupportedError{Packet: n, LinkType: p.LinkType}
	}
	var proto byte
	var payload []byte
	switch ipv {
	case 4:
		if len(b) < 20 || b[0]>>4 != 4 {
			return seg, false, nil
		}
		ihl := int(b[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(b[2:]))
		proto = b[9]
		if proto != protoTCP {
			return seg, false, nil
		}
		src, dst := netip.AddrFrom4([4]byte(b[12:16])), netip.AddrFrom4([4]byte(b[16:20]))
		seg.src, seg.dst = netip.AddrPortFrom(src, 0), netip.AddrPortFrom(dst, 0)
		if frag := binary.BigEndian.Uint16(b[6:]); frag&0x3fff != 0 {
			return seg, false, streamErr(n, seg, "a fragmented IP packet (fragments are not reassembled)")
		}
		if ihl < 20 || total < ihl {
			return seg, false, streamErr(n, seg, "malformed IPv4 header")
		}
		if total > len(b) {
			return seg, false, streamErr(n, seg, fmt.Sprintf("cut short: %d of %d bytes captured (snap length)", len(b), total))
		}
		payload = b[ihl:total]
	case 6:
		if len(b) < 40 || b[0]>>4 != 6 {
			return seg, false, nil
		}
		proto = b[6]
		if proto != protoTCP {
			return seg, false, nil // extension headers included: not read
		}
		src, dst := netip.AddrFrom16([16]byte(b[8:24])), netip.AddrFrom16([16]byte(b[24:40]))
		seg.src, seg.dst = netip.AddrPortFrom(src, 0), netip.AddrPortFrom(dst, 0)
		plen := int(binary.BigEndian.Uint16(b[4:]))
		if 40+plen > len(b) {
			return seg, false, streamErr(n, seg, fmt.Sprintf("cut short: %d of %d bytes captured (snap length)", len(b), 40+plen))
		}
		payload = b[40 : 40+plen]
	default:
		return seg, false, nil
	}
	if len(payload) < 20 {
		return seg, false, streamErr(n, seg, "TCP header cut short")
	}
	off := int(payload[12]>>4) * 4
	if off < 20 || off > len(payload) {
		return seg, false, streamErr(n, seg, "malformed TCP header")
	}
	seg.src = netip.AddrPortFrom(seg.src.Addr().Unmap(), binary.BigEndian.Uint16(payload))
	seg.dst = netip.AddrPortFrom(seg.dst.Addr().Unmap(), binary.BigEndian.Uint16(payload[2:]))
	seg.seq = binary.BigEndian.Uint32(payload[4:])
	seg.ack = binary.BigEndian.Uint32(payload[8:])
	seg.flags = payload[13]
	seg.payload = payload[off:]
	return seg, true, nil
}

// ethernet skips an Ethernet II header and its VLAN tags.
func ethernet(b []byte) ([]byte, byte) {
	if len(b) < 14 {
		return nil, 0
	}
	typ := binary.BigEndian.Uint16(b[12:])
	b = b[14:]
	for (typ == 0x8100 || typ == 0x88a8) && len(b) >= 4 {
		typ = binary.BigEndian.Uint16(b[2:])
		b = b[4:]
	}
	return b, etherIP(typ)
}

func etherIP(typ uint16) byte {
	switch typ {
	case 0x0800:
		return 4
	case 0x86dd:
		return 6
	}
	return 0
}

func streamErr(n int, seg tcpSegment, reason string) error {
	return &StreamError{Packet: n, Client: seg.src, Server: seg.dst, Reason: reason}
}

// connKey identifies a connection: client, then server.
type connKey struct{ client, server netip.AddrPort }

// connState is a connection being reassembled.
type connState struct {
	c      *Conn
	next   [2]uint32 // the sequence number expected next from each side
	synAck bool      // the server's SYN was seen: next[Server] is known
	fin    [2]bool
	reset  bool
}

type reassembler struct {
	live  map[connKey]*connState
	conns []*Conn
	bytes int
}

// add takes in segment seg of packet n, captured at t with comments.
func (rs *reassembler) add(n int, seg tcpSegment, t time.Time, comments []string) error {
	st, from := rs.live[connKey{seg.src, seg.dst}], Client
	if st == nil {
		st, from = rs.live[connKey{seg.dst, seg.src}], Server
	}
	if seg.flags&flagSYN != 0 && seg.flags&flagACK == 0 {
		if st != nil && from == Client && seg.seq+1 == st.next[Client] {
			return nil // the SYN again
		}
		// A new connection, perhaps on the ports of one that ended.
		c := &Conn{Client: seg.src, Server: seg.dst, Start: t, Comments: comments}
		st = &connState{c: c}
		st.next[Client] = seg.seq + 1
		rs.live[connKey{seg.src, seg.dst}] = st
		rs.conns = append(rs.conns, c)
		return nil
	}
	if st == nil || st.reset {
		return nil // not a connection whose start was captured
	}
	c := st.c
	if seg.flags&flagSYN != 0 { // SYN-ACK
		if from == Server && !st.synAck {
			st.synAck = true
			st.next[Server] = seg.seq + 1
			c.Comments = append(c.Comments, comments...)
		}
		return nil
	}
	if !st.synAck {
		if len(seg.payload) > 0 || seg.flags&flagFIN != 0 {
			return &StreamError{Packet: n, Client: c.Client, Server: c.Server, Reason: "data before the server's SYN-ACK (the handshake was not captured)"}
		}
		if seg.flags&flagRST != 0 {
			st.reset = true
			c.Segments = append(c.Segments, Segment{From: from, Time: t, Reset: true, Comments: comments})
		} else {
			c.Comments = append(c.Comments, comments...)
		}
		return nil
	}
	out := Segment{From: from, Time: t, Comments: comments}
	if len(seg.payload) > 0 || seg.flags&flagFIN != 0 {
		if st.fin[from] {
			if d := int32(seg.seq - st.next[from]); d < 0 && int(-d) >= len(seg.payload) {
				return nil // a retransmission of what came before the FIN
			}
			return &StreamError{Packet: n, Client: c.Client, Server: c.Server, Reason: fmt.Sprintf("%s sends after its FIN", from)}
		}
		data, err := st.take(from, seg)
		if err != nil {
			return &StreamError{Packet: n, Client: c.Client, Server: c.Server, Reason: err.Error()}
		}
		if len(data) > 0 {
			if rs.bytes += len(data); rs.bytes > MaxBytes {
				return &StreamError{Packet: n, Client: c.Client, Server: c.Server, Reason: fmt.Sprintf("the capture holds more than %d bytes of connections", MaxBytes)}
			}
			out.Data = append([]byte(nil), data...)
		}
		if seg.flags&flagFIN != 0 {
			out.Fin = true
			st.fin[from] = true
			st.next[from]++
		}
	}
	if seg.flags&flagRST != 0 {
		out.Reset = true
		st.reset = true
	}
	if len(out.Data) > 0 || out.Fin || out.Reset || len(out.Comments) > 0 {
		c.Segments = append(c.Segments, out)
	}
	return nil
}

// take returns the bytes of seg from from that are new, past those
// already taken; a segment that starts past them leaves a gap.
func (st *connState) take(from Side, seg tcpSegment) ([]byte, error) {
	d := int64(int32(seg.seq - st.next[from]))
	switch {
	case d > 0:
		return nil, fmt.Errorf("a gap: %d bytes from the %s were not captured before this segment", d, from)
	case -d >= int64(len(seg.payload)):
		return nil, nil // a retransmission
	}
	data := seg.payload[-d:]
	st.next[from] += uint32(len(data))
	return data, nil
}
