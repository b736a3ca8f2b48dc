package pcapng

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// A Packet is one packet block read from a capture.
type Packet struct {
	LinkType uint16    // of the interface it was captured on
	Time     time.Time // zero for a simple packet block, which has none
	Data     []byte    // the captured bytes; valid until the next call of Next
	OrigLen  int       // the packet's length on the wire (Data may be cut short)
	Comments []string  // its comment options
}

// interfaceDesc is what the reader keeps of an interface description.
type interfaceDesc struct {
	linkType uint16
	// Timestamp units: a timestamp is ticks × num / den seconds.
	num, den uint64
}

// A Reader reads the packets of a pcapng capture, section after section.
// It is not safe for concurrent use.
type Reader struct {
	r      *bufio.Reader
	off    int64 // of the next block
	order  binary.ByteOrder
	ifaces []interfaceDesc
	block  []byte // the last block read, reused
}

// NewReader reads the section header at the start of r and returns a
// Reader for the packets that follow. A stream that is not pcapng gives a
// [*FormatError] wrapping [ErrNotPcapng] (naming libpcap's older format
// when it is that).
func NewReader(r io.Reader) (*Reader, error) {
	pr := &Reader{r: bufio.NewReader(r)}
	head, err := pr.r.Peek(12)
	if err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, &FormatError{Offset: 0, Reason: fmt.Sprintf("%d bytes: too short for a section header", len(head)), Err: ErrNotPcapng}
		}
		return nil, err
	}
	switch m := binary.LittleEndian.Uint32(head); {
	case m == blockSectionHeader:
	case m == classicPcapMagic || m == classicPcapMagicNano ||
		binary.BigEndian.Uint32(head) == classicPcapMagic || binary.BigEndian.Uint32(head) == classicPcapMagicNano:
		return nil, &FormatError{Offset: 0, Reason: "libpcap's classic format (convert it with editcap -F pcapng)", Err: ErrNotPcapng}
	default:
		return nil, &FormatError{Offset: 0, Reason: fmt.Sprintf("starts with % x, not a section header", head[:4]), Err: ErrNotPcapng}
	}
	if err := pr.readSection(); err != nil {
		return nil, err
	}
	return pr, nil
}

// readSection reads a section header block, which is next.
func (pr *Reader) readSection() error {
	head, err := pr.r.Peek(12)
	if err != nil {
		return pr.truncated(err)
	}
	switch binary.LittleEndian.Uint32(head[8:]) {
	case byteOrderMagic:
		pr.order = binary.LittleEndian
	case 0x4D3C2B1A:
		pr.order = binary.BigEndian
	default:
		return &FormatError{Offset: pr.off, Reason: fmt.Sprintf("byte-order magic % x", head[8:12]), Err: ErrNotPcapng}
	}
	b, err := pr.readBlock()
	if err != nil {
		return err
	}
	if len(b) < 24 {
		return pr.malformed("section header block of %d bytes", len(b))
	}
	if major := pr.order.Uint16(b[12:]); major != 1 {
		return pr.malformed("pcapng version %d.%d", major, pr.order.Uint16(b[14:]))
	}
	pr.ifaces = pr.ifaces[:0]
	return nil
}

// Next returns the next packet, or io.EOF at the end of the capture. A
// capture cut short gives a [*FormatError] wrapping io.ErrUnexpectedEOF.
func (pr *Reader) Next() (Packet, error) {
	for {
		head, err := pr.r.Peek(4)
		if err == io.EOF && len(head) == 0 {
			return Packet{}, io.EOF
		}
		if err != nil {
			return Packet{}, pr.truncated(err)
		}
		if pr.order.Uint32(head) == blockSectionHeader {
			if err := pr.readSection(); err != nil {
				return Packet{}, err
			}
			continue
		}
		start := pr.off
		b, err := pr.readBlock()
		if err != nil {
			return Packet{}, err
		}
		switch pr.order.Uint32(b) {
		case blockInterface:
			if err := pr.interfaceBlock(b, start); err != nil {
				return Packet{}, err
			}
		case blockEnhancedPacket:
			return pr.enhancedPacket(b, start)
		case blockSimplePacket:
			return pr.simplePacket(b, start)
		}
	}
}

// readBlock reads the next block whole and checks its lengths. The slice
// is valid until the next call.
func (pr *Reader) readBlock() ([]byte, error) {
	head, err := pr.r.Peek(8)
	if err != nil {
		return nil, pr.truncated(err)
	}
	n := pr.order.Uint32(head[4:])
	if n < 12 || n%4 != 0 || n > MaxBlock {
		return nil, pr.malformed("block length %d", n)
	}
	if cap(pr.block) < int(n) {
		pr.block = make([]byte, n)
	}
	b := pr.block[:n]
	if _, err := io.ReadFull(pr.r, b); err != nil {
		return nil, pr.truncated(err)
	}
	if pr.order.Uint32(b[n-4:]) != n {
		return nil, pr.malformed("block length %d at its start, %d at its end", n, pr.order.Uint32(b[n-4:]))
	}
	pr.off += int64(n)
	return b, nil
}

func (pr *Reader) interfaceBlock(b []byte, at int64) error {
	if len(b) < 20 {
		return &FormatError{Offset: at, Reason: fmt.Sprintf("interface block of %d bytes", len(b))}
	}
	d := interfaceDesc{linkType: pr.order.Uint16(b[8:]), num: 1, den: 1_000_000}
	err := pr.options(b[16:len(b)-4], at, func(code uint16, v []byte) error {
		if code != optIfTsresol {
			return nil
		}
		if len(v) != 1 {
			return &FormatError{Offset: at, Reason: fmt.Sprintf("if_tsresol of %d bytes", len(v))}
		}
		exp := uint64(v[0] & 0x7f)
		base := uint64(10)
		if v[0]&0x80 != 0 {
			base = 2
		}
		// Resolutions finer than 10^-18 (or 2^-63) cannot be told apart
		// by a uint64 of ticks per second.
		if base == 10 && exp > 18 || base == 2 && exp > 63 {
			return &FormatError{Offset: at, Reason: fmt.Sprintf("if_tsresol %#x", v[0])}
		}
		d.den = 1
		for range exp {
			d.den *= base
		}
		return nil
	})
	if err != nil {
		return err
	}
	pr.ifaces = append(pr.ifaces, d)
	return nil
}

func (pr *Reader) enhancedPacket(b []byte, at int64) (Packet, error) {
	if len(b) < 32 {
		return Packet{}, &FormatError{Offset: at, Reason: fmt.Sprintf("enhanced packet block of %d bytes", len(b))}
	}
	id := pr.order.Uint32(b[8:])
	if int64(id) >= int64(len(pr.ifaces)) {
		return Packet{}, &FormatError{Offset: at, Reason: fmt.Sprintf("packet on interface %d, of %d described", id, len(pr.ifaces))}
	}
	d := pr.ifaces[id]
	ticks := uint64(pr.order.Uint32(b[12:]))<<32 | uint64(pr.order.Uint32(b[16:]))
	capLen := pr.order.Uint32(b[20:])
	origLen := pr.order.Uint32(b[24:])
	body := b[28 : len(b)-4]
	if uint64(capLen) > uint64(len(body)) {
		return Packet{}, &FormatError{Offset: at, Reason: fmt.Sprintf("%d captured bytes in a block of %d", capLen, len(b))}
	}
	p := Packet{LinkType: d.linkType, Time: d.time(ticks), Data: body[:capLen:capLen], OrigLen: int(min(origLen, math.MaxInt32))}
	err := pr.options(body[pad4(int(capLen)):], at, func(code uint16, v []byte) error {
		if code == optComment {
			p.Comments = append(p.Comments, string(v))
		}
		return nil
	})
	return p, err
}

func (pr *Reader) simplePacket(b []byte, at int64) (Packet, error) {
	if len(pr.ifaces) == 0 {
		return Packet{}, &FormatError{Offset: at, Reason: "simple packet block before any interface block"}
	}
	if len(b) < 16 {
		return Packet{}, &FormatError{Offset: at, Reason: fmt.Sprintf("simple packet block of %d bytes", len(b))}
	}
	orig := pr.order.Uint32(b[8:])
	body := b[12 : len(b)-4]
	n := min(uint64(orig), uint64(len(body)))
	return Packet{LinkType: pr.ifaces[0].linkType, Data: body[:n:n], OrigLen: int(min(orig, math.MaxInt32))}, nil
}

// time converts ticks of the interface's resolution to a time.
func (d interfaceDesc) time(ticks uint64) time.Time {
	sec := ticks / d.den
	frac := ticks % d.den
	// frac < den <= 10^18, so frac × 10^9 / den needs 128 bits at worst:
	// scale down first when it would overflow.
	var nsec uint64
	if frac < math.MaxUint64/1_000_000_000 {
		nsec = frac * 1_000_000_000 / d.den
	} else {
		nsec = uint64(float64(frac) / float64(d.den) * 1e9)
	}
	if sec > math.MaxInt64/2 {
		sec = math.MaxInt64 / 2
	}
	return time.Unix(int64(sec), int64(nsec))
}

// options walks the options in b, calling fn with each one's code and
// value, up to the end of options or of b.
func (pr *Reader) options(b []byte, at int64, fn func(code uint16, v []byte) error) error {
	for len(b) >= 4 {
		code, n := pr.order.Uint16(b), int(pr.order.Uint16(b[2:]))
		if code == optEndOfOpt {
			return nil
		}
		if 4+n > len(b) {
			return &FormatError{Offset: at, Reason: fmt.Sprintf("option %d of %d bytes overruns its block", code, n)}
		}
		if err := fn(code, b[4:4+n]); err != nil {
			return err
		}
		b = b[min(4+pad4(n), len(b)):]
	}
	return nil
}

func (pr *Reader) malformed(format string, args ...any) error {
	return &FormatError{Offset: pr.off, Reason: fmt.Sprintf(format, args...)}
}

// truncated reports a stream that ends inside a block, or fails to read.
func (pr *Reader) truncated(err error) error {
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return &FormatError{Offset: pr.off, Reason: "capture cut short inside a block", Err: io.ErrUnexpectedEOF}
	}
	return err
}
