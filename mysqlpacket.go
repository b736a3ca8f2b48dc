package faults

// MySQL client/server protocol framing (MySQL 4.1+ and MariaDB): where each
// packet and each message ends, which command a client message is, and
// when a server's response to it is complete, decoded no further than that.
// Nothing here rewrites a byte, except clearMySQLCapabilities, which the
// relay applies to the server's greeting to keep features it cannot follow
// (TLS, compression) out of the session.
//
// A packet is a 4-byte header, the payload's length (3 bytes, little endian)
// and a sequence id, then the payload. A message (a command, a row, an OK)
// longer than 0xFFFFFF bytes is split into packets of 0xFFFFFF bytes and a
// last, shorter one, possibly empty; each packet of a command's exchange has
// the sequence id of the one before it plus one (mod 256), across both
// directions, starting at 0 with the client's command.
//
// Headers are peeked and consumed only when valid, so that anything the
// framer refuses is still in the reader for the caller to pass through raw.
// Payloads are streamed, never buffered whole.
//
// The classifiers need only the start of a payload: the first
// min(length, mysqlHeadLen) bytes, which peekMySQLPayload returns.
//
// Unexported identifiers of this file start with "mysql" (or "mariadb", for
// MariaDB's extensions) to keep clear of other files of the package.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

const (
	// mysqlHeaderLen is the length of a packet header.
	mysqlHeaderLen = 4
	// mysqlMaxPayload is the largest payload of one packet; a packet this
	// long is followed by the next packet of the same message.
	mysqlMaxPayload = 1<<24 - 1
	// mysqlMaxMessage is a sane bound on a whole message, MySQL's largest
	// max_allowed_packet (1 GiB).
	mysqlMaxMessage = 1 << 30
	// mysqlHeadLen is how much of a payload's start the classifiers need:
	// the longest fixed part they read is an OK packet's header, two 9-byte
	// length-encoded integers and its status flags (21 bytes).
	mysqlHeadLen = 32
)

// errMySQLMalformed is wrapped by every error about bytes that are not the
// MySQL protocol as the framer understands it.
var errMySQLMalformed = errors.New("faults: malformed MySQL protocol")

// mysqlMalformed returns an error wrapping errMySQLMalformed.
func mysqlMalformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errMySQLMalformed, fmt.Sprintf(format, args...))
}

// mysqlTruncated is the error of a stream that ends inside a packet.
func mysqlTruncated(where string) error {
	return fmt.Errorf("%w: stream ends inside %s: %w", errMySQLMalformed, where, io.ErrUnexpectedEOF)
}

// mysqlPacket is a packet header.
type mysqlPacket struct {
	length int  // payload length, 0 to mysqlMaxPayload
	seq    byte // sequence id
}

// continued reports whether the message goes on in the next packet.
func (p mysqlPacket) continued() bool { return p.length == mysqlMaxPayload }

// header returns p's 4 bytes as on the wire.
func (p mysqlPacket) header() [mysqlHeaderLen]byte {
	return [mysqlHeaderLen]byte{byte(p.length), byte(p.length >> 8), byte(p.length >> 16), p.seq}
}

func (p mysqlPacket) String() string { return fmt.Sprintf("packet(seq %d, %d bytes)", p.seq, p.length) }

// readMySQLPacket reads the next packet header from br and returns it,
// leaving the payload in br for peekMySQLPayload, copyMySQLPayload,
// copyMySQLMessage and the like.
//
// Any 4 bytes are a valid header: it consumes them, and only them, when all
// four are there. On any error nothing is consumed. Errors:
//
//   - io.EOF: the stream ended cleanly, before a header;
//   - an error wrapping both errMySQLMalformed and io.ErrUnexpectedEOF: the
//     stream ended inside a header;
//   - any other error from the underlying reader (a timeout, a reset), as
//     is; a later call starts over with the bytes already buffered.
//
// See readMySQLPacketWant for a header checked against what the exchange
// expects.
func readMySQLPacket(br *bufio.Reader) (mysqlPacket, error) {
	p, err := peekMySQLHeader(br)
	if err != nil {
		return mysqlPacket{}, err
	}
	br.Discard(mysqlHeaderLen) // cannot fail: the bytes are buffered
	return p, nil
}

// readMySQLPacketWant is readMySQLPacket for a header that must have
// sequence id seq and a payload of at most max bytes: any other is
// malformed (an error wrapping errMySQLMalformed) and not consumed.
func readMySQLPacketWant(br *bufio.Reader, seq byte, max int) (mysqlPacket, error) {
	p, err := peekMySQLHeader(br)
	if err != nil {
		return mysqlPacket{}, err
	}
	if p.seq != seq {
		return mysqlPacket{}, mysqlMalformed("sequence id %d where %d was due", p.seq, seq)
	}
	if p.length > max {
		return mysqlPacket{}, mysqlMalformed("payload of %d bytes, more than the %d allowed", p.length, max)
	}
	br.Discard(mysqlHeaderLen) // cannot fail: the bytes are buffered
	return p, nil
}

// peekMySQLHeader returns the next header of br without consuming it.
func peekMySQLHeader(br *bufio.Reader) (mysqlPacket, error) {
	b, err := br.Peek(mysqlHeaderLen)
	if err != nil {
		if err == io.EOF {
			if len(b) == 0 {
				return mysqlPacket{}, io.EOF
			}
			return mysqlPacket{}, mysqlTruncated("a packet header")
		}
		return mysqlPacket{}, err
	}
	return mysqlPacket{length: int(b[0]) | int(b[1])<<8 | int(b[2])<<16, seq: b[3]}, nil
}

// peekMySQLPayload returns the first min(n, p.length, br.Size()) bytes of
// the payload of p, whose header readMySQLPacket has just read, without
// consuming them. They are a slice of br's buffer, valid until the next
// read from br. If the stream ends first, the error wraps both
// errMySQLMalformed and io.ErrUnexpectedEOF; any other error of the
// underlying reader is returned as is.
func peekMySQLPayload(br *bufio.Reader, p mysqlPacket, n int) ([]byte, error) {
	n = min(n, p.length, br.Size())
	if n <= 0 {
		return nil, nil
	}
	b, err := br.Peek(n)
	if err != nil {
		if err == io.EOF {
			return nil, mysqlTruncated("a packet payload")
		}
		return nil, err
	}
	return b, nil
}

// copyMySQLPayload copies the payload of p, whose header readMySQLPacket
// has just read, from br to w, straight from br's buffer. A stream that
// ends first gives io.ErrUnexpectedEOF.
func copyMySQLPayload(w io.Writer, br *bufio.Reader, p mysqlPacket) (int64, error) {
	return copyBufferedN(w, br, int64(p.length))
}

// copyBufferedN copies n bytes from br to w, straight from br's buffer,
// consuming what w took. A stream that ends first gives
// io.ErrUnexpectedEOF; after a write error, the bytes w did not take are
// still in br.
func copyBufferedN(w io.Writer, br *bufio.Reader, n int64) (int64, error) {
	var written int64
	for written < n {
		if br.Buffered() == 0 {
			if _, err := br.Peek(1); err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return written, err
			}
		}
		p, _ := br.Peek(int(min(int64(br.Buffered()), n-written)))
		m, err := w.Write(p)
		if m < 0 || m > len(p) {
			m, err = 0, errors.New("faults: invalid Write result")
		}
		br.Discard(m)
		written += int64(m)
		if err == nil && m < len(p) {
			err = io.ErrShortWrite
		}
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// copyMySQLMessage forwards a whole message whose first header p
// readMySQLPacket has just read: it writes p's header and payload to w,
// then, while the last packet was mysqlMaxPayload long, reads the next
// header (refusing, unconsumed, one whose sequence id is not the previous
// one's plus one or that takes the message beyond max bytes) and copies
// that packet too. It returns the message's last header, whose seq the
// exchange goes on from, and the bytes written, headers included. Headers
// are written as separate small writes: w should be buffered.
//
// On error, written says how much reached w; the bytes read from br are
// those written, plus, after a write error, those w refused. If p itself
// is longer than max, nothing is written, and p's payload is left in br.
func copyMySQLMessage(w io.Writer, br *bufio.Reader, p mysqlPacket, max int) (last mysqlPacket, written int64, err error) {
	if p.length > max {
		return p, 0, mysqlMalformed("message longer than %d bytes", max)
	}
	total := 0
	for {
		h := p.header()
		m, err := w.Write(h[:])
		written += int64(m)
		if err == nil && m < len(h) {
			err = io.ErrShortWrite
		}
		if err != nil {
			return p, written, err
		}
		n, err := copyMySQLPayload(w, br, p)
		written += n
		if err != nil {
			return p, written, err
		}
		total += p.length
		if !p.continued() {
			return p, written, nil
		}
		next, err := readMySQLPacketWant(br, p.seq+1, max-total)
		if err != nil {
			if err == io.EOF {
				err = mysqlTruncated("a message")
			}
			return p, written, err
		}
		p = next
	}
}

// readMySQLMessage reads a whole message whose first header p
// readMySQLPacket has just read, as copyMySQLMessage would forward it, and
// appends its raw bytes (headers included) to dst. On error, raw holds p's
// header and every byte consumed from br (for a payload cut short, what
// there was of it), for the caller to pass on. mysqlMessagePayload gives the payload of
// a complete message.
//
// It is meant for small messages (a greeting, a handshake response, a
// statement's text): max bounds the payload.
func readMySQLMessage(dst []byte, br *bufio.Reader, p mysqlPacket, max int) (raw []byte, last mysqlPacket, err error) {
	if p.length > max {
		h := p.header()
		return append(dst, h[:]...), p, mysqlMalformed("message longer than %d bytes", max)
	}
	w := mysqlAppender{dst}
	last, _, err = copyMySQLMessage(&w, br, p, max)
	return w.b, last, err
}

// mysqlAppender is an io.Writer appending to a slice.
type mysqlAppender struct{ b []byte }

func (a *mysqlAppender) Write(p []byte) (int, error) {
	a.b = append(a.b, p...)
	return len(p), nil
}

// mysqlMessagePayload returns the payload of raw, a complete message as
// readMySQLMessage returns it: for a single packet a slice of raw, for
// several a new slice joining their payloads.
func mysqlMessagePayload(raw []byte) []byte {
	if len(raw) < mysqlHeaderLen {
		return nil
	}
	n := int(raw[0]) | int(raw[1])<<8 | int(raw[2])<<16
	if n < mysqlMaxPayload {
		return raw[mysqlHeaderLen:min(len(raw), mysqlHeaderLen+n)]
	}
	var out []byte
	for len(raw) >= mysqlHeaderLen {
		n := int(raw[0]) | int(raw[1])<<8 | int(raw[2])<<16
		end := min(len(raw), mysqlHeaderLen+n)
		out = append(out, raw[mysqlHeaderLen:end]...)
		raw = raw[end:]
	}
	return out
}

// readMySQLLenEnc decodes the length-encoded integer at the start of b: a
// first byte below 0xfb is the value; 0xfc, 0xfd and 0xfe are followed by
// the value in 2, 3 and 8 bytes, little endian. It returns the value and
// the bytes it takes; ok is false if b is too short, or starts with 0xfb
// (NULL, in a row) or 0xff (not an integer).
func readMySQLLenEnc(b []byte) (v uint64, n int, ok bool) {
	if len(b) == 0 {
		return 0, 0, false
	}
	switch c := b[0]; {
	case c < 0xfb:
		return uint64(c), 1, true
	case c == 0xfc:
		n = 3
	case c == 0xfd:
		n = 4
	case c == 0xfe:
		n = 9
	default:
		return 0, 0, false
	}
	if len(b) < n {
		return 0, 0, false
	}
	for i := n - 1; i >= 1; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v, n, true
}

// mysqlCommand is the first byte of a client's command message.
type mysqlCommand byte

// Commands (the COM_ names of the MySQL and MariaDB sources).
const (
	mysqlComSleep            mysqlCommand = 0x00 // server-internal
	mysqlComQuit             mysqlCommand = 0x01 // no reply: the server closes
	mysqlComInitDB           mysqlCommand = 0x02 // OK or ERR
	mysqlComQuery            mysqlCommand = 0x03 // text; a result
	mysqlComFieldList        mysqlCommand = 0x04 // column definitions, then EOF or ERR
	mysqlComCreateDB         mysqlCommand = 0x05
	mysqlComDropDB           mysqlCommand = 0x06
	mysqlComRefresh          mysqlCommand = 0x07
	mysqlComShutdown         mysqlCommand = 0x08
	mysqlComStatistics       mysqlCommand = 0x09 // one string packet
	mysqlComProcessInfo      mysqlCommand = 0x0a // a result
	mysqlComConnect          mysqlCommand = 0x0b // server-internal
	mysqlComProcessKill      mysqlCommand = 0x0c
	mysqlComDebug            mysqlCommand = 0x0d
	mysqlComPing             mysqlCommand = 0x0e
	mysqlComTime             mysqlCommand = 0x0f // server-internal
	mysqlComDelayedInsert    mysqlCommand = 0x10 // server-internal
	mysqlComChangeUser       mysqlCommand = 0x11 // an authentication exchange
	mysqlComBinlogDump       mysqlCommand = 0x12 // a stream of events
	mysqlComTableDump        mysqlCommand = 0x13
	mysqlComConnectOut       mysqlCommand = 0x14 // server-internal
	mysqlComRegisterSlave    mysqlCommand = 0x15
	mysqlComStmtPrepare      mysqlCommand = 0x16 // text; PREPARE_OK and definitions, or ERR
	mysqlComStmtExecute      mysqlCommand = 0x17 // statement id; a result (binary rows)
	mysqlComStmtSendLongData mysqlCommand = 0x18 // statement id; no reply
	mysqlComStmtClose        mysqlCommand = 0x19 // statement id; no reply
	mysqlComStmtReset        mysqlCommand = 0x1a // statement id; OK or ERR
	mysqlComSetOption        mysqlCommand = 0x1b // EOF (or OK) or ERR
	mysqlComStmtFetch        mysqlCommand = 0x1c // statement id; rows, then EOF or ERR
	mysqlComDaemon           mysqlCommand = 0x1d // server-internal
	mysqlComBinlogDumpGTID   mysqlCommand = 0x1e
	mysqlComResetConnection  mysqlCommand = 0x1f // OK or ERR
	mariadbComStmtBulkExec   mysqlCommand = 0xfa // MariaDB COM_STMT_BULK_EXECUTE; a result
)

var mysqlCommandNames = [...]string{
	"COM_SLEEP", "COM_QUIT", "COM_INIT_DB", "COM_QUERY", "COM_FIELD_LIST",
	"COM_CREATE_DB", "COM_DROP_DB", "COM_REFRESH", "COM_SHUTDOWN",
	"COM_STATISTICS", "COM_PROCESS_INFO", "COM_CONNECT", "COM_PROCESS_KILL",
	"COM_DEBUG", "COM_PING", "COM_TIME", "COM_DELAYED_INSERT",
	"COM_CHANGE_USER", "COM_BINLOG_DUMP", "COM_TABLE_DUMP", "COM_CONNECT_OUT",
	"COM_REGISTER_SLAVE", "COM_STMT_PREPARE", "COM_STMT_EXECUTE",
	"COM_STMT_SEND_LONG_DATA", "COM_STMT_CLOSE", "COM_STMT_RESET",
	"COM_SET_OPTION", "COM_STMT_FETCH", "COM_DAEMON", "COM_BINLOG_DUMP_GTID",
	"COM_RESET_CONNECTION",
}

func (c mysqlCommand) String() string {
	if int(c) < len(mysqlCommandNames) {
		return mysqlCommandNames[c]
	}
	if c == mariadbComStmtBulkExec {
		return "COM_STMT_BULK_EXECUTE"
	}
	return fmt.Sprintf("COM_0x%02x", byte(c))
}

// mysqlStmtID returns the statement id of a COM_STMT_EXECUTE,
// COM_STMT_SEND_LONG_DATA, COM_STMT_CLOSE, COM_STMT_RESET, COM_STMT_FETCH
// or COM_STMT_BULK_EXECUTE payload (its 4 bytes after the command byte,
// little endian); ok is false for another command or a payload too short.
func mysqlStmtID(head []byte) (id uint32, ok bool) {
	if len(head) < 5 {
		return 0, false
	}
	switch mysqlCommand(head[0]) {
	case mysqlComStmtExecute, mysqlComStmtSendLongData, mysqlComStmtClose,
		mysqlComStmtReset, mysqlComStmtFetch, mariadbComStmtBulkExec:
		return binary.LittleEndian.Uint32(head[1:5]), true
	}
	return 0, false
}

// mysqlResponse is the shape of the server's response to a command, which
// says how a mysqlFollower follows it.
type mysqlResponse uint8

const (
	// mysqlRespUnknown: a response the follower does not know the end of
	// (replication streams, server-internal commands, unknown bytes); the
	// connection can only go on raw.
	mysqlRespUnknown mysqlResponse = iota
	// mysqlRespNone: no response (COM_STMT_SEND_LONG_DATA, COM_STMT_CLOSE;
	// COM_QUIT, after which the server closes).
	mysqlRespNone
	// mysqlRespSingle: exactly one message, OK, ERR, EOF or a string.
	mysqlRespSingle
	// mysqlRespResult: a result (COM_QUERY, COM_STMT_EXECUTE,
	// COM_PROCESS_INFO, COM_STMT_BULK_EXECUTE): OK, ERR, a LOCAL INFILE
	// request, or result sets, possibly several.
	mysqlRespResult
	// mysqlRespPrepare: COM_STMT_PREPARE_OK and its parameter and column
	// definitions, or ERR.
	mysqlRespPrepare
	// mysqlRespFieldList: column definitions ended by EOF, or ERR.
	mysqlRespFieldList
	// mysqlRespFetch: rows ended by EOF, or ERR (COM_STMT_FETCH).
	mysqlRespFetch
	// mysqlRespAuth: an authentication exchange (after the client's
	// handshake response, and COM_CHANGE_USER), ended by OK or ERR.
	mysqlRespAuth
)

func (r mysqlResponse) String() string {
	switch r {
	case mysqlRespUnknown:
		return "unknown"
	case mysqlRespNone:
		return "none"
	case mysqlRespSingle:
		return "single"
	case mysqlRespResult:
		return "result"
	case mysqlRespPrepare:
		return "prepare"
	case mysqlRespFieldList:
		return "field-list"
	case mysqlRespFetch:
		return "fetch"
	case mysqlRespAuth:
		return "auth"
	}
	return fmt.Sprintf("mysqlResponse(%d)", uint8(r))
}

// response returns the shape of the server's response to c.
func (c mysqlCommand) response() mysqlResponse {
	switch c {
	case mysqlComQuit, mysqlComStmtSendLongData, mysqlComStmtClose:
		return mysqlRespNone
	case mysqlComInitDB, mysqlComCreateDB, mysqlComDropDB, mysqlComRefresh,
		mysqlComShutdown, mysqlComStatistics, mysqlComProcessKill, mysqlComDebug,
		mysqlComPing, mysqlComStmtReset, mysqlComSetOption, mysqlComResetConnection:
		return mysqlRespSingle
	case mysqlComQuery, mysqlComStmtExecute, mysqlComProcessInfo, mariadbComStmtBulkExec:
		return mysqlRespResult
	case mysqlComStmtPrepare:
		return mysqlRespPrepare
	case mysqlComFieldList:
		return mysqlRespFieldList
	case mysqlComStmtFetch:
		return mysqlRespFetch
	case mysqlComChangeUser:
		return mysqlRespAuth
	}
	return mysqlRespUnknown
}

// Capability flags (CLIENT_ in the MySQL sources), as the greeting offers
// them and the client's handshake response asks for them.
const (
	mysqlClientMySQL                     uint32 = 1 << 0 // CLIENT_LONG_PASSWORD; a MariaDB server clears it to announce extended capabilities
	mysqlClientFoundRows                 uint32 = 1 << 1
	mysqlClientLongFlag                  uint32 = 1 << 2
	mysqlClientConnectWithDB             uint32 = 1 << 3
	mysqlClientCompress                  uint32 = 1 << 5 // 0x20
	mysqlClientLocalFiles                uint32 = 1 << 7 // 0x80
	mysqlClientProtocol41                uint32 = 1 << 9 // 0x200
	mysqlClientInteractive               uint32 = 1 << 10
	mysqlClientSSL                       uint32 = 1 << 11 // 0x800
	mysqlClientTransactions              uint32 = 1 << 13
	mysqlClientSecureConnection          uint32 = 1 << 15
	mysqlClientMultiStatements           uint32 = 1 << 16
	mysqlClientMultiResults              uint32 = 1 << 17
	mysqlClientPSMultiResults            uint32 = 1 << 18
	mysqlClientPluginAuth                uint32 = 1 << 19
	mysqlClientConnectAttrs              uint32 = 1 << 20
	mysqlClientPluginAuthLenencData      uint32 = 1 << 21
	mysqlClientSessionTrack              uint32 = 1 << 23
	mysqlClientDeprecateEOF              uint32 = 1 << 24 // 0x01000000
	mysqlClientOptionalResultsetMetadata uint32 = 1 << 25 // MySQL 8
	mysqlClientZstdCompression           uint32 = 1 << 26 // 0x04000000, MySQL 8
	mysqlClientQueryAttributes           uint32 = 1 << 27 // MySQL 8
)

// MariaDB's extended capability flags, in the greeting's and the handshake
// response's reserved bytes when CLIENT_MYSQL is clear.
const (
	mariadbClientProgress           uint32 = 1 << 0 // progress reports: ERR packets numbered 0xFFFF
	mariadbClientComMulti           uint32 = 1 << 1
	mariadbClientStmtBulkOperations uint32 = 1 << 2
	mariadbClientExtendedMetadata   uint32 = 1 << 3
	mariadbClientCacheMetadata      uint32 = 1 << 4 // a column count is followed by a "metadata follows" byte
	mariadbClientBulkUnitResults    uint32 = 1 << 5
)

// mysqlCapsUnfollowed are the capabilities the relay clears from the
// greeting, so that clients do not ask for them: TLS and compression (the
// bytes would no longer be packets the proxy can read), and MySQL 8's
// optional result-set metadata and query attributes (which change the
// layout of results and of COM_QUERY, and which no client needs).
const mysqlCapsUnfollowed = mysqlClientSSL | mysqlClientCompress | mysqlClientZstdCompression |
	mysqlClientOptionalResultsetMetadata | mysqlClientQueryAttributes

// Server status flags (SERVER_ in the MySQL sources), in OK and EOF
// packets.
const (
	mysqlServerStatusInTrans     uint16 = 0x0001
	mysqlServerStatusAutocommit  uint16 = 0x0002
	mysqlServerMoreResultsExist  uint16 = 0x0008 // another result follows this one
	mysqlServerStatusCursorExist uint16 = 0x0040 // COM_STMT_EXECUTE opened a cursor: rows come with COM_STMT_FETCH
	mysqlServerStatusLastRowSent uint16 = 0x0080
)

// mysqlGreeting is what the framer reads of a server's greeting
// (HandshakeV10), and where its capability flags are.
type mysqlGreeting struct {
	protocolVersion byte // 10
	serverVersion   string
	connectionID    uint32
	capabilities    uint32 // lower and upper 2 bytes
	charset         byte
	status          uint16
	mariadbCaps     uint32 // MariaDB's extended capabilities: 0 unless CLIENT_MYSQL is clear
	authPlugin      string // "" if the greeting names none

	capLow, capHigh, mariadbAt int // offsets of the flags' bytes in the payload; capHigh and mariadbAt 0 if absent
}

// parseMySQLGreeting reads a HandshakeV10 payload: protocol version (10),
// server version (NUL-terminated), connection id (4 bytes), auth-plugin-data
// part 1 (8), a filler (1), capability flags' lower 2 bytes; then, if the
// payload goes on, character set (1), status flags (2), capability flags'
// upper 2 bytes, auth-plugin-data length (1), 10 reserved bytes, of which
// MariaDB uses the last 4 for its extended capabilities when CLIENT_MYSQL is
// clear, auth-plugin-data part 2 and the auth plugin's name. An ERR packet
// (a server refusing the connection) and any other protocol version are
// errors.
func parseMySQLGreeting(payload []byte) (mysqlGreeting, error) {
	var g mysqlGreeting
	if len(payload) == 0 {
		return g, mysqlMalformed("empty greeting")
	}
	if payload[0] == 0xff {
		return g, mysqlMalformed("the server sent ERR instead of a greeting")
	}
	g.protocolVersion = payload[0]
	if g.protocolVersion != 10 {
		return g, mysqlMalformed("handshake protocol version %d, not 10", g.protocolVersion)
	}
	pos := 1
	end := -1
	for i := pos; i < len(payload); i++ {
		if payload[i] == 0 {
			end = i
			break
		}
	}
	if end < 0 {
		return g, mysqlMalformed("greeting's server version has no end")
	}
	g.serverVersion = string(payload[pos:end])
	pos = end + 1
	if len(payload) < pos+4+8+1+2 {
		return g, mysqlMalformed("greeting too short (%d bytes)", len(payload))
	}
	g.connectionID = binary.LittleEndian.Uint32(payload[pos:])
	pos += 4 + 8 + 1
	g.capLow = pos
	g.capabilities = uint32(binary.LittleEndian.Uint16(payload[pos:]))
	pos += 2
	if len(payload) == pos {
		return g, nil // a pre-4.1 server
	}
	if len(payload) < pos+1+2+2+1+10 {
		return g, mysqlMalformed("greeting too short (%d bytes)", len(payload))
	}
	g.charset = payload[pos]
	g.status = binary.LittleEndian.Uint16(payload[pos+1:])
	g.capHigh = pos + 3
	g.capabilities |= uint32(binary.LittleEndian.Uint16(payload[g.capHigh:])) << 16
	authLen := int(payload[pos+5])
	pos += 6
	if g.capabilities&mysqlClientMySQL == 0 {
		g.mariadbAt = pos + 6
		g.mariadbCaps = binary.LittleEndian.Uint32(payload[g.mariadbAt:])
	}
	pos += 10
	if g.capabilities&mysqlClientSecureConnection != 0 {
		pos += max(13, authLen-8)
	}
	if g.capabilities&mysqlClientPluginAuth != 0 && pos < len(payload) {
		name := payload[pos:]
		for i, c := range name {
			if c == 0 {
				name = name[:i]
				break
			}
		}
		g.authPlugin = string(name)
	}
	return g, nil
}

// clearMySQLCapabilities clears bits of the capability flags of a greeting
// payload in place (both halves), and mariadbBits of MariaDB's extended
// capabilities if the greeting has them; nothing else changes. A client
// then does not ask for what it was not offered.
func clearMySQLCapabilities(greeting []byte, bits, mariadbBits uint32) error {
	g, err := parseMySQLGreeting(greeting)
	if err != nil {
		return err
	}
	caps := g.capabilities &^ bits
	binary.LittleEndian.PutUint16(greeting[g.capLow:], uint16(caps))
	if g.capHigh != 0 {
		binary.LittleEndian.PutUint16(greeting[g.capHigh:], uint16(caps>>16))
	}
	if g.mariadbAt != 0 {
		binary.LittleEndian.PutUint32(greeting[g.mariadbAt:], g.mariadbCaps&^mariadbBits)
	}
	return nil
}

// mysqlClientHello is what the framer reads of a client's
// HandshakeResponse41 (or SSLRequest, its first 32 bytes).
type mysqlClientHello struct {
	capabilities uint32 // the first 4 bytes
	maxPacket    uint32
	charset      byte
	mariadbCaps  uint32 // MariaDB's extended capabilities, bytes 28 to 31: 0 unless CLIENT_MYSQL is clear
	sslRequest   bool   // exactly 32 bytes with CLIENT_SSL: the client starts TLS next
}

// parseMySQLClientHello reads the fixed start of a client's handshake
// response: capability flags (4 bytes), max packet size (4), character set
// (1), 23 reserved bytes (MariaDB's extended capabilities in the last 4
// when CLIENT_MYSQL is clear). A pre-4.1 response (HandshakeResponse320,
// CLIENT_PROTOCOL_41 clear) has only 2 bytes of flags and is returned with
// those alone; the proxy does not follow such sessions.
func parseMySQLClientHello(payload []byte) (mysqlClientHello, error) {
	var h mysqlClientHello
	if len(payload) < 2 {
		return h, mysqlMalformed("handshake response too short (%d bytes)", len(payload))
	}
	if uint32(binary.LittleEndian.Uint16(payload))&mysqlClientProtocol41 == 0 {
		h.capabilities = uint32(binary.LittleEndian.Uint16(payload))
		return h, nil
	}
	if len(payload) < 32 {
		return h, mysqlMalformed("handshake response too short (%d bytes)", len(payload))
	}
	h.capabilities = binary.LittleEndian.Uint32(payload)
	h.maxPacket = binary.LittleEndian.Uint32(payload[4:])
	h.charset = payload[8]
	if h.capabilities&mysqlClientMySQL == 0 {
		h.mariadbCaps = binary.LittleEndian.Uint32(payload[28:])
	}
	h.sslRequest = len(payload) == 32 && h.capabilities&mysqlClientSSL != 0
	return h, nil
}

// mysqlSession is what both sides agreed on at the handshake, which the
// framing of results depends on.
type mysqlSession struct {
	caps        uint32 // the capability flags both offered
	mariadbCaps uint32 // MariaDB's extended capabilities both offered
}

// negotiateMySQL returns the session a greeting and a client's handshake
// response agree on: what both sides set (a server uses a capability only
// if it offered it and the client asked for it).
func negotiateMySQL(g mysqlGreeting, h mysqlClientHello) mysqlSession {
	s := mysqlSession{caps: g.capabilities & h.capabilities}
	if g.capabilities&mysqlClientMySQL == 0 && h.capabilities&mysqlClientMySQL == 0 {
		s.mariadbCaps = g.mariadbCaps & h.mariadbCaps
	}
	return s
}

// mysqlOK is an OK packet's header.
type mysqlOK struct {
	affectedRows, lastInsertID uint64
	status, warnings           uint16
}

// parseMySQLOK reads an OK packet (first byte 0x00, or 0xfe for the OK
// ending a result set under CLIENT_DEPRECATE_EOF) of a CLIENT_PROTOCOL_41
// session: affected rows and last insert id (length-encoded), status flags
// (2 bytes), warnings (2). head is the payload's start (mysqlHeadLen bytes
// suffice); ok is false if it is too short or not an OK packet.
func parseMySQLOK(head []byte) (ok mysqlOK, valid bool) {
	if len(head) < 1 || (head[0] != 0x00 && head[0] != 0xfe) {
		return ok, false
	}
	var n, m int
	var good bool
	if ok.affectedRows, n, good = readMySQLLenEnc(head[1:]); !good {
		return ok, false
	}
	if ok.lastInsertID, m, good = readMySQLLenEnc(head[1+n:]); !good {
		return ok, false
	}
	pos := 1 + n + m
	if len(head) < pos+2 {
		return ok, false
	}
	ok.status = binary.LittleEndian.Uint16(head[pos:])
	if len(head) >= pos+4 {
		ok.warnings = binary.LittleEndian.Uint16(head[pos+2:])
	}
	return ok, true
}

// parseMySQLEOF reads an EOF packet: 0xfe, warnings (2 bytes), status flags
// (2). valid is false if head is not one (length 5 to 8; a 1-byte EOF of a
// pre-4.1 session has no flags).
func parseMySQLEOF(head []byte) (warnings, status uint16, valid bool) {
	if len(head) < 5 || len(head) >= 9 || head[0] != 0xfe {
		return 0, 0, false
	}
	return binary.LittleEndian.Uint16(head[1:]), binary.LittleEndian.Uint16(head[3:]), true
}

// mysqlPrepareOK is a COM_STMT_PREPARE_OK packet.
type mysqlPrepareOK struct {
	stmtID          uint32
	columns, params uint16
	warnings        uint16
}

// parseMySQLPrepareOK reads a COM_STMT_PREPARE_OK payload: 0x00, statement
// id (4 bytes), number of columns (2), number of parameters (2), then a
// filler (1) and warnings (2) if present.
func parseMySQLPrepareOK(head []byte) (p mysqlPrepareOK, valid bool) {
	if len(head) < 9 || head[0] != 0x00 {
		return p, false
	}
	p.stmtID = binary.LittleEndian.Uint32(head[1:])
	p.columns = binary.LittleEndian.Uint16(head[5:])
	p.params = binary.LittleEndian.Uint16(head[7:])
	if len(head) >= 12 {
		p.warnings = binary.LittleEndian.Uint16(head[10:])
	}
	return p, true
}

// mysqlReplyClass is what the first packet of a server's response to a
// command is.
type mysqlReplyClass uint8

const (
	mysqlReplyInvalid     mysqlReplyClass = iota // empty, or a first byte no response starts with
	mysqlReplyOK                                 // 0x00
	mysqlReplyERR                                // 0xff
	mysqlReplyEOF                                // 0xfe, payload shorter than 9 bytes
	mysqlReplyLocalInfile                        // 0xfb: the client is to send a file
	mysqlReplyResultSet                          // a column count (length-encoded integer)
)

func (c mysqlReplyClass) String() string {
	switch c {
	case mysqlReplyInvalid:
		return "invalid"
	case mysqlReplyOK:
		return "OK"
	case mysqlReplyERR:
		return "ERR"
	case mysqlReplyEOF:
		return "EOF"
	case mysqlReplyLocalInfile:
		return "LOCAL INFILE"
	case mysqlReplyResultSet:
		return "result set"
	}
	return fmt.Sprintf("mysqlReplyClass(%d)", uint8(c))
}

// mysqlMaxColumns bounds a result set's column count (MySQL and MariaDB
// allow 4096 columns in a table; a result set of expressions is bounded
// by the statement's length, so this is only a sanity check).
const mysqlMaxColumns = 1 << 16

// mysqlFollowState is where a mysqlFollower is in a response.
type mysqlFollowState uint8

// The states of a mysqlFollower. Each names the message due next; an ERR
// from the server (first byte 0xff) ends the response in every state where
// a server message is due, except MariaDB's progress reports (ERR numbered
// 0xFFFF, sent while a statement runs), which change nothing.
const (
	// mfResult: the first message of a result: OK (the response ends,
	// unless its status has SERVER_MORE_RESULTS_EXISTS: mfResult again),
	// a LOCAL INFILE request (0xfb: mfInfileData) or a column count
	// (mfColumns; under MariaDB's cache-metadata capability the count is
	// followed by a byte that, if 0, says the column definitions are not
	// sent: mfColumnsEnd, or mfRows under CLIENT_DEPRECATE_EOF).
	mfResult mysqlFollowState = iota
	// mfColumns: column definitions, count of them left; then
	// mfColumnsEnd, or under CLIENT_DEPRECATE_EOF directly mfRows (done,
	// for the column definitions of a COM_STMT_PREPARE).
	mfColumns
	// mfColumnsEnd: the EOF after column definitions (no
	// CLIENT_DEPRECATE_EOF); then mfRows, or done if its status has
	// SERVER_STATUS_CURSOR_EXISTS (COM_STMT_EXECUTE opened a cursor) or
	// the definitions were a COM_STMT_PREPARE's.
	mfColumnsEnd
	// mfRows: rows, text or binary, until the packet ending the result
	// set: 0xfe with a payload shorter than 9 bytes (EOF), or under
	// CLIENT_DEPRECATE_EOF shorter than mysqlMaxPayload (OK). A row can
	// start with 0xfe only as the 8-byte length of a value of at least
	// 2^24 bytes, in a first packet of exactly mysqlMaxPayload bytes. The
	// status flags of that last packet say whether another result follows
	// (SERVER_MORE_RESULTS_EXISTS: mfResult) or the response is done. The
	// definitions of COM_FIELD_LIST and the rows of COM_STMT_FETCH are
	// followed here too, and end the response with that packet.
	mfRows
	// mfInfileData: the client's file, in packets until an empty one
	// (that is not the continuation of a full one); then mfInfileReply.
	mfInfileData
	// mfInfileReply: the server's OK or ERR for the file; OK with
	// SERVER_MORE_RESULTS_EXISTS goes on with mfResult.
	mfInfileReply
	// mfPrepareOK: COM_STMT_PREPARE_OK, then mfParams if the statement has
	// parameters, else mfColumns if it has columns, else done.
	mfPrepareOK
	// mfParams: parameter definitions, count of them left; then
	// mfParamsEnd, or under CLIENT_DEPRECATE_EOF the columns (or done).
	mfParams
	// mfParamsEnd: the EOF after parameter definitions (no
	// CLIENT_DEPRECATE_EOF); then mfColumns if the statement has
	// columns, else done.
	mfParamsEnd
	// mfSingle: one message of any kind, then done.
	mfSingle
	// mfAuthServer: the server's next message of an authentication
	// exchange: OK or ERR (done); an auth switch request (0xfe) or more
	// auth data (0x01) for the client (mfAuthClient), except 0x01 0x03,
	// caching_sha2_password's "fast auth succeeded", after which the
	// server sends OK (mfAuthServer).
	mfAuthServer
	// mfAuthClient: the client's next message of an authentication
	// exchange; then mfAuthServer.
	mfAuthClient
	// mfDone: the response is complete.
	mfDone
	// mfFailed: the messages were not a response of the kind followed;
	// the connection can only go on raw.
	mfFailed
)

var mysqlFollowStateNames = [...]string{
	"result", "columns", "columns-end", "rows", "infile-data", "infile-reply",
	"prepare-ok", "params", "params-end", "single", "auth-server", "auth-client",
	"done", "failed",
}

func (s mysqlFollowState) String() string {
	if int(s) < len(mysqlFollowStateNames) {
		return mysqlFollowStateNames[s]
	}
	return fmt.Sprintf("mysqlFollowState(%d)", uint8(s))
}

// mysqlFollower follows a server's response to one command, packet by
// packet, and tells when it is complete, from the start of each payload
// (see mysqlHeadLen) and its length. During a LOCAL INFILE transfer and an
// authentication exchange it also follows the client's packets.
//
// The packets of a message after a full one (mysqlMaxPayload bytes) are its
// continuation and are not classified. Sequence ids are the caller's to
// check.
//
// A session with MySQL 8's CLIENT_OPTIONAL_RESULTSET_METADATA is not
// followed (its results and COM_STMT_PREPARE_OK carry a metadata flag this
// follower does not read); the relay clears that capability from the
// greeting (mysqlCapsUnfollowed). MariaDB's MARIADB_CLIENT_CACHE_METADATA is
// followed.
//
// The zero mysqlFollower is done; start one with newMySQLFollower.
type mysqlFollower struct {
	state        mysqlFollowState
	resp         mysqlResponse
	deprecateEOF bool
	metaFlag     bool   // a column count is followed by a "metadata follows" byte
	count        uint64 // definitions left in mfColumns and mfParams
	columns      uint16 // a prepared statement's columns, after its parameters
	serverCont   bool   // the server's last packet was full: its message goes on
	clientCont   bool   // the client's last packet was full: its message goes on
	status       uint16 // status flags of the last OK or EOF
	err          error  // why mfFailed
}

// newMySQLFollower returns a follower of a response of shape resp in
// session s. A mysqlRespNone response is done at once; a mysqlRespUnknown
// one has failed at once.
func newMySQLFollower(resp mysqlResponse, s mysqlSession) mysqlFollower {
	f := mysqlFollower{
		resp:         resp,
		deprecateEOF: s.caps&mysqlClientDeprecateEOF != 0,
		metaFlag:     s.mariadbCaps&mariadbClientCacheMetadata != 0,
	}
	switch resp {
	case mysqlRespNone:
		f.state = mfDone
	case mysqlRespSingle:
		f.state = mfSingle
	case mysqlRespResult:
		f.state = mfResult
	case mysqlRespPrepare:
		f.state = mfPrepareOK
	case mysqlRespFieldList, mysqlRespFetch:
		f.state = mfRows
	case mysqlRespAuth:
		f.state = mfAuthServer
	default:
		f.fail(mysqlMalformed("no follower for a response of shape %v", resp))
	}
	if s.caps&mysqlClientOptionalResultsetMetadata != 0 && f.state != mfFailed {
		f.fail(mysqlMalformed("CLIENT_OPTIONAL_RESULTSET_METADATA sessions are not followed"))
	}
	return f
}

// done reports whether the response is complete.
func (f *mysqlFollower) done() bool { return f.state == mfDone && !f.serverCont && !f.clientCont }

// failed returns why the packets were not a response of the kind followed,
// or nil.
func (f *mysqlFollower) failed() error { return f.err }

// wantsClient reports whether the client's next packet is due (LOCAL
// INFILE data, or the client's turn in an authentication exchange) rather
// than the server's.
func (f *mysqlFollower) wantsClient() bool {
	if f.serverCont {
		return false
	}
	return f.clientCont || f.state == mfInfileData || f.state == mfAuthClient
}

func (f *mysqlFollower) fail(err error) error {
	f.state, f.err = mfFailed, err
	return err
}

// server follows the server's next packet: length is its payload's length,
// head the payload's first min(length, mysqlHeadLen) bytes (or more). It
// returns an error wrapping errMySQLMalformed if the packet cannot come
// next; the follower has failed then, and stays so.
func (f *mysqlFollower) server(head []byte, length int) error {
	if f.state == mfFailed {
		return f.err
	}
	if length < 0 || length > mysqlMaxPayload || len(head) > length || (len(head) < length && len(head) < mysqlHeadLen) {
		return f.fail(fmt.Errorf("faults: mysqlFollower.server: %d head bytes of a %d-byte payload", len(head), length))
	}
	if f.serverCont {
		f.serverCont = length == mysqlMaxPayload
		return nil
	}
	switch {
	case f.state == mfDone:
		return f.fail(mysqlMalformed("server packet after the response ended"))
	case f.clientCont || f.state == mfInfileData || f.state == mfAuthClient:
		return f.fail(mysqlMalformed("server packet while the client's was due (%v)", f.state))
	}
	f.serverCont = length == mysqlMaxPayload
	if length == 0 {
		if f.state == mfSingle {
			f.state = mfDone
			return nil
		}
		return f.fail(mysqlMalformed("empty server packet (%v)", f.state))
	}
	if head[0] == 0xff {
		if length >= 3 && head[1] == 0xff && head[2] == 0xff {
			return nil // MariaDB progress report
		}
		f.state = mfDone // ERR
		return nil
	}
	switch f.state {
	case mfResult:
		return f.result(head, length)
	case mfColumns:
		f.count--
		if f.count == 0 {
			f.columnsRead()
		}
		return nil
	case mfColumnsEnd:
		_, status, ok := parseMySQLEOF(head)
		if !ok {
			return f.fail(mysqlMalformed("expected EOF after column definitions, got 0x%02x (%d bytes)", head[0], length))
		}
		f.status = status
		if f.resp == mysqlRespPrepare || status&mysqlServerStatusCursorExist != 0 {
			f.state = mfDone
		} else {
			f.state = mfRows
		}
		return nil
	case mfRows:
		if head[0] != 0xfe || (f.deprecateEOF && length == mysqlMaxPayload) || (!f.deprecateEOF && length >= 9) {
			return nil // a row, or a definition of COM_FIELD_LIST
		}
		var status uint16
		if f.deprecateEOF {
			ok, valid := parseMySQLOK(head)
			if !valid {
				return f.fail(mysqlMalformed("malformed OK ending a result set"))
			}
			status = ok.status
		} else {
			var valid bool
			if _, status, valid = parseMySQLEOF(head); !valid {
				if length != 1 { // a 1-byte EOF has no flags
					return f.fail(mysqlMalformed("malformed EOF ending a result set"))
				}
			}
		}
		f.status = status
		if f.resp == mysqlRespResult && status&mysqlServerMoreResultsExist != 0 {
			f.state = mfResult
		} else {
			f.state = mfDone
		}
		return nil
	case mfInfileReply:
		ok, valid := parseMySQLOK(head)
		if head[0] != 0x00 || !valid {
			return f.fail(mysqlMalformed("expected OK or ERR after LOCAL INFILE data, got 0x%02x", head[0]))
		}
		f.okEnds(ok.status)
		return nil
	case mfPrepareOK:
		p, ok := parseMySQLPrepareOK(head)
		if !ok {
			return f.fail(mysqlMalformed("expected COM_STMT_PREPARE_OK or ERR, got 0x%02x (%d bytes)", head[0], length))
		}
		f.columns = p.columns
		if p.params > 0 {
			f.state, f.count = mfParams, uint64(p.params)
		} else {
			f.paramsRead()
		}
		return nil
	case mfParams:
		f.count--
		if f.count == 0 {
			if f.deprecateEOF {
				f.paramsRead()
			} else {
				f.state = mfParamsEnd
			}
		}
		return nil
	case mfParamsEnd:
		_, status, ok := parseMySQLEOF(head)
		if !ok {
			return f.fail(mysqlMalformed("expected EOF after parameter definitions, got 0x%02x (%d bytes)", head[0], length))
		}
		f.status = status
		f.paramsRead()
		return nil
	case mfSingle:
		f.state = mfDone
		return nil
	case mfAuthServer:
		switch head[0] {
		case 0x00:
			f.state = mfDone
		case 0xfe:
			f.state = mfAuthClient // auth switch request
		case 0x01:
			if length == 2 && head[1] == 0x03 {
				return nil // fast auth succeeded: OK follows
			}
			f.state = mfAuthClient // more auth data
		default:
			return f.fail(mysqlMalformed("unexpected 0x%02x in an authentication exchange", head[0]))
		}
		return nil
	}
	return f.fail(mysqlMalformed("server packet in state %v", f.state))
}

// result follows the first message of a result.
func (f *mysqlFollower) result(head []byte, length int) error {
	switch head[0] {
	case 0x00:
		ok, valid := parseMySQLOK(head)
		if !valid {
			return f.fail(mysqlMalformed("malformed OK packet"))
		}
		f.okEnds(ok.status)
		return nil
	case 0xfb:
		f.state = mfInfileData
		return nil
	}
	n, size, ok := readMySQLLenEnc(head)
	if !ok || n == 0 || n > mysqlMaxColumns || size > length {
		return f.fail(mysqlMalformed("expected OK, ERR, LOCAL INFILE or a column count, got 0x%02x (%d bytes)", head[0], length))
	}
	if f.metaFlag {
		if size >= len(head) {
			return f.fail(mysqlMalformed("column count without its metadata flag"))
		}
		if head[size] == 0 { // the client has the metadata already
			f.columnsRead()
			return nil
		}
	}
	f.state, f.count = mfColumns, n
	return nil
}

// okEnds follows an OK ending a result: another result follows if its
// status says so.
func (f *mysqlFollower) okEnds(status uint16) {
	f.status = status
	if f.resp == mysqlRespResult && status&mysqlServerMoreResultsExist != 0 {
		f.state = mfResult
	} else {
		f.state = mfDone
	}
}

// columnsRead moves on after the last column definition.
func (f *mysqlFollower) columnsRead() {
	switch {
	case !f.deprecateEOF:
		f.state = mfColumnsEnd
	case f.resp == mysqlRespPrepare:
		f.state = mfDone
	default:
		f.state = mfRows
	}
}

// paramsRead moves on after a prepared statement's parameter definitions.
func (f *mysqlFollower) paramsRead() {
	if f.columns > 0 {
		f.state, f.count = mfColumns, uint64(f.columns)
	} else {
		f.state = mfDone
	}
}

// client follows the client's next packet, of length bytes, while
// wantsClient. It returns an error wrapping errMySQLMalformed if the
// server's packet was due instead; the follower has failed then.
func (f *mysqlFollower) client(length int) error {
	if f.state == mfFailed {
		return f.err
	}
	if length < 0 || length > mysqlMaxPayload {
		return f.fail(fmt.Errorf("faults: mysqlFollower.client: %d-byte payload", length))
	}
	if f.clientCont {
		f.clientCont = length == mysqlMaxPayload
		return nil
	}
	if f.serverCont || (f.state != mfInfileData && f.state != mfAuthClient) {
		return f.fail(mysqlMalformed("client packet while the server's was due (%v)", f.state))
	}
	f.clientCont = length == mysqlMaxPayload
	if f.state == mfAuthClient {
		f.state = mfAuthServer
	} else if length == 0 {
		f.state = mfInfileReply
	}
	return nil
}
