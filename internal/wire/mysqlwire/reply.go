package mysqlwire

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// Server status flags (SERVER_ in the MySQL sources), in OK and EOF
// packets.
const (
	ServerStatusInTrans      uint16 = 0x0001
	ServerStatusAutocommit   uint16 = 0x0002
	ServerMoreResultsExist   uint16 = 0x0008 // another result follows this one
	ServerStatusCursorExists uint16 = 0x0040 // COM_STMT_EXECUTE opened a cursor: rows come with COM_STMT_FETCH
	ServerStatusLastRowSent  uint16 = 0x0080
)

// OK is an OK packet's header.
type OK struct {
	AffectedRows, LastInsertID uint64
	Status, Warnings           uint16
}

// ParseOK reads an OK packet (first byte 0x00, or 0xfe for the OK ending a
// result set under ClientDeprecateEOF) of a ClientProtocol41 session:
// affected rows and last insert id (length-encoded), status flags (2
// bytes), warnings (2). head is the payload's start (HeadLen bytes
// suffice); valid is false if it is too short or not an OK packet.
func ParseOK(head []byte) (ok OK, valid bool) {
	if len(head) < 1 || (head[0] != 0x00 && head[0] != 0xfe) {
		return ok, false
	}
	var n, m int
	var good bool
	if ok.AffectedRows, n, good = ParseLenEnc(head[1:]); !good {
		return ok, false
	}
	if ok.LastInsertID, m, good = ParseLenEnc(head[1+n:]); !good {
		return ok, false
	}
	pos := 1 + n + m
	if len(head) < pos+2 {
		return ok, false
	}
	ok.Status = binary.LittleEndian.Uint16(head[pos:])
	if len(head) >= pos+4 {
		ok.Warnings = binary.LittleEndian.Uint16(head[pos+2:])
	}
	return ok, true
}

// ParseEOF reads an EOF packet: 0xfe, warnings (2 bytes), status flags
// (2). valid is false if head is not one (length 5 to 8; a 1-byte EOF of a
// pre-4.1 session has no flags).
func ParseEOF(head []byte) (warnings, status uint16, valid bool) {
	if len(head) < 5 || len(head) >= 9 || head[0] != 0xfe {
		return 0, 0, false
	}
	return binary.LittleEndian.Uint16(head[1:]), binary.LittleEndian.Uint16(head[3:]), true
}

// PrepareOK is a COM_STMT_PREPARE_OK packet.
type PrepareOK struct {
	StmtID          uint32
	Columns, Params uint16
	Warnings        uint16
}

// ParsePrepareOK reads a COM_STMT_PREPARE_OK payload: 0x00, statement id
// (4 bytes), number of columns (2), number of parameters (2), then a
// filler (1) and warnings (2) if present. valid is false if head is too
// short or does not start with 0x00.
func ParsePrepareOK(head []byte) (p PrepareOK, valid bool) {
	if len(head) < 9 || head[0] != 0x00 {
		return p, false
	}
	p.StmtID = binary.LittleEndian.Uint32(head[1:])
	p.Columns = binary.LittleEndian.Uint16(head[5:])
	p.Params = binary.LittleEndian.Uint16(head[7:])
	if len(head) >= 12 {
		p.Warnings = binary.LittleEndian.Uint16(head[10:])
	}
	return p, true
}

// ReplyClass is what the first packet of a server's response to a command
// is.
type ReplyClass uint8

// The classes of [ClassifyReply].
const (
	ReplyInvalid     ReplyClass = iota // empty, or a first byte no response starts with
	ReplyOK                            // 0x00
	ReplyErr                           // 0xff
	ReplyEOF                           // 0xfe, payload shorter than 9 bytes
	ReplyLocalInfile                   // 0xfb: the client is to send a file
	ReplyResultSet                     // a column count (length-encoded integer)
)

// String returns c's name, such as "ERR" or "result set".
func (c ReplyClass) String() string {
	switch c {
	case ReplyInvalid:
		return "invalid"
	case ReplyOK:
		return "OK"
	case ReplyErr:
		return "ERR"
	case ReplyEOF:
		return "EOF"
	case ReplyLocalInfile:
		return "LOCAL INFILE"
	case ReplyResultSet:
		return "result set"
	}
	return fmt.Sprintf("ReplyClass(%d)", uint8(c))
}

// ClassifyReply returns the class of the first packet of a response, from
// the start of its payload and its length. Only there do these first
// bytes mean this: a row may start with 0x00 or 0xfb, and under
// ClientDeprecateEOF a result set ends with an OK packet starting with
// 0xfe; a [Follower] tells them apart.
func ClassifyReply(head []byte, length int) ReplyClass {
	if len(head) == 0 {
		return ReplyInvalid
	}
	switch head[0] {
	case 0x00:
		return ReplyOK
	case 0xff:
		return ReplyErr
	case 0xfe:
		if length < 9 {
			return ReplyEOF
		}
		return ReplyInvalid
	case 0xfb:
		return ReplyLocalInfile
	}
	if _, _, ok := ParseLenEnc(head); ok {
		return ReplyResultSet
	}
	return ReplyInvalid
}

// ParseErr reads an ERR packet's payload: 0xff, error number (2 bytes),
// then, from a server that knows the client speaks 4.1, '#' and a
// 5-character SQLSTATE, then the message to the end of the payload.
// sqlState is "" if the packet has none; valid is false if payload is not
// an ERR packet. The strings are copies.
func ParseErr(payload []byte) (code uint16, sqlState, message string, valid bool) {
	if len(payload) < 3 || payload[0] != 0xff {
		return 0, "", "", false
	}
	code = binary.LittleEndian.Uint16(payload[1:])
	rest := payload[3:]
	if len(rest) >= 6 && rest[0] == '#' {
		sqlState, rest = string(rest[1:6]), rest[6:]
	}
	return code, sqlState, string(rest), true
}

// AppendErr appends an ERR packet with sequence id seq to dst, as a server
// answering a client of protocol 4.1 (ClientProtocol41) writes it: 0xff,
// the error number (2 bytes, little endian), '#', sqlState, message. It
// returns the extended dst. seq is the one after the last packet of the
// exchange: 1 in answer to a command (whose packet is 0), 2 in answer to a
// handshake response (the greeting is 0, the response 1), more after an
// auth switch or a multi-packet command.
//
// sqlState should be 5 characters; neither it nor message is checked, and
// the payload must fit one packet (less than MaxPayload bytes).
func AppendErr(dst []byte, seq byte, code uint16, sqlState, message string) []byte {
	n := 1 + 2 + 1 + len(sqlState) + len(message)
	dst = slices.Grow(dst, HeaderLen+n)
	dst = append(dst, byte(n), byte(n>>8), byte(n>>16), seq)
	dst = append(dst, 0xff, byte(code), byte(code>>8), '#')
	dst = append(dst, sqlState...)
	return append(dst, message...)
}

// AppendErrWithoutSQLState appends an ERR packet without a SQLSTATE to dst:
// 0xff, the error number, message. A server writes '#' and the SQLSTATE
// only to a client that announced ClientProtocol41, so an error sent
// before the client's handshake response, in place of the greeting (as,
// per the MySQL and MariaDB sources, a server at max_connections does with
// 1040, "Too many connections", or one shutting down with 1053), is
// written this way, with sequence id 0. Clients tell the two forms apart
// by the '#'. It returns the extended dst; message is not checked, and
// must fit one packet.
func AppendErrWithoutSQLState(dst []byte, seq byte, code uint16, message string) []byte {
	n := 1 + 2 + len(message)
	dst = slices.Grow(dst, HeaderLen+n)
	dst = append(dst, byte(n), byte(n>>8), byte(n>>16), seq)
	dst = append(dst, 0xff, byte(code), byte(code>>8))
	return append(dst, message...)
}
