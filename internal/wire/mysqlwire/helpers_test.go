package faults

import (
	"bufio"
	"encoding/binary"
	"io"
)

// Helpers of the MySQL packet tests: readers and writers the relay does not
// need, used to build and check fixtures.

// discardMySQLPayload skips the payload of p, whose header readMySQLPacket
// has just read. A stream that ends first gives io.ErrUnexpectedEOF.
func discardMySQLPayload(br *bufio.Reader, p mysqlPacket) error {
	n, err := br.Discard(p.length)
	if n < p.length && err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// discardMySQLMessage skips a whole message whose first header p
// readMySQLPacket has just read, as copyMySQLMessage would forward it.
func discardMySQLMessage(br *bufio.Reader, p mysqlPacket, max int) (last mysqlPacket, err error) {
	last, _, err = copyMySQLMessage(io.Discard, br, p, max)
	return last, err
}

// appendMySQLPacket appends payload to dst as one message starting at
// sequence id seq: packets of mysqlMaxPayload bytes while they are full,
// then a last, shorter one (empty if the payload is a multiple of
// mysqlMaxPayload), with sequence ids counting up from seq.
func appendMySQLPacket(dst []byte, seq byte, payload []byte) []byte {
	for {
		n := min(len(payload), mysqlMaxPayload)
		h := mysqlPacket{length: n, seq: seq}.header()
		dst = append(dst, h[:]...)
		dst = append(dst, payload[:n]...)
		payload = payload[n:]
		if n < mysqlMaxPayload {
			return dst
		}
		seq++
	}
}

// appendMySQLLenEnc appends v as a length-encoded integer (the shortest
// form).
func appendMySQLLenEnc(dst []byte, v uint64) []byte {
	switch {
	case v < 0xfb:
		return append(dst, byte(v))
	case v <= 0xffff:
		return append(dst, 0xfc, byte(v), byte(v>>8))
	case v <= 0xffffff:
		return append(dst, 0xfd, byte(v), byte(v>>8), byte(v>>16))
	}
	dst = append(dst, 0xfe)
	return binary.LittleEndian.AppendUint64(dst, v)
}

// mysqlCommandOf returns the command of a client message from the start of
// its payload; ok is false for an empty payload.
func mysqlCommandOf(head []byte) (c mysqlCommand, ok bool) {
	if len(head) == 0 {
		return 0, false
	}
	return mysqlCommand(head[0]), true
}

// parseMySQLERR reads an ERR packet: 0xff, error number (2 bytes), then,
// from a server that knows the client speaks 4.1, '#' and a 5-character
// SQLSTATE, then the message to the end of the payload. sqlstate is "" if
// the packet has none.
func parseMySQLERR(payload []byte) (number uint16, sqlstate, message string, valid bool) {
	if len(payload) < 3 || payload[0] != 0xff {
		return 0, "", "", false
	}
	number = binary.LittleEndian.Uint16(payload[1:])
	rest := payload[3:]
	if len(rest) >= 6 && rest[0] == '#' {
		sqlstate, rest = string(rest[1:6]), rest[6:]
	}
	return number, sqlstate, string(rest), true
}

// classifyMySQLReply returns the class of the first packet of a response,
// from the start of its payload and its length. Only there do these first
// bytes mean this: a row may start with 0x00 or 0xfb, and under
// CLIENT_DEPRECATE_EOF a result set ends with an OK packet starting with
// 0xfe.
func classifyMySQLReply(head []byte, length int) mysqlReplyClass {
	if len(head) == 0 {
		return mysqlReplyInvalid
	}
	switch head[0] {
	case 0x00:
		return mysqlReplyOK
	case 0xff:
		return mysqlReplyERR
	case 0xfe:
		if length < 9 {
			return mysqlReplyEOF
		}
		return mysqlReplyInvalid
	case 0xfb:
		return mysqlReplyLocalInfile
	}
	if _, _, ok := readMySQLLenEnc(head); ok {
		return mysqlReplyResultSet
	}
	return mysqlReplyInvalid
}
