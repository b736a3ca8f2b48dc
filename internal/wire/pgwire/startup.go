package pgwire

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
)

// The codes of a first packet, after its length.
const (
	CodeProtocol30    uint32 = 3<<16 | 0 // StartupMessage of protocol 3.0
	CodeProtocol32    uint32 = 3<<16 | 2 // StartupMessage of protocol 3.2 (PostgreSQL 18)
	CodeCancelRequest uint32 = 80877102  // 1234<<16 | 5678
	CodeSSLRequest    uint32 = 80877103  // 1234<<16 | 5679
	CodeGSSENCRequest uint32 = 80877104  // 1234<<16 | 5680
)

// TLSHandshakeByte is the first byte of a TLS record carrying a handshake:
// a client that negotiates TLS directly (PostgreSQL 17's
// sslnegotiation=direct) starts with it instead of a length.
const TLSHandshakeByte = 0x16

// Secret keys of a CancelRequest and a BackendKeyData: 4 bytes in
// protocol 3.0; 4 to 256 in 3.2, whose servers send 32.
const (
	MinSecretKey = 4
	MaxSecretKey = 256
)

// StartupKind is what the first packet of a connection is.
type StartupKind uint8

const (
	_ StartupKind = iota
	// StartupMessage opens a session of protocol major version 3: the
	// parameters are parsed. The server answers with the authentication
	// exchange, preceded by NegotiateProtocolVersion if it speaks an
	// older minor version than asked.
	StartupMessage
	// SSLRequest asks to encrypt the connection with TLS. The server
	// answers one byte: 'S' (the TLS handshake follows) or 'N' (the
	// client may send a StartupMessage on the same connection).
	SSLRequest
	// GSSENCRequest asks to encrypt the connection with GSSAPI. The
	// server answers 'G' (a GSSAPI exchange follows) or 'N', as for
	// SSLRequest.
	GSSENCRequest
	// CancelRequest asks, on a connection of its own, to cancel what a
	// session is running. The server answers nothing and closes.
	CancelRequest
	// DirectTLS is a TLS handshake where a packet was due (first byte
	// 0x16): the connection cannot be framed. Nothing of it was read
	// beyond that byte.
	DirectTLS
	// UnsupportedVersion is a StartupMessage of a protocol major version
	// other than 3, or an unknown request code: framed by its length,
	// not parsed. The server answers with an error (in protocol 2's
	// format for version 2) and closes.
	UnsupportedVersion
)

// String returns the kind's name, such as "SSLRequest".
func (k StartupKind) String() string {
	switch k {
	case StartupMessage:
		return "StartupMessage"
	case SSLRequest:
		return "SSLRequest"
	case GSSENCRequest:
		return "GSSENCRequest"
	case CancelRequest:
		return "CancelRequest"
	case DirectTLS:
		return "DirectTLS"
	case UnsupportedVersion:
		return "UnsupportedVersion"
	}
	return fmt.Sprintf("StartupKind(%d)", uint8(k))
}

// Param is one parameter of a StartupMessage.
type Param struct {
	Name, Value string
}

// Startup is the first packet of a connection. Its strings and slices are
// its own, not views of the reader's buffer.
type Startup struct {
	Kind StartupKind
	// Length is the packet's length on the wire (the length field, which
	// counts itself); 0 for DirectTLS.
	Length int
	// Code is the field after the length: the protocol version of a
	// StartupMessage (major<<16 | minor) or a request code.
	Code uint32
	// Params are a StartupMessage's parameters in the order sent: user,
	// database, options, application_name, protocol options (_pq_.*), ...
	Params []Param
	// ProcessID and SecretKey are a CancelRequest's target: the values
	// the server's BackendKeyData gave the session to cancel.
	ProcessID uint32
	SecretKey []byte
}

// Major returns the protocol major version of a StartupMessage.
func (s Startup) Major() int { return int(s.Code >> 16) }

// Minor returns the protocol minor version of a StartupMessage.
func (s Startup) Minor() int { return int(s.Code & 0xffff) }

// Param returns the value of the parameter name and whether it was sent.
func (s Startup) Param(name string) (string, bool) {
	for _, p := range s.Params {
		if p.Name == name {
			return p.Value, true
		}
	}
	return "", false
}

// User returns the user parameter: the role the session logs in as.
func (s Startup) User() string { v, _ := s.Param("user"); return v }

// Database returns the database parameter, or the user if none was sent,
// as the server does.
func (s Startup) Database() string {
	if v, ok := s.Param("database"); ok && v != "" {
		return v
	}
	return s.User()
}

// PeekStartup classifies the first packet of a connection, which has no
// type byte, without consuming anything: the caller forwards or discards
// s.Length bytes. It blocks until the whole packet is buffered (one byte
// for DirectTLS) or the source fails. The packet must fit in r's buffer:
// with r.Size() >= MaxStartupLength every valid packet does; one that
// does not gives an error wrapping bufio.ErrBufferFull.
//
// It checks what the server checks: a length of 8 to MaxStartupLength; a
// request of the right length (8 for SSLRequest and GSSENCRequest, 12 plus
// a 4- to 256-byte key for CancelRequest); a StartupMessage's parameters
// as name\0value\0 pairs with non-empty names, ended by a \0 that is the
// packet's last byte. Errors:
//
//   - io.EOF: the stream ended before any byte;
//   - an error wrapping both ErrMalformed and io.ErrUnexpectedEOF: the
//     stream ended inside the packet;
//   - an error wrapping ErrMalformed: the packet is not a valid one;
//   - any other error from the underlying reader, as is.
func PeekStartup(r Reader) (Startup, error) {
	b, err := r.Peek(1)
	if err != nil {
		if err == io.EOF && len(b) == 0 {
			return Startup{}, io.EOF
		}
		return Startup{}, err
	}
	if b[0] == TLSHandshakeByte {
		return Startup{Kind: DirectTLS}, nil
	}
	b, err = r.Peek(8)
	if err != nil {
		if err == io.EOF {
			return Startup{}, truncated("a startup packet")
		}
		return Startup{}, err
	}
	n := int32(binary.BigEndian.Uint32(b))
	if n < 8 || n > MaxStartupLength {
		return Startup{}, malformed("startup packet of length %d", n)
	}
	if int(n) > r.Size() {
		return Startup{}, fmt.Errorf("pgwire: startup packet of %d bytes, more than the reader's buffer of %d: %w", n, r.Size(), bufio.ErrBufferFull)
	}
	if b, err = r.Peek(int(n)); err != nil {
		if err == io.EOF {
			return Startup{}, truncated("a startup packet")
		}
		return Startup{}, err
	}
	return ParseStartup(b)
}

// ParseStartup classifies pkt, a whole first packet (length field
// included, as [PeekStartup] reads it), with PeekStartup's checks. pkt
// must be exactly the packet's length long.
func ParseStartup(pkt []byte) (Startup, error) {
	if len(pkt) >= 1 && pkt[0] == TLSHandshakeByte {
		return Startup{Kind: DirectTLS}, nil
	}
	if len(pkt) < 8 {
		return Startup{}, malformed("startup packet of %d bytes", len(pkt))
	}
	n := int(int32(binary.BigEndian.Uint32(pkt)))
	if n != len(pkt) || n > MaxStartupLength {
		return Startup{}, malformed("startup packet of length %d in %d bytes", n, len(pkt))
	}
	s := Startup{Length: n, Code: binary.BigEndian.Uint32(pkt[4:])}
	body := pkt[8:]
	switch s.Code {
	case CodeSSLRequest, CodeGSSENCRequest:
		if len(body) != 0 {
			return Startup{}, malformed("encryption request of length %d", n)
		}
		s.Kind = SSLRequest
		if s.Code == CodeGSSENCRequest {
			s.Kind = GSSENCRequest
		}
		return s, nil
	case CodeCancelRequest:
		if len(body) < 4+MinSecretKey || len(body) > 4+MaxSecretKey {
			return Startup{}, malformed("CancelRequest of length %d", n)
		}
		s.Kind = CancelRequest
		s.ProcessID = binary.BigEndian.Uint32(body)
		s.SecretKey = bytes.Clone(body[4:])
		return s, nil
	}
	if s.Major() != 3 {
		s.Kind = UnsupportedVersion
		return s, nil
	}
	s.Kind = StartupMessage
	for {
		if len(body) == 0 {
			return Startup{}, malformed("startup parameters without their terminator")
		}
		if body[0] == 0 {
			if len(body) != 1 {
				return Startup{}, malformed("%d bytes after the startup parameters' terminator", len(body)-1)
			}
			return s, nil
		}
		name, rest, ok := cutString(body)
		if !ok {
			return Startup{}, malformed("startup parameter name without its terminator")
		}
		value, rest, ok := cutString(rest)
		if !ok {
			return Startup{}, malformed("startup parameter %q without a value", name)
		}
		s.Params = append(s.Params, Param{string(name), string(value)})
		body = rest
	}
}

// cutString splits a NUL-terminated string off the start of b.
func cutString(b []byte) (s, rest []byte, ok bool) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return nil, b, false
	}
	return b[:i], b[i+1:], true
}
