package pgwire

import (
	"encoding/binary"
)

// The type bytes of the messages a server sends. Some letters mean
// another message from a client (see [TypeSync]); CopyData and CopyDone
// are the same both ways.
const (
	TypeAuthentication           = 'R'
	TypeBackendKeyData           = 'K'
	TypeBindComplete             = '2'
	TypeCloseComplete            = '3'
	TypeCommandComplete          = 'C'
	TypeCopyInResponse           = 'G'
	TypeCopyOutResponse          = 'H'
	TypeCopyBothResponse         = 'W'
	TypeDataRow                  = 'D'
	TypeEmptyQueryResponse       = 'I'
	TypeErrorResponse            = 'E'
	TypeFunctionCallResponse     = 'V'
	TypeNegotiateProtocolVersion = 'v'
	TypeNoData                   = 'n'
	TypeNoticeResponse           = 'N'
	TypeNotificationResponse     = 'A'
	TypeParameterDescription     = 't'
	TypeParameterStatus          = 'S'
	TypeParseComplete            = '1'
	TypePortalSuspended          = 's'
	TypeReadyForQuery            = 'Z'
	TypeRowDescription           = 'T'
)

// IsBackendType reports whether t is the type of a message a server
// sends.
func IsBackendType(t byte) bool {
	switch t {
	case TypeAuthentication, TypeBackendKeyData, TypeBindComplete, TypeCloseComplete,
		TypeCommandComplete, TypeCopyData, TypeCopyDone, TypeCopyInResponse,
		TypeCopyOutResponse, TypeCopyBothResponse, TypeDataRow, TypeEmptyQueryResponse,
		TypeErrorResponse, TypeFunctionCallResponse, TypeNegotiateProtocolVersion,
		TypeNoData, TypeNoticeResponse, TypeNotificationResponse, TypeParameterDescription,
		TypeParameterStatus, TypeParseComplete, TypePortalSuspended, TypeReadyForQuery,
		TypeRowDescription:
		return true
	}
	return false
}

// IsAsync reports whether a server's message of type t is asynchronous:
// NoticeResponse, NotificationResponse or ParameterStatus. The server
// sends those whenever it has them (a notification even while the session
// is idle, a parameter's new value before the ReadyForQuery of the
// statement that set it); they answer no request and take no place in the
// order of replies. An ErrorResponse of severity FATAL may come unasked
// too, but its type cannot tell: see [ErrorFields.Fatal].
func IsAsync(t byte) bool {
	return t == TypeNoticeResponse || t == TypeNotificationResponse || t == TypeParameterStatus
}

// The status of a ReadyForQuery: the session's transaction state.
const (
	StatusIdle          = 'I' // not in a transaction block
	StatusInTransaction = 'T' // in a transaction block
	StatusFailed        = 'E' // in a failed transaction block: statements fail until it ends
)

// ParseReadyForQuery reads a ReadyForQuery payload: one status byte,
// StatusIdle, StatusInTransaction or StatusFailed.
func ParseReadyForQuery(payload []byte) (status byte, err error) {
	if len(payload) != 1 {
		return 0, malformed("ReadyForQuery payload of %d bytes", len(payload))
	}
	switch payload[0] {
	case StatusIdle, StatusInTransaction, StatusFailed:
		return payload[0], nil
	}
	return 0, malformed("ReadyForQuery status %q", payload[0])
}

// ParseCommandComplete reads a CommandComplete payload: the command tag
// ended by \0, such as "SELECT 3", "INSERT 0 1" or "BEGIN".
func ParseCommandComplete(payload []byte) (tag []byte, err error) {
	tag, rest, ok := cutString(payload)
	if !ok || len(rest) != 0 {
		return nil, malformed("command tag not ended by its payload's only NUL")
	}
	return tag, nil
}

// ParseDataRow reads a DataRow payload: a 16-bit count of columns, each a
// 32-bit length (-1 for NULL) and that many bytes. It returns the count,
// having checked that the values fill the payload exactly.
func ParseDataRow(payload []byte) (columns int, err error) {
	n, rest, ok := cutCount(payload)
	if !ok {
		return 0, malformed("DataRow without a column count")
	}
	if rest, ok = skipValues(rest, n); !ok || len(rest) != 0 {
		return 0, malformed("DataRow's %d values do not fill its payload", n)
	}
	return n, nil
}

// ParseRowDescription reads a RowDescription payload: a 16-bit count of
// fields, each a name ended by \0 and 18 bytes (table OID, column number,
// type OID, type size, type modifier, format code). It returns the count,
// having checked that the fields fill the payload exactly.
func ParseRowDescription(payload []byte) (fields int, err error) {
	n, rest, ok := cutCount(payload)
	if !ok {
		return 0, malformed("RowDescription without a field count")
	}
	for range n {
		var ok bool
		if _, rest, ok = cutString(rest); !ok || len(rest) < 18 {
			return 0, malformed("RowDescription's fields overrun its payload")
		}
		rest = rest[18:]
	}
	if len(rest) != 0 {
		return 0, malformed("%d bytes after RowDescription's fields", len(rest))
	}
	return n, nil
}

// BackendKeyData is what a client needs to cancel its session's work
// with a CancelRequest.
type BackendKeyData struct {
	ProcessID uint32
	// SecretKey is 4 bytes in protocol 3.0, 4 to 256 in 3.2.
	SecretKey []byte
}

// ParseBackendKeyData reads a BackendKeyData payload: the backend's
// process id (4 bytes), then the secret key, the rest of the payload, of
// MinSecretKey to MaxSecretKey bytes.
func ParseBackendKeyData(payload []byte) (BackendKeyData, error) {
	if len(payload) < 4+MinSecretKey || len(payload) > 4+MaxSecretKey {
		return BackendKeyData{}, malformed("BackendKeyData payload of %d bytes", len(payload))
	}
	return BackendKeyData{ProcessID: binary.BigEndian.Uint32(payload), SecretKey: payload[4:]}, nil
}

// AuthKind is the request of an Authentication message.
type AuthKind uint32

// The authentication requests.
const (
	AuthOK                AuthKind = 0  // authenticated
	AuthKerberosV5        AuthKind = 2  // no longer supported by servers
	AuthCleartextPassword AuthKind = 3  // send the password in clear
	AuthMD5Password       AuthKind = 5  // send md5(md5(password + user) + salt); Data is the 4-byte salt
	AuthGSS               AuthKind = 7  // start a GSSAPI exchange
	AuthGSSContinue       AuthKind = 8  // Data is GSSAPI or SSPI data
	AuthSSPI              AuthKind = 9  // start an SSPI exchange
	AuthSASL              AuthKind = 10 // Data is the mechanisms, each ended by \0, then a \0
	AuthSASLContinue      AuthKind = 11 // Data is the mechanism's challenge
	AuthSASLFinal         AuthKind = 12 // Data is the mechanism's outcome
)

// Auth is an Authentication message.
type Auth struct {
	Kind AuthKind
	Data []byte // what follows the kind; see the kinds
}

// ParseAuthentication reads an Authentication payload: the 32-bit kind,
// then its data, whose layout it checks for the kinds that have one.
func ParseAuthentication(payload []byte) (Auth, error) {
	if len(payload) < 4 {
		return Auth{}, malformed("Authentication payload of %d bytes", len(payload))
	}
	a := Auth{Kind: AuthKind(binary.BigEndian.Uint32(payload)), Data: payload[4:]}
	switch a.Kind {
	case AuthOK, AuthKerberosV5, AuthCleartextPassword, AuthGSS, AuthSSPI:
		if len(a.Data) != 0 {
			return Auth{}, malformed("Authentication %d with %d bytes of data", a.Kind, len(a.Data))
		}
	case AuthMD5Password:
		if len(a.Data) != 4 {
			return Auth{}, malformed("AuthenticationMD5Password with a %d-byte salt", len(a.Data))
		}
	case AuthSASL:
		if _, ok := saslMechanisms(a.Data); !ok {
			return Auth{}, malformed("AuthenticationSASL's mechanisms not ended by an empty one")
		}
	case AuthGSSContinue, AuthSASLContinue, AuthSASLFinal:
	default:
		return Auth{}, malformed("Authentication of unknown kind %d", a.Kind)
	}
	return a, nil
}

// SASLMechanisms returns the mechanisms an AuthSASL request offers, such
// as "SCRAM-SHA-256", as strings of their own; nil for another kind.
func (a Auth) SASLMechanisms() []string {
	if a.Kind != AuthSASL {
		return nil
	}
	m, _ := saslMechanisms(a.Data)
	return m
}

func saslMechanisms(b []byte) ([]string, bool) {
	var out []string
	for {
		m, rest, ok := cutString(b)
		if !ok {
			return nil, false
		}
		if len(m) == 0 {
			return out, len(rest) == 0
		}
		out = append(out, string(m))
		b = rest
	}
}

// ParseParameterStatus reads a ParameterStatus payload: a run-time
// parameter's name and its value, each ended by \0.
func ParseParameterStatus(payload []byte) (name, value []byte, err error) {
	name, rest, ok := cutString(payload)
	if !ok {
		return nil, nil, malformed("ParameterStatus without a name")
	}
	value, rest, ok = cutString(rest)
	if !ok || len(rest) != 0 {
		return nil, nil, malformed("ParameterStatus value not ended by its payload's last NUL")
	}
	return name, value, nil
}

// Notification is a NotificationResponse: a NOTIFY the session listens to.
type Notification struct {
	ProcessID uint32 // the notifying backend's process id
	Channel   []byte
	Payload   []byte
}

// ParseNotificationResponse reads a NotificationResponse payload: the
// notifying backend's process id (4 bytes), then the channel and the
// payload, each ended by \0.
func ParseNotificationResponse(payload []byte) (Notification, error) {
	if len(payload) < 4 {
		return Notification{}, malformed("NotificationResponse payload of %d bytes", len(payload))
	}
	n := Notification{ProcessID: binary.BigEndian.Uint32(payload)}
	var ok bool
	rest := payload[4:]
	if n.Channel, rest, ok = cutString(rest); !ok {
		return Notification{}, malformed("NotificationResponse without a channel")
	}
	if n.Payload, rest, ok = cutString(rest); !ok || len(rest) != 0 {
		return Notification{}, malformed("NotificationResponse payload not ended by its last NUL")
	}
	return n, nil
}

// CopyResponse is a CopyInResponse, CopyOutResponse or CopyBothResponse:
// the server starts a COPY, and CopyData messages follow (from the client
// for CopyIn, from the server for CopyOut, both ways for CopyBoth).
type CopyResponse struct {
	Format  byte // 0 text, 1 binary: the format of the whole COPY
	Columns int  // how many columns each row has
}

// ParseCopyResponse reads the payload of a CopyInResponse,
// CopyOutResponse or CopyBothResponse: the overall format (0 or 1), a
// 16-bit count of columns and their format codes (2 bytes each; all 0
// when the overall format is text).
func ParseCopyResponse(payload []byte) (CopyResponse, error) {
	if len(payload) < 1 || payload[0] > 1 {
		return CopyResponse{}, malformed("COPY response without a valid format")
	}
	n, rest, ok := cutCount(payload[1:])
	if !ok || len(rest) != 2*n {
		return CopyResponse{}, malformed("COPY response's column formats do not fill its payload")
	}
	return CopyResponse{Format: payload[0], Columns: n}, nil
}

// ParseNegotiateProtocolVersion reads a NegotiateProtocolVersion
// payload: the newest protocol version the server supports (major<<16 |
// minor), and the protocol options (_pq_.*) of the StartupMessage it did
// not recognise, each ended by \0, after their 32-bit count. The options
// are views into payload.
func ParseNegotiateProtocolVersion(payload []byte) (newest uint32, unrecognised [][]byte, err error) {
	if len(payload) < 8 {
		return 0, nil, malformed("NegotiateProtocolVersion payload of %d bytes", len(payload))
	}
	newest = binary.BigEndian.Uint32(payload)
	n := int(binary.BigEndian.Uint32(payload[4:]))
	rest := payload[8:]
	if n < 0 || n > len(rest) {
		return 0, nil, malformed("NegotiateProtocolVersion with %d options in %d bytes", n, len(rest))
	}
	for range n {
		opt, r, ok := cutString(rest)
		if !ok {
			return 0, nil, malformed("NegotiateProtocolVersion's options overrun its payload")
		}
		unrecognised = append(unrecognised, opt)
		rest = r
	}
	if len(rest) != 0 {
		return 0, nil, malformed("%d bytes after NegotiateProtocolVersion's options", len(rest))
	}
	return newest, unrecognised, nil
}
