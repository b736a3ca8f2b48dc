// Package tcpcap writes TCP connections into pcapng captures as packets
// Wireshark reads as real ones, and reads the TCP connections back out of
// captures.
//
// The writer synthesizes what a capture on the wire would show of a
// connection whose bytes it is given: the three-way handshake,
// consecutive sequence and acknowledgement numbers, FIN and RST, and IPv4
// or IPv6 headers with correct checksums, as raw IP packets. Nothing is
// lost, retransmitted or reordered, so that tshark's TCP analysis finds
// nothing to flag.
//
// The reader reassembles the connections of a capture, whoever wrote it:
// Ethernet, raw IP, Linux cooked and BSD loopback link types, IPv4 and
// IPv6. It keeps each connection's bytes in memory. A connection that
// cannot be reassembled whole (a gap, a packet cut short) is an error,
// never a guess.
package tcpcap

import (
	"encoding/binary"
	"math/bits"
)

// Side says which end of a connection sent a segment.
type Side uint8

const (
	Client Side = iota // the end that sent the SYN
	Server
)

func (s Side) String() string {
	if s == Client {
		return "client"
	}
	return "server"
}

func (s Side) other() Side { return 1 - s }

// MaxSegment is the most payload bytes the writer puts in one segment: what
// fits an IPv4 packet of 65,535 bytes with 20-byte IP and TCP headers.
// Longer data is split.
const MaxSegment = 65535 - 20 - 20

// TCP flags.
const (
	flagFIN = 0x01
	flagSYN = 0x02
	flagRST = 0x04
	flagPSH = 0x08
	flagACK = 0x10
)

// IP protocol number of TCP.
const protoTCP = 6

// checksum returns the ones' complement sum of b, added to acc, as the
// Internet checksum accumulates it: big-endian 16-bit words, an odd last
// byte padded with zero. acc is unfolded; fold it with fold. b must start
// on a 16-bit boundary of the checksummed data.
func checksum(acc uint64, b []byte) uint64 {
	var carry uint64
	for len(b) >= 32 {
		acc, carry = bits.Add64(acc, binary.BigEndian.Uint64(b), carry)
		acc, carry = bits.Add64(acc, binary.BigEndian.Uint64(b[8:]), carry)
		acc, carry = bits.Add64(acc, binary.BigEndian.Uint64(b[16:]), carry)
		acc, carry = bits.Add64(acc, binary.BigEndian.Uint64(b[24:]), carry)
		b = b[32:]
	}
	for len(b) >= 8 {
		acc, carry = bits.Add64(acc, binary.BigEndian.Uint64(b), carry)
		b = b[8:]
	}
	acc, carry = bits.Add64(acc, carry, 0)
	acc += carry
	for len(b) >= 2 {
		acc, carry = bits.Add64(acc, uint64(binary.BigEndian.Uint16(b)), 0)
		acc += carry
		b = b[2:]
	}
	if len(b) == 1 {
		acc, carry = bits.Add64(acc, uint64(b[0])<<8, 0)
		acc += carry
	}
	return acc
}

// fold folds an accumulated sum to 16 bits and complements it: the
// checksum field's value.
func fold(acc uint64) uint16 {
	// 2^16 ≡ 1 modulo 2^16-1: adding the halves keeps the sum.
	acc = acc>>32 + acc&0xffffffff
	acc = acc>>32 + acc&0xffffffff
	acc = acc>>16 + acc&0xffff
	acc = acc>>16 + acc&0xffff
	acc = acc>>16 + acc&0xffff
	return ^uint16(acc)
}
