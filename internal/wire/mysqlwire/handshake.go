package mysqlwire

import "encoding/binary"

// Capability flags (CLIENT_ in the MySQL sources), as the greeting offers
// them and the client's handshake response asks for them.
const (
	ClientMySQL                     uint32 = 1 << 0 // CLIENT_LONG_PASSWORD; a MariaDB server clears it to announce extended capabilities
	ClientFoundRows                 uint32 = 1 << 1
	ClientLongFlag                  uint32 = 1 << 2
	ClientConnectWithDB             uint32 = 1 << 3
	ClientCompress                  uint32 = 1 << 5 // 0x20
	ClientLocalFiles                uint32 = 1 << 7 // 0x80
	ClientProtocol41                uint32 = 1 << 9 // 0x200
	ClientInteractive               uint32 = 1 << 10
	ClientSSL                       uint32 = 1 << 11 // 0x800
	ClientTransactions              uint32 = 1 << 13
	ClientSecureConnection          uint32 = 1 << 15
	ClientMultiStatements           uint32 = 1 << 16
	ClientMultiResults              uint32 = 1 << 17
	ClientPSMultiResults            uint32 = 1 << 18
	ClientPluginAuth                uint32 = 1 << 19
	ClientConnectAttrs              uint32 = 1 << 20
	ClientPluginAuthLenencData      uint32 = 1 << 21
	ClientSessionTrack              uint32 = 1 << 23
	ClientDeprecateEOF              uint32 = 1 << 24 // 0x01000000
	ClientOptionalResultsetMetadata uint32 = 1 << 25 // MySQL 8
	ClientZstdCompression           uint32 = 1 << 26 // 0x04000000, MySQL 8
	ClientQueryAttributes           uint32 = 1 << 27 // MySQL 8
)

// MariaDB's extended capability flags, in the greeting's and the handshake
// response's reserved bytes when ClientMySQL is clear.
const (
	MariaDBClientProgress           uint32 = 1 << 0 // progress reports: ERR packets numbered 0xFFFF
	MariaDBClientComMulti           uint32 = 1 << 1
	MariaDBClientStmtBulkOperations uint32 = 1 << 2
	MariaDBClientExtendedMetadata   uint32 = 1 << 3
	MariaDBClientCacheMetadata      uint32 = 1 << 4 // a column count is followed by a "metadata follows" byte
	MariaDBClientBulkUnitResults    uint32 = 1 << 5
)

// Unfollowed are the capabilities a proxy that frames a session with this
// package clears from the greeting ([ClearCapabilities]), so that clients
// do not ask for them: TLS and compression (the bytes would no longer be
// packets it can read), and MySQL 8's optional result-set metadata and
// query attributes (which change the layout of results and of COM_QUERY,
// and which no client needs; a [Follower] refuses the former).
const Unfollowed = ClientSSL | ClientCompress | ClientZstdCompression |
	ClientOptionalResultsetMetadata | ClientQueryAttributes

// Greeting is what the framer reads of a server's greeting (HandshakeV10),
// and where its capability flags are.
type Greeting struct {
	ProtocolVersion     byte // 10
	ServerVersion       string
	ConnectionID        uint32
	Capabilities        uint32 // lower and upper 2 bytes
	Charset             byte
	Status              uint16
	MariaDBCapabilities uint32 // MariaDB's extended capabilities: 0 unless ClientMySQL is clear
	AuthPlugin          string // "" if the greeting names none
	AuthData            []byte // the auth-plugin-data (the scramble), both parts, without a final NUL

	capLow, capHigh, mariadbAt int // offsets of the flags' bytes in the payload; capHigh and mariadbAt 0 if absent
}

// ParseGreeting reads a HandshakeV10 payload: protocol version (10),
// server version (NUL-terminated), connection id (4 bytes),
// auth-plugin-data part 1 (8), a filler (1), capability flags' lower 2
// bytes; then, if the payload goes on, character set (1), status flags
// (2), capability flags' upper 2 bytes, auth-plugin-data length (1), 10
// reserved bytes, of which MariaDB uses the last 4 for its extended
// capabilities when ClientMySQL is clear, auth-plugin-data part 2 and the
// auth plugin's name. The Greeting copies what it keeps: payload is not
// retained. An ERR packet (a server refusing the connection), any other
// protocol version and a payload too short are errors wrapping
// ErrMalformed.
func ParseGreeting(payload []byte) (Greeting, error) {
	var g Greeting
	if len(payload) == 0 {
		return g, malformed("empty greeting")
	}
	if payload[0] == 0xff {
		return g, malformed("the server sent ERR instead of a greeting")
	}
	g.ProtocolVersion = payload[0]
	if g.ProtocolVersion != 10 {
		return g, malformed("handshake protocol version %d, not 10", g.ProtocolVersion)
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
		return g, malformed("greeting's server version has no end")
	}
	g.ServerVersion = string(payload[pos:end])
	pos = end + 1
	if len(payload) < pos+4+8+1+2 {
		return g, malformed("greeting too short (%d bytes)", len(payload))
	}
	g.ConnectionID = binary.LittleEndian.Uint32(payload[pos:])
	g.AuthData = append([]byte(nil), payload[pos+4:pos+12]...)
	pos += 4 + 8 + 1
	g.capLow = pos
	g.Capabilities = uint32(binary.LittleEndian.Uint16(payload[pos:]))
	pos += 2
	if len(payload) == pos {
		return g, nil // a pre-4.1 server
	}
	if len(payload) < pos+1+2+2+1+10 {
		return g, malformed("greeting too short (%d bytes)", len(payload))
	}
	g.Charset = payload[pos]
	g.Status = binary.LittleEndian.Uint16(payload[pos+1:])
	g.capHigh = pos + 3
	g.Capabilities |= uint32(binary.LittleEndian.Uint16(payload[g.capHigh:])) << 16
	authLen := int(payload[pos+5])
	pos += 6
	if g.Capabilities&ClientMySQL == 0 {
		g.mariadbAt = pos + 6
		g.MariaDBCapabilities = binary.LittleEndian.Uint32(payload[g.mariadbAt:])
	}
	pos += 10
	if g.Capabilities&ClientSecureConnection != 0 {
		n := max(13, authLen-8)
		part2 := payload[pos:min(pos+n, len(payload))]
		if k := len(part2); k > 0 && part2[k-1] == 0 {
			part2 = part2[:k-1]
		}
		g.AuthData = append(g.AuthData, part2...)
		pos += n
	}
	if g.Capabilities&ClientPluginAuth != 0 && pos < len(payload) {
		name := payload[pos:]
		for i, c := range name {
			if c == 0 {
				name = name[:i]
				break
			}
		}
		g.AuthPlugin = string(name)
	}
	return g, nil
}

// ClearCapabilities clears bits of the capability flags of a greeting
// payload in place (both halves), and mariadbBits of MariaDB's extended
// capabilities if the greeting has them; nothing else changes. A client
// then does not ask for what it was not offered. It returns
// [ParseGreeting]'s error, with greeting unchanged, if greeting is not one.
func ClearCapabilities(greeting []byte, bits, mariadbBits uint32) error {
	g, err := ParseGreeting(greeting)
	if err != nil {
		return err
	}
	caps := g.Capabilities &^ bits
	binary.LittleEndian.PutUint16(greeting[g.capLow:], uint16(caps))
	if g.capHigh != 0 {
		binary.LittleEndian.PutUint16(greeting[g.capHigh:], uint16(caps>>16))
	}
	if g.mariadbAt != 0 {
		binary.LittleEndian.PutUint32(greeting[g.mariadbAt:], g.MariaDBCapabilities&^mariadbBits)
	}
	return nil
}

// ClientHello is what the framer reads of a client's HandshakeResponse41
// (or SSLRequest, its first 32 bytes).
type ClientHello struct {
	Capabilities        uint32 // the first 4 bytes
	MaxPacket           uint32
	Charset             byte
	MariaDBCapabilities uint32 // MariaDB's extended capabilities, bytes 28 to 31: 0 unless ClientMySQL is clear
	SSLRequest          bool   // exactly 32 bytes with ClientSSL: the client starts TLS next
}

// ParseClientHello reads the fixed start of a client's handshake
// response: capability flags (4 bytes), max packet size (4), character set
// (1), 23 reserved bytes (MariaDB's extended capabilities in the last 4
// when ClientMySQL is clear). A pre-4.1 response (HandshakeResponse320,
// ClientProtocol41 clear) has only 2 bytes of flags and is returned with
// those alone; sessions of such clients are not followed. A payload too
// short is an error wrapping ErrMalformed. payload is not retained.
func ParseClientHello(payload []byte) (ClientHello, error) {
	var h ClientHello
	if len(payload) < 2 {
		return h, malformed("handshake response too short (%d bytes)", len(payload))
	}
	if uint32(binary.LittleEndian.Uint16(payload))&ClientProtocol41 == 0 {
		h.Capabilities = uint32(binary.LittleEndian.Uint16(payload))
		return h, nil
	}
	if len(payload) < 32 {
		return h, malformed("handshake response too short (%d bytes)", len(payload))
	}
	h.Capabilities = binary.LittleEndian.Uint32(payload)
	h.MaxPacket = binary.LittleEndian.Uint32(payload[4:])
	h.Charset = payload[8]
	if h.Capabilities&ClientMySQL == 0 {
		h.MariaDBCapabilities = binary.LittleEndian.Uint32(payload[28:])
	}
	h.SSLRequest = len(payload) == 32 && h.Capabilities&ClientSSL != 0
	return h, nil
}

// Session is what both sides agreed on at the handshake, which the
// framing of results depends on. The zero Session is a client and server
// that agreed on nothing.
type Session struct {
	Capabilities        uint32 // the capability flags both offered
	MariaDBCapabilities uint32 // MariaDB's extended capabilities both offered
}

// Negotiate returns the session a greeting and a client's handshake
// response agree on: what both sides set (a server uses a capability only
// if it offered it and the client asked for it).
func Negotiate(g Greeting, h ClientHello) Session {
	s := Session{Capabilities: g.Capabilities & h.Capabilities}
	if g.Capabilities&ClientMySQL == 0 && h.Capabilities&ClientMySQL == 0 {
		s.MariaDBCapabilities = g.MariaDBCapabilities & h.MariaDBCapabilities
	}
	return s
}
