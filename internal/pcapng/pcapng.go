// Package pcapng writes and reads pcapng, the capture format of Wireshark
// and tshark: a section header, interface descriptions, and packets, each
// with a timestamp and optional comments.
//
// The writer writes one section with one interface, little-endian, with
// nanosecond timestamps. The reader reads any section of either byte
// order, with any number of interfaces and any timestamp resolution;
// blocks it has no use for are skipped. It never panics on malformed
// input: every error it returns about the bytes is a [*FormatError].
//
// The package knows nothing of what the packets hold.
package pcapng

import (
	"errors"
	"fmt"
)

// Block types (pcapng, sections 4.1 to 4.6).
const (
	blockSectionHeader   = 0x0A0D0D0A
	blockInterface       = 0x00000001
	blockSimplePacket    = 0x00000003
	blockInterfaceStats  = 0x00000005
	blockEnhancedPacket  = 0x00000006
	byteOrderMagic       = 0x1A2B3C4D
	classicPcapMagic     = 0xA1B2C3D4 // libpcap's format, as tcpdump writes it
	classicPcapMagicNano = 0xA1B23C4D
)

// Option codes used here.
const (
	optEndOfOpt    = 0
	optComment     = 1
	optShbUserAppl = 4
	optIfTsresol   = 9
	optIsbStart    = 2
	optIsbEnd      = 3
	optIsbIfRecv   = 4
	optIsbIfDrop   = 5
)

// Link types (www.tcpdump.org/linktypes.html) the readers of this module
// know.
const (
	LinkTypeNull      = 0   // BSD loopback: a 4-byte address family, host order
	LinkTypeEthernet  = 1   // Ethernet II
	LinkTypeRaw       = 101 // raw IPv4 or IPv6, told apart by the version
	LinkTypeLinuxSLL  = 113 // Linux "cooked" capture, version 1 (tcpdump -i any)
	LinkTypeIPv4      = 228 // raw IPv4
	LinkTypeIPv6      = 229 // raw IPv6
	LinkTypeLinuxSLL2 = 276 // Linux "cooked" capture, version 2
)

// MaxBlock bounds the length of a block the reader accepts: a longer one is
// a [*FormatError], so that a corrupt length cannot make it allocate
// without bound.
const MaxBlock = 16 << 20

// ErrNotPcapng is wrapped by the error of [NewReader] when the stream does
// not start with a pcapng section header.
var ErrNotPcapng = errors.New("not a pcapng capture")

// A FormatError reports bytes that are not pcapng where they stand.
type FormatError struct {
	Offset int64  // of the block at fault, from the start of the stream
	Reason string // what is wrong
	Err    error  // what it wraps, such as ErrNotPcapng or io.ErrUnexpectedEOF; may be nil
}

func (e *FormatError) Error() string {
	s := fmt.Sprintf("pcapng: at byte %d: %s", e.Offset, e.Reason)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *FormatError) Unwrap() error { return e.Err }

// pad4 returns n rounded up to a multiple of 4.
func pad4(n int) int { return (n + 3) &^ 3 }
