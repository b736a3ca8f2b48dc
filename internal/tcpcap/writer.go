package tcpcap

import (
	"encoding/binary"
	"hash/fnv"
	"io"
	"net/netip"
	"time"

	"github.com/gofaults/faults/internal/pcapng"
)

// ackEvery is how many bytes a side sends, at most, before the other
// acknowledges them with a segment of its own. The window advertised is
// eight times as large, so that tshark never sees it fill.
const ackEvery = 1 << 20

// Window: 65,535 scaled by 2^7 (about 8 MiB), advertised in the SYNs.
const (
	window      = 65535
	windowScale = 7
)

// synOptions are the options of a SYN: MSS (the largest segment), a NOP,
// window scale.
var synOptions = []byte{2, 4, byte(MaxSegment >> 8), byte(MaxSegment & 0xff), 1, 3, 3, windowScale}

// A Writer writes TCP connections as raw IP packets into a pcapng
// capture. It is not safe for concurrent use.
type Writer struct {
	pw  *pcapng.Writer
	hdr []byte // the headers of the packet being written, reused
	ids [2]uint16
	n   uint64 // packets written
}

// NewWriter returns a Writer of a capture to w, whose section names app.
// Nothing reaches w until [Writer.Flush] or until its buffer fills.
func NewWriter(w io.Writer, app string) *Writer {
	return &Writer{pw: pcapng.NewWriter(w, pcapng.LinkTypeRaw, app), hdr: make([]byte, 0, 80)}
}

// Flush writes what is buffered to the underlying writer and returns the
// first write error, now or before.
func (w *Writer) Flush() error { return w.pw.Flush() }

// Buffered returns the number of bytes buffered.
func (w *Writer) Buffered() int { return w.pw.Buffered() }

// Packets returns the number of packets written.
func (w *Writer) Packets() uint64 { return w.n }

// WriteStats writes the capture's statistics block: see
// [pcapng.Writer.WriteStats].
func (w *Writer) WriteStats(start, end time.Time, dropped uint64, comment string) error {
	return w.pw.WriteStats(start, end, w.n, dropped, comment)
}

// A Stream is one connection being written. Its methods write packets at
// the times given, which it keeps in order: a time earlier than one
// already written is taken as that one.
type Stream struct {
	w     *Writer
	addr  [2]netip.AddrPort
	v6    bool
	next  [2]uint32 // the sequence number each side sends next
	acked [2]uint32 // the acknowledgement number each side last sent
	fin   [2]bool   // the side sent a FIN
	reset bool      // a side reset the connection: nothing more is written
	last  time.Time
}

// Open writes the three-way handshake of a connection from client to
// server at t, the comments on its SYN, and returns the Stream to write
// the rest with. Addresses of different families are written as IPv6,
// an IPv4 one mapped.
func (w *Writer) Open(t time.Time, client, server netip.AddrPort, comments []string) (*Stream, error) {
	s := &Stream{w: w, addr: [2]netip.AddrPort{client, server}, last: t}
	if !client.Addr().Is4() || !server.Addr().Is4() {
		s.v6 = true
		for i, a := range s.addr {
			if a.Addr().Is4() {
				s.addr[i] = netip.AddrPortFrom(netip.AddrFrom16(a.Addr().As16()), a.Port())
			}
		}
	}
	isn := initialSequence(t, client, server)
	s.next = [2]uint32{isn, isn ^ 0x5a5a5a5a}
	// SYN, SYN-ACK, ACK.
	if err := s.emit(t, Client, flagSYN, nil, comments); err != nil {
		return nil, err
	}
	if err := s.emit(t, Server, flagSYN|flagACK, nil, nil); err != nil {
		return nil, err
	}
	return s, s.emit(t, Client, flagACK, nil, nil)
}

// initialSequence derives a connection's first sequence number from what
// identifies it, so that a capture's numbers do not depend on chance.
func initialSequence(t time.Time, client, server netip.AddrPort) uint32 {
	h := fnv.New32a()
	b, _ := client.MarshalBinary()
	h.Write(b)
	b, _ = server.MarshalBinary()
	h.Write(b)
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(t.UnixNano())))
	return h.Sum32()
}

// Ended reports whether a reset ended the connection, or both sides sent
// a FIN.
func (s *Stream) Ended() bool { return s.reset || s.fin[0] && s.fin[1] }

// Data writes payload sent by from at t, in segments of at most
// MaxSegment bytes, the comments on the first. After a FIN from that side
// or a reset it writes nothing.
func (s *Stream) Data(t time.Time, from Side, payload []byte, comments []string) error {
	if s.reset || s.fin[from] {
		return nil
	}
	for len(payload) > 0 {
		n := min(len(payload), MaxSegment)
		if err := s.emit(t, from, flagPSH|flagACK, payload[:n], comments); err != nil {
			return err
		}
		comments = nil
		payload = payload[n:]
		// The other side acknowledges a long flow now and then.
		if to := from.other(); s.next[from]-s.acked[to] >= ackEvery && !s.fin[to] {
			if err := s.emit(t, to, flagACK, nil, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// Skip notes that n bytes from from were sent and not captured: the next
// segment's sequence number leaves a gap, as a capture that lost packets
// shows.
func (s *Stream) Skip(from Side, n int64) {
	s.next[from] += uint32(n)
}

// Fin writes a FIN from from at t with comments, and its acknowledgement.
// A second FIN from the same side, or one after a reset, writes nothing.
func (s *Stream) Fin(t time.Time, from Side, comments []string) error {
	if s.reset || s.fin[from] {
		return nil
	}
	if err := s.emit(t, from, flagFIN|flagACK, nil, comments); err != nil {
		return err
	}
	s.fin[from] = true
	return s.emit(t, from.other(), flagACK, nil, nil)
}

// Reset writes an RST from from at t with comments; nothing is written
// after it.
func (s *Stream) Reset(t time.Time, from Side, comments []string) error {
	if s.reset {
		return nil
	}
	s.reset = true
	return s.emit(t, from, flagRST|flagACK, nil, comments)
}

// emit writes one segment from from.
func (s *Stream) emit(t time.Time, from Side, flags uint8, payload []byte, comments []string) error {
	if t.Before(s.last) {
		t = s.last
	}
	s.last = t
	w := s.w
	to := from.other()
	var opts []byte
	if flags&flagSYN != 0 {
		opts = synOptions
	}
	tcpLen := 20 + len(opts)
	src, dst := s.addr[from], s.addr[to]
	h := w.hdr[:0]
	// The pseudo-header's sum starts the TCP checksum.
	var acc uint64
	if s.v6 {
		h = append(h, 0x60, 0, 0, 0)
		h = binary.BigEndian.AppendUint16(h, uint16(tcpLen+len(payload)))
		h = append(h, protoTCP, 64)
		a, b := src.Addr().As16(), dst.Addr().As16()
		h = append(h, a[:]...)
		h = append(h, b[:]...)
		acc = checksum(0, h[8:40])
		acc = checksum(acc, binary.BigEndian.AppendUint32(nil, uint32(tcpLen+len(payload))))
	} else {
		w.ids[from]++
		h = append(h, 0x45, 0)
		h = binary.BigEndian.AppendUint16(h, uint16(20+tcpLen+len(payload)))
		h = binary.BigEndian.AppendUint16(h, w.ids[from])
		h = append(h, 0x40, 0, 64, protoTCP, 0, 0) // DF, TTL 64, checksum below
		a, b := src.Addr().As4(), dst.Addr().As4()
		h = append(h, a[:]...)
		h = append(h, b[:]...)
		binary.BigEndian.PutUint16(h[10:], fold(checksum(0, h[:20])))
		acc = checksum(0, h[12:20])
		acc += uint64(tcpLen + len(payload))
	}
	acc += protoTCP
	ip := len(h)
	var ack uint32
	if flags&flagACK != 0 {
		ack = s.next[to]
		s.acked[from] = ack
	}
	seq := s.next[from]
	h = binary.BigEndian.AppendUint16(h, src.Port())
	h = binary.BigEndian.AppendUint16(h, dst.Port())
	h = binary.BigEndian.AppendUint32(h, seq)
	h = binary.BigEndian.AppendUint32(h, ack)
	h = append(h, byte(tcpLen/4)<<4, flags)
	h = binary.BigEndian.AppendUint16(h, window)
	h = append(h, 0, 0, 0, 0) // checksum, urgent pointer
	h = append(h, opts...)
	acc = checksum(acc, h[ip:])
	acc = checksum(acc, payload)
	binary.BigEndian.PutUint16(h[ip+16:], fold(acc))
	w.hdr = h
	if flags&(flagSYN|flagFIN) != 0 {
		s.next[from]++ // SYN and FIN each take a sequence number
	} else {
		s.next[from] += uint32(len(payload))
	}
	w.n++
	return w.pw.WritePacket(t, comments, h, payload)
}
